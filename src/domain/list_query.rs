//! The list endpoint's query string: filter, sort, order and page.

use super::cursor::{Binding, Cursor, ValueKind};
use super::invalid::{FieldError, Invalid};
use super::schedule::parse_instant;
use super::search::SearchQuery;
use super::tags::{MAX_TAGS, Tag};
use super::task::TaskPriority;
use crate::time::Timestamp;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// A query string longer than this is refused before it is parsed (room for a cursor, at most
/// 1,200 characters, beside every filter).
pub const MAX_QUERY_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    /// The name `status=` takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Pending => "pending",
            Self::Completed => "completed",
        }
    }
}

/// `priority=`: the priorities a listed task may have (one or several, comma-separated), or
/// any. A set, so `high,high` is `high` and the order of the names does not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PriorityFilter(u8);

impl PriorityFilter {
    pub fn any() -> Self {
        Self(0)
    }

    pub fn only(priorities: &[TaskPriority]) -> Self {
        Self(priorities.iter().fold(0, |set, p| set | 1 << p.rank()))
    }

    /// The ranks allowed, ascending; `None` when any priority is.
    pub fn ranks(self) -> Option<Vec<i64>> {
        if self.0 == 0 || self.0 == 0b1111 {
            return None;
        }
        Some(
            TaskPriority::ALL
                .into_iter()
                .filter(|p| self.0 & (1 << p.rank()) != 0)
                .map(TaskPriority::rank)
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Title,
    Priority,
    /// Soonest due first; tasks without a due date last in both orders.
    Due,
    /// Best match first; only with `q=` (and the default then).
    Relevance,
}

impl SortKey {
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Updated,
        Self::Title,
        Self::Priority,
        Self::Due,
        Self::Relevance,
    ];

    /// The name `sort=` takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Title => "title",
            Self::Priority => "priority",
            Self::Due => "due",
            Self::Relevance => "relevance",
        }
    }

    /// The type of a row's value of this key, as a cursor carries it.
    pub const fn value_kind(self) -> ValueKind {
        match self {
            Self::Title => ValueKind::Text,
            Self::Due => ValueKind::IntegerOrNull,
            Self::Created | Self::Updated | Self::Priority | Self::Relevance => ValueKind::Integer,
        }
    }

    /// Newest first for times, A→Z for titles, most important first for priorities, soonest
    /// first for due dates, best first for matches.
    pub const fn default_order(self) -> SortOrder {
        match self {
            Self::Title | Self::Due => SortOrder::Asc,
            Self::Created | Self::Updated | Self::Priority | Self::Relevance => SortOrder::Desc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    /// The name `order=` takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub priority: PriorityFilter,
    /// `tag=`, repeatable: a listed task carries every one of these.
    pub tags: Vec<Tag>,
    /// `due_before=`: due strictly before this instant.
    pub due_before: Option<Timestamp>,
    /// `due_after=`: due at or after this instant.
    pub due_after: Option<Timestamp>,
    /// `overdue=true`: due before now and not completed; `false`: anything else.
    pub overdue: Option<bool>,
    /// `q=`: every word in the title or the description.
    pub search: Option<SearchQuery>,
    pub sort: SortKey,
    pub order: SortOrder,
    pub limit: u32,
    pub offset: u64,
    /// `cursor=`: continue after the page that handed out this cursor (never with `offset`).
    pub cursor: Option<Cursor>,
    /// `count=true`: answer the number of matching tasks too (`X-Total-Count`).
    pub count: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: StatusFilter::All,
            priority: PriorityFilter::any(),
            tags: Vec::new(),
            due_before: None,
            due_after: None,
            overdue: None,
            search: None,
            sort: SortKey::Created,
            order: SortOrder::Desc,
            limit: DEFAULT_LIMIT,
            offset: 0,
            cursor: None,
            count: false,
        }
    }
}

impl ListQuery {
    /// The digest of the user id and every list parameter but `limit`, `offset`, `cursor` and
    /// `count`, in a canonical form: the same filters in another order or spelling bind alike.
    pub fn binding(&self, user_id: &str) -> Binding {
        let mut text = String::from("task-api list v1\n");
        let mut field = |name: &str, value: &str| {
            text.push_str(name);
            text.push('=');
            // Lengths first, so no value can end one field and start another.
            text.push_str(&value.len().to_string());
            text.push(':');
            text.push_str(value);
            text.push('\n');
        };
        field("user", user_id);
        field("status", self.status.as_str());
        let ranks = self.priority.ranks().map(|ranks| {
            ranks
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        field("priority", ranks.as_deref().unwrap_or("any"));
        let mut tags: Vec<&str> = self.tags.iter().map(|tag| tag.key()).collect();
        tags.sort_unstable();
        for tag in tags {
            field("tag", tag);
        }
        let instant =
            |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.as_micros().to_string());
        field("due_before", &instant(self.due_before));
        field("due_after", &instant(self.due_after));
        field(
            "overdue",
            match self.overdue {
                None => "-",
                Some(true) => "true",
                Some(false) => "false",
            },
        );
        match &self.search {
            None => field("q", "-"),
            Some(search) => {
                for word in search.words() {
                    field("q", word);
                }
            }
        }
        field("sort", self.sort.as_str());
        field("order", self.order.as_str());
        Binding::digest(&text)
    }

    /// Parses `status`, `priority`, `tag`, `due_before`, `due_after`, `overdue`, `q`, `sort`,
    /// `order`, `limit`, `offset`, `cursor` and `count`. Unknown parameters are ignored; a known one given twice
    /// (but `tag`), or with a value outside its range, is a 422.
    pub fn parse(query: &str) -> Result<Self, Invalid> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(Invalid::field("query", "query string is too long"));
        }
        let mut status = None;
        let mut priority = None;
        let mut sort = None;
        let mut order = None;
        let mut limit = None;
        let mut offset = None;
        let mut tags: Vec<Tag> = Vec::new();
        let mut tag_count = 0;
        let mut due_before = None;
        let mut due_after = None;
        let mut overdue = None;
        let mut search = None;
        let mut cursor = None;
        let mut count = None;
        let mut errors = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(key), Some(value)) = (decode(raw_key), decode(raw_value)) else {
                errors.push(FieldError::new(
                    "query",
                    "is not valid percent-encoded UTF-8",
                ));
                continue;
            };
            let parsed = match key.as_str() {
                "status" => set_once(&mut status, parse_status(&value)),
                "priority" => set_once(&mut priority, parse_priorities(&value)),
                "sort" => set_once(&mut sort, parse_sort(&value)),
                "order" => set_once(&mut order, parse_order(&value)),
                "limit" => set_once(&mut limit, parse_limit(&value)),
                "offset" => set_once(&mut offset, parse_offset(&value)),
                "tag" => add_tag(&mut tags, &mut tag_count, &value),
                "due_before" => set_once(&mut due_before, parse_instant(&value)),
                "due_after" => set_once(&mut due_after, parse_instant(&value)),
                "overdue" => set_once(&mut overdue, parse_bool(&value)),
                "q" => set_once(&mut search, SearchQuery::parse(&value)),
                "cursor" => set_once(&mut cursor, Cursor::parse(&value)),
                "count" => set_once(&mut count, parse_bool(&value)),
                _ => Ok(()),
            };
            if let Err(message) = parsed {
                errors.push(FieldError::new(key, message));
            }
        }
        // `offset=0` is the default spelled out (generated clients send their defaults), and
        // skips nothing: it goes with a cursor like no offset at all.
        if cursor.is_some() && offset.is_some_and(|offset| offset > 0) {
            errors.push(FieldError::new(
                "offset",
                "cannot be combined with cursor (the cursor says where the page starts)",
            ));
        }
        if !errors.is_empty() {
            return Err(Invalid(errors));
        }
        // Without `q` every task matches equally: relevance is the default order, created.
        let sort = match (sort, &search) {
            (None, Some(_)) => SortKey::Relevance,
            (None | Some(SortKey::Relevance), None) => SortKey::Created,
            (Some(sort), _) => sort,
        };
        Ok(Self {
            status: status.unwrap_or(StatusFilter::All),
            priority: priority.unwrap_or_default(),
            tags,
            due_before,
            due_after,
            overdue,
            search,
            sort,
            order: order.unwrap_or(sort.default_order()),
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            offset: offset.unwrap_or(0),
            cursor,
            count: count.unwrap_or(false),
        })
    }
}

fn set_once<T>(slot: &mut Option<T>, value: Result<T, &'static str>) -> Result<(), &'static str> {
    if slot.is_some() {
        return Err("must be given at most once");
    }
    *slot = Some(value?);
    Ok(())
}

/// One more `tag=` (at most 20); the same tag twice is one filter.
fn add_tag(tags: &mut Vec<Tag>, seen: &mut usize, value: &str) -> Result<(), &'static str> {
    *seen += 1;
    if *seen > MAX_TAGS {
        return Err("must be given at most 20 times");
    }
    let tag = Tag::parse(value)?;
    if !tags.iter().any(|t| t.key() == tag.key()) {
        tags.push(tag);
    }
    Ok(())
}

fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false"),
    }
}

fn parse_status(value: &str) -> Result<StatusFilter, &'static str> {
    [
        StatusFilter::All,
        StatusFilter::Pending,
        StatusFilter::Completed,
    ]
    .into_iter()
    .find(|status| status.as_str() == value)
    .ok_or("must be one of all, pending, completed")
}

fn parse_priorities(value: &str) -> Result<PriorityFilter, &'static str> {
    const MESSAGE: &str = "must be one or more of none, low, medium, high, comma-separated";
    let priorities = value
        .split(',')
        .map(|name| TaskPriority::parse(name).map_err(|_| MESSAGE))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PriorityFilter::only(&priorities))
}

fn parse_sort(value: &str) -> Result<SortKey, &'static str> {
    SortKey::ALL
        .into_iter()
        .find(|key| key.as_str() == value)
        .ok_or("must be one of created, updated, title, priority, due, relevance")
}

fn parse_order(value: &str) -> Result<SortOrder, &'static str> {
    [SortOrder::Asc, SortOrder::Desc]
        .into_iter()
        .find(|order| order.as_str() == value)
        .ok_or("must be asc or desc")
}

fn parse_limit(value: &str) -> Result<u32, &'static str> {
    const MESSAGE: &str = "must be an integer from 1 to 100";
    let limit = parse_decimal(value).ok_or(MESSAGE)?;
    if (1..=u64::from(MAX_LIMIT)).contains(&limit) {
        Ok(limit as u32)
    } else {
        Err(MESSAGE)
    }
}

fn parse_offset(value: &str) -> Result<u64, &'static str> {
    parse_decimal(value)
        .filter(|offset| i64::try_from(*offset).is_ok())
        .ok_or("must be a non-negative integer")
}

/// Plain ASCII digits only: `+5`, ` 5` and `5.0` are not integers here.
fn parse_decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the result must be
/// UTF-8.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_fields(query: &str) -> Vec<String> {
        match ListQuery::parse(query) {
            Err(Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{query:?} should be invalid, got {other:?}"),
        }
    }

    #[test]
    fn priority_filters_are_sets_of_names() {
        let q = ListQuery::parse("priority=high").unwrap();
        assert_eq!(q.priority.ranks(), Some(vec![3]));
        let q = ListQuery::parse("priority=high%2Clow,high").unwrap();
        assert_eq!(q.priority.ranks(), Some(vec![1, 3]));
        let q = ListQuery::parse("priority=none,low,medium,high").unwrap();
        assert_eq!(q.priority.ranks(), None);
        assert_eq!(ListQuery::parse("").unwrap().priority.ranks(), None);
        for bad in [
            "priority=",
            "priority=high,",
            "priority=HIGH",
            "priority=,low",
            "priority=urgent",
        ] {
            assert_eq!(invalid_fields(bad), ["priority"], "{bad}");
        }
        assert_eq!(invalid_fields("priority=low&priority=high"), ["priority"]);
    }

    #[test]
    fn priority_sorts_most_important_first_by_default() {
        let q = ListQuery::parse("sort=priority").unwrap();
        assert_eq!((q.sort, q.order), (SortKey::Priority, SortOrder::Desc));
        let q = ListQuery::parse("sort=priority&order=asc").unwrap();
        assert_eq!(q.order, SortOrder::Asc);
    }

    #[test]
    fn defaults() {
        assert_eq!(ListQuery::parse("").unwrap(), ListQuery::default());
        let defaults = ListQuery::default();
        assert_eq!(defaults.order, SortOrder::Desc);
        assert_eq!(defaults.limit, 50);
    }

    #[test]
    fn title_sorts_a_to_z_by_default() {
        assert_eq!(
            ListQuery::parse("sort=title").unwrap().order,
            SortOrder::Asc
        );
        assert_eq!(
            ListQuery::parse("sort=updated").unwrap().order,
            SortOrder::Desc
        );
        assert_eq!(
            ListQuery::parse("sort=title&order=desc").unwrap().order,
            SortOrder::Desc
        );
    }

    #[test]
    fn every_parameter() {
        let q = ListQuery::parse(
            "status=completed&priority=low&sort=updated&order=asc&limit=100&offset=7",
        )
        .unwrap();
        assert_eq!(
            q,
            ListQuery {
                status: StatusFilter::Completed,
                priority: PriorityFilter::only(&[TaskPriority::Low]),
                sort: SortKey::Updated,
                order: SortOrder::Asc,
                limit: 100,
                offset: 7,
                ..ListQuery::default()
            }
        );
        assert_eq!(
            ListQuery::parse("status=pending").unwrap().status,
            StatusFilter::Pending
        );
        assert_eq!(
            ListQuery::parse("status=all").unwrap().status,
            StatusFilter::All
        );
    }

    #[test]
    fn tags_due_dates_and_search() {
        let q = ListQuery::parse(
            "tag=Work&tag=home&tag=WORK&due_before=2026-12-01T00:00:00Z&due_after=2026-11-01T00:00:00%2B01:00&overdue=true&q=milk",
        )
        .unwrap();
        let keys: Vec<&str> = q.tags.iter().map(Tag::key).collect();
        assert_eq!(keys, ["work", "home"]);
        assert_eq!(
            q.due_before.unwrap().to_string(),
            "2026-12-01T00:00:00.000000Z"
        );
        assert_eq!(
            q.due_after.unwrap().to_string(),
            "2026-10-31T23:00:00.000000Z"
        );
        assert_eq!(q.overdue, Some(true));
        assert_eq!((q.sort, q.order), (SortKey::Relevance, SortOrder::Desc));
        let q = ListQuery::parse("q=milk&sort=created").unwrap();
        assert_eq!(q.sort, SortKey::Created);
        let q = ListQuery::parse("sort=due").unwrap();
        assert_eq!(q.order, SortOrder::Asc);
        assert_eq!(
            ListQuery::parse("sort=relevance").unwrap(),
            ListQuery::default()
        );
        for bad in [
            "tag=",
            "tag=%20",
            "due_before=2026-12-01",
            "due_after=tomorrow",
            "overdue=yes",
            "overdue=1",
            "q=",
            "q=%22%22",
            "q=***",
        ] {
            assert_eq!(invalid_fields(bad).len(), 1, "{bad}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("tag=t{i}")).collect();
        assert_eq!(invalid_fields(&many.join("&")), ["tag"]);
        assert_eq!(invalid_fields("q=a&q=b"), ["q"]);
    }

    #[test]
    fn percent_encoding_is_decoded() {
        assert_eq!(
            ListQuery::parse("st%61tus=pending").unwrap().status,
            StatusFilter::Pending
        );
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert_eq!(
            ListQuery::parse("page=2&_=123&&").unwrap(),
            ListQuery::default()
        );
    }

    #[test]
    fn bad_values_are_422() {
        assert_eq!(invalid_fields("status=done"), ["status"]);
        assert_eq!(invalid_fields("sort=importance"), ["sort"]);
        assert_eq!(invalid_fields("order=up"), ["order"]);
        assert_eq!(invalid_fields("status=PENDING"), ["status"]);
        for limit in [
            "0",
            "101",
            "-1",
            "abc",
            "",
            "1.5",
            "+5",
            "99999999999999999999",
        ] {
            assert_eq!(
                invalid_fields(&format!("limit={limit}")),
                ["limit"],
                "{limit}"
            );
        }
        for offset in ["-1", "x", "", "9223372036854775808"] {
            assert_eq!(
                invalid_fields(&format!("offset={offset}")),
                ["offset"],
                "{offset}"
            );
        }
    }

    #[test]
    fn limits_at_the_edges() {
        assert_eq!(ListQuery::parse("limit=1").unwrap().limit, 1);
        assert_eq!(
            ListQuery::parse("offset=9223372036854775807")
                .unwrap()
                .offset,
            i64::MAX as u64
        );
    }

    /// A cursor says where the page starts, so an offset that skips rows cannot go with it;
    /// `offset=0` (the default, as generated clients send it) can.
    #[test]
    fn a_cursor_takes_no_offset_but_the_default() {
        let cursor = format!("AQ{}", "A".repeat(54));
        let query = ListQuery::parse(&format!("cursor={cursor}&offset=0&limit=5")).unwrap();
        assert!(query.cursor.is_some());
        assert_eq!(query.offset, 0);
        assert_eq!(
            invalid_fields(&format!("cursor={cursor}&offset=1")),
            ["offset"]
        );
    }

    #[test]
    fn repeated_parameters_are_422() {
        assert_eq!(invalid_fields("status=all&status=all"), ["status"]);
        assert_eq!(invalid_fields("limit=5&limit=6"), ["limit"]);
    }

    #[test]
    fn overlong_and_undecodable_queries_are_422() {
        assert_eq!(
            invalid_fields(&format!("x={}", "a".repeat(MAX_QUERY_BYTES))),
            ["query"]
        );
        assert_eq!(invalid_fields("status=%ff"), ["query"]);
        assert_eq!(invalid_fields("status=%zz"), ["query"]);
        assert_eq!(invalid_fields("status=%"), ["query"]);
    }
}
