//! Column-wise indicators of the Omega V2 engine (ENGINE §3).
//!
//! Each function takes whole price columns and returns a column of the same length,
//! computed once per run in O(n); a value that is not defined yet (warm-up) or not
//! defined at all (z-score of a flat window) is `NaN`. Callers test with `is_nan`.
//! This crate knows nothing of bars, orders or time.

mod atr;
mod ema;
mod zscore;

pub use atr::wilder_atr;
pub use ema::ema;
pub use zscore::rolling_zscore;
