//! Human-readable numbers for tables: durations with a fitting unit, ratios as percentages, counts with digit
//! groups. The metric name decides (units are last in names: `_s` is seconds, allocation ratios are 0..1).

use crate::plot::style::tick;
use crate::run::thousands;

/// How a metric's value is shown, from its name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Seconds,
    Ratio,
    Plain,
}

pub fn kind_of(name: &str) -> Kind {
    if name.ends_with("_s") {
        Kind::Seconds
    } else if name.ends_with("_allocation_mean") || name.contains("_imbalance") || name.contains("_fragmentation") {
        Kind::Ratio
    } else {
        Kind::Plain
    }
}

/// A duration with a unit that keeps it short: µs, ms, s, min or h.
pub fn duration(s: f64) -> String {
    let a = s.abs();
    if a == 0.0 {
        "0 s".to_string()
    } else if a < 1e-3 {
        format!("{} µs", tick(s * 1e6))
    } else if a < 1.0 {
        format!("{} ms", tick(s * 1e3))
    } else if a < 600.0 {
        format!("{} s", sig4(s))
    } else if a < 36_000.0 {
        format!("{} min", sig4(s / 60.0))
    } else {
        format!("{} h", sig4(s / 3600.0))
    }
}

/// Four significant digits, trailing zeros dropped (412.5, 6.875, 40).
fn sig4(v: f64) -> String {
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A count or plain number: integers grouped (1,234,567), others without float noise.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = thousands(v.abs() as u64);
        if v < 0.0 { format!("-{s}") } else { s }
    } else {
        tick(v)
    }
}

/// A metric value in its human unit.
pub fn metric(name: &str, v: f64) -> String {
    match kind_of(name) {
        Kind::Seconds => duration(v),
        Kind::Ratio => format!("{:.1}%", 100.0 * v),
        Kind::Plain => number(v),
    }
}

/// A difference in the metric's unit (percentage points for ratios), with an explicit sign.
pub fn delta(name: &str, d: f64) -> String {
    let sign = if d > 0.0 { "+" } else { "" };
    match kind_of(name) {
        Kind::Seconds => format!("{sign}{}", duration(d)),
        Kind::Ratio => format!("{sign}{:.1} pp", 100.0 * d),
        Kind::Plain => format!("{sign}{}", number(d)),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_name() {
        assert_eq!(metric("scheduling_latency_p99_s", 0.0123), "12.3 ms");
        assert_eq!(metric("fault_recovery_max_s", 412.5), "412.5 s");
        assert_eq!(metric("fault_recovery_max_s", 2400.0), "40 min");
        assert_eq!(metric("cpu_allocation_mean", 0.6543), "65.4%");
        assert_eq!(metric("pods_created", 1234567.0), "1,234,567");
        assert_eq!(delta("cpu_allocation_mean", -0.05), "-5.0 pp");
        assert_eq!(delta("evictions", 3.0), "+3");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
