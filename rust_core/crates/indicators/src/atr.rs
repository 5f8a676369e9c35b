//! Average true range with Wilder's smoothing.

/// A streaming Wilder ATR of length `n` (ENGINE §3).
///
/// `TR_0 = high_0 - low_0`, `TR_k = max(high_k - low_k, |high_k - close_{k-1}|,
/// |low_k - close_{k-1}|)`; `ATR_{n-1}` is the mean of `TR_0..=TR_{n-1}`, then
/// `ATR_k = (ATR_{k-1} * (n - 1) + TR_k) / n`. Undefined before the `n`-th bar.
/// A true range of at most the prices' resolution (0 unless set with
/// [`WilderAtr::with_resolution`]) is 0, so that a bar that did not move has an ATR of
/// exactly 0 whatever rounding residue its prices carry.
#[derive(Debug, Clone)]
pub struct WilderAtr {
    n: usize,
    seen: usize,
    prev_close: Option<f64>,
    value: f64,
    resolution: f64,
}

impl WilderAtr {
    /// Starts an ATR of length `n` (>= 1).
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self { n: n.max(1), seen: 0, prev_close: None, value: 0.0, resolution: 0.0 }
    }

    /// Counts a true range of at most `resolution` as 0 (see
    /// [`RollingZScore::with_resolution`](crate::RollingZScore::with_resolution)).
    #[must_use]
    pub fn with_resolution(mut self, resolution: f64) -> Self {
        self.resolution = resolution;
        self
    }

    /// Adds the next bar and returns the ATR at it, once defined.
    pub fn push(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let range = high - low;
        let tr = match self.prev_close {
            None => range,
            Some(prev) => range.max((high - prev).abs()).max((low - prev).abs()),
        };
        let tr = if tr > self.resolution { tr } else { 0.0 };
        self.prev_close = Some(close);
        self.seen += 1;
        let n = self.n as f64;
        if self.seen < self.n {
            self.value += tr;
            None
        } else if self.seen == self.n {
            self.value = (self.value + tr) / n;
            Some(self.value)
        } else {
            self.value = (self.value * (n - 1.0) + tr) / n;
            Some(self.value)
        }
    }
}

/// Returns Wilder's ATR column of length `n` (`NaN` before index `n - 1`).
#[must_use]
pub fn wilder_atr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let mut atr = WilderAtr::new(n);
    (0..high.len()).map(|k| atr.push(high[k], low[k], close[k]).unwrap_or(f64::NAN)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_values() {
        let high = [1.10, 1.12, 1.11, 1.15];
        let low = [1.00, 1.05, 1.08, 1.10];
        let close = [1.05, 1.10, 1.09, 1.14];
        // TR = 0.10, max(0.07, 0.07, 0.00) = 0.07, max(0.03, 0.01, 0.02) = 0.03,
        //      max(0.05, 0.06, 0.01) = 0.06
        let atr = wilder_atr(&high, &low, &close, 2);
        assert!(atr[0].is_nan());
        assert!((atr[1] - 0.085).abs() < 1e-12);
        assert!((atr[2] - (0.085 + 0.03) / 2.0).abs() < 1e-12);
        assert!((atr[3] - ((0.085 + 0.03) / 2.0 + 0.06) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_bar_that_did_not_move_within_the_resolution_has_no_range() {
        // Mid close 1.09902 from 1.09901 / 1.09903, then a bar flat at 1.09902.
        let close = (1.09901 + 1.09903) / 2.0;
        let bars = [(close, close, close), (1.09902, 1.09902, 1.09902)];
        let mut exact = WilderAtr::new(1);
        let mut snapped = WilderAtr::new(1).with_resolution(0.25e-5);
        for (high, low, close) in bars {
            exact.push(high, low, close);
            snapped.push(high, low, close);
        }
        assert!(exact.value > 0.0, "without a resolution the residue is a range");
        assert_eq!(snapped.value, 0.0);
    }

    #[test]
    fn length_one_is_the_true_range() {
        let atr = wilder_atr(&[2.0, 3.0], &[1.0, 2.5], &[1.5, 2.8], 1);
        assert_eq!(atr[0], 1.0);
        assert!((atr[1] - 1.5).abs() < 1e-12);
    }
}
