//! When a task is due, and how it repeats: instants, time zones and recurrence rules.

use crate::time::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp as Instant};

/// An instant as RFC 3339 writes it, with a `Z` or a numeric offset (`2026-03-01T09:00:00+01:00`),
/// at most nanosecond digits, written years 0001–9999 (no positive offset on 0001-01-01, no
/// negative one on 9999-12-31), so within 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
/// Kept to the microsecond (the store's unit, truncated toward zero); a leap second (`23:59:60`
/// with `Z` or ±00:00) counts as `:59`. This is exactly the OpenAPI document's date-time
/// `pattern`.
pub fn parse_instant(raw: &str) -> Result<Timestamp, &'static str> {
    const MESSAGE: &str = "must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T09:00:00Z";
    let b = raw.as_bytes();
    if !rfc3339_shape(b) {
        return Err(MESSAGE);
    }
    // The shape guarantees ASCII digits at these places.
    let number = |range: std::ops::Range<usize>| {
        b[range]
            .iter()
            .fold(0_i64, |n, digit| n * 10 + i64::from(digit - b'0'))
    };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    if year == 0
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(MESSAGE);
    }
    let offset_len = if matches!(b.last(), Some(b'Z' | b'z')) {
        1
    } else {
        6
    };
    let (fraction, offset) = b[19..].split_at(b.len() - 19 - offset_len);
    // `.d…`: 1 to 9 digits (the shape), as nanoseconds.
    let nanos = fraction
        .iter()
        .skip(1)
        .chain(std::iter::repeat(&b'0'))
        .take(9)
        .fold(0_i128, |n, digit| n * 10 + i128::from(digit - b'0'));
    let offset_seconds = match offset {
        [sign, h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (
                i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0'),
                i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0'),
            );
            if hours > 23 || minutes > 59 {
                return Err(MESSAGE);
            }
            let magnitude = hours * 3600 + minutes * 60;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => 0,
    };
    // RFC 3339 §5.7: a leap second is the last second of a UTC day. Only its spellings that
    // need no offset arithmetic (`23:59:60` with `Z` or ±00:00) are taken, which the pattern can
    // state; it counts as `:59`, as jiff counts it.
    if second == 60 && !(hour == 23 && minute == 59 && offset_seconds == 0) {
        return Err(MESSAGE);
    }
    // The first and the last day `Timestamp` shows take no offset that could carry the instant
    // off them (`0001-01-01T00:30:00+01:00` would be in year 0): a rule the pattern can state,
    // unlike the range it keeps.
    if (year, month, day) == (1, 1, 1) && offset_seconds > 0
        || (year, month, day) == (9999, 12, 31) && offset_seconds < 0
    {
        return Err(MESSAGE);
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59)
            - offset_seconds;
    // Toward zero, as jiff's `Timestamp::as_microsecond` truncates.
    let micros = (i128::from(seconds) * 1_000_000_000 + nanos) / 1000;
    match i64::try_from(micros) {
        Ok(micros) if (MIN_MICROS..=MAX_MICROS).contains(&micros) => {
            Ok(Timestamp::from_micros(micros))
        }
        _ => Err(MESSAGE),
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`, the
/// inverse of `time::civil_from_days`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: what `Timestamp` displays as RFC 3339.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// `date-time` of RFC 3339 §5.6: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T`/`Z` in either case.
/// jiff's parser accepts more (bracketed annotations, a missing seconds field, a space, offsets
/// up to ±25:59) and less (instants after 9999-12-30T22:00Z), so the fields are read here.
fn rfc3339_shape(b: &[u8]) -> bool {
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.len() == range.len() && s.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 9 {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// An IANA time zone name that the bundled time zone database knows (`Europe/Berlin`, `UTC`),
/// kept in its canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTimeZone(String);

impl Default for TaskTimeZone {
    fn default() -> Self {
        Self("UTC".to_owned())
    }
}

impl TaskTimeZone {
    pub const EXPECTED: &'static str = "must be an IANA time zone name, e.g. Europe/Berlin or UTC";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        // Only names: no POSIX TZ strings or file paths, which `TimeZone::get` does not take
        // either, but a bounded, printable input keeps the lookup trivially cheap.
        if raw.is_empty()
            || raw.len() > 64
            || !raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
        {
            return Err(Self::EXPECTED);
        }
        let zone = TimeZone::get(raw).map_err(|_| Self::EXPECTED)?;
        Ok(Self(zone.iana_name().unwrap_or(raw).to_owned()))
    }

    /// A name read back from the store; the zone database it was checked against is compiled
    /// in, so it cannot have disappeared (if it did, UTC).
    pub fn from_db(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    pub const ALL: [Self; 4] = [Self::Daily, Self::Weekly, Self::Monthly, Self::Yearly];
    pub const EXPECTED: &'static str = "must be one of daily, weekly, monthly, yearly, or null";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == raw)
            .ok_or(Self::EXPECTED)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }

    fn span(self, units: i64) -> Span {
        match self {
            Self::Daily => Span::new().days(units),
            Self::Weekly => Span::new().weeks(units),
            Self::Monthly => Span::new().months(units),
            Self::Yearly => Span::new().years(units),
        }
    }
}

/// Every how many days, weeks, months or years: 1 to 365.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Interval(u16);

impl Interval {
    pub const ONE: Self = Self(1);
    pub const EXPECTED: &'static str = "must be an integer from 1 to 365, or null";

    pub fn new(value: i64) -> Result<Self, &'static str> {
        u16::try_from(value)
            .ok()
            .filter(|v| (1..=365).contains(v))
            .map(Self)
            .ok_or(Self::EXPECTED)
    }

    pub const fn get(self) -> u16 {
        self.0
    }
}

/// A repeating task's rule. Occurrences are counted from an anchor, the first due date's wall
/// clock time in the task's zone: occurrence `n` is due at `anchor + n × interval` on that
/// zone's calendar, so "every day at 09:00 Europe/Berlin" stays at 09:00 across daylight saving
/// and "monthly on the 31st" comes back to the 31st after a shorter month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub frequency: Frequency,
    pub interval: Interval,
    /// No occurrence is due after this instant.
    pub until: Option<Timestamp>,
    pub series: Series,
}

/// Where a task sits in its series: the anchor (a civil date-time, `2026-03-01T09:00:00`) and
/// its occurrence number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Series {
    pub anchor: String,
    pub index: u32,
}

impl Series {
    /// A series starting at `due` in `zone`.
    pub fn starting_at(due: Timestamp, zone: &TaskTimeZone) -> Self {
        let anchor = Instant::from_microsecond(due.as_micros())
            .map(|instant| {
                instant
                    .to_zoned_datetime(zone.zone())
                    .datetime()
                    .to_string()
            })
            .unwrap_or_else(|_| "1970-01-01T00:00:00".to_owned());
        Self { anchor, index: 0 }
    }
}

impl Recurrence {
    /// The due date of the occurrence after this one, and its number, or `None` when the
    /// series ends (past `until`, or past the representable range). Occurrences that would fall
    /// on or before `due` (a due date moved by hand past later ones) are skipped.
    pub fn next_after(&self, due: Timestamp, zone: &TaskTimeZone) -> Option<(Timestamp, u32)> {
        let anchor: DateTime = self.series.anchor.parse().ok()?;
        let tz = zone.zone();
        let step = i64::from(self.interval.get());
        let mut index = self.series.index.checked_add(1)?;
        // Bounded: a series whose anchor lies far behind its due date catches up in at most a
        // few thousand steps (daily for ten years), after which it is treated as ended.
        for _ in 0..4000 {
            let civil = anchor
                .checked_add(self.frequency.span(step * i64::from(index)))
                .ok()?;
            // A wall-clock time that a daylight-saving change skips is taken just after the
            // gap, one that it repeats at its first occurrence (RFC 5545's rule).
            let instant = tz.to_ambiguous_timestamp(civil).compatible().ok()?;
            let next = Timestamp::from_micros(instant.as_microsecond());
            if self.until.is_some_and(|until| next > until) || next.as_micros() > MAX_MICROS {
                return None;
            }
            if next > due {
                return Some((next, index));
            }
            index = index.checked_add(1)?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> Timestamp {
        parse_instant(raw).unwrap()
    }

    fn rule(
        frequency: Frequency,
        interval: u16,
        due: &str,
        zone: &str,
    ) -> (Recurrence, TaskTimeZone) {
        let zone = TaskTimeZone::parse(zone).unwrap();
        let series = Series::starting_at(at(due), &zone);
        (
            Recurrence {
                frequency,
                interval: Interval(interval),
                until: None,
                series,
            },
            zone,
        )
    }

    /// The due dates of the first `n` occurrences after `due`.
    fn occurrences(
        frequency: Frequency,
        interval: u16,
        due: &str,
        zone: &str,
        n: usize,
    ) -> Vec<String> {
        let (mut rule, zone) = rule(frequency, interval, due, zone);
        let mut due = at(due);
        let mut out = Vec::new();
        for _ in 0..n {
            let (next, index) = rule.next_after(due, &zone).unwrap();
            out.push(next.to_string());
            rule.series.index = index;
            due = next;
        }
        out
    }

    #[test]
    fn instants_are_rfc3339_with_an_offset() {
        assert_eq!(
            at("2026-03-01T09:00:00+01:00").to_string(),
            "2026-03-01T08:00:00.000000Z"
        );
        assert_eq!(
            at("2026-03-01t08:00:00.5z"),
            at("2026-03-01T08:00:00.500000Z")
        );
        assert_eq!(
            at("2026-03-01T08:00:00.123456789Z").to_string(),
            "2026-03-01T08:00:00.123456Z"
        );
        for bad in [
            "",
            "2026-03-01",
            "2026-03-01T09:00:00",
            "2026-03-01 09:00:00Z",
            "2026-03-01T09:00Z",
            "2026-03-01T09:00:00+0100",
            "2026-03-01T09:00:00Z[Europe/Berlin]",
            "2026-02-30T09:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T09:00:00.Z",
            "2026-03-01T09:00:00.1234567890Z",
            "+2026-03-01T09:00:00Z",
            "２０２６-03-01T09:00:00Z",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
    }

    /// The edges the OpenAPI date-time pattern states: the calendar (leap years by the
    /// Gregorian rule), hours 00–23, a leap second, offsets up to ±23:59 (RFC 3339's
    /// time-numoffset; jiff alone takes ±25:59), written years 0001–9999, and the whole
    /// range `Timestamp` displays (jiff alone stops at 9999-12-30T22:00Z).
    #[test]
    fn instants_cover_exactly_rfc3339_and_the_displayable_range() {
        for (raw, shown) in [
            ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"),
            ("2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000000Z"),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.000000Z"),
            ("2016-12-31t23:59:60.5-00:00", "2016-12-31T23:59:59.500000Z"),
            ("2026-03-01T09:00:00+23:59", "2026-02-28T09:01:00.000000Z"),
            ("2026-03-01T09:00:00-00:00", "2026-03-01T09:00:00.000000Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
            ("0001-01-01T01:00:00-00:00", "0001-01-01T01:00:00.000000Z"),
            ("0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00.000000Z"),
            ("0001-01-02T00:00:00+23:59", "0001-01-01T00:01:00.000000Z"),
            ("9999-12-31T00:00:00+01:00", "9999-12-30T23:00:00.000000Z"),
            ("9999-12-30T23:59:00-00:01", "9999-12-31T00:00:00.000000Z"),
            (
                "9999-12-31T23:59:59.999999999Z",
                "9999-12-31T23:59:59.999999Z",
            ),
            ("9999-12-30T23:59:59-23:59", "9999-12-31T23:58:59.000000Z"),
            ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"),
        ] {
            assert_eq!(at(raw).to_string(), shown, "{raw:?}");
        }
        for bad in [
            "2100-02-29T12:00:00Z",
            "2026-02-29T12:00:00Z",
            "2026-04-31T12:00:00Z",
            "2026-13-01T12:00:00Z",
            "2026-03-01T09:60:00Z",
            "2026-03-01T09:00:61Z",
            // A leap second is 23:59:60 UTC, here spelled with Z or ±00:00 only.
            "2026-03-01T09:00:60Z",
            "2017-01-01T00:59:60+01:00",
            "2026-03-01T09:00:00+24:00",
            "2026-03-01T09:00:00+25:59",
            "2026-03-01T09:00:00+01:60",
            "0000-12-31T23:30:00-01:00",
            "0000-06-01T00:00:00Z",
            // An offset that could carry the first or last day out of range: refused even
            // where it does not (the pattern's rule).
            "0001-01-01T00:30:00+01:00",
            "0001-01-01T05:00:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "9999-12-31T00:00:00-01:00",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TaskTimeZone::parse("Europe/Berlin").unwrap().as_str(),
            "Europe/Berlin"
        );
        assert_eq!(TaskTimeZone::parse("UTC").unwrap().as_str(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "../../etc/passwd",
            "Europe/Berlin ",
            "EST5EDT,M3.2.0,M11.1.0",
        ] {
            assert!(TaskTimeZone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn daily_at_nine_in_berlin_survives_daylight_saving() {
        // Berlin springs forward on 2026-03-29 (UTC+1 → UTC+2).
        assert_eq!(
            occurrences(
                Frequency::Daily,
                1,
                "2026-03-28T09:00:00+01:00",
                "Europe/Berlin",
                2
            ),
            ["2026-03-29T07:00:00.000000Z", "2026-03-30T07:00:00.000000Z"]
        );
        // And falls back on 2026-10-25.
        assert_eq!(
            occurrences(
                Frequency::Daily,
                1,
                "2026-10-24T09:00:00+02:00",
                "Europe/Berlin",
                1
            ),
            ["2026-10-25T08:00:00.000000Z"]
        );
        // In UTC the same rule is a fixed 24 hours.
        assert_eq!(
            occurrences(Frequency::Daily, 1, "2026-03-28T08:00:00Z", "UTC", 1),
            ["2026-03-29T08:00:00.000000Z"]
        );
    }

    #[test]
    fn a_skipped_wall_clock_time_is_taken_after_the_gap() {
        // 02:30 does not exist in Berlin on 2026-03-29.
        assert_eq!(
            occurrences(
                Frequency::Daily,
                1,
                "2026-03-28T02:30:00+01:00",
                "Europe/Berlin",
                2
            ),
            ["2026-03-29T01:30:00.000000Z", "2026-03-30T00:30:00.000000Z"]
        );
    }

    #[test]
    fn monthly_on_the_31st_comes_back_to_the_31st() {
        assert_eq!(
            occurrences(Frequency::Monthly, 1, "2026-01-31T12:00:00Z", "UTC", 3),
            [
                "2026-02-28T12:00:00.000000Z",
                "2026-03-31T12:00:00.000000Z",
                "2026-04-30T12:00:00.000000Z"
            ]
        );
        assert_eq!(
            occurrences(Frequency::Yearly, 1, "2028-02-29T12:00:00Z", "UTC", 4)
                .last()
                .unwrap(),
            "2032-02-29T12:00:00.000000Z"
        );
    }

    #[test]
    fn intervals_weeks_and_until() {
        assert_eq!(
            occurrences(Frequency::Weekly, 2, "2026-12-01T10:00:00Z", "UTC", 2),
            ["2026-12-15T10:00:00.000000Z", "2026-12-29T10:00:00.000000Z"]
        );
        let (mut rule, zone) = rule(Frequency::Daily, 1, "2026-12-01T10:00:00Z", "UTC");
        rule.until = Some(at("2026-12-02T10:00:00Z"));
        let (next, index) = rule.next_after(at("2026-12-01T10:00:00Z"), &zone).unwrap();
        assert_eq!((next, index), (at("2026-12-02T10:00:00Z"), 1));
        rule.series.index = 1;
        assert_eq!(rule.next_after(next, &zone), None, "past until");
    }

    #[test]
    fn a_due_date_moved_past_later_occurrences_skips_them() {
        let (rule, zone) = rule(Frequency::Daily, 1, "2026-12-01T10:00:00Z", "UTC");
        let (next, index) = rule.next_after(at("2026-12-05T11:00:00Z"), &zone).unwrap();
        assert_eq!((next, index), (at("2026-12-06T10:00:00Z"), 5));
    }

    #[test]
    fn intervals_are_bounded() {
        assert!(Interval::new(0).is_err());
        assert!(Interval::new(366).is_err());
        assert_eq!(Interval::new(365).unwrap().get(), 365);
    }
}
