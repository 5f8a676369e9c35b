//! Shared value types of the Omega V2 engine.
//!
//! This crate holds the small vocabulary every other crate speaks: timeframes and
//! nanosecond time, trade directions and order kinds, the symbol specification and
//! trading costs, the closed-trade record, and the rounding rules of ENGINE §10.
//! It knows nothing of files, Parquet, Python or the event loop.

pub mod config;
mod ohlc;
mod rounding;
mod symbol;
mod time;
mod trade;

pub use config::{ConfigError, Fields};
pub use ohlc::{Ohlc, OhlcView};
pub use rounding::{Tick, floor_lots, round_half_away, round_to_decimals};
pub use symbol::{ExecutionCosts, Slippage, SymbolSpec};
pub use time::{
    NANOS_PER_DAY, NANOS_PER_MINUTE, Timeframe, TimeframeParseError, day_index, minute_of_day, parse_iso_utc,
};
pub use trade::{Direction, ExitReason, OrderType, Scenario, Trade};
