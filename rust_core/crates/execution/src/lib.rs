//! Fill rules of the Omega V2 execution model, variant v2 (ENGINE §5).
//!
//! Pure functions from one bar's bid/ask prices and an order or position to a fill
//! price, plus the per-trade slippage streams. They return raw prices; the caller rounds
//! to the tick when the fill happens. This crate keeps no state and knows nothing of
//! balances, strategies or the order of events within the loop.

mod fills;
mod slippage;

pub use fills::{BarQuote, ExitFill, pending_fill, pending_level, sl_tp_exit};
pub use slippage::{SlippageModel, TradeLeg};
