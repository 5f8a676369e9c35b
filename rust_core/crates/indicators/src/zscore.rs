//! Rolling z-score over a window, population standard deviation (ddof = 0).

/// How often the rolling sums are recomputed from the window to shed rounding drift.
const RESYNC_EVERY: usize = 1024;

/// The rolling z-score of a series, yielded bar by bar: `z_k = (x_k - mean_k) / std_k`
/// over the last `window` values including `k`, population std (ddof = 0).
///
/// Yields `None` while warming up (`k < window - 1`) and wherever every value in the
/// window is equal (`std == 0`, decided on the values themselves, not on a rounding
/// residue): two neighbours are equal when they differ by at most the series'
/// resolution (0 unless set with [`RollingZScore::with_resolution`]). Sums are kept on
/// values shifted by the first one, which keeps the variance free of catastrophic
/// cancellation at FX price levels, and are recomputed from the window every 1024 bars
/// so rounding drift cannot build up. O(1) per bar, no allocation.
#[derive(Debug, Clone)]
pub struct RollingZScore<'a> {
    values: &'a [f64],
    window: usize,
    k: usize,
    shift: f64,
    sum: f64,
    sum_sq: f64,
    /// Neighbouring pairs in the window that differ; zero means a flat window.
    changes: usize,
    /// The largest difference between two values that still counts as equal.
    resolution: f64,
}

impl<'a> RollingZScore<'a> {
    /// Starts the z-score of `values` over `window` (>= 1) values.
    #[must_use]
    pub fn new(values: &'a [f64], window: usize) -> Self {
        let shift = values.first().copied().unwrap_or(0.0);
        Self {
            values,
            window: window.max(1),
            k: 0,
            shift,
            sum: 0.0,
            sum_sq: 0.0,
            changes: 0,
            resolution: 0.0,
        }
    }

    /// Counts values that differ by at most `resolution` as equal when telling a flat
    /// window. Prices on a grid differ by a whole step or not at all, but the same price
    /// can come out of arithmetic as two neighbouring doubles (a mid `(bid + ask) / 2`
    /// of one decimal price from two different bid/ask splits): a resolution below the
    /// step keeps such a pair equal, as it is.
    #[must_use]
    pub fn with_resolution(mut self, resolution: f64) -> Self {
        self.resolution = resolution;
        self
    }
}

impl Iterator for RollingZScore<'_> {
    type Item = Option<f64>;

    fn next(&mut self) -> Option<Self::Item> {
        let (values, k, window, shift) = (self.values, self.k, self.window, self.shift);
        let x = *values.get(k)?;
        self.k += 1;
        let d = x - shift;
        self.sum += d;
        self.sum_sq += d * d;
        if k > 0 && (x - values[k - 1]).abs() > self.resolution {
            self.changes += 1;
        }
        if k >= window {
            let old = values[k - window];
            let od = old - shift;
            self.sum -= od;
            self.sum_sq -= od * od;
            if (values[k - window + 1] - old).abs() > self.resolution {
                self.changes -= 1;
            }
        }
        if k + 1 < window {
            return Some(None);
        }
        if k.is_multiple_of(RESYNC_EVERY) {
            (self.sum, self.sum_sq) = values[k + 1 - window..=k]
                .iter()
                .map(|v| v - shift)
                .fold((0.0, 0.0), |(s, q), d| (s + d, q + d * d));
        }
        if self.changes == 0 {
            return Some(None);
        }
        // z = (x - S / w) / sqrt(Q / w - (S / w)^2) = (w x - S) / sqrt(w Q - S^2): on
        // whole numbers (prices counted in grid steps) every term is exact below 2^53,
        // so an exact tie comes out exact (z = +-1 for two unequal values, 0 for a value
        // equal to the mean), where dividing first leaves it some ulps either side.
        let w = window as f64;
        let spread = (w * self.sum_sq - self.sum * self.sum).max(0.0);
        Some((spread > 0.0).then(|| (w * d - self.sum) / spread.sqrt()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.values.len() - self.k;
        (left, Some(left))
    }
}

/// Returns the z-score of a window's last value over the whole window (population std),
/// in two passes on the values shifted by the window's first one, or `None` when every
/// value is equal.
///
/// Slower than [`RollingZScore`] (O(window)) but free of its rolling drift: on values
/// that are not whole numbers (prices off the tick grid, e.g. read through float32) the
/// rolling sums can leave z some 1e-9 off, where this is a few ulps off. Two unequal
/// values still give exactly +-1, a value equal to the mean of whole numbers exactly 0.
#[must_use]
pub fn window_zscore(window: &[f64]) -> Option<f64> {
    let (&first, &last) = (window.first()?, window.last()?);
    let n = window.len() as f64;
    let mean = window.iter().map(|v| v - first).sum::<f64>() / n;
    let var = window.iter().map(|v| (v - first - mean) * (v - first - mean)).sum::<f64>() / n;
    (var > 0.0).then(|| (last - first - mean) / var.sqrt())
}

/// Returns the rolling z-score column of `values` (`NaN` where undefined).
#[must_use]
pub fn rolling_zscore(values: &[f64], window: usize) -> Vec<f64> {
    RollingZScore::new(values, window).map(|z| z.unwrap_or(f64::NAN)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn two_pass(window: &[f64]) -> f64 {
        let n = window.len() as f64;
        let mean = window.iter().sum::<f64>() / n;
        let var = window.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (window[window.len() - 1] - mean) / var.sqrt()
    }

    #[test]
    fn hand_checked_values() {
        // window [1, 2, 3]: mean 2, pop std sqrt(2/3); z of 3 = 1 / 0.8165 = 1.2247
        let z = rolling_zscore(&[1.0, 2.0, 3.0, 3.0], 3);
        assert!(z[0].is_nan() && z[1].is_nan());
        assert!((z[2] - 1.224_744_871_391_589).abs() < 1e-12);
        // window [2, 3, 3]: mean 8/3, var = (4/9 + 1/9 + 1/9) / 3 = 2/9
        assert!((z[3] - (1.0 / 3.0) / (2.0f64 / 9.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn flat_windows_are_undefined() {
        let z = rolling_zscore(&[1.1, 1.1, 1.1, 1.2, 1.2, 1.2, 1.2], 3);
        assert!(z[2].is_nan());
        assert!(!z[3].is_nan() && !z[4].is_nan());
        assert!(z[5].is_nan() && z[6].is_nan());
    }

    #[test]
    fn values_within_the_resolution_make_a_flat_window() {
        // 1.09902 as bid = ask, and as the mid of 1.09901 / 1.09903: one ulp apart.
        let split = (1.09901 + 1.09903) / 2.0;
        assert_ne!(split, 1.09902);
        let values = [1.09902, 1.09902, split, 1.09902, 1.09905];
        let exact = rolling_zscore(&values, 3);
        assert!(!exact[2].is_nan(), "without a resolution the residue is a change");
        let z: Vec<f64> =
            RollingZScore::new(&values, 3).with_resolution(0.25e-5).map(|z| z.unwrap_or(f64::NAN)).collect();
        assert!(z[2].is_nan() && z[3].is_nan());
        assert!(!z[4].is_nan());
    }

    #[test]
    fn ties_on_whole_numbers_come_out_exact() {
        // Prices counted in half ticks, far from the first value: windows of two unequal
        // values give exactly +-1, a value equal to the window's mean exactly 0.
        let z = rolling_zscore(&[0.0, 1.0, 40_001.0, 40_000.0, 40_002.0, 40_001.0], 2);
        assert_eq!(&z[1..], [1.0, 1.0, -1.0, 1.0, -1.0]);
        assert_eq!(rolling_zscore(&[3.0, 9.0, 6.0], 3)[2], 0.0);
    }

    #[test]
    fn window_zscore_is_exact_on_ties_off_the_grid() {
        // Half-tick counts of prices read through float32: not whole numbers.
        let counts: Vec<f64> = (0..4000)
            .map(|k| f64::from((1.1 + f64::from(k % 97) * 1e-5) as f32) * 2e5 + f64::from(k) * 0.37)
            .collect();
        let rolling = rolling_zscore(&counts, 2);
        let mut drifted = 0;
        for k in 1..counts.len() {
            let z = window_zscore(&counts[k - 1..=k]).expect("unequal values");
            assert_eq!(z.abs(), 1.0, "k={k}");
            drifted += usize::from((rolling[k].abs() - 1.0).abs() > 1e-12);
        }
        assert!(drifted > 0, "the rolling sums drift on these values");
        assert_eq!(window_zscore(&[3.0, 9.0, 6.0]), Some(0.0));
        assert_eq!(window_zscore(&[0.0, 0.0, 0.0, 0.0, 1.0]), Some(2.0));
        assert_eq!(window_zscore(&[1.5, 1.5]), None);
        assert_eq!(window_zscore(&[]), None);
    }

    #[test]
    fn short_input_is_all_undefined() {
        assert!(rolling_zscore(&[1.0, 2.0], 3).iter().all(|v| v.is_nan()));
        assert!(rolling_zscore(&[], 3).is_empty());
    }

    proptest! {
        #[test]
        fn matches_two_pass_on_fx_prices(
            ticks in proptest::collection::vec(-40i64..40, 30..3000),
            window in 2usize..60,
        ) {
            let mut price = 1.1;
            let values: Vec<f64> = ticks
                .iter()
                .map(|t| { price += *t as f64 * 1e-5; (price * 1e5f64).round() / 1e5 })
                .collect();
            let z = rolling_zscore(&values, window);
            for k in window - 1..values.len() {
                let w = &values[k + 1 - window..=k];
                if w.iter().all(|v| *v == w[0]) {
                    prop_assert!(z[k].is_nan());
                } else {
                    let expected = two_pass(w);
                    prop_assert!(
                        (z[k] - expected).abs() < 1e-6 * expected.abs().max(1.0),
                        "k={} {} vs {}", k, z[k], expected
                    );
                }
            }
        }
    }
}
