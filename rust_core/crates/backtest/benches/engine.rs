//! Criterion benchmarks of the engine's hot paths: indicator preparation and the event
//! loop on 1M in-memory bars, and one whole metrics-only run on the bundled fixtures
//! with the data cache warm (the normal case inside a sweep worker).

#![allow(missing_docs)]

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use omega_backtest::config::RunConfig;
use omega_backtest::engine::{LoopInput, run_loop};
use omega_backtest::run_backtest_json;
use omega_strategy::MarketInput;
use omega_types::Ohlc;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn fixture_config() -> Value {
    let root = repo();
    json!({
        "schema_version": 2, "run_mode": "dev", "rng_seed": 42, "symbol": "EURUSD",
        "data": {"dir": root.join("fixtures/data"), "primary_tf": "M5", "additional_tfs": ["D1"]},
        "costs": {"symbol_specs": root.join("configs/symbol_specs.yaml"),
                  "execution_costs": root.join("configs/execution_costs.yaml")},
        "account": {"initial_balance": 100000.0},
        "strategy": {"name": "mean_reversion_z_score", "params": {
            "z_window": 48, "z_entry": 2.0, "z_exit": 0.0, "atr_length": 14, "sl_atr": 1.5,
            "tp_atr": 2.0, "max_spread_pips": 3.0, "sizing": {"mode": "risk_pct", "risk_pct": 0.5}}},
        "sessions": [{"start": "07:00", "end": "17:00"}],
        "output": {"trades": false, "equity": false}
    })
}

/// A random-walk bid/ask series of `n` M5 bars, 0.2 pip spread.
fn synthetic(n: usize) -> (Vec<i64>, Ohlc, Ohlc) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut price = 1.1f64;
    let (mut bid, mut ask) = (Ohlc::default(), Ohlc::default());
    for _ in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let next = ((price + ((state % 61) as f64 - 30.0) * 1e-5) * 1e5).round() / 1e5;
        for (side, add) in [(&mut bid, 0.0), (&mut ask, 0.00002)] {
            side.open.push(price + add);
            side.close.push(next + add);
            side.high.push(price.max(next) + 0.0001 + add);
            side.low.push(price.min(next) - 0.0001 + add);
        }
        price = next;
    }
    let times = (0..n as i64).map(|i| 1_704_067_200_000_000_000 + i * 300_000_000_000).collect();
    (times, bid, ask)
}

fn bench(c: &mut Criterion) {
    let mut config_json = fixture_config();
    config_json["strategy"]["params"]["htf_filter"] = json!("none");
    config_json["sessions"] = json!([]);
    let config = RunConfig::parse(config_json, || 0).expect("config");
    let n = 1_000_000;
    let (times, bid, ask) = synthetic(n);
    let market = MarketInput {
        timestamps: &times,
        bar_duration_ns: 300_000_000_000,
        bid: bid.view(0..n),
        ask: ask.view(0..n),
        htf: None,
        pip_size: 0.0001,
        tick_size: 0.00001,
    };
    let mut group = c.benchmark_group("engine_1m_bars");
    group.sample_size(10);
    group.bench_function("strategy_prepare", |b| b.iter(|| config.strategy.build(&market).expect("build")));
    let strategy = config.strategy.build(&market).expect("build");
    let input = LoopInput {
        timestamps: &times,
        bid: market.bid,
        ask: market.ask,
        news_blocked: &[],
        keep_equity: false,
    };
    group.bench_function("event_loop", |b| {
        b.iter(|| run_loop(&config, strategy.as_ref(), &input).trades.len())
    });
    group.finish();

    let fixture = fixture_config().to_string();
    run_backtest_json(&fixture).expect("warm the cache");
    let mut group = c.benchmark_group("run_backtest_json");
    group.bench_function("fixture_18k_bars_metrics_only_warm", |b| {
        b.iter(|| run_backtest_json(&fixture).expect("run").len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
