//! Exponential moving average seeded with a simple moving average.

/// Returns the EMA of length `n` (ENGINE §3): the SMA of the first `n` values at index
/// `n - 1`, then `ema_k = alpha * x_k + (1 - alpha) * ema_{k-1}` with `alpha = 2 / (n + 1)`.
/// `NaN` before index `n - 1`.
#[must_use]
pub fn ema(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len < n {
        return out;
    }
    let alpha = 2.0 / (n as f64 + 1.0);
    let mut current = values[..n].iter().sum::<f64>() / n as f64;
    out[n - 1] = current;
    for k in n..len {
        current = alpha * values[k] + (1.0 - alpha) * current;
        out[k] = current;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_the_sma_then_smooths() {
        let e = ema(&[1.0, 2.0, 3.0, 6.0], 3);
        assert!(e[0].is_nan() && e[1].is_nan());
        assert_eq!(e[2], 2.0);
        assert_eq!(e[3], 0.5 * 6.0 + 0.5 * 2.0);
    }

    #[test]
    fn too_short_is_undefined() {
        assert!(ema(&[1.0, 2.0], 3).iter().all(|v| v.is_nan()));
    }
}
