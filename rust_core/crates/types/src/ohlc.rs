//! Price columns of one side of a candle series.

/// Open, high, low and close columns of one side (bid or ask).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ohlc {
    /// Open prices.
    pub open: Vec<f64>,
    /// High prices.
    pub high: Vec<f64>,
    /// Low prices.
    pub low: Vec<f64>,
    /// Close prices.
    pub close: Vec<f64>,
}

impl Ohlc {
    /// Returns the columns with their names, in open, high, low, close order.
    #[must_use]
    pub fn columns(&self) -> [(&'static str, &[f64]); 4] {
        [("open", &self.open), ("high", &self.high), ("low", &self.low), ("close", &self.close)]
    }

    /// Returns the number of bars.
    #[must_use]
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Returns true when there are no bars.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// Borrows the bars in `range` without copying.
    #[must_use]
    pub fn view(&self, range: std::ops::Range<usize>) -> OhlcView<'_> {
        OhlcView {
            open: &self.open[range.clone()],
            high: &self.high[range.clone()],
            low: &self.low[range.clone()],
            close: &self.close[range],
        }
    }
}

/// Borrowed open, high, low and close columns (a range of an [`Ohlc`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OhlcView<'a> {
    /// Open prices.
    pub open: &'a [f64],
    /// High prices.
    pub high: &'a [f64],
    /// Low prices.
    pub low: &'a [f64],
    /// Close prices.
    pub close: &'a [f64],
}

impl OhlcView<'_> {
    /// Returns the number of bars.
    #[must_use]
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Returns true when there are no bars.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }
}
