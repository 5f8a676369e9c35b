//! Strategies of the Omega V2 engine.
//!
//! A strategy turns prepared indicator columns into two answers per bar close: should a
//! new entry be placed, and should an open position be closed by signal. The event loop
//! (crate `omega-backtest`) only talks to the [`Strategy`] trait, so a second strategy
//! needs no change to the loop. Engine-wide gates (sessions, news, capacity, sizing)
//! stay in the loop; what is specific to one strategy (its thresholds, its warm-up, its
//! higher-timeframe filter, its spread limit) lives here.

mod column;
mod mean_reversion;
mod registry;

pub use mean_reversion::{HtfFilter, MeanReversionParams, MeanReversionZScore};
pub use registry::{Sizing, StrategyConfig};

use omega_types::{Direction, OhlcView, OrderType};

/// What a strategy sees when it is built: the primary bars and, when it asked for
/// them, the higher-timeframe (D1) bars.
#[derive(Debug, Clone, Copy)]
pub struct MarketInput<'a> {
    /// Open times of the primary bars (epoch ns).
    pub timestamps: &'a [i64],
    /// Duration of one primary bar (ns).
    pub bar_duration_ns: i64,
    /// BID prices of the primary bars.
    pub bid: OhlcView<'a>,
    /// ASK prices of the primary bars.
    pub ask: OhlcView<'a>,
    /// The D1 bars (open times, BID, ASK), when the strategy needs them.
    pub htf: Option<(&'a [i64], OhlcView<'a>, OhlcView<'a>)>,
    /// Pip size of the symbol.
    pub pip_size: f64,
    /// Tick size of the symbol: the step of its price grid.
    pub tick_size: f64,
}

/// An entry the strategy wants at the close of a bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntrySignal {
    /// Long or short.
    pub direction: Direction,
    /// Market, limit or stop.
    pub order_type: OrderType,
    /// Distance of a limit/stop level from the close (price units, >= 0).
    pub offset: f64,
    /// Stop-loss distance from the fill (price units, > 0).
    pub sl_distance: f64,
    /// Take-profit distance from the fill (price units, > 0).
    pub tp_distance: f64,
    /// Bars a pending order stays live.
    pub ttl_bars: usize,
}

/// A strategy with its indicators computed for one run.
pub trait Strategy: Send {
    /// Returns the entry wanted at the close of bar `k`, if any.
    fn entry_signal(&self, k: usize) -> Option<EntrySignal>;

    /// Returns true when an open position in `direction` should close at the close of bar `k`.
    fn exit_signal(&self, k: usize, direction: Direction) -> bool;
}

/// The errors of building a strategy for a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    /// The strategy needs higher-timeframe bars and got none.
    #[error("strategy needs D1 bars for the trend filter and none were loaded")]
    MissingHtf,
}
