//! Rolling z-score over a window, population standard deviation (ddof = 0).

/// How often the rolling sums are recomputed from scratch to shed rounding drift.
const RESYNC_EVERY: usize = 1024;

/// Returns `z_k = (x_k - mean_k) / std_k` over the last `window` values including `k`.
///
/// Defined from `k = window - 1`; `NaN` before that and wherever every value in the
/// window is equal (`std == 0`, decided on the values themselves, not on a rounding
/// residue). Sums are kept on values shifted by the first one, which keeps the
/// variance free of catastrophic cancellation at FX price levels.
#[must_use]
pub fn rolling_zscore(values: &[f64], window: usize) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![f64::NAN; n];
    if window == 0 || n < window {
        return out;
    }
    let shift = values[0];
    let w = window as f64;
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    // Number of k in the window's pairs (k-1, k) with x_k != x_{k-1}: zero means flat.
    let mut changes = 0usize;
    for k in 0..n {
        let d = values[k] - shift;
        sum += d;
        sum_sq += d * d;
        if k > 0 && values[k] != values[k - 1] {
            changes += 1;
        }
        if k >= window {
            let old = values[k - window] - shift;
            sum -= old;
            sum_sq -= old * old;
            if values[k - window + 1] != values[k - window] {
                changes -= 1;
            }
        }
        if k + 1 < window {
            continue;
        }
        if k % RESYNC_EVERY == 0 {
            (sum, sum_sq) = values[k + 1 - window..=k]
                .iter()
                .map(|v| v - shift)
                .fold((0.0, 0.0), |(s, q), d| (s + d, q + d * d));
        }
        if changes == 0 {
            continue;
        }
        let mean = sum / w;
        let variance = (sum_sq / w - mean * mean).max(0.0);
        if variance > 0.0 {
            out[k] = (d - mean) / variance.sqrt();
        }
    }
    out
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
            let values: Vec<f64> = ticks.iter().map(|t| { price += *t as f64 * 1e-5; (price * 1e5f64).round() / 1e5 }).collect();
            let z = rolling_zscore(&values, window);
            for k in window - 1..values.len() {
                let w = &values[k + 1 - window..=k];
                if w.iter().all(|v| *v == w[0]) {
                    prop_assert!(z[k].is_nan());
                } else {
                    let expected = two_pass(w);
                    prop_assert!((z[k] - expected).abs() < 1e-6 * expected.abs().max(1.0), "k={} {} vs {}", k, z[k], expected);
                }
            }
        }
    }
}
