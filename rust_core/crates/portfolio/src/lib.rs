//! Account state of the Omega V2 engine (ENGINE §6).
//!
//! The balance, the open positions in fill order, commissions, equity marking and
//! position sizing. It turns a closed position into a [`Trade`] with its money fields.
//! It does not decide when anything fills; that is the event loop's job.

use omega_types::{Direction, ExitReason, OrderType, Scenario, SymbolSpec, Trade, floor_lots};

/// An open position.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// The entry order's id.
    pub id: u64,
    /// Long or short.
    pub direction: Direction,
    /// The entry order's type.
    pub order_type: OrderType,
    /// Open time of the fill bar (epoch ns).
    pub entry_time_ns: i64,
    /// Entry fill price (on the tick grid).
    pub entry_price: f64,
    /// Stop-loss level (on the tick grid).
    pub sl: f64,
    /// Take-profit level (on the tick grid).
    pub tp: f64,
    /// Size in lots.
    pub lots: f64,
    /// Commission paid at entry.
    pub entry_fee: f64,
    /// Bar index of the fill when a pending order filled it (for `in_entry_candle`).
    pub pending_fill_bar: Option<usize>,
    /// True once a signal exit is queued for the next open.
    pub exit_queued: bool,
}

/// Balance and open positions of one run, in the account (quote) currency.
#[derive(Debug, Clone)]
pub struct Portfolio {
    balance: f64,
    contract_size: f64,
    commission_per_lot_side: f64,
    positions: Vec<Position>,
}

impl Portfolio {
    /// Starts with `initial_balance` and no positions.
    #[must_use]
    pub fn new(initial_balance: f64, contract_size: f64, commission_per_lot_side: f64) -> Self {
        Self { balance: initial_balance, contract_size, commission_per_lot_side, positions: Vec::new() }
    }

    /// Returns the cash balance.
    #[must_use]
    pub fn balance(&self) -> f64 {
        self.balance
    }

    /// Returns the open positions in fill order.
    #[must_use]
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Returns the open positions in fill order, mutably.
    pub fn positions_mut(&mut self) -> &mut [Position] {
        &mut self.positions
    }

    /// Returns the commission for one side of `lots`.
    #[must_use]
    pub fn commission(&self, lots: f64) -> f64 {
        self.commission_per_lot_side * lots
    }

    /// Opens a position (its `entry_fee` is deducted from the balance now).
    pub fn open(&mut self, position: Position) {
        self.balance -= position.entry_fee;
        self.positions.push(position);
    }

    /// Closes the position at `index` and returns the trade (ENGINE §6).
    pub fn close(
        &mut self,
        index: usize,
        exit_price: f64,
        exit_time_ns: i64,
        reason: ExitReason,
        scenario: Option<Scenario>,
    ) -> Trade {
        let p = self.positions.remove(index);
        let exit_fee = self.commission(p.lots);
        let pnl_gross = p.direction.sign() * (exit_price - p.entry_price) * p.lots * self.contract_size;
        self.balance += pnl_gross - exit_fee;
        let fees = p.entry_fee + exit_fee;
        let result = pnl_gross - fees;
        let risk = (p.entry_price - p.sl).abs() * p.lots * self.contract_size;
        Trade {
            id: p.id,
            direction: p.direction,
            order_type: p.order_type,
            entry_time_ns: p.entry_time_ns,
            exit_time_ns,
            entry_price: p.entry_price,
            exit_price,
            sl: p.sl,
            tp: p.tp,
            lots: p.lots,
            reason,
            scenario,
            pnl_gross,
            fees,
            result,
            r_multiple: if risk == 0.0 { 0.0 } else { result / risk },
        }
    }

    /// Returns balance plus open positions marked at the close (long at bid, short at ask).
    #[must_use]
    pub fn equity(&self, bid_close: f64, ask_close: f64) -> f64 {
        self.balance
            + self
                .positions
                .iter()
                .map(|p| {
                    let mark = match p.direction {
                        Direction::Long => bid_close,
                        Direction::Short => ask_close,
                    };
                    p.direction.sign() * (mark - p.entry_price) * p.lots * self.contract_size
                })
                .sum::<f64>()
    }
}

/// Returns the `risk_pct` position size (ENGINE §6), or `None` below `min_lot`.
///
/// `floor(equity * risk_pct / 100 / (sl_distance * contract_size) / lot_step) * lot_step`,
/// capped at `max_lot`.
#[must_use]
pub fn risk_lots(equity: f64, risk_pct: f64, sl_distance: f64, spec: &SymbolSpec) -> Option<f64> {
    let raw = equity * risk_pct / 100.0 / (sl_distance * spec.contract_size);
    let lots = floor_lots(raw, spec.lot_step).min(spec.max_lot);
    (lots >= spec.min_lot && lots.is_finite()).then_some(lots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SymbolSpec {
        SymbolSpec {
            pip_size: 0.0001,
            tick_size: 0.00001,
            contract_size: 100_000.0,
            min_lot: 0.01,
            lot_step: 0.01,
            max_lot: 5.0,
            base_currency: "EUR".into(),
            quote_currency: "USD".into(),
        }
    }

    fn position(direction: Direction, entry: f64, sl: f64, lots: f64) -> Position {
        Position {
            id: 1,
            direction,
            order_type: OrderType::Market,
            entry_time_ns: 0,
            entry_price: entry,
            sl,
            tp: 0.0,
            lots,
            entry_fee: 0.0,
            pending_fill_bar: None,
            exit_queued: false,
        }
    }

    #[test]
    fn fees_pnl_and_r_multiple_by_hand() {
        let mut book = Portfolio::new(10_000.0, 100_000.0, 3.5);
        let fee = book.commission(0.5);
        book.open(Position { entry_fee: fee, ..position(Direction::Long, 1.10000, 1.09800, 0.5) });
        assert!((book.balance() - 9_998.25).abs() < 1e-9);
        // Marked at bid 1.10100: +0.001 * 0.5 * 100000 = +50.
        assert!((book.equity(1.10100, 1.10110) - 10_048.25).abs() < 1e-9);
        let trade = book.close(0, 1.10300, 5, ExitReason::TakeProfit, None);
        assert!((trade.pnl_gross - 150.0).abs() < 1e-9);
        assert!((trade.fees - 3.5).abs() < 1e-12);
        assert!((trade.result - 146.5).abs() < 1e-9);
        // Risk = 0.002 * 0.5 * 100000 = 100 -> r = 1.465
        assert!((trade.r_multiple - 1.465).abs() < 1e-9);
        assert!((book.balance() - 10_146.5).abs() < 1e-9);
        assert!(book.positions().is_empty());
    }

    #[test]
    fn shorts_mark_at_the_ask_and_profit_when_price_falls() {
        let mut book = Portfolio::new(10_000.0, 100_000.0, 0.0);
        book.open(position(Direction::Short, 1.10000, 1.10200, 1.0));
        assert!((book.equity(1.09890, 1.09900) - 10_100.0).abs() < 1e-6);
        let trade = book.close(0, 1.10200, 1, ExitReason::StopLoss, None);
        assert!((trade.result + 200.0).abs() < 1e-6);
        assert!((trade.r_multiple + 1.0).abs() < 1e-9);
    }

    #[test]
    fn zero_risk_gives_zero_r() {
        let mut book = Portfolio::new(1_000.0, 100_000.0, 0.0);
        book.open(position(Direction::Long, 1.1, 1.1, 0.1));
        assert_eq!(book.close(0, 1.2, 1, ExitReason::Signal, None).r_multiple, 0.0);
    }

    #[test]
    fn risk_sizing_floors_to_the_lot_step_and_caps() {
        // 100000 * 0.5% = 500 risk; SL 20 pips = 0.002 * 100000 = 200 per lot -> 2.5 lots.
        assert_eq!(risk_lots(100_000.0, 0.5, 0.002, &spec()), Some(2.5));
        // 0.0017 -> 500 / 170 = 2.941... -> 2.94
        assert_eq!(risk_lots(100_000.0, 0.5, 0.0017, &spec()), Some(2.94));
        assert_eq!(risk_lots(1_000_000.0, 1.0, 0.0001, &spec()), Some(5.0), "capped at max_lot");
        assert_eq!(risk_lots(100.0, 0.1, 0.01, &spec()), None, "below min_lot");
    }
}
