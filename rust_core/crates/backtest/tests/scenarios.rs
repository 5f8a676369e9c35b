//! The six canonical scenarios of ENGINE §5, each a hand-built bar sequence with exact
//! expected prices. Costs: 3.5 per lot and side, 0.1 pip fixed slippage, 1 lot, EURUSD
//! (tick 0.00001), ask = bid + 2 pips. The setup bars give a long signal at bar 2 with
//! ATR = 15 pips, so SL is 15 pips and TP 30 pips from the fill.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn market_entry_then_take_profit() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST]));
    let trades = trades(&lab.config(json!({})));
    assert_eq!(trades.len(), 1);
    let t = &trades[0];
    // Fill at the open of bar 3: ask_open 1.0993 + 0.1 pip = 1.09931.
    assert_field(t, "entry_price", 1.09931);
    assert_field(t, "sl", 1.09781);
    assert_field(t, "tp", 1.10231);
    // TP exit at the level, unslipped.
    assert_field(t, "exit_price", 1.10231);
    assert_eq!((t["reason"].as_str(), t["scenario"].clone()), (Some("take_profit"), Value::Null));
    assert_eq!(t["entry_time_ns"], T0 + 3 * M5);
    assert_eq!(t["exit_time_ns"], T0 + 4 * M5);
    assert_eq!((t["id"].as_u64(), t["order_type"].as_str()), (Some(1), Some("market")));
    // 30 pips * 1 lot = 300; fees 2 * 3.5; risk 15 pips = 150 -> r = 293 / 150.
    assert_field(t, "pnl_gross", 300.0);
    assert_field(t, "fees", 7.0);
    assert_field(t, "result", 293.0);
    assert_field(t, "r_multiple", 1.9533);
}

#[test]
fn market_entry_then_stop_loss() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0975, 1.0980), LAST]));
    let t = &trades(&lab.config(json!({})))[0];
    // SL exit at the level minus 0.1 pip slippage.
    assert_field(t, "exit_price", 1.0978);
    assert_eq!((t["reason"].as_str(), t["scenario"].clone()), (Some("stop_loss"), Value::Null));
    assert_field(t, "pnl_gross", -151.0);
    assert_field(t, "result", -158.0);
    assert_field(t, "r_multiple", -1.0533);
}

#[test]
fn pending_limit_fills_from_the_next_bar_then_exits() {
    let lab = Lab::new();
    // Limit at ask_close 1.0992 - 0.5 * ATR = 1.09845; bar 3's ask low (1.0990) misses it,
    // bar 4's (1.0982) fills it at the level; bar 5 reaches the TP.
    lab.primary(
        T0,
        &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0980, 1.0985), Bar(1.0986, 1.1020, 1.0984, 1.1018), LAST]),
    );
    let config = lab.config(json!({"entry_order": "limit", "entry_offset_atr": 0.5, "order_ttl_bars": 3}));
    let trades = trades(&config);
    assert_eq!(trades.len(), 1);
    let t = &trades[0];
    assert_eq!(t["order_type"], "limit");
    assert_eq!(t["entry_time_ns"], T0 + 4 * M5);
    assert_field(t, "entry_price", 1.09845);
    assert_field(t, "sl", 1.09695);
    assert_field(t, "tp", 1.10145);
    assert_field(t, "exit_price", 1.10145);
    assert_eq!(t["exit_time_ns"], T0 + 5 * M5);
    assert_eq!((t["reason"].as_str(), t["scenario"].clone()), (Some("take_profit"), Value::Null));
}

#[test]
fn pending_order_expires_after_its_ttl() {
    let lab = Lab::new();
    // TTL 1: live on bar 3 only, which misses it; bar 4 would have filled it.
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0980, 1.0985), LAST]));
    let config = lab.config(json!({"entry_order": "limit", "entry_offset_atr": 0.5, "order_ttl_bars": 1}));
    let result = run(&config);
    assert_eq!(result["trades"].as_array().map(Vec::len), Some(0));
    // The first order is gone by bar 4's close, so bar 4's own signal (z = -1.27) places a
    // second order, which the last bar cannot fill: two orders, no fill.
    assert_eq!(result["stats"]["counters"]["orders"], 2);
    assert_eq!(result["stats"]["counters"]["fills"], 0);
}

#[test]
fn same_bar_sl_and_tp_exit_at_the_stop() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0975, 1.1000), LAST]));
    let t = &trades(&lab.config(json!({})))[0];
    assert_field(t, "exit_price", 1.0978);
    assert_eq!((t["reason"].as_str(), t["scenario"].as_str()), (Some("stop_loss"), Some("sl_tp_same_bar")));
}

#[test]
fn in_entry_candle_take_profit_needs_the_close() {
    let limit = json!({"entry_order": "limit", "entry_offset_atr": 0.5, "order_ttl_bars": 3});
    // Fill bar touches the TP (bid high 1.1020 >= 1.10145) but closes below it: no exit;
    // the position lives on and closes at the end of data.
    let lab = Lab::new();
    lab.primary(
        T0,
        &bars(&[QUIET, Bar(1.0990, 1.1020, 1.0980, 1.1010), Bar(1.1010, 1.1012, 1.1005, 1.1008), LAST]),
    );
    let t = &trades(&lab.config(limit.clone()))[0];
    assert_eq!((t["reason"].as_str(), t["scenario"].clone()), (Some("end_of_data"), Value::Null));
    assert_field(t, "exit_price", 1.1); // bid close of the last bar, unslipped
    assert_eq!(t["exit_time_ns"], T0 + 6 * M5);

    // Same bar closing beyond the TP: exit at the TP, in_entry_candle.
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.1020, 1.0980, 1.1016), LAST]));
    let t = &trades(&lab.config(limit.clone()))[0];
    assert_field(t, "exit_price", 1.10145);
    assert_eq!(
        (t["reason"].as_str(), t["scenario"].as_str()),
        (Some("take_profit"), Some("in_entry_candle"))
    );
    assert_eq!(t["entry_time_ns"], t["exit_time_ns"]);

    // SL in the entry candle: exit at SL - slip, no gap rule, in_entry_candle.
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0960, 1.0970), LAST]));
    let t = &trades(&lab.config(limit))[0];
    assert_field(t, "exit_price", 1.09694);
    assert_eq!((t["reason"].as_str(), t["scenario"].as_str()), (Some("stop_loss"), Some("in_entry_candle")));
}

#[test]
fn sessions_warmup_and_the_d1_trend_gate_entries() {
    // Signal at bar 2, which opens at 10:10.
    let trend_days = [T0 - T0 % DAY - 2 * DAY, T0 - T0 % DAY - DAY, T0 - T0 % DAY];
    // Two complete days rising (EMA(2) at day -1 = 1.1 < close 1.2: uptrend), and the
    // current, incomplete day falling hard: using it would be look-ahead and block longs.
    let d1 = [Bar(1.0, 1.01, 0.99, 1.0), Bar(1.0, 1.21, 0.99, 1.2), Bar(1.2, 1.21, 0.49, 0.5)];
    let tail = [QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST];
    let run_with = |extra: Value| {
        let lab = Lab::new();
        lab.primary(T0, &bars(&tail)).d1(&trend_days, &d1);
        trades(&lab.config(extra)).len()
    };
    let trend = json!({"htf_filter": "trend", "htf_ema_length": 2});
    assert_eq!(run_with(trend.clone()), 1, "complete D1 bars show an uptrend: long allowed");
    assert_eq!(run_with(json!({"htf_filter": "trend", "htf_ema_length": 3})), 0, "EMA(3) not defined yet");
    assert_eq!(run_with(json!({"warmup_bars": 3})), 0, "bar 2 is inside the warm-up");
    assert_eq!(run_with(json!({"warmup_bars": 2})), 1, "bar 2 is the first allowed bar");

    let with_sessions = |sessions: Value| {
        let lab = Lab::new();
        lab.primary(T0, &bars(&tail));
        let mut config = lab.config(json!({}));
        merge(&mut config, json!({"sessions": sessions}));
        trades(&config).len()
    };
    assert_eq!(with_sessions(json!([{"start": "10:00", "end": "10:10"}])), 0, "end is exclusive");
    assert_eq!(with_sessions(json!([{"start": "10:10", "end": "10:15"}])), 1, "start is inclusive");
    assert_eq!(with_sessions(json!([{"start": "22:00", "end": "10:11"}])), 1, "crosses midnight");
    assert_eq!(with_sessions(json!([{"start": "22:00", "end": "10:10"}])), 0);
    assert_eq!(with_sessions(json!([{"start": "05:00", "end": "05:00"}])), 1, "start == end: whole day");
    assert_eq!(with_sessions(json!([])), 1, "empty: always open");
}
