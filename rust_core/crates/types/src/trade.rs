//! Directions, order kinds and the closed-trade record (ENGINE §8).

use serde::{Deserialize, Serialize};

/// The side of a position or order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Buys at the ask, sells at the bid.
    Long,
    /// Sells at the bid, buys back at the ask.
    Short,
}

impl Direction {
    /// Returns `+1.0` for long and `-1.0` for short.
    #[must_use]
    pub fn sign(self) -> f64 {
        match self {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
        }
    }
}

/// How an entry order is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// Fills at the next bar's open.
    Market,
    /// Fills at its level or better.
    Limit,
    /// Fills once price trades through its level.
    Stop,
}

/// Why a trade was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The stop-loss level was hit.
    StopLoss,
    /// The take-profit level was hit.
    TakeProfit,
    /// The strategy's exit signal.
    Signal,
    /// Closed on the last bar of the data.
    EndOfData,
}

/// The special case an SL/TP exit fell into, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Both levels were touched on one bar; the stop-loss won.
    SlTpSameBar,
    /// The exit happened on the bar a pending order filled.
    InEntryCandle,
    /// The bar opened beyond the level and the exit took the open.
    Gap,
}

/// A closed trade with unrounded money fields; output rounding happens when writing.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// The entry order's id (1-based, creation order).
    pub id: u64,
    /// Long or short.
    pub direction: Direction,
    /// The entry order's type.
    pub order_type: OrderType,
    /// Open time of the bar on which the entry filled (epoch ns).
    pub entry_time_ns: i64,
    /// Open time of the bar on which the exit filled (epoch ns).
    pub exit_time_ns: i64,
    /// Entry fill price, on the tick grid.
    pub entry_price: f64,
    /// Exit fill price, on the tick grid.
    pub exit_price: f64,
    /// Stop-loss level, on the tick grid.
    pub sl: f64,
    /// Take-profit level, on the tick grid.
    pub tp: f64,
    /// Size in lots.
    pub lots: f64,
    /// Why the trade closed.
    pub reason: ExitReason,
    /// The special case of an SL/TP exit.
    pub scenario: Option<Scenario>,
    /// `(exit - entry) * lots * contract_size`, signed by direction.
    pub pnl_gross: f64,
    /// Entry and exit commission together.
    pub fees: f64,
    /// `pnl_gross - fees`.
    pub result: f64,
    /// `result / (|entry - sl| * lots * contract_size)`, 0 when the risk is 0.
    pub r_multiple: f64,
}
