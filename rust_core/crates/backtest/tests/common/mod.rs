//! Stubs shared by the engine's integration tests: hand-built bars written as real
//! Parquet files, a config builder and a runner.

#![allow(dead_code, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use serde_json::{Value, json};

/// 2024-01-02 10:00:00 UTC (a Tuesday), in epoch ns.
pub const T0: i64 = 1_704_189_600_000_000_000;
/// Five minutes in ns.
pub const M5: i64 = 300_000_000_000;
/// One day in ns.
pub const DAY: i64 = 86_400_000_000_000;

/// One bid bar: open, high, low, close. The ask is the bid plus the spread.
#[derive(Debug, Clone, Copy)]
pub struct Bar(pub f64, pub f64, pub f64, pub f64);

pub fn write_side(path: &Path, times: &[i64], bars: &[Bar], add: f64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("timestamp", DataType::Int64, false),
        Field::new("open", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("close", DataType::Float64, false),
    ]));
    let col = |f: fn(&Bar) -> f64| {
        Arc::new(Float64Array::from(bars.iter().map(|b| round5(f(b) + add)).collect::<Vec<_>>()))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(times.to_vec())),
            col(|b| b.0),
            col(|b| b.1),
            col(|b| b.2),
            col(|b| b.3),
        ],
    )
    .expect("batch");
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// Rounds to 5 decimals so that written prices are the doubles a feed would hold.
pub fn round5(x: f64) -> f64 {
    (x * 100_000.0).round() / 100_000.0
}

/// A temporary data folder with cost files and the bars of one test.
pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Writes cost files: commission 3.5 per lot and side, fixed slippage 0.1 pip.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("specs.yaml"),
            "EURUSD:\n  pip_size: 0.0001\n  tick_size: 0.00001\n  contract_size: 100000\n  min_lot: 0.01\n  lot_step: 0.01\n  max_lot: 50\n  base_currency: EUR\n  quote_currency: USD\n",
        )
        .expect("specs");
        std::fs::write(
            dir.path().join("costs.yaml"),
            "EURUSD:\n  commission_per_lot_side: 3.5\n  slippage: {fixed_pips: 0.1, random_pips: 0.0}\n",
        )
        .expect("costs");
        Self { dir }
    }

    /// Writes M5 bars starting at `start`, spread 2 pips.
    pub fn primary(&self, start: i64, bars: &[Bar]) -> &Self {
        let times: Vec<i64> = (0..bars.len() as i64).map(|i| start + i * M5).collect();
        self.primary_at(&times, bars)
    }

    /// Writes M5 bars at the given times, spread 2 pips.
    pub fn primary_at(&self, times: &[i64], bars: &[Bar]) -> &Self {
        write_side(&self.dir.path().join("EURUSD_M5_BID.parquet"), times, bars, 0.0);
        write_side(&self.dir.path().join("EURUSD_M5_ASK.parquet"), times, bars, 0.0002);
        self
    }

    /// Writes D1 bars at the given days (open times), spread 2 pips.
    pub fn d1(&self, times: &[i64], bars: &[Bar]) -> &Self {
        write_side(&self.dir.path().join("EURUSD_D1_BID.parquet"), times, bars, 0.0);
        write_side(&self.dir.path().join("EURUSD_D1_ASK.parquet"), times, bars, 0.0002);
        self
    }

    /// A config with z_window 3, z_entry 1, ATR(1), SL 1 ATR, TP 2 ATR, 1 fixed lot, long only.
    pub fn config(&self, params: Value) -> Value {
        let p = self.dir.path();
        let mut base = json!({
            "z_window": 3, "z_entry": 1.0, "atr_length": 1, "sl_atr": 1.0, "tp_atr": 2.0,
            "direction": "long", "sizing": {"mode": "fixed_lots", "lots": 1.0}
        });
        merge(&mut base, params);
        json!({
            "schema_version": 2,
            "run_mode": "dev",
            "rng_seed": 7,
            "symbol": "EURUSD",
            "data": {"dir": p, "primary_tf": "M5"},
            "costs": {"symbol_specs": p.join("specs.yaml"), "execution_costs": p.join("costs.yaml")},
            "account": {"initial_balance": 100000.0},
            "strategy": {"name": "mean_reversion_z_score", "params": base},
        })
    }
}

/// Merges the keys of `extra` into `base` (shallow).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
}

/// Runs the engine and returns the parsed result, asserting success.
pub fn run(config: &Value) -> Value {
    let text = omega_backtest::run_backtest_json(&config.to_string()).expect("valid config");
    let result: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(result["ok"], true, "run failed: {result}");
    result
}

/// Returns the trades of a run.
pub fn trades(config: &Value) -> Vec<Value> {
    run(config)["trades"].as_array().cloned().unwrap_or_default()
}

/// Two flat bars, then a drop that gives z = -1.41 and ATR(1) = 0.0015 at bar 2:
/// a long signal whose SL is 15 pips and TP 30 pips away.
pub fn setup_bars() -> Vec<Bar> {
    vec![
        Bar(1.1000, 1.1005, 1.0995, 1.1000),
        Bar(1.1000, 1.1005, 1.0995, 1.1000),
        Bar(1.1000, 1.1000, 1.0985, 1.0990),
    ]
}

/// Asserts a float field equals `expected` exactly.
pub fn assert_field(trade: &Value, key: &str, expected: f64) {
    assert_eq!(trade[key].as_f64(), Some(expected), "{key} in {trade}");
}

/// Writes a news calendar Parquet file with (time, currency, impact) rows.
pub fn write_news(path: &Path, events: &[(i64, &str, &str)]) {
    use arrow_array::StringArray;
    let schema = Arc::new(Schema::new(vec![
        Field::new("timestamp", DataType::Int64, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("impact", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(events.iter().map(|e| e.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(events.iter().map(|e| e.1).collect::<Vec<_>>())),
            Arc::new(StringArray::from(events.iter().map(|e| e.2).collect::<Vec<_>>())),
        ],
    )
    .expect("batch");
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// The quiet bar after the signal: no level is touched, no new signal.
pub const QUIET: Bar = Bar(1.0991, 1.0995, 1.0988, 1.0994);
/// A calm last bar (the end of the data).
pub const LAST: Bar = Bar(1.1000, 1.1001, 1.0999, 1.1000);

/// The setup bars followed by `tail`.
pub fn bars(tail: &[Bar]) -> Vec<Bar> {
    let mut all = setup_bars();
    all.extend_from_slice(tail);
    all
}
