//! Run metrics of the Omega V2 engine (ENGINE §7, §10 "Metrics").
//!
//! [`EquityStats`] follows the equity series bar by bar without storing it (drawdowns
//! and the daily closes for Sharpe); [`Metrics::compute`] combines it with the closed
//! trades. Every sum, mean and ratio is computed from unrounded values; rounding happens
//! once, in [`Metrics::to_json`].

use omega_types::{Trade, day_index, round_to_decimals};
use serde_json::{Map, Value, json};

/// Running drawdown and daily-close tracking over the equity series.
#[derive(Debug, Clone)]
pub struct EquityStats {
    peak: f64,
    max_drawdown: f64,
    max_drawdown_pct: f64,
    current_day: Option<i64>,
    day_close: f64,
    daily_closes: Vec<f64>,
}

impl EquityStats {
    /// Starts with the initial balance as the first peak and the first daily close.
    #[must_use]
    pub fn new(initial_balance: f64) -> Self {
        Self {
            peak: initial_balance,
            max_drawdown: 0.0,
            max_drawdown_pct: 0.0,
            current_day: None,
            day_close: initial_balance,
            daily_closes: vec![initial_balance],
        }
    }

    /// Records the equity of the bar opening at `timestamp_ns`.
    pub fn record(&mut self, timestamp_ns: i64, equity: f64) {
        if equity > self.peak {
            self.peak = equity;
        }
        let fall = self.peak - equity;
        if fall > self.max_drawdown {
            self.max_drawdown = fall;
        }
        // The cheap product test skips the division on every bar that cannot be a new maximum.
        if self.peak > 0.0 && fall * 100.0 >= self.max_drawdown_pct * self.peak {
            let pct = fall / self.peak * 100.0;
            if pct > self.max_drawdown_pct {
                self.max_drawdown_pct = pct;
            }
        }
        // A bar's equity belongs to the UTC day of its open time.
        let day = day_index(timestamp_ns);
        if self.current_day.is_some_and(|d| d != day) {
            self.daily_closes.push(self.day_close);
        }
        self.current_day = Some(day);
        self.day_close = equity;
    }

    /// Returns the annualised daily Sharpe ratio, `None` with < 2 returns or zero std.
    fn sharpe(&self) -> Option<f64> {
        let mut closes = self.daily_closes.clone();
        if self.current_day.is_some() {
            closes.push(self.day_close);
        }
        let returns: Vec<f64> = closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        if returns.len() < 2 {
            return None;
        }
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / (n - 1.0);
        let std = var.sqrt();
        (std > 0.0 && std.is_finite()).then(|| mean / std * 252f64.sqrt())
    }
}

/// The metrics of one run, unrounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Number of closed trades.
    pub trades: usize,
    /// Trades whose result rounded to cents is > 0.
    pub wins: usize,
    /// The other trades.
    pub losses: usize,
    /// `wins / trades`, 0 without trades.
    pub winrate: f64,
    /// Sum of `pnl_gross`.
    pub profit_gross: f64,
    /// Sum of fees.
    pub fees_total: f64,
    /// Sum of results.
    pub profit_net: f64,
    /// Largest peak-to-trough fall of equity (account currency, >= 0).
    pub max_drawdown: f64,
    /// Largest fall relative to its running peak, in percent.
    pub max_drawdown_pct: f64,
    /// `max_drawdown / initial_balance * 100`.
    pub max_drawdown_initial_pct: f64,
    /// Mean R multiple, 0 without trades.
    pub avg_r_multiple: f64,
    /// Sum of lots.
    pub total_lots: f64,
    /// Gross wins over gross losses; `None` when there are no losses.
    pub profit_factor: Option<f64>,
    /// Annualised daily Sharpe ratio.
    pub sharpe: Option<f64>,
    /// `profit_net / max(max_drawdown, 1% of initial balance)`, 0 without trades.
    pub score: f64,
}

impl Metrics {
    /// Computes every metric from the closed trades and the equity statistics.
    #[must_use]
    pub fn compute(trades: &[Trade], equity: &EquityStats, initial_balance: f64) -> Self {
        let n = trades.len();
        let sum = |f: fn(&Trade) -> f64| trades.iter().map(f).sum::<f64>();
        // ENGINE §10: a win is a result that rounds to more than zero cents.
        let wins = trades.iter().filter(|t| round_to_decimals(t.result, 2) > 0.0).count();
        let profit_net = sum(|t| t.result);
        // Gains and losses by the cent-rounded result, like wins: a break-even residue of
        // -1e-13 must not turn a loss-free run's profit factor into 1e15.
        let gains: f64 = trades.iter().map(|t| t.result).filter(|r| round_to_decimals(*r, 2) > 0.0).sum();
        let pains: f64 = trades.iter().map(|t| t.result).filter(|r| round_to_decimals(*r, 2) < 0.0).sum();
        let per_trade = |total: f64| if n == 0 { 0.0 } else { total / n as f64 };
        Self {
            trades: n,
            wins,
            losses: n - wins,
            winrate: per_trade(wins as f64),
            profit_gross: sum(|t| t.pnl_gross),
            fees_total: sum(|t| t.fees),
            profit_net,
            max_drawdown: equity.max_drawdown,
            max_drawdown_pct: equity.max_drawdown_pct,
            max_drawdown_initial_pct: equity.max_drawdown / initial_balance * 100.0,
            avg_r_multiple: per_trade(sum(|t| t.r_multiple)),
            total_lots: sum(|t| t.lots),
            profit_factor: (pains != 0.0).then(|| gains / pains.abs()),
            sharpe: equity.sharpe(),
            score: if n == 0 { 0.0 } else { profit_net / equity.max_drawdown.max(0.01 * initial_balance) },
        }
    }

    /// Returns `metrics.json` content: keys sorted, §7 rounding applied.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let money = |x: f64| round_to_decimals(x, 2);
        let ratio = |x: f64| round_to_decimals(x, 4);
        let mut map = Map::new();
        map.insert("trades".into(), json!(self.trades));
        map.insert("wins".into(), json!(self.wins));
        map.insert("losses".into(), json!(self.losses));
        map.insert("winrate".into(), json!(ratio(self.winrate)));
        map.insert("profit_gross".into(), json!(money(self.profit_gross)));
        map.insert("fees_total".into(), json!(money(self.fees_total)));
        map.insert("profit_net".into(), json!(money(self.profit_net)));
        map.insert("max_drawdown".into(), json!(money(self.max_drawdown)));
        map.insert("max_drawdown_pct".into(), json!(money(self.max_drawdown_pct)));
        map.insert("max_drawdown_initial_pct".into(), json!(money(self.max_drawdown_initial_pct)));
        map.insert("avg_r_multiple".into(), json!(ratio(self.avg_r_multiple)));
        map.insert("total_lots".into(), json!(money(self.total_lots)));
        map.insert("profit_factor".into(), json!(self.profit_factor.map(ratio)));
        map.insert("sharpe".into(), json!(self.sharpe.map(ratio)));
        map.insert("score".into(), json!(ratio(self.score)));
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omega_types::{Direction, ExitReason, NANOS_PER_DAY, OrderType};

    fn trade(result: f64, fees: f64, r: f64, lots: f64) -> Trade {
        Trade {
            id: 1,
            direction: Direction::Long,
            order_type: OrderType::Market,
            entry_time_ns: 0,
            exit_time_ns: 0,
            entry_price: 1.0,
            exit_price: 1.0,
            sl: 0.9,
            tp: 1.1,
            lots,
            reason: ExitReason::Signal,
            scenario: None,
            pnl_gross: result + fees,
            fees,
            result,
            r_multiple: r,
        }
    }

    #[test]
    fn no_trades_no_drawdown() {
        let mut eq = EquityStats::new(1000.0);
        eq.record(0, 1000.0);
        let m = Metrics::compute(&[], &eq, 1000.0);
        let j = m.to_json();
        assert_eq!(j["trades"], 0);
        assert_eq!(j["winrate"], 0.0);
        assert_eq!(j["avg_r_multiple"], 0.0);
        assert_eq!(j["score"], 0.0);
        assert_eq!(j["max_drawdown"], 0.0);
        assert_eq!(j["profit_factor"], Value::Null);
        assert_eq!(j["sharpe"], Value::Null);
        let keys: Vec<&String> = j.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys come out sorted");
        assert_eq!(keys.len(), 15);
    }

    #[test]
    fn hand_checked_trade_metrics() {
        // Results +100, -50, +7 - 7 fees exactly zero (a loss by §10), -0.004 (rounds to 0: a
        // loss, but on neither side of the profit factor).
        let trades = [
            trade(100.0, 7.0, 2.0, 1.0),
            trade(-50.0, 7.0, -1.0, 1.0),
            trade(0.0, 7.0, 0.0, 0.5),
            trade(-0.004, 0.0, 0.0, 0.5),
        ];
        let mut eq = EquityStats::new(10_000.0);
        for (i, e) in [10_000.0, 10_100.0, 10_050.0, 10_050.0, 10_049.996].iter().enumerate() {
            eq.record(i as i64 * NANOS_PER_DAY, *e);
        }
        let m = Metrics::compute(&trades, &eq, 10_000.0);
        assert_eq!((m.trades, m.wins, m.losses), (4, 1, 3));
        assert_eq!(m.winrate, 0.25);
        assert!((m.profit_net - 49.996).abs() < 1e-9);
        assert!((m.fees_total - 21.0).abs() < 1e-12);
        assert!((m.max_drawdown - 50.004).abs() < 1e-9);
        assert!((m.max_drawdown_pct - 50.004 / 10_100.0 * 100.0).abs() < 1e-9);
        assert!((m.profit_factor.unwrap_or_default() - 2.0).abs() < 1e-12);
        assert_eq!(m.avg_r_multiple, 0.25);
        assert_eq!(m.total_lots, 3.0);
        // score = 49.996 / max(50.004, 100) = 0.49996 -> 0.5 at 4 decimals.
        assert_eq!(m.to_json()["score"], 0.5);
        assert_eq!(m.to_json()["max_drawdown_initial_pct"], 0.5);
    }

    #[test]
    fn a_break_even_residue_leaves_the_profit_factor_undefined() {
        let trades = [trade(100.0, 7.0, 2.0, 1.0), trade(-1e-13, 7.0, 0.0, 1.0)];
        let eq = EquityStats::new(10_000.0);
        let m = Metrics::compute(&trades, &eq, 10_000.0);
        assert_eq!((m.wins, m.losses, m.profit_factor), (1, 1, None));
    }

    #[test]
    fn sharpe_from_daily_closes() {
        // Days: initial 100 -> 110 -> 99 -> 108.9; returns 0.1, -0.1, 0.1.
        let mut eq = EquityStats::new(100.0);
        for (day, e) in [(0, 105.0), (0, 110.0), (1, 99.0), (2, 108.9)] {
            eq.record(day * NANOS_PER_DAY + 1, e);
        }
        let returns = [0.1, -0.1, 0.1];
        let mean = 0.1 / 3.0;
        let var = returns.iter().map(|r: &f64| (r - mean).powi(2)).sum::<f64>() / 2.0;
        let expected = mean / var.sqrt() * 252f64.sqrt();
        let got = Metrics::compute(&[], &eq, 100.0).sharpe.unwrap_or_default();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    }

    #[test]
    fn sharpe_needs_two_returns_and_variance() {
        let mut eq = EquityStats::new(100.0);
        eq.record(0, 101.0);
        assert_eq!(Metrics::compute(&[], &eq, 100.0).sharpe, None);
        let mut flat = EquityStats::new(100.0);
        for day in 0..5 {
            flat.record(day * NANOS_PER_DAY, 100.0);
        }
        assert_eq!(Metrics::compute(&[], &flat, 100.0).sharpe, None);
    }
}
