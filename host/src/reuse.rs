//! Instance reuse for WASIp3 components, with Spin 4.0.2's knobs and defaults
//! (`crates/trigger-http`): an instance serves up to 128 requests in its life, up to 16 at
//! once, and is dropped after 1 s without one. Each knob takes a value or a range `a..b`, from
//! which every new instance draws its own (the upper bound excluded, as Spin draws it).
//! A WASI 0.2 component gets no reuse: a fresh instance per request, as in Spin.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Spin 4.0.2's `DEFAULT_WASIP3_MAX_INSTANCE_REUSE_COUNT`.
pub const DEFAULT_MAX_INSTANCE_REUSE_COUNT: usize = 128;
/// Spin 4.0.2's `DEFAULT_WASIP3_MAX_INSTANCE_CONCURRENT_REUSE_COUNT`.
pub const DEFAULT_MAX_INSTANCE_CONCURRENT_REUSE_COUNT: usize = 16;
/// Spin 4.0.2's `--idle-instance-timeout` default.
pub const DEFAULT_IDLE_INSTANCE_TIMEOUT: Duration = Duration::from_secs(1);

/// A setting given as one value or as a range `a..b` (`a` included, `b` not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range<T> {
    Value(T),
    Bounds(T, T),
}

impl<T: Copy + PartialOrd> Range<T> {
    fn checked(self, what: &str, shown: &str) -> Result<Range<T>, String> {
        match self {
            Range::Bounds(a, b) if a >= b => Err(format!(
                "{what} {shown}: the range is empty (its end is excluded)"
            )),
            other => Ok(other),
        }
    }
}

impl Range<usize> {
    /// A number for one new instance.
    pub fn draw(self) -> usize {
        match self {
            Range::Value(v) => v,
            Range::Bounds(a, b) => a + (random() % (b - a) as u64) as usize,
        }
    }
}

impl Range<Duration> {
    /// A duration for one new instance.
    pub fn draw(self) -> Duration {
        match self {
            Range::Value(v) => v,
            Range::Bounds(a, b) => {
                let span = (b - a).as_nanos().min(u64::MAX as u128) as u64;
                a + Duration::from_nanos(random() % span)
            }
        }
    }
}

/// A random number from the standard library's per-process hash keys and a counter: plenty
/// for spreading instance lifetimes, and no dependency.
fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// How WASIp3 instances are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceReuse {
    /// Requests an instance serves in its life (`--max-instance-reuse-count`).
    pub max_instance_reuse_count: Range<usize>,
    /// Requests an instance serves at once (`--max-instance-concurrent-reuse-count`).
    pub max_instance_concurrent_reuse_count: Range<usize>,
    /// How long an instance without a request is kept (`--idle-instance-timeout`).
    pub idle_instance_timeout: Range<Duration>,
    /// A per-instance request timeout drawn from a range (`--request-timeout a..b`); `None`
    /// uses the host's single request timeout.
    pub request_timeout: Option<Range<Duration>>,
}

impl Default for InstanceReuse {
    fn default() -> Self {
        InstanceReuse {
            max_instance_reuse_count: Range::Value(DEFAULT_MAX_INSTANCE_REUSE_COUNT),
            max_instance_concurrent_reuse_count: Range::Value(
                DEFAULT_MAX_INSTANCE_CONCURRENT_REUSE_COUNT,
            ),
            idle_instance_timeout: Range::Value(DEFAULT_IDLE_INSTANCE_TIMEOUT),
            request_timeout: None,
        }
    }
}

fn split(s: &str) -> (&str, Option<&str>) {
    match s.split_once("..") {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// `N` or `A..B`, every number at least 1 (`flag` names the option in messages).
pub fn parse_count_range(flag: &str, s: &str) -> Result<Range<usize>, String> {
    let number = |v: &str| -> Result<usize, String> {
        match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!(
                "{flag} {s}: expected a whole number of at least 1, or a range like 1..8"
            )),
        }
    };
    let range = match split(s) {
        (a, None) => Range::Value(number(a)?),
        (a, Some(b)) => Range::Bounds(number(a)?, number(b)?),
    };
    range.checked(flag, s)
}

/// A duration as Spin writes them: a number of seconds, or a number with `s`, `ms`, `us`,
/// `μs` or `ns`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (number, unit): (&str, fn(u64) -> Duration) = if let Some(n) = s.strip_suffix("ms") {
        (n, Duration::from_millis)
    } else if let Some(n) = s.strip_suffix("us").or_else(|| s.strip_suffix("μs")) {
        (n, Duration::from_micros)
    } else if let Some(n) = s.strip_suffix("ns") {
        (n, Duration::from_nanos)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, Duration::from_secs)
    } else {
        (s, Duration::from_secs)
    };
    number.parse::<u64>().ok().map(unit)
}

/// A duration or a range of them (`1s`, `500ms`, `1..8s`: a unit given once applies to both
/// ends).
pub fn parse_duration_range(flag: &str, s: &str) -> Result<Range<Duration>, String> {
    let error = || {
        format!("{flag} {s}: expected a duration such as 30, 30s, 500ms (or a range such as 1..8s)")
    };
    let range = match split(s) {
        (a, None) => Range::Value(parse_duration(a).ok_or_else(error)?),
        (a, Some(b)) => {
            let end = parse_duration(b).ok_or_else(error)?;
            // `1..8s`: the start borrows the end's unit when it has none of its own.
            let start = if a.trim().chars().all(|c| c.is_ascii_digit()) {
                let unit = b.trim().trim_start_matches(|c: char| c.is_ascii_digit());
                parse_duration(&format!("{}{unit}", a.trim()))
            } else {
                parse_duration(a)
            }
            .ok_or_else(error)?;
            Range::Bounds(start, end)
        }
    };
    range.checked(flag, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ranges_parse_and_draw_within_bounds() {
        assert_eq!(parse_count_range("--x", "16"), Ok(Range::Value(16)));
        assert_eq!(parse_count_range("--x", "1..8"), Ok(Range::Bounds(1, 8)));
        assert!(parse_count_range("--x", "0").is_err());
        assert!(parse_count_range("--x", "8..8").is_err());
        assert!(parse_count_range("--x", "8..2").is_err());
        assert!(parse_count_range("--x", "a").is_err());
        for _ in 0..200 {
            let n = Range::Bounds(3, 6).draw();
            assert!((3..6).contains(&n), "{n}");
        }
        assert_eq!(Range::Value(7).draw(), 7);
        let drawn: std::collections::HashSet<usize> =
            (0..200).map(|_| Range::Bounds(1, 5).draw()).collect();
        assert_eq!(drawn.len(), 4, "{drawn:?}");
    }

    #[test]
    fn durations_parse_as_spin_writes_them() {
        let d = |s| parse_duration_range("--t", s);
        assert_eq!(d("1"), Ok(Range::Value(Duration::from_secs(1))));
        assert_eq!(d("30s"), Ok(Range::Value(Duration::from_secs(30))));
        assert_eq!(d("500ms"), Ok(Range::Value(Duration::from_millis(500))));
        assert_eq!(d("20us"), Ok(Range::Value(Duration::from_micros(20))));
        assert_eq!(d("7ns"), Ok(Range::Value(Duration::from_nanos(7))));
        assert_eq!(
            d("1..8s"),
            Ok(Range::Bounds(
                Duration::from_secs(1),
                Duration::from_secs(8)
            ))
        );
        assert_eq!(
            d("100ms..2s"),
            Ok(Range::Bounds(
                Duration::from_millis(100),
                Duration::from_secs(2)
            ))
        );
        assert!(d("2s..1s").is_err());
        assert!(d("fast").is_err());
        assert!(d("1.5s").is_err());
        let r = Range::Bounds(Duration::from_millis(10), Duration::from_millis(20));
        for _ in 0..100 {
            let t = r.draw();
            assert!(t >= Duration::from_millis(10) && t < Duration::from_millis(20));
        }
    }
}
