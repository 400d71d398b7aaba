//! Per point and metric: n, mean, sample standard deviation, 95% confidence half-width, min, max.
//!
//! The half-width is `t(0.975, n-1) * s / sqrt(n)`: Student's t quantile for n-1 degrees of freedom times the
//! standard error. The quantile comes from a table for 1 to 30 degrees of freedom and, above 30, from the
//! Cornish-Fisher expansion around the normal quantile (Abramowitz and Stegun 26.7.5, error below 1e-6 there).
//! Sums run in seed order, sequentially: never a parallel reduction, so the digits never depend on `--jobs`.

/// t(0.975, df) for df = 1..=30.
const T975: [f64; 30] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985,
    2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873,
    2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
];

/// The 0.975 quantile of the standard normal distribution.
const Z975: f64 = 1.959_963_984_540_054;

/// Student's t quantile t(0.975, df); None for df = 0.
pub fn t975(df: usize) -> Option<f64> {
    if df == 0 {
        return None;
    }
    if df <= T975.len() {
        return Some(T975[df - 1]);
    }
    let z = Z975;
    let v = df as f64;
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    Some(z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v))
}

/// Summary statistics of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n-1 denominator); None below 2 values.
    pub stdev: Option<f64>,
    /// 95% confidence half-width of the mean; None below 2 values.
    pub ci95: Option<f64>,
    pub min: f64,
    pub max: f64,
}

/// Statistics of `xs` in the given order; None when empty.
pub fn stats(xs: &[f64]) -> Option<Stats> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for &x in xs {
        sum += x;
        min = min.min(x);
        max = max.max(x);
    }
    let mean = sum / n as f64;
    let (stdev, ci95) = if n >= 2 {
        let mut ss = 0.0;
        for &x in xs {
            ss += (x - mean) * (x - mean);
        }
        let s = (ss / (n - 1) as f64).sqrt();
        (Some(s), t975(n - 1).map(|t| t * s / (n as f64).sqrt()))
    } else {
        (None, None)
    };
    Some(Stats { n, mean, stdev, ci95, min, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_sample() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, s = sqrt(32/7) = 2.138090, t(7) = 2.364624,
        // half-width = 2.364624 * 2.138090 / sqrt(8) = 1.787488.
        let s = stats(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, 5.0);
        assert!((s.stdev.unwrap() - 2.138090).abs() < 1e-6, "{s:?}");
        assert!((s.ci95.unwrap() - 1.787488).abs() < 1e-6, "{s:?}");
        assert_eq!((s.min, s.max), (2.0, 9.0));
    }

    #[test]
    fn two_values() {
        // 1, 3: mean 2, s = sqrt(2), half-width = 12.706205 * sqrt(2) / sqrt(2) = 12.706205.
        let s = stats(&[1.0, 3.0]).unwrap();
        assert!((s.ci95.unwrap() - 12.706205).abs() < 1e-9);
    }

    #[test]
    fn one_value_has_no_spread() {
        let s = stats(&[4.5]).unwrap();
        assert_eq!((s.stdev, s.ci95, s.mean), (None, None, 4.5));
        assert!(stats(&[]).is_none());
    }

    #[test]
    fn t_beyond_the_table_is_close_to_reference_values() {
        // Reference quantiles (R: qt(0.975, df)).
        for (df, t) in
            [(30, 2.042272), (31, 2.039513), (40, 2.021075), (60, 2.000298), (120, 1.979930), (1000, 1.962339)]
        {
            assert!((t975(df).unwrap() - t).abs() < 2e-6, "df {df}: {} vs {t}", t975(df).unwrap());
        }
        assert!(t975(0).is_none());
    }
}
