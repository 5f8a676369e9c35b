//! Column-wise indicators of the Omega V2 engine (ENGINE §3).
//!
//! Each indicator is a small streaming state machine (`push` one bar, get its value, or
//! `None` while undefined), so a strategy can compute several of them in one pass over
//! the bars without allocating a column per indicator; the column functions wrap them
//! for whole series (`NaN` where undefined). Everything is O(1) per bar.
//! This crate knows nothing of bars, orders or time.

mod atr;
mod ema;
mod zscore;

pub use atr::{WilderAtr, wilder_atr};
pub use ema::ema;
pub use zscore::{RollingZScore, rolling_zscore, window_zscore};
