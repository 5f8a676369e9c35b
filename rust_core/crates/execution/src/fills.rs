//! Fill prices for pending orders and SL/TP exits (ENGINE §5.2, §5.3, §10).

use omega_types::{Direction, ExitReason, OrderType, Scenario};

/// One bar's bid and ask prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarQuote {
    /// BID open.
    pub bid_open: f64,
    /// BID high.
    pub bid_high: f64,
    /// BID low.
    pub bid_low: f64,
    /// BID close.
    pub bid_close: f64,
    /// ASK open.
    pub ask_open: f64,
    /// ASK high.
    pub ask_high: f64,
    /// ASK low.
    pub ask_low: f64,
    /// ASK close.
    pub ask_close: f64,
}

/// Returns the raw level of a limit or stop order created at the close of a bar.
///
/// Long limit `ask_close - offset`, short limit `bid_close + offset`, long stop
/// `ask_close + offset`, short stop `bid_close - offset` (ENGINE §5.2).
#[must_use]
pub fn pending_level(direction: Direction, order_type: OrderType, created: &BarQuote, offset: f64) -> f64 {
    match (direction, order_type) {
        (Direction::Long, OrderType::Limit) => created.ask_close - offset,
        (Direction::Short, OrderType::Limit) => created.bid_close + offset,
        (Direction::Long, _) => created.ask_close + offset,
        (Direction::Short, _) => created.bid_close - offset,
    }
}

/// Returns the raw fill price of a pending order at `level` on bar `q`, if it fills.
///
/// `slip` is asked for only when a stop order fills; limit fills are never slipped.
#[must_use]
pub fn pending_fill(
    direction: Direction,
    order_type: OrderType,
    level: f64,
    q: &BarQuote,
    slip: impl FnOnce() -> f64,
) -> Option<f64> {
    match (direction, order_type) {
        (Direction::Long, OrderType::Limit) => (q.ask_low <= level).then(|| level.min(q.ask_open)),
        (Direction::Short, OrderType::Limit) => (q.bid_high >= level).then(|| level.max(q.bid_open)),
        (Direction::Long, _) => (q.ask_high >= level).then(|| level.max(q.ask_open) + slip()),
        (Direction::Short, _) => (q.bid_low <= level).then(|| level.min(q.bid_open) - slip()),
    }
}

/// An SL/TP exit: raw price, reason and scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExitFill {
    /// Raw exit price (round it to the tick).
    pub price: f64,
    /// `StopLoss` or `TakeProfit`.
    pub reason: ExitReason,
    /// The special case, if any.
    pub scenario: Option<Scenario>,
}

/// Checks a position's SL and TP on bar `q` (ENGINE §5.3, §10 "Scenarios").
///
/// Longs are checked on BID prices, shorts on ASK prices. Both touched: the stop-loss
/// wins. `in_entry_candle` (filled by a pending order on this bar): the SL counts over
/// the whole bar and exits at `SL ∓ slip` without the gap rule; the TP counts only when
/// the bar closes beyond it and exits at the TP. `slip` is asked for only on an SL exit.
#[must_use]
pub fn sl_tp_exit(
    direction: Direction,
    sl: f64,
    tp: f64,
    q: &BarQuote,
    in_entry_candle: bool,
    slip: impl FnOnce() -> f64,
) -> Option<ExitFill> {
    // Work in "long space": s = +1 for long (bid prices), -1 for short (ask prices),
    // so that "beyond the SL" is always "below" after multiplying by s.
    let s = direction.sign();
    let (open, high, low, close) = match direction {
        Direction::Long => (q.bid_open, q.bid_high, q.bid_low, q.bid_close),
        Direction::Short => (q.ask_open, q.ask_high, q.ask_low, q.ask_close),
    };
    // Adverse extreme and favourable extreme for the position.
    let (adverse, favourable) = match direction {
        Direction::Long => (low, high),
        Direction::Short => (high, low),
    };
    let sl_hit = s * adverse <= s * sl;
    let stop = |price: f64, scenario| ExitFill { price, reason: ExitReason::StopLoss, scenario };
    if in_entry_candle {
        if sl_hit {
            return Some(stop(sl - s * slip(), Some(Scenario::InEntryCandle)));
        }
        return (s * close >= s * tp).then_some(ExitFill {
            price: tp,
            reason: ExitReason::TakeProfit,
            scenario: Some(Scenario::InEntryCandle),
        });
    }
    let tp_hit = s * favourable >= s * tp;
    if sl_hit {
        // Gap: the open is strictly beyond the SL, and the exit takes the open.
        let gapped = s * open < s * sl;
        let scenario = if gapped {
            Some(Scenario::Gap)
        } else if tp_hit {
            Some(Scenario::SlTpSameBar)
        } else {
            None
        };
        let base = if gapped { open } else { sl };
        return Some(stop(base - s * slip(), scenario));
    }
    tp_hit.then(|| {
        let gapped = s * open > s * tp;
        ExitFill {
            price: if gapped { open } else { tp },
            reason: ExitReason::TakeProfit,
            scenario: gapped.then_some(Scenario::Gap),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn quote(o: f64, h: f64, l: f64, c: f64, spread: f64) -> BarQuote {
        BarQuote {
            bid_open: o,
            bid_high: h,
            bid_low: l,
            bid_close: c,
            ask_open: o + spread,
            ask_high: h + spread,
            ask_low: l + spread,
            ask_close: c + spread,
        }
    }

    #[rstest]
    #[case::long_sl(
        Direction::Long,
        quote(1.1000, 1.1005, 1.0985, 1.0990, 0.0001),
        1.0989,
        ExitReason::StopLoss,
        None
    )]
    #[case::long_tp(
        Direction::Long,
        quote(1.1000, 1.1025, 1.0995, 1.1010, 0.0001),
        1.1020,
        ExitReason::TakeProfit,
        None
    )]
    #[case::long_same_bar(
        Direction::Long,
        quote(1.1000, 1.1025, 1.0985, 1.1010, 0.0001),
        1.0989,
        ExitReason::StopLoss,
        Some(Scenario::SlTpSameBar)
    )]
    #[case::long_gap_sl(
        Direction::Long,
        quote(1.0980, 1.0990, 1.0970, 1.0985, 0.0001),
        1.0979,
        ExitReason::StopLoss,
        Some(Scenario::Gap)
    )]
    #[case::long_gap_tp(
        Direction::Long,
        quote(1.1030, 1.1040, 1.1025, 1.1035, 0.0001),
        1.1030,
        ExitReason::TakeProfit,
        Some(Scenario::Gap)
    )]
    #[case::short_sl(
        Direction::Short,
        quote(1.0995, 1.1012, 1.0990, 1.1000, 0.0001),
        1.1011,
        ExitReason::StopLoss,
        None
    )]
    #[case::short_tp(
        Direction::Short,
        quote(1.0995, 1.0999, 1.0975, 1.0985, 0.0001),
        1.0980,
        ExitReason::TakeProfit,
        None
    )]
    fn sl_tp_rules(
        #[case] direction: Direction,
        #[case] q: BarQuote,
        #[case] price: f64,
        #[case] reason: ExitReason,
        #[case] scenario: Option<Scenario>,
    ) {
        // Long: SL 1.0990, TP 1.1020. Short: SL 1.1010, TP 1.0980. Slippage 0.0001.
        let (sl, tp) = match direction {
            Direction::Long => (1.0990, 1.1020),
            Direction::Short => (1.1010, 1.0980),
        };
        let exit = sl_tp_exit(direction, sl, tp, &q, false, || 0.0001).expect("exit");
        assert!((exit.price - price).abs() < 1e-12, "{} vs {price}", exit.price);
        assert_eq!((exit.reason, exit.scenario), (reason, scenario));
    }

    #[test]
    fn in_entry_candle_needs_a_close_beyond_the_tp() {
        let touched = quote(1.1000, 1.1025, 1.0995, 1.1010, 0.0001);
        assert_eq!(sl_tp_exit(Direction::Long, 1.0990, 1.1020, &touched, true, || 0.0), None);
        let closed = quote(1.1000, 1.1025, 1.0995, 1.1021, 0.0001);
        let exit = sl_tp_exit(Direction::Long, 1.0990, 1.1020, &closed, true, || 0.0).expect("tp");
        assert_eq!((exit.price, exit.scenario), (1.1020, Some(Scenario::InEntryCandle)));
        // SL in the entry candle: no gap rule even when the open is beyond the SL.
        let gapped = quote(1.0980, 1.0990, 1.0970, 1.0985, 0.0001);
        let exit = sl_tp_exit(Direction::Long, 1.0990, 1.1020, &gapped, true, || 0.0001).expect("sl");
        assert!((exit.price - 1.0989).abs() < 1e-12);
        assert_eq!((exit.reason, exit.scenario), (ExitReason::StopLoss, Some(Scenario::InEntryCandle)));
    }

    #[test]
    fn pending_orders_fill_at_their_level_or_better() {
        let q = quote(1.1000, 1.1010, 1.0990, 1.1005, 0.0002);
        // Long limit below the ask low: no fill; at/above: min(level, ask_open).
        assert_eq!(pending_fill(Direction::Long, OrderType::Limit, 1.0991, &q, || 0.0), None);
        assert_eq!(pending_fill(Direction::Long, OrderType::Limit, 1.0995, &q, || 0.0), Some(1.0995));
        assert_eq!(pending_fill(Direction::Long, OrderType::Limit, 1.1003, &q, || 0.0), Some(1.1002));
        // Long stop above the open: fills at the level plus slippage.
        let fill = pending_fill(Direction::Long, OrderType::Stop, 1.1008, &q, || 0.0001).expect("fill");
        assert!((fill - 1.1009).abs() < 1e-12);
        // Short stop with the open already below it: fills at the open minus slippage.
        let fill = pending_fill(Direction::Short, OrderType::Stop, 1.1001, &q, || 0.0001).expect("fill");
        assert!((fill - 1.0999).abs() < 1e-12);
        assert_eq!(pending_fill(Direction::Short, OrderType::Limit, 1.1011, &q, || 0.0), None);
        assert_eq!(pending_level(Direction::Short, OrderType::Limit, &q, 0.0003), 1.1005 + 0.0003);
    }
}
