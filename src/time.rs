//! Simulated time: integer microseconds, never floating point.
//!
//! Every timestamp in kubesim is a [`SimTime`], a count of microseconds since the start of the run, and every
//! interval is a [`SimDuration`]. Integers keep the event order exact and the outputs byte-identical across
//! machines; a microsecond is fine enough for apiserver and watch latencies (milliseconds) and a `u64` of them
//! lasts 584,000 years. Durations in scenario files use Go/Kubernetes syntax (`"90s"`, `"10m"`, `"1h30m"`,
//! `"250ms"`), parsed exactly by [`parse_duration`].

use std::fmt;

/// Microseconds per second.
pub const MICROS_PER_S: u64 = 1_000_000;

/// A point in simulated time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A non-negative span of simulated time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s * MICROS_PER_S)
    }
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms * 1000)
    }
    pub const fn micros(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for metrics only (never for ordering or arithmetic that reaches the queue).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_S as f64
    }
    /// `self + d`, saturating at [`SimTime::MAX`] (used as "never").
    pub const fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// The smallest multiple of `period` (counted from `origin`) that is `>= self`.
    pub fn ceil_to_period(self, origin: SimTime, period: SimDuration) -> SimTime {
        if period.0 == 0 || self <= origin {
            return if self < origin { origin } else { self };
        }
        let offset = self.0 - origin.0;
        let k = offset.div_ceil(period.0);
        SimTime(origin.0.saturating_add(k.saturating_mul(period.0)))
    }
    /// The largest multiple of `period` (counted from `origin`) that is `<= self`, or `None` before `origin`.
    pub fn floor_to_period(self, origin: SimTime, period: SimDuration) -> Option<SimTime> {
        if self < origin {
            return None;
        }
        if period.0 == 0 {
            return Some(self);
        }
        let k = (self.0 - origin.0) / period.0;
        Some(SimTime(origin.0 + k * period.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * MICROS_PER_S)
    }
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1000)
    }
    pub const fn from_micros(us: u64) -> SimDuration {
        SimDuration(us)
    }
    pub const fn micros(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_S as f64
    }
    /// Converts seconds (a sampled value) to a duration, rounding to the nearest microsecond. Negative and NaN
    /// become zero; values beyond `u64` microseconds saturate.
    pub fn from_secs_f64(s: f64) -> SimDuration {
        if s.is_nan() || s <= 0.0 {
            return SimDuration::ZERO;
        }
        let us = libm::round(s * MICROS_PER_S as f64);
        if us >= u64::MAX as f64 { SimDuration::MAX } else { SimDuration(us as u64) }
    }
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
    pub const fn saturating_add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

/// Formats microseconds as seconds with the shortest exact decimal: `90`, `90.5`, `0.000001`.
/// This is the `time_s` format of every output file, chosen so that times are exact and diffable.
pub fn format_secs(us: u64) -> String {
    let mut s = String::with_capacity(16);
    write_secs(&mut s, us);
    s
}

/// Appends [`format_secs`] of `us` to `out` without allocating a new string.
pub fn write_secs(out: &mut String, us: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{}", Secs(us));
}

/// Displays microseconds as [`format_secs`] does, without allocating: for `key=value` details of `events.csv`
/// rows, which are formatted lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secs(pub u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_S;
        let mut frac = self.0 % MICROS_PER_S;
        write!(f, "{whole}")?;
        if frac != 0 {
            let mut digits = 6;
            while frac.is_multiple_of(10) {
                frac /= 10;
                digits -= 1;
            }
            write!(f, ".{frac:0digits$}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", format_secs(self.0))
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", format_secs(self.0))
    }
}

/// Why a duration string was rejected, with the byte offset of the problem inside the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DurationError {}

const DURATION_EXPECTED: &str =
    "expected a duration such as \"90s\", \"10m\", \"1h30m\", \"250ms\" or \"1.5h\" (units: us, ms, s, m, h, d)";

/// Parses a Go-style duration (`"90s"`, `"10m"`, `"2h"`, `"1h30m"`, `"1.5s"`, `"250ms"`, `"0"`) exactly.
///
/// Units are `us` (or `µs`), `ms`, `s`, `m`, `h` and, as a convenience beyond Go, `d` (24 h). Fractions are exact
/// and must resolve to whole microseconds. Negative durations are rejected: nothing in a scenario runs backwards.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationError> {
    let err = |offset: usize, what: String| DurationError {
        offset,
        message: format!("invalid duration \"{text}\": {what}; {DURATION_EXPECTED}"),
    };
    if text.is_empty() {
        return Err(err(0, "empty string".into()));
    }
    if text == "0" {
        return Ok(SimDuration::ZERO);
    }
    let bytes = text.as_bytes();
    if bytes[0] == b'-' {
        return Err(err(0, "negative durations are not allowed".into()));
    }
    let mut i = if bytes[0] == b'+' { 1 } else { 0 };
    let mut total: u128 = 0;
    let mut parts = 0;
    while i < bytes.len() {
        let start = i;
        let mut whole: u128 = 0;
        let mut digits = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            whole = whole * 10 + u128::from(bytes[i] - b'0');
            if whole > u128::from(u64::MAX) {
                return Err(err(start, "number too large".into()));
            }
            i += 1;
            digits += 1;
        }
        // Fraction as (numerator, 10^k).
        let mut frac_num: u128 = 0;
        let mut frac_den: u128 = 1;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                if frac_den < 10u128.pow(18) {
                    frac_num = frac_num * 10 + u128::from(bytes[i] - b'0');
                    frac_den *= 10;
                } else if bytes[i] != b'0' {
                    return Err(err(i, "too many fractional digits".into()));
                }
                i += 1;
                digits += 1;
            }
        }
        if digits == 0 {
            return Err(err(start, "expected a number".into()));
        }
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit = &text[unit_start..i];
        if unit.starts_with(char::is_whitespace) {
            return Err(err(unit_start, "unexpected space between the number and its unit".into()));
        }
        let unit_us: u128 = match unit {
            "us" | "µs" | "μs" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" => 60_000_000,
            "h" => 3_600_000_000,
            "d" => 86_400_000_000,
            "" => return Err(err(unit_start, "missing unit".into())),
            "ns" => return Err(err(unit_start, "nanoseconds are finer than the simulator's 1us resolution".into())),
            other => return Err(err(unit_start, format!("unknown unit \"{other}\""))),
        };
        let frac_us = frac_num * unit_us;
        if !frac_us.is_multiple_of(frac_den) {
            return Err(err(start, "not a whole number of microseconds".into()));
        }
        total = total
            .checked_add(whole * unit_us + frac_us / frac_den)
            .filter(|t| *t <= u128::from(u64::MAX))
            .ok_or_else(|| err(start, "duration too large".into()))?;
        parts += 1;
    }
    if parts == 0 {
        return Err(err(0, "expected a number".into()));
    }
    Ok(SimDuration(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations_exactly() {
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("90s", 90_000_000),
            ("10m", 600_000_000),
            ("2h", 7_200_000_000),
            ("1h30m", 5_400_000_000),
            ("1.5s", 1_500_000),
            ("1.5h", 5_400_000_000),
            ("250ms", 250_000),
            ("1us", 1),
            ("0.001ms", 1),
            ("1d", 86_400_000_000),
            ("+5s", 5_000_000),
            ("0s", 0),
            ("2m3.5s", 123_500_000),
        ];
        for (text, us) in table {
            assert_eq!(parse_duration(text), Ok(SimDuration(*us)), "{text}");
        }
    }

    #[test]
    fn rejects_junk_with_offsets() {
        let table: &[(&str, usize)] = &[
            ("", 0),
            ("10", 2),
            ("-5s", 0),
            ("5x", 1),
            ("s", 0),
            ("1ns", 1),
            ("0.0000001s", 0),
            ("5 s", 1),
            ("1.5.5s", 3),
            ("99999999999999999999999h", 0),
        ];
        for (text, offset) in table {
            let e = parse_duration(text).expect_err(text);
            assert_eq!(e.offset, *offset, "{text}: {}", e.message);
            assert!(e.message.contains("expected a duration"), "{}", e.message);
        }
    }

    #[test]
    fn formats_exact_seconds() {
        assert_eq!(format_secs(0), "0");
        assert_eq!(format_secs(90_000_000), "90");
        assert_eq!(format_secs(90_500_000), "90.5");
        assert_eq!(format_secs(1), "0.000001");
        assert_eq!(format_secs(655_100_000), "655.1");
        assert_eq!(format_secs(12_345_678), "12.345678");
    }

    #[test]
    fn period_rounding() {
        let p = SimDuration::from_secs(5);
        assert_eq!(SimTime::from_secs(12).ceil_to_period(SimTime::ZERO, p), SimTime::from_secs(15));
        assert_eq!(SimTime::from_secs(15).ceil_to_period(SimTime::ZERO, p), SimTime::from_secs(15));
        assert_eq!(SimTime::from_secs(12).floor_to_period(SimTime::ZERO, p), Some(SimTime::from_secs(10)));
        assert_eq!(SimTime::from_secs(1).floor_to_period(SimTime::from_secs(2), p), None);
        assert_eq!(SimTime::from_secs(1).ceil_to_period(SimTime::from_secs(2), p), SimTime::from_secs(2));
    }
}
