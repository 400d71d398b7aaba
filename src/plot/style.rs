//! The look shared by every chart: sizes, fonts, colours, tick labels and the time axis.
//!
//! Charts are sized for a 1000-1200 px wide page and use one font family (the embedded DejaVu Sans, the only one
//! registered), so text sizes here are the ones checked by eye in the rendered PNGs.

use super::FONT;
use plotters::prelude::*;
use plotters::style::FontDesc;

/// The width of every report chart.
pub const WIDTH_PX: u32 = 1100;
/// Outer margin around a chart.
pub const MARGIN_PX: u32 = 16;

pub fn caption_font() -> FontDesc<'static> {
    (FONT, 24).into_font()
}

pub fn desc_font() -> FontDesc<'static> {
    (FONT, 18).into_font()
}

pub fn label_font() -> FontDesc<'static> {
    (FONT, 15).into_font()
}

pub fn small_font() -> FontDesc<'static> {
    (FONT, 13).into_font()
}

/// Light grey: background of cells without data, gridlines.
pub const GREY_LIGHT: RGBColor = RGBColor(225, 225, 225);
pub const GREY: RGBColor = RGBColor(140, 140, 140);
pub const FAULT_INJECTED: RGBColor = RGBColor(200, 30, 30);
pub const FAULT_HEALED: RGBColor = RGBColor(30, 140, 60);

/// Series colours (Okabe-Ito, then Tableau extras): distinguishable, also by most colour-blind readers.
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(117, 112, 179),
    RGBColor(102, 102, 102),
    RGBColor(166, 118, 29),
    RGBColor(27, 158, 119),
    RGBColor(231, 41, 138),
];

/// The colour of series `i` (cycling when there are more series than colours).
pub fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Viridis at nine stops: perceptually uniform, readable in grey, dark = empty and bright = full.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 45, 123),
    (59, 82, 139),
    (44, 114, 142),
    (33, 145, 140),
    (40, 174, 128),
    (94, 201, 98),
    (173, 220, 48),
    (253, 231, 37),
];

/// The heatmap colour of a ratio in 0..=1 (clamped; NaN is treated as 0).
pub fn heat_colour(ratio: f64) -> RGBColor {
    let r = if ratio.is_nan() { 0.0 } else { ratio.clamp(0.0, 1.0) };
    let pos = r * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// The unit of a time axis, chosen from the run's length so that tick labels stay short.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeUnit {
    pub name: &'static str,
    pub seconds: f64,
}

impl TimeUnit {
    /// Seconds up to 10 minutes, minutes up to 10 hours, hours beyond.
    pub fn for_span(span_s: f64) -> TimeUnit {
        if span_s <= 600.0 {
            TimeUnit { name: "s", seconds: 1.0 }
        } else if span_s <= 36_000.0 {
            TimeUnit { name: "min", seconds: 60.0 }
        } else {
            TimeUnit { name: "h", seconds: 3600.0 }
        }
    }

    pub fn of(&self, t_s: f64) -> f64 {
        t_s / self.seconds
    }

    /// The axis description, unit included.
    pub fn axis_desc(&self) -> String {
        format!("simulated time ({})", self.name)
    }
}

/// A tick label with no float noise: at most three decimals, trailing zeros dropped.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".to_string() } else { s }
}

/// A tick label for a log axis: plain decimals from 0.001 to 100000, exponent form beyond.
pub fn tick_log(v: f64) -> String {
    if v > 0.0 && !(1e-3..1e5).contains(&v) { format!("{v:.0e}") } else { tick(v) }
}

/// A range that plotters can draw even when all values are equal (a single sample): widened to at least `min_span`.
pub fn nonempty_range(lo: f64, hi: f64, min_span: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, min_span);
    }
    if hi - lo >= min_span { (lo, hi) } else { (lo, lo + min_span) }
}

/// Shortens a label to `max` characters with an ellipsis, so long workload or node names cannot push a legend or
/// an axis out of the image.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_have_no_float_noise() {
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(-0.0), "0");
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(tick_log(1e-6), "1e-6");
    }

    #[test]
    fn time_unit_follows_the_span() {
        assert_eq!(TimeUnit::for_span(300.0).name, "s");
        assert_eq!(TimeUnit::for_span(2400.0).name, "min");
        assert_eq!(TimeUnit::for_span(86_400.0).name, "h");
    }

    #[test]
    fn heat_colour_ends_are_viridis() {
        assert_eq!(heat_colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(heat_colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(heat_colour(7.0), RGBColor(253, 231, 37));
        assert_eq!(heat_colour(f64::NAN), RGBColor(68, 1, 84));
    }
}
