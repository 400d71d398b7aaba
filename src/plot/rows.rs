//! A y axis of rows (one per node, first node at the top) with labels only where we ask for them.
//!
//! plotters' own `with_key_points` wrapper cannot be used with f64 ranges (it loses the value formatter), so
//! this small coordinate does the same: row `r` of `rows` spans `[rows-1-r, rows-r]` and the label key points
//! sit at row centres.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use std::ops::Range;

pub struct RowAxis {
    rows: usize,
    keys: Vec<f64>,
}

impl RowAxis {
    /// `rows` rows, labelled every `every` rows starting with the first (top) one.
    pub fn new(rows: usize, every: usize) -> RowAxis {
        let keys = (0..rows).step_by(every.max(1)).map(|r| (rows - 1 - r) as f64 + 0.5).collect();
        RowAxis { rows: rows.max(1), keys }
    }

    /// The y span of row `r` (0 = top).
    pub fn span(&self, r: usize) -> (f64, f64) {
        let top = self.rows.saturating_sub(r) as f64;
        (top - 1.0, top)
    }

    /// The row at coordinate `y`, if any.
    pub fn row_at(&self, y: f64) -> Option<usize> {
        let r = self.rows as i64 - 1 - y.floor() as i64;
        usize::try_from(r).ok().filter(|r| *r < self.rows)
    }
}

impl Ranged for RowAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = v / self.rows as f64;
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.keys.clone() }
    }

    fn range(&self) -> Range<f64> {
        0.0..self.rows as f64
    }
}

impl ValueFormatter<f64> for RowAxis {
    fn format(v: &f64) -> String {
        super::style::tick(*v)
    }
}
