//! Timestamps: microseconds since the Unix epoch, stored as SQLite integers and shown as RFC 3339.

use serde::{Serialize, Serializer};
use std::fmt;

/// A UTC instant with microsecond precision.
///
/// Stored as an integer so that the `(user_id, created_at)` and `(user_id, updated_at)` indexes
/// order rows exactly, and so `updated_at` can be bumped by one microsecond when two writes land
/// in the same clock tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds, as JWT claims count time.
    pub const fn as_secs(self) -> u64 {
        if self.0 < 0 {
            0
        } else {
            (self.0 / 1_000_000) as u64
        }
    }

    /// This instant plus `duration` (saturating).
    pub fn plus(self, duration: std::time::Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(micros))
    }

    /// How long after `earlier` this instant is (zero if it is not after it).
    pub fn since(self, earlier: Self) -> std::time::Duration {
        std::time::Duration::from_micros(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// The wall clock. On wasm32-wasip1 this is WASI's `clock_time_get`, which Spin provides.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
    }
}

/// The time and the waiting of a request that waits (a long-poll, an event stream): Spin's
/// wall and monotonic clocks in the component, a clock that jumps instead of sleeping in tests.
pub trait Clock {
    fn now(&self) -> Timestamp;
    /// Waits for `duration`, letting the instance's other requests run meanwhile.
    fn pause(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;
}

/// A clock for tests and native embeddings: starts at a given instant and jumps forward by
/// what it is asked to wait, at once.
pub struct SteppingClock(std::cell::Cell<Timestamp>);

impl SteppingClock {
    pub fn starting_at(at: Timestamp) -> Self {
        Self(std::cell::Cell::new(at))
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        self.0.get()
    }

    fn pause(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        self.0.set(self.0.get().plus(duration));
        Box::pin(std::future::ready(()))
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let secs_of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`
/// algorithm, which is exact for every i64 day count we can meet).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_epoch() {
        assert_eq!(
            Timestamp::from_micros(0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn formats_a_known_instant() {
        // 2024-02-29T23:59:59.123456Z: a leap day, checked against `date -u -d @1709251199`.
        let t = Timestamp::from_micros(1_709_251_199_123_456);
        assert_eq!(t.to_string(), "2024-02-29T23:59:59.123456Z");
    }

    #[test]
    fn formats_year_boundaries() {
        assert_eq!(
            Timestamp::from_micros(946_684_799_999_999).to_string(),
            "1999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            Timestamp::from_micros(4_102_444_800_000_000).to_string(),
            "2100-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn serializes_as_a_json_string() {
        let json = serde_json::to_string(&Timestamp::from_micros(1_000_000)).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:01.000000Z\"");
    }

    #[test]
    fn now_is_after_2020() {
        assert!(Timestamp::now().as_secs() > 1_577_836_800);
    }
}
