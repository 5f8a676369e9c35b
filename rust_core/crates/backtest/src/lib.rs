//! Configuration, event loop and artifacts of the Omega V2 backtest engine.
//!
//! [`run_backtest_json`] is the whole engine behind one call: config JSON in, result
//! JSON out. It parses and validates the config ([`config`]), loads the market data
//! ([`market`]), builds the strategy's indicators once, runs the event loop of
//! execution variant v2 ([`engine`]), computes the metrics and writes the artifacts
//! ([`artifacts`]). It does not know Python exists; the `omega-ffi` crate does.

pub mod artifacts;
pub mod config;
pub mod engine;
pub mod json;
pub mod market;

use std::time::Instant;

use omega_metrics::Metrics;
use omega_strategy::MarketInput;
use omega_types::config::ConfigError;
use omega_types::{Tick, Trade};
use serde_json::{Map, Value, json};

use crate::config::RunConfig;
use crate::engine::{EquityRow, LoopInput, run_loop};
use crate::market::Market;

/// The engine version recorded in `meta.json`.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The config and artifact schema version.
pub const SCHEMA_VERSION: u32 = 2;

/// A failure during the run, reported as `{"ok": false, "error": ...}` (ENGINE §9).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{category}: {message}")]
pub struct RunError {
    /// `market_data`, `execution`, `strategy` or `runtime`.
    pub category: &'static str,
    /// What went wrong, naming file, row and value where there are such.
    pub message: String,
    /// Machine-readable details.
    pub details: Value,
}

impl RunError {
    /// A `market_data` error.
    #[must_use]
    pub fn market_data(message: String, details: Value) -> Self {
        Self { category: "market_data", message, details }
    }

    fn runtime(message: String) -> Self {
        Self { category: "runtime", message, details: json!({}) }
    }
}

impl From<omega_strategy::StrategyError> for RunError {
    fn from(err: omega_strategy::StrategyError) -> Self {
        Self { category: "strategy", message: err.to_string(), details: json!({}) }
    }
}

/// Draws a prod seed from the operating system; the one place unseeded randomness is used.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // the sanctioned exception
fn os_seed() -> u64 {
    use rand_core::{OsRng, TryRngCore};
    OsRng.try_next_u64().unwrap_or_else(|_| {
        // No OS entropy: fall back on the clock, which is still recorded in meta.json.
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    })
}

/// Runs one backtest from config JSON text and returns the result as JSON text.
///
/// Run-time failures come back as `Ok` with `{"ok": false, "error": {...}}`.
///
/// # Errors
/// A [`ConfigError`] (field path and expectation) when the config cannot run.
pub fn run_backtest_json(config_json: &str) -> Result<String, ConfigError> {
    if config_json.trim().is_empty() {
        return Err(ConfigError::new("$", "expected a JSON config object, got an empty string"));
    }
    let value = json::parse_config_text(config_json)?;
    let config = RunConfig::parse(value, os_seed)?;
    let result = match run(&config) {
        Ok(result) => result,
        Err(err) => json!({
            "ok": false,
            "error": {"category": err.category, "message": err.message, "details": err.details},
            "config_hash": config.config_hash,
        }),
    };
    Ok(result.to_string())
}

/// Milliseconds since `start`, for the result's `stats`.
fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Runs a validated config: load, indicators, loop, metrics, output.
///
/// # Errors
/// A [`RunError`] for data, strategy or output failures.
pub fn run(config: &RunConfig) -> Result<Value, RunError> {
    let mut timings = Map::new();
    let clock = Instant::now();
    let market = Market::load(config)?;
    timings.insert("load_ms".into(), json!(ms(clock)));

    let clock = Instant::now();
    let timestamps = market.timestamps();
    let (bid, ask) = market.quotes();
    let strategy = config.strategy.build(&MarketInput {
        timestamps,
        bar_duration_ns: config.primary_tf.duration_ns(),
        bid,
        ask,
        htf: market.htf_view(),
        pip_size: config.spec.pip_size,
        tick_size: config.spec.tick_size,
    })?;
    let news_blocked = market.news_blocked(config);
    timings.insert("indicators_ms".into(), json!(ms(clock)));

    let clock = Instant::now();
    let writes_files = config.output.dir.is_some();
    let keep_equity = config.output.equity || writes_files;
    let out = run_loop(
        config,
        strategy.as_ref(),
        &LoopInput { timestamps, bid, ask, news_blocked: &news_blocked, keep_equity },
    );
    timings.insert("loop_ms".into(), json!(ms(clock)));

    let clock = Instant::now();
    let metrics = {
        let _span = tracing::info_span!("metrics", trades = out.trades.len()).entered();
        Metrics::compute(&out.trades, &out.equity_stats, config.initial_balance)
    };
    check_finite(&out.trades, &out.equity_rows, &metrics)?;
    let metrics = metrics.to_json();
    timings.insert("metrics_ms".into(), json!(ms(clock)));

    let clock = Instant::now();
    let mut meta = market.meta(config);
    if let Value::Object(map) = &mut meta {
        map.insert("schema_version".into(), json!(SCHEMA_VERSION));
        map.insert("engine_version".into(), json!(ENGINE_VERSION));
        map.insert("run_mode".into(), config.resolved["run_mode"].clone());
        map.insert("rng_seed".into(), json!(config.rng_seed));
        map.insert("config_hash".into(), json!(config.config_hash));
        map.insert("resolved_config".into(), config.resolved.clone());
    }
    let mut result = Map::new();
    result.insert("ok".into(), json!(true));
    if config.output.trades || writes_files {
        let mut trades = out.trades;
        artifacts::sort_trades(&mut trades);
        let tick = Tick::new(config.spec.tick_size);
        let trades_json = Value::Array(trades.iter().map(|t| artifacts::trade_json(t, &tick)).collect());
        if let Some(dir) = &config.output.dir {
            artifacts::write_all(
                dir,
                &trades_json,
                &artifacts::equity_csv(&out.equity_rows),
                &metrics,
                &meta,
            )
            .map_err(|e| RunError::runtime(format!("cannot write artifacts to {}: {e}", dir.display())))?;
        }
        if config.output.trades {
            result.insert("trades".into(), trades_json);
        }
    }
    if config.output.equity {
        result.insert("equity".into(), artifacts::equity_json(&out.equity_rows));
    }
    timings.insert("output_ms".into(), json!(ms(clock)));
    let c = out.counters;
    result.insert("metrics".into(), metrics);
    result.insert("meta".into(), meta);
    result.insert(
        "stats".into(),
        json!({"timings": timings, "counters": {"bars": c.bars, "signals": c.signals, "orders": c.orders, "fills": c.fills}}),
    );
    Ok(Value::Object(result))
}

/// Refuses a run whose prices or money left the finite range of `f64`.
///
/// Only absurd inputs get there (a commission or slippage of 1e308, `tp_atr: 1e308`),
/// and the artifacts could not show the values: JSON has no infinity, and ENGINE §7
/// allows `null` only for `profit_factor`, `sharpe` and `scenario`.
fn check_finite(trades: &[Trade], equity_rows: &[EquityRow], metrics: &Metrics) -> Result<(), RunError> {
    let not_finite = |what: String, value: f64, details: Value| RunError {
        category: "execution",
        message: format!(
            "{what} is not a finite number ({value}): prices or money left the range of float64; \
             expected execution costs (commission_per_lot_side, slippage pips) and strategy \
             distances (sl_atr, tp_atr, entry_offset_atr) of a size that prices can carry"
        ),
        details,
    };
    for trade in trades {
        let fields = [
            ("entry_price", trade.entry_price),
            ("exit_price", trade.exit_price),
            ("sl", trade.sl),
            ("tp", trade.tp),
            ("lots", trade.lots),
            ("pnl_gross", trade.pnl_gross),
            ("fees", trade.fees),
            ("result", trade.result),
            ("r_multiple", trade.r_multiple),
        ];
        if let Some((field, value)) = fields.into_iter().find(|(_, v)| !v.is_finite()) {
            return Err(not_finite(
                format!("trade {}: {field}", trade.id),
                value,
                json!({"trade_id": trade.id, "field": field}),
            ));
        }
    }
    if let Some(row) = equity_rows.iter().find(|r| !(r.balance.is_finite() && r.equity.is_finite())) {
        let value = if row.balance.is_finite() { row.equity } else { row.balance };
        return Err(not_finite(
            format!("equity at {}", row.timestamp_ns),
            value,
            json!({"timestamp": row.timestamp_ns}),
        ));
    }
    let values = [
        ("profit_gross", Some(metrics.profit_gross)),
        ("fees_total", Some(metrics.fees_total)),
        ("profit_net", Some(metrics.profit_net)),
        ("max_drawdown", Some(metrics.max_drawdown)),
        ("max_drawdown_pct", Some(metrics.max_drawdown_pct)),
        ("max_drawdown_initial_pct", Some(metrics.max_drawdown_initial_pct)),
        ("avg_r_multiple", Some(metrics.avg_r_multiple)),
        ("total_lots", Some(metrics.total_lots)),
        ("profit_factor", metrics.profit_factor),
        ("sharpe", metrics.sharpe),
        ("score", Some(metrics.score)),
        ("winrate", Some(metrics.winrate)),
    ];
    if let Some((name, Some(value))) = values.into_iter().find(|(_, v)| v.is_some_and(|x| !x.is_finite())) {
        return Err(not_finite(format!("metric {name}"), value, json!({"metric": name})));
    }
    Ok(())
}

/// Installs the `tracing` subscriber once: level from `OMEGA_LOG` (default `warn`), to stderr.
/// The engine's phases are spans: each prints one line when it closes, with its busy time.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = EnvFilter::try_from_env("OMEGA_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .try_init();
}
