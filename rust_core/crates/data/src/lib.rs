//! Bid/ask Parquet candle loading and validation for the Omega V2 engine.
//!
//! This is the only crate that knows Parquet exists. It reads one file per symbol,
//! timeframe and side with arrow-rs, validates every rule of ENGINE §1 once, at load,
//! and hands out plain columns. Decoded files are cached per process, keyed by path,
//! size and modification time, so a worker that runs many backtests on the same data
//! decodes it once. It also reads the news calendar.
//!
//! It is not for indicators, time ranges or anything a strategy decides.

mod cache;
mod candles;
mod error;
mod news;
mod parquet_file;

pub use candles::{BidAskSeries, FileInfo, count_gaps, load_bid_ask, load_bid_ask_uncached, side_path};
pub use error::DataError;
pub use news::{Impact, NewsCalendar, NewsEvent, load_news};
pub use omega_types::Ohlc;
