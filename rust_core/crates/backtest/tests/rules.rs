//! Rules beyond the six scenarios: gaps, shorts, signal exits, capacity, news, sizing,
//! end of data, determinism and seeds (ENGINE §4–§10), each with hand-checked numbers.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn a_gap_through_the_stop_fills_at_the_open() {
    let lab = Lab::new();
    // SL 1.09781; bar 4 opens at 1.0975, already below it.
    lab.primary(T0, &bars(&[QUIET, Bar(1.0975, 1.0980, 1.0970, 1.0978), LAST]));
    let t = &trades(&lab.config(json!({})))[0];
    assert_field(t, "exit_price", 1.09749);
    assert_eq!((t["reason"].as_str(), t["scenario"].as_str()), (Some("stop_loss"), Some("gap")));
}

#[test]
fn a_gap_through_the_target_fills_at_the_better_open() {
    let lab = Lab::new();
    // TP 1.10231; bar 4 opens at 1.1030, above it: exit at the open, unslipped.
    lab.primary(T0, &bars(&[QUIET, Bar(1.1030, 1.1035, 1.1025, 1.1030), LAST]));
    let t = &trades(&lab.config(json!({})))[0];
    assert_field(t, "exit_price", 1.103);
    assert_eq!((t["reason"].as_str(), t["scenario"].as_str()), (Some("take_profit"), Some("gap")));
}

#[test]
fn shorts_fill_at_the_bid_and_are_stopped_on_the_ask() {
    let lab = Lab::new();
    let rising = [
        Bar(1.1000, 1.1005, 1.0995, 1.1000),
        Bar(1.1000, 1.1005, 1.0995, 1.1000),
        Bar(1.1000, 1.1015, 1.1000, 1.1010), // z = +1.41, ATR 15 pips: short signal
        Bar(1.1009, 1.1012, 1.1005, 1.1006),
        Bar(1.1006, 1.1030, 1.1004, 1.1020), // ask high 1.1032 >= SL 1.10239
        LAST,
    ];
    lab.primary(T0, &rising);
    let t = &trades(&lab.config(json!({"direction": "short"})))[0];
    assert_eq!(t["direction"], "short");
    assert_field(t, "entry_price", 1.10089); // bid open 1.1009 - 0.1 pip
    assert_field(t, "sl", 1.10239);
    assert_field(t, "tp", 1.09789);
    assert_field(t, "exit_price", 1.1024); // max(SL, ask open 1.1008) + 0.1 pip
    assert_field(t, "pnl_gross", -151.0);
    assert_field(t, "r_multiple", -1.0533);
    // Bar 4 closes high again (z = +1.33): a second short, closed at the end of data.
    let both = trades(&lab.config(json!({"direction": "both"})));
    assert_eq!(both, trades(&lab.config(json!({"direction": "short"}))), "both takes the shorts too");
    assert_eq!(both.len(), 2);
    assert!(trades(&lab.config(json!({"direction": "long"}))).is_empty());
}

#[test]
fn a_signal_exit_fills_at_the_next_open() {
    let lab = Lab::new();
    // Bar 4 closes at 1.1000: z >= -0 -> exit queued, filled at bar 5's bid open - slip.
    lab.primary(
        T0,
        &bars(&[QUIET, Bar(1.0994, 1.1001, 1.0990, 1.1000), Bar(1.1001, 1.1003, 1.0999, 1.1002), LAST]),
    );
    let t = &trades(&lab.config(json!({"z_exit": 0.0})))[0];
    assert_eq!((t["reason"].as_str(), t["scenario"].clone()), (Some("signal"), Value::Null));
    assert_eq!(t["exit_time_ns"], T0 + 5 * M5);
    assert_field(t, "exit_price", 1.10009);
    // Without z_exit the position runs to the end of the data.
    let t = &trades(&lab.config(json!({})))[0];
    assert_eq!(t["reason"], "end_of_data");
    assert_field(t, "exit_price", 1.1);
}

#[test]
fn max_positions_caps_open_positions() {
    let lab = Lab::new();
    // Bar 3 keeps falling: a second long signal while the first position is open.
    lab.primary(T0, &bars(&[Bar(1.0990, 1.0990, 1.0975, 1.0980), Bar(1.0981, 1.0985, 1.0978, 1.0983), LAST]));
    let wide = json!({"sl_atr": 3.0, "tp_atr": 6.0});
    let mut two = wide.clone();
    merge(&mut two, json!({"max_positions": 2}));
    let trades_two = trades(&lab.config(two));
    assert_eq!(trades_two.len(), 2);
    assert_eq!(trades_two.iter().map(|t| t["id"].as_u64()).collect::<Vec<_>>(), [Some(1), Some(2)]);
    assert!(trades_two.iter().all(|t| t["reason"] == "end_of_data"));
    assert_eq!(trades(&lab.config(wide)).len(), 1);
}

#[test]
fn news_blackouts_block_entries_around_relevant_events() {
    let decision = T0 + 3 * M5; // close of the signal bar, 10:15
    let minute = 60_000_000_000;
    let run_with = |event: (i64, &str, &str), before: i64, after: i64, min_impact: &str| {
        let lab = Lab::new();
        lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST]));
        let news = lab.dir.path().join("news.parquet");
        write_news(&news, &[event]);
        let mut config = lab.config(json!({}));
        merge(
            &mut config,
            json!({"news": {"file": news, "minutes_before": before, "minutes_after": after, "min_impact": min_impact}}),
        );
        trades(&config).len()
    };
    assert_eq!(run_with((decision, "USD", "high"), 0, 0, "high"), 0, "event exactly at the decision time");
    assert_eq!(
        run_with((decision + minute, "USD", "high"), 0, 30, "high"),
        1,
        "event a minute later, no lead"
    );
    assert_eq!(run_with((decision + 5 * minute, "EUR", "high"), 5, 0, "high"), 0, "inside the lead window");
    assert_eq!(
        run_with((decision - 5 * minute, "EUR", "high"), 0, 5, "high"),
        0,
        "inside the trailing window"
    );
    assert_eq!(
        run_with((decision - 6 * minute, "EUR", "high"), 0, 5, "high"),
        1,
        "after the trailing window"
    );
    assert_eq!(run_with((decision, "JPY", "high"), 10, 10, "low"), 1, "not the symbol's currency");
    assert_eq!(run_with((decision, "USD", "medium"), 10, 10, "high"), 1, "below min_impact");
    assert_eq!(run_with((decision, "USD", "medium"), 10, 10, "medium"), 0, "at min_impact");
}

#[test]
fn risk_sizing_floors_to_the_lot_step() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST]));
    // 0.5% of 100000 = 500 at risk over 15 pips * 100000 = 150 per lot -> 3.333 -> 3.33 lots.
    let t = &trades(&lab.config(json!({"sizing": {"mode": "risk_pct", "risk_pct": 0.5}})))[0];
    assert_field(t, "lots", 3.33);
    assert_field(t, "pnl_gross", 999.0);
    assert_field(t, "fees", 23.31);
    assert_field(t, "result", 975.69);
    // r = 975.69 / (0.0015 * 3.33 * 100000 = 499.5) = 1.95333
    assert_field(t, "r_multiple", 1.9533);
    // A size below min_lot skips the signal: no order, no id used.
    let result = run(&lab.config(json!({"sizing": {"mode": "risk_pct", "risk_pct": 0.0001}})));
    assert_eq!(result["trades"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        (result["stats"]["counters"]["signals"].as_u64(), result["stats"]["counters"]["orders"].as_u64()),
        (Some(1), Some(0))
    );
}

#[test]
fn equity_marks_open_positions_and_metrics_add_up() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST]));
    let result = run(&lab.config(json!({})));
    let equity = &result["equity"];
    let eq: Vec<f64> =
        equity["equity"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    let balance: Vec<f64> = equity["balance"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    // Bar 3: entry fee 3.5 paid; long 1 lot marked at bid close 1.0994 vs 1.09931 = +9.
    assert_eq!(balance[3], 99_996.5);
    assert_eq!(eq[3], 100_005.5);
    // Bar 4: closed at TP: balance = 100000 + 293.
    assert_eq!((balance[4], eq[4]), (100_293.0, 100_293.0));
    let m = &result["metrics"];
    assert_eq!(m["trades"], 1);
    assert_eq!(m["profit_net"], 293.0);
    assert_eq!(m["profit_factor"], Value::Null, "no losing trade");
    // Drawdown: none below the 100000 start at any bar close.
    assert_eq!(m["max_drawdown"], 0.0);
    // score = 293 / max(0, 1000) = 0.293
    assert_eq!(m["score"], 0.293);
}

#[test]
fn no_trades_gives_zero_metrics() {
    let lab = Lab::new();
    lab.primary(T0, &[LAST, LAST, LAST, LAST]);
    let m = run(&lab.config(json!({})))["metrics"].clone();
    for key in [
        "trades",
        "wins",
        "losses",
        "winrate",
        "profit_net",
        "max_drawdown",
        "avg_r_multiple",
        "score",
        "total_lots",
    ] {
        assert_eq!(m[key].as_f64(), Some(0.0), "{key}");
    }
    assert_eq!((m["sharpe"].clone(), m["profit_factor"].clone()), (Value::Null, Value::Null));
}

/// Writes M5 bars with flat candles (open = high = low = close) from (bid, ask) closes.
fn write_flat_quotes(lab: &Lab, quotes: &[(f64, f64)]) {
    let times: Vec<i64> = (0..quotes.len() as i64).map(|i| T0 + i * M5).collect();
    let side = |pick: fn(&(f64, f64)) -> f64| -> Vec<Bar> {
        quotes.iter().map(|q| Bar(pick(q), pick(q), pick(q), pick(q))).collect()
    };
    write_side(&lab.dir.path().join("EURUSD_M5_BID.parquet"), &times, &side(|q| q.0), 0.0);
    write_side(&lab.dir.path().join("EURUSD_M5_ASK.parquet"), &times, &side(|q| q.1), 0.0);
}

#[test]
fn equal_mid_prices_from_different_spreads_are_a_flat_window() {
    // Every mid close is 1.09902, but (1.09901 + 1.09903) / 2 is one ulp below the
    // 1.09902 of bid = ask = 1.09902: the window is flat, z undefined, no trade.
    let lab = Lab::new();
    let flat = (1.09902, 1.09902);
    write_flat_quotes(&lab, &[flat, flat, (1.09901, 1.09903), flat, flat]);
    assert!(trades(&lab.config(json!({"direction": "both"}))).is_empty());
}

#[test]
fn a_bar_that_did_not_move_has_an_atr_of_zero_and_no_signal() {
    // Bar 2 is flat at the mid close of bar 1 (1.09902, written as another bid/ask
    // split): its true range is 0, so ATR(1) is 0 and the short signal (z = 0.71) is
    // skipped, instead of a trade whose SL, TP and entry coincide.
    let lab = Lab::new();
    let flat = (1.09902, 1.09902);
    write_flat_quotes(&lab, &[(1.098, 1.098), (1.09901, 1.09903), flat, flat, flat]);
    let config = lab.config(json!({"direction": "short", "z_entry": 0.5}));
    assert!(trades(&config).is_empty());
    let moved = [(1.098, 1.098), (1.09901, 1.09903), (1.09903, 1.09903), flat, flat];
    write_flat_quotes(&lab, &moved);
    assert_eq!(trades(&config).len(), 1, "a bar that moved by half a tick still trades");
}

#[test]
fn prices_on_a_quarter_tick_grid_keep_both_decimals() {
    // An index-like grid: tick 0.25. Mids 100.25, 100.25, 99.25: a long signal with
    // ATR(1) = 1; entry at the ask open 99.75 (+ 0.025 slippage, rounded back to 99.75),
    // SL 98.75, TP 101.75, closed at the end of the data at the bid close 99.5.
    let lab = Lab::new();
    std::fs::write(
        lab.dir.path().join("specs.yaml"),
        "EURUSD:\n  pip_size: 0.25\n  tick_size: 0.25\n  contract_size: 1\n  min_lot: 0.01\n  lot_step: 0.01\n  max_lot: 50\n  base_currency: EUR\n  quote_currency: USD\n",
    )
    .expect("specs");
    let quotes = [(100.0, 100.5), (100.0, 100.5), (99.0, 99.5), (99.25, 99.75), (99.5, 100.0)];
    write_flat_quotes(&lab, &quotes);
    let t = &trades(&lab.config(json!({})))[0];
    for (key, price) in [("entry_price", 99.75), ("sl", 98.75), ("tp", 101.75), ("exit_price", 99.5)] {
        assert_field(t, key, price);
    }
}

fn artifacts(config: &Value, dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut config = config.clone();
    merge(&mut config, json!({"output": {"trades": false, "equity": false, "dir": dir}}));
    let result = run(&config);
    assert!(result.get("trades").is_none() && result.get("equity").is_none(), "output flags honoured");
    ["trades.json", "equity.csv", "metrics.json", "meta.json"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).expect("artifact"))
        .collect()
}

#[test]
fn dev_runs_are_byte_identical_and_seeds_move_only_random_slippage() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0975, 1.0980), LAST]));
    std::fs::write(
        lab.dir.path().join("costs.yaml"),
        "EURUSD:\n  commission_per_lot_side: 3.5\n  slippage: {fixed_pips: 0.1, random_pips: 5.0}\n",
    )
    .expect("costs");
    let config = lab.config(json!({}));
    let out = tempfile::tempdir().expect("out");
    let first = artifacts(&config, &out.path().join("a"));
    let second = artifacts(&config, &out.path().join("b"));
    assert_eq!(first, second, "same config, same bytes");
    let mut reseeded = config.clone();
    merge(&mut reseeded, json!({"rng_seed": 8}));
    let other = run(&reseeded)["trades"][0].clone();
    let base = run(&config)["trades"][0].clone();
    assert_ne!(other["entry_price"], base["entry_price"], "random slippage follows the seed");
    assert_eq!(
        other["sl"].as_f64().zip(other["entry_price"].as_f64()).map(|(s, e)| ((e - s) * 1e5).round()),
        Some(150.0)
    );
}

#[test]
fn a_prod_run_records_its_seed_and_replays_exactly() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0975, 1.0980), LAST]));
    std::fs::write(
        lab.dir.path().join("costs.yaml"),
        "EURUSD:\n  commission_per_lot_side: 3.5\n  slippage: {fixed_pips: 0.1, random_pips: 5.0}\n",
    )
    .expect("costs");
    let mut config = lab.config(json!({}));
    merge(&mut config, json!({"run_mode": "prod", "rng_seed": null}));
    let out = tempfile::tempdir().expect("out");
    let first = artifacts(&config, &out.path().join("a"));
    let meta: Value = serde_json::from_slice(&first[3]).expect("meta");
    let seed = meta["rng_seed"].as_u64().expect("seed recorded");
    assert_eq!(meta["resolved_config"]["rng_seed"].as_u64(), Some(seed));
    merge(&mut config, json!({"rng_seed": seed}));
    assert_eq!(artifacts(&config, &out.path().join("b")), first, "replay with the recorded seed");
}

#[test]
fn config_hash_covers_the_resolved_config_but_not_output() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, LAST]));
    let config = lab.config(json!({}));
    let meta = run(&config)["meta"].clone();
    let canonical = omega_backtest::json::canonical_json(&meta["resolved_config"]);
    assert_eq!(
        meta["config_hash"].as_str(),
        Some(omega_backtest::json::sha256_hex(canonical.as_bytes()).as_str())
    );
    let mut quiet = config.clone();
    merge(&mut quiet, json!({"output": {"trades": false, "equity": false}}));
    assert_eq!(run(&quiet)["meta"]["config_hash"], meta["config_hash"]);
    let mut explicit = config;
    merge(&mut explicit, json!({"execution_variant": "v2", "sessions": []}));
    assert_eq!(
        run(&explicit)["meta"]["config_hash"],
        meta["config_hash"],
        "defaults spelled out hash the same"
    );
    assert_eq!(meta["resolved_config"]["strategy"]["params"]["order_ttl_bars"], 1);
}

#[test]
fn the_range_clips_primary_bars_half_open() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0994, 1.1030, 1.0990, 1.1025), LAST]));
    let mut config = lab.config(json!({}));
    // End at bar 4's open: bar 3 is the last bar, the position closes there (end_of_data).
    merge(
        &mut config,
        json!({"data": {"dir": lab.dir.path(), "primary_tf": "M5", "end": "2024-01-02T10:20:00Z"}}),
    );
    let result = run(&config);
    assert_eq!(result["meta"]["bars"], 4);
    let t = &result["trades"][0];
    assert_eq!((t["reason"].as_str(), t["exit_time_ns"].as_i64()), (Some("end_of_data"), Some(T0 + 3 * M5)));
    assert_field(t, "exit_price", 1.0994);
}

/// Runs `config` and returns its error, asserting the run failed.
fn run_error(config: &Value) -> Value {
    let text = omega_backtest::run_backtest_json(&config.to_string()).expect("valid config");
    let result: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(result["ok"], false, "expected a failed run: {result}");
    result["error"].clone()
}

#[test]
fn money_or_prices_beyond_float64_fail_the_run_instead_of_writing_null() {
    let lab = Lab::new();
    lab.primary(T0, &bars(&[QUIET, Bar(1.0990, 1.0992, 1.0975, 1.0980), LAST]));
    // A sane run trades; each absurd input below breaks a different value.
    assert!(!trades(&lab.config(json!({}))).is_empty());
    let costs = |commission: &str, fixed_pips: &str| {
        std::fs::write(
            lab.dir.path().join("costs.yaml"),
            format!("EURUSD:\n  commission_per_lot_side: {commission}\n  slippage: {{fixed_pips: {fixed_pips}, random_pips: 0.0}}\n"),
        )
        .expect("costs");
    };
    costs("1.0e+308", "0.1");
    let error = run_error(&lab.config(json!({})));
    assert_eq!(error["category"], "execution");
    assert_eq!(error["details"]["field"], "fees");
    assert!(error["details"]["trade_id"].is_u64(), "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("commission_per_lot_side")), "{error}");
    costs("3.5", "1.0e+308");
    assert_eq!(run_error(&lab.config(json!({})))["details"]["field"], "entry_price");
    costs("3.5", "0.1");
    assert_eq!(run_error(&lab.config(json!({"tp_atr": 1e308})))["details"]["field"], "tp");
}
