//! The trash and the changes feed: how long a deleted task can be restored, what the feed
//! reports, and its query string.

use super::invalid::{FieldError, Invalid};
use super::task::{Task, TaskId};
use crate::time::Timestamp;
use serde::Serialize;

/// The longest retention accepted: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_CHANGES_LIMIT: u32 = 100;
pub const MAX_CHANGES_LIMIT: u32 = 1000;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How long a deleted task stays restorable (`trash_retention_days`); zero deletes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrashRetention(u32);

impl TrashRetention {
    pub fn days(days: u32) -> Result<Self, String> {
        if days > MAX_RETENTION_DAYS {
            return Err(format!(
                "trash_retention_days is {days}; expected 0 to {MAX_RETENTION_DAYS}"
            ));
        }
        Ok(Self(days))
    }

    /// `trash_retention_days` as configured: unset or empty is the default.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(Self(DEFAULT_RETENTION_DAYS)),
            Some(text) => match text.parse::<u32>() {
                Ok(days) => Self::days(days),
                Err(_) => Err(format!(
                    "trash_retention_days is {text:?}; expected a whole number of days"
                )),
            },
        }
    }

    pub fn keeps(self) -> bool {
        self.0 > 0
    }

    /// Tasks deleted before this instant are past restoring.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        Timestamp::from_micros(
            now.as_micros()
                .saturating_sub(i64::from(self.0) * MICROS_PER_DAY),
        )
    }
}

/// One entry of the changes feed: a task as it is now, or the tombstone of a deleted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Change {
    Task(Box<Task>),
    Deleted { id: TaskId, deleted_at: Timestamp },
}

/// A task in the trash: the task as it was, and when it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrashedTask {
    #[serde(flatten)]
    pub task: Task,
    pub deleted_at: Timestamp,
}

/// A position in the changes feed. Opaque to clients; a number here, the highest `seq` they
/// have seen (migration 0011), which needs no state besides the rows themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyncToken(i64);

impl SyncToken {
    /// Before every change.
    pub const START: Self = Self(-1);

    pub fn from_seq(seq: i64) -> Self {
        Self(seq)
    }

    pub fn seq(self) -> i64 {
        self.0
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const MESSAGE: &str = "must be a token an earlier changes response handed out";
        let digits = raw.strip_prefix('s').ok_or(MESSAGE)?;
        if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MESSAGE);
        }
        // Nineteen digits can pass `i64::MAX`; such a position lies past every change there will
        // ever be, the same as the largest one, so it is read as that instead of refused: the
        // syntax OpenAPI states (`^s[0-9]{1,19}$`) is exactly what is accepted.
        Ok(Self(digits.parse().unwrap_or(i64::MAX)))
    }
}

impl std::fmt::Display for SyncToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s{}", self.0.max(0))
    }
}

/// `GET /tasks/changes?since=&limit=&wait=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesQuery {
    pub since: SyncToken,
    pub limit: u32,
    /// Seconds to hold an empty answer for a change to come (long-poll); 0 answers at once.
    pub wait: u32,
}

/// The longest `wait=`, in seconds.
pub const MAX_WAIT_SECS: u32 = 30;

impl ChangesQuery {
    pub fn parse(query: &str) -> Result<Self, Invalid> {
        let mut since = None;
        let mut limit = None;
        let mut wait = None;
        let mut errors = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let outcome = match key {
                "since" if since.is_some() => Err("must be given at most once"),
                "since" => SyncToken::parse(value).map(|token| since = Some(token)),
                "limit" if limit.is_some() => Err("must be given at most once"),
                "limit" => match value.parse::<u32>() {
                    Ok(n)
                        if (1..=MAX_CHANGES_LIMIT).contains(&n)
                            && value.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        limit = Some(n);
                        Ok(())
                    }
                    _ => Err("must be an integer from 1 to 1000"),
                },
                "wait" if wait.is_some() => Err("must be given at most once"),
                "wait" => match value.parse::<u32>() {
                    Ok(n) if n <= MAX_WAIT_SECS && value.bytes().all(|b| b.is_ascii_digit()) => {
                        wait = Some(n);
                        Ok(())
                    }
                    _ => Err("must be a whole number of seconds from 0 to 30"),
                },
                _ => Ok(()),
            };
            if let Err(message) = outcome {
                errors.push(FieldError::new(key, message));
            }
        }
        if !errors.is_empty() {
            return Err(Invalid(errors));
        }
        Ok(Self {
            since: since.unwrap_or(SyncToken::START),
            limit: limit.unwrap_or(DEFAULT_CHANGES_LIMIT),
            wait: wait.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_zero_to_ten_years_defaulting_to_thirty_days() {
        assert_eq!(TrashRetention::parse(None), Ok(TrashRetention(30)));
        assert_eq!(TrashRetention::parse(Some(" ")), Ok(TrashRetention(30)));
        assert_eq!(TrashRetention::parse(Some("0")), Ok(TrashRetention(0)));
        assert!(!TrashRetention(0).keeps());
        assert_eq!(
            TrashRetention::parse(Some("3650")),
            Ok(TrashRetention(3650))
        );
        for bad in ["3651", "-1", "1.5", "thirty", "99999999999"] {
            assert!(TrashRetention::parse(Some(bad)).is_err(), "{bad}");
        }
        let now = Timestamp::from_micros(10 * MICROS_PER_DAY);
        assert_eq!(
            TrashRetention(3).cutoff(now),
            Timestamp::from_micros(7 * MICROS_PER_DAY)
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_anything_else() {
        for seq in [0, 1, 42, i64::MAX] {
            let token = SyncToken::from_seq(seq);
            assert_eq!(SyncToken::parse(&token.to_string()), Ok(token));
        }
        assert_eq!(SyncToken::START.to_string(), "s0");
        // Every string OpenAPI's pattern admits is accepted; past i64::MAX is the end of the feed.
        for past_the_end in [
            "s9223372036854775808",
            "s9925732053768531200",
            "s9999999999999999999",
        ] {
            assert_eq!(
                SyncToken::parse(past_the_end),
                Ok(SyncToken::from_seq(i64::MAX))
            );
        }
        assert_eq!(SyncToken::parse("s007"), Ok(SyncToken::from_seq(7)));
        for bad in [
            "",
            "s",
            "12",
            "s-1",
            "s1.0",
            "s 1",
            "s99999999999999999999",
            "S1",
        ] {
            assert!(SyncToken::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_query_takes_since_and_limit_once_each() {
        assert_eq!(
            ChangesQuery::parse("").unwrap(),
            ChangesQuery {
                since: SyncToken::START,
                limit: 100,
                wait: 0
            }
        );
        let q = ChangesQuery::parse("since=s7&limit=1000&other=x&wait=30").unwrap();
        assert_eq!((q.since.seq(), q.limit, q.wait), (7, 1000, 30));
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=+5",
            "since=7",
            "since=s1&since=s2",
            "wait=31",
            "wait=-1",
            "wait=+1",
            "wait=1.5",
            "wait=1&wait=2",
        ] {
            assert!(ChangesQuery::parse(bad).is_err(), "{bad}");
        }
    }
}
