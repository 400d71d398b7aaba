//! Turning an experiment's per-pod rows into the paper's curves: one point per percent of arrived GPU demand
//! (the authors' `analysis.py` and `merge_*_discrete.py`).
//!
//! A row's arrived percentage is round-half-to-even(arrived milli / (10 · GPUs)), an integer; its allocation
//! percentage is rounded to 2 decimals. For each x = 0, 1, ..., the value is the mean over the rows at x, or, when
//! no row lands exactly on x (a multi-GPU pod can jump a percent), over the rows within x ± 1. Fragmentation is
//! given two ways: as a share of all GPU milli ("frag / total", the paper's fragmentation rate figures) and as a
//! share of the free GPU milli ("frag ratio").

use super::experiment::Row;

/// One point of the curves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub arrived_pct: u32,
    /// Allocated GPU milli as a percentage of all GPU milli.
    pub gpu_alloc_pct: f64,
    /// Fragmented GPU milli as a percentage of all GPU milli.
    pub gpu_frag_pct: f64,
    /// Fragmented GPU milli as a percentage of the free GPU milli.
    pub gpu_frag_ratio_pct: f64,
    /// Rows averaged into the point.
    pub rows: usize,
}

/// Python's `round(x)`: to the nearest integer, halves to even.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 { 2.0 * (x / 2.0).round() } else { r }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The curves from x = 0 to `max_pct` (points with no row within ±1 are left out).
pub fn curve(rows: &[Row], total_gpus: i64, max_pct: u32) -> Vec<Point> {
    let total_milli = (total_gpus * 1000) as f64;
    let tagged: Vec<(i64, &Row)> = rows
        .iter()
        .map(|r| (round_half_even(r.arrived_gpu_milli as f64 / total_gpus as f64 / 10.0) as i64, r))
        .collect();
    let mut out = Vec::new();
    for x in 0..=i64::from(max_pct) {
        let mut pick: Vec<&Row> = tagged.iter().filter(|(a, _)| *a == x).map(|(_, r)| *r).collect();
        if pick.is_empty() {
            pick = tagged.iter().filter(|(a, _)| (x - 1..=x + 1).contains(a)).map(|(_, r)| *r).collect();
        }
        if pick.is_empty() {
            continue;
        }
        let n = pick.len() as f64;
        let alloc = pick.iter().map(|r| round2(r.used_gpu_milli as f64 / total_gpus as f64 / 10.0)).sum::<f64>() / n;
        let frag = pick.iter().map(|r| r.frag_milli).sum::<f64>() / n;
        let ratio = pick
            .iter()
            .map(|r| {
                let idle = total_milli - r.used_gpu_milli as f64;
                if idle > 0.0 { 100.0 * r.frag_milli / idle } else { 0.0 }
            })
            .sum::<f64>()
            / n;
        out.push(Point {
            arrived_pct: x as u32,
            gpu_alloc_pct: round2(alloc),
            gpu_frag_pct: round2(100.0 * frag / total_milli),
            gpu_frag_ratio_pct: round2(ratio),
            rows: pick.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arrived: i64, used: i64, frag: f64) -> Row {
        Row { arrived_gpu_milli: arrived, used_gpu_milli: used, frag_milli: frag, placed: true }
    }

    #[test]
    fn points_average_their_rows_and_fill_gaps_from_neighbours() {
        // 10 GPUs: 1% = 100 milli. Rows at 0.5% (rounds to 0, even), 1%, 1%, then a jump to 4%.
        let rows = [row(50, 50, 0.0), row(100, 100, 50.0), row(100, 100, 150.0), row(400, 300, 1000.0)];
        let c = curve(&rows, 10, 5);
        let xs: Vec<u32> = c.iter().map(|p| p.arrived_pct).collect();
        // x=2 borrows the rows at 1 (±1); x=3 the row at 4; x=5 the row at 4.
        assert_eq!(xs, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!((c[0].gpu_alloc_pct, c[0].rows), (0.5, 1));
        assert_eq!((c[1].gpu_alloc_pct, c[1].gpu_frag_pct, c[1].rows), (1.0, 1.0, 2));
        // frag ratio at 1: mean(50/9900, 150/9900) * 100.
        assert_eq!(c[1].gpu_frag_ratio_pct, round2(100.0 * 100.0 / 9900.0));
        assert_eq!(c[2], Point { arrived_pct: 2, ..c[1] });
        assert_eq!((c[3].gpu_alloc_pct, c[4].rows), (3.0, 1));
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-0.5), 0.0);
    }
}
