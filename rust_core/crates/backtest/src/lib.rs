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
use omega_types::Tick;
use omega_types::config::ConfigError;
use serde_json::{Map, Value, json};

use crate::config::RunConfig;
use crate::engine::{LoopInput, run_loop};
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
    let value: Value = serde_json::from_str(config_json)
        .map_err(|e| ConfigError::new("$", format!("not valid JSON: {e}")))?;
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
        Metrics::compute(&out.trades, &out.equity_stats, config.initial_balance).to_json()
    };
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

/// Installs the `tracing` subscriber once: level from `OMEGA_LOG` (default `warn`), to stderr.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("OMEGA_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
