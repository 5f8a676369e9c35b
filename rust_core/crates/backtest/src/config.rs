//! The run config (ENGINE §0, §4, §9, §10): parsing with field paths, defaults, cost
//! files, and the resolved form that `config_hash` covers.

use std::path::{Path, PathBuf};

use omega_strategy::{Sizing, StrategyConfig};
use omega_types::config::{ConfigError, Fields, describe};
use omega_types::{ExecutionCosts, SymbolSpec, Timeframe, parse_iso_utc, round_half_away};
use serde_json::{Value, json};

use crate::json::canonical_json;

/// Whether a run must be bit-for-bit reproducible from its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Needs `rng_seed`; deterministic artifacts.
    Dev,
    /// Draws a seed from the OS when none is given and records it.
    Prod,
}

/// One trading window of the day, in minutes since 00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Start minute (inclusive).
    pub start: u32,
    /// End minute (exclusive); may be below `start` (crosses midnight) or 1440.
    pub end: u32,
}

impl Session {
    /// Returns true when `minute` of the day lies in `[start, end)` (ENGINE §4, §10).
    #[must_use]
    pub fn contains(&self, minute: u32) -> bool {
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => self.start <= minute && minute < self.end,
            std::cmp::Ordering::Greater => minute >= self.start || minute < self.end,
        }
    }
}

/// The news blackout settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NewsConfig {
    /// The calendar file.
    pub file: PathBuf,
    /// Minutes before an event during which no entry is made.
    pub minutes_before: i64,
    /// Minutes after an event during which no entry is made.
    pub minutes_after: i64,
    /// Lowest impact that blocks entries.
    pub min_impact: omega_data::Impact,
}

/// What the result carries and where artifacts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputConfig {
    /// Include trades in the result.
    pub trades: bool,
    /// Include the equity series in the result.
    pub equity: bool,
    /// Write the four artifacts into this folder.
    pub dir: Option<PathBuf>,
}

/// A validated run config with every default applied.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `dev` or `prod`.
    pub run_mode: RunMode,
    /// The slippage seed (drawn for prod runs without one).
    pub rng_seed: u64,
    /// The symbol, e.g. `EURUSD`.
    pub symbol: String,
    /// Folder holding the Parquet files.
    pub data_dir: PathBuf,
    /// The primary timeframe.
    pub primary_tf: Timeframe,
    /// First bar open time included (epoch ns).
    pub start_ns: Option<i64>,
    /// First bar open time excluded (epoch ns).
    pub end_ns: Option<i64>,
    /// The symbol's specification.
    pub spec: SymbolSpec,
    /// The symbol's costs.
    pub costs: ExecutionCosts,
    /// Starting balance.
    pub initial_balance: f64,
    /// The strategy and its parameters.
    pub strategy: StrategyConfig,
    /// Entry sessions (empty: always open).
    pub sessions: Vec<Session>,
    /// News blackout, if any.
    pub news: Option<NewsConfig>,
    /// Output choices.
    pub output: OutputConfig,
    /// The resolved config (without `output`), as recorded in `meta.json`.
    pub resolved: Value,
    /// SHA-256 of the canonical JSON of `resolved`.
    pub config_hash: String,
}

/// The largest seed accepted, so seeds survive JSON readers and SQLite integers.
pub const MAX_SEED: u64 = i64::MAX as u64;

impl RunConfig {
    /// Parses and validates a config, reading the cost files it names.
    ///
    /// `draw_seed` supplies the seed of a prod run that has none.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field path and the expectation.
    pub fn parse(value: Value, draw_seed: impl FnOnce() -> u64) -> Result<Self, ConfigError> {
        let mut top = Fields::new("$", value)?;
        let schema_version = top.int("schema_version", 2, 2).map_err(|_| {
            ConfigError::new("schema_version", "expected 2 (the only config schema this engine reads)")
        })?;
        let run_mode = match top.choice("run_mode", &["dev", "prod"], Some("dev"))? {
            "prod" => RunMode::Prod,
            _ => RunMode::Dev,
        };
        let seed = match top.take_non_null("rng_seed") {
            Some(v) => Some(
                v.as_u64()
                    .filter(|s| *s <= MAX_SEED)
                    .ok_or_else(|| top.expected("rng_seed", "an integer in [0, 2^63 - 1]", &v))?,
            ),
            None => None,
        };
        let rng_seed = match (run_mode, seed) {
            (_, Some(seed)) => seed,
            (RunMode::Dev, None) => {
                return Err(ConfigError::new(
                    "rng_seed",
                    "required in dev mode: expected an integer in [0, 2^63 - 1]",
                ));
            }
            (RunMode::Prod, None) => draw_seed() & MAX_SEED,
        };
        if top.choice("execution_variant", &["v2", "v1_parity"], Some("v2"))? == "v1_parity" {
            return Err(ConfigError::new(
                "execution_variant",
                "\"v1_parity\" has no reference implementation yet, so its results could not be \
                 checked; use \"v2\"",
            ));
        }
        let symbol = top.string("symbol")?;

        let mut data = top.object("data")?;
        let data_dir = PathBuf::from(data.path("dir", "a folder path")?);
        let primary_tf = timeframe(&mut data, "primary_tf")?;
        let additional_tfs = match data.take_non_null("additional_tfs") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str().and_then(|s| s.parse::<Timeframe>().ok()).ok_or_else(|| {
                        ConfigError::new(
                            format!("data.additional_tfs[{i}]"),
                            format!("expected one of M1, M5, M15, M30, H1, H4, D1, got {}", describe(item)),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(data.expected("additional_tfs", "a list of timeframes", &other)),
        };
        let start = instant(&mut data, "start")?;
        let end = instant(&mut data, "end")?;
        data.finish()?;
        if let (Some((s, _)), Some((e, _))) = (&start, &end)
            && e <= s
        {
            return Err(ConfigError::new("data.end", "expected a time after data.start"));
        }

        let mut costs = top.object("costs")?;
        let specs_path = costs.path("symbol_specs", "a file path")?;
        let costs_path = costs.path("execution_costs", "a file path")?;
        costs.finish()?;
        let spec = symbol_spec(read_symbol_entry(Path::new(&specs_path), "costs.symbol_specs", &symbol)?)?;
        let execution_costs =
            execution_costs(read_symbol_entry(Path::new(&costs_path), "costs.execution_costs", &symbol)?)?;

        let mut account = top.object("account")?;
        let initial_balance = account.number("initial_balance", "a number > 0", |x| x > 0.0)?;
        account.finish()?;

        let strategy = StrategyConfig::parse(top.object("strategy")?)?;
        if let Sizing::FixedLots(lots) = strategy.sizing() {
            check_fixed_lots(lots, &spec)?;
        }
        let (sessions, sessions_json) = sessions(top.take_non_null("sessions"))?;
        let news = match top.take_non_null("news") {
            None => None,
            Some(v) => Some(news(Fields::new("news", v)?)?),
        };
        let output = match top.take_non_null("output") {
            None => OutputConfig { trades: true, equity: true, dir: None },
            Some(v) => {
                let mut o = Fields::new("output", v)?;
                let out = OutputConfig {
                    trades: o.boolean_or("trades", true)?,
                    equity: o.boolean_or("equity", true)?,
                    dir: match o.string_opt("dir")? {
                        Some(dir) if dir.trim().is_empty() => {
                            return Err(ConfigError::new(
                                "output.dir",
                                "expected a folder path, or null for no artifacts, got an empty string",
                            ));
                        }
                        dir => dir.map(PathBuf::from),
                    },
                };
                o.finish()?;
                out
            }
        };
        top.finish()?;

        let resolved = json!({
            "schema_version": schema_version,
            "run_mode": match run_mode { RunMode::Dev => "dev", RunMode::Prod => "prod" },
            "rng_seed": rng_seed,
            "execution_variant": "v2",
            "symbol": symbol,
            "data": {
                "dir": data_dir.to_string_lossy(),
                "primary_tf": primary_tf.as_str(),
                "additional_tfs": additional_tfs.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "start": start.as_ref().map(|(_, text)| text.clone()),
                "end": end.as_ref().map(|(_, text)| text.clone()),
            },
            "costs": {"symbol_specs": specs_path, "execution_costs": costs_path},
            "account": {"initial_balance": initial_balance},
            "strategy": strategy.to_json(),
            "sessions": sessions_json,
            "news": news.as_ref().map(|n| json!({
                "file": n.file.to_string_lossy(),
                "minutes_before": n.minutes_before,
                "minutes_after": n.minutes_after,
                "min_impact": match n.min_impact {
                    omega_data::Impact::Low => "low",
                    omega_data::Impact::Medium => "medium",
                    omega_data::Impact::High => "high",
                },
            })),
        });
        let config_hash = crate::json::sha256_hex(canonical_json(&resolved).as_bytes());
        Ok(Self {
            run_mode,
            rng_seed,
            symbol,
            data_dir,
            primary_tf,
            start_ns: start.map(|(ns, _)| ns),
            end_ns: end.map(|(ns, _)| ns),
            spec,
            costs: execution_costs,
            initial_balance,
            strategy,
            sessions,
            news,
            output,
            resolved,
            config_hash,
        })
    }
}

fn timeframe(fields: &mut Fields, key: &str) -> Result<Timeframe, ConfigError> {
    let value = fields.required(key, "one of M1, M5, M15, M30, H1, H4, D1")?;
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fields.expected(key, "one of M1, M5, M15, M30, H1, H4, D1", &value))
}

fn instant(fields: &mut Fields, key: &str) -> Result<Option<(i64, String)>, ConfigError> {
    let Some(value) = fields.take_non_null(key) else { return Ok(None) };
    let expected = "an ISO-8601 UTC date or time from 1677-09-22 to 2262-04-11 (\"2024-01-01\" or \"2024-01-01T00:00:00Z\"), or null for no limit";
    let text = value.as_str().ok_or_else(|| fields.expected(key, expected, &value))?;
    let ns = parse_iso_utc(text).ok_or_else(|| fields.expected(key, expected, &value))?;
    Ok(Some((ns, text.to_owned())))
}

fn read_symbol_entry(path: &Path, field: &str, symbol: &str) -> Result<Fields, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(field, format!("cannot read {}: {e}", path.display())))?;
    let document: Value = serde_saphyr::from_str(&text)
        .map_err(|e| ConfigError::new(field, format!("{} is not valid YAML: {e}", path.display())))?;
    let Value::Object(mut map) = document else {
        return Err(ConfigError::new(
            field,
            format!("{}: expected a mapping SYMBOL -> entry", path.display()),
        ));
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match map.remove(symbol) {
        Some(entry) => Fields::new(&format!("{name}:{symbol}"), entry),
        None => {
            let mut known: Vec<&String> = map.keys().collect();
            known.sort();
            Err(ConfigError::new(
                "symbol",
                format!(
                    "{} is not in {} (it has {known:?})",
                    describe(&Value::String(symbol.to_owned())),
                    path.display()
                ),
            ))
        }
    }
}

/// What `tick_size` and `lot_step` must be: ENGINE §10 works on their grids through
/// `round(1 / x)` steps per unit, which only means that grid when `1 / x` is whole.
const UNIT_FRACTION: &str = "a number > 0 whose reciprocal is a whole number (1, 0.5, 0.01, 0.00001, ...)";

/// Tells whether `x` is `1 / n` for a whole `n >= 1` (within decimal representation).
fn is_unit_fraction(x: f64) -> bool {
    let per_unit = 1.0 / x;
    x > 0.0
        && per_unit.is_finite()
        && per_unit >= 0.5
        && (per_unit - per_unit.round()).abs() <= 1e-6 * per_unit.round()
}

fn symbol_spec(mut f: Fields) -> Result<SymbolSpec, ConfigError> {
    let positive = "a number > 0";
    let currency = |f: &mut Fields, key: &str| -> Result<String, ConfigError> {
        let value = f.string(key)?;
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(value)
        } else {
            Err(f.expected(key, "a three-letter currency code", &Value::String(value)))
        }
    };
    let spec = SymbolSpec {
        pip_size: f.number("pip_size", positive, |x| x > 0.0)?,
        tick_size: f.number("tick_size", UNIT_FRACTION, is_unit_fraction)?,
        contract_size: f.number("contract_size", positive, |x| x > 0.0)?,
        min_lot: f.number("min_lot", positive, |x| x > 0.0)?,
        lot_step: f.number("lot_step", UNIT_FRACTION, is_unit_fraction)?,
        max_lot: f.number("max_lot", positive, |x| x > 0.0)?,
        base_currency: currency(&mut f, "base_currency")?,
        quote_currency: currency(&mut f, "quote_currency")?,
    };
    if spec.max_lot < spec.min_lot {
        return Err(ConfigError::new(f.path_of("max_lot"), "expected a number >= min_lot"));
    }
    f.finish()?;
    Ok(spec)
}

fn execution_costs(mut f: Fields) -> Result<ExecutionCosts, ConfigError> {
    let non_negative = "a number >= 0";
    let commission_per_lot_side = f.number("commission_per_lot_side", non_negative, |x| x >= 0.0)?;
    let mut slip = f.object("slippage")?;
    let slippage = omega_types::Slippage {
        fixed_pips: slip.number("fixed_pips", non_negative, |x| x >= 0.0)?,
        random_pips: slip.number("random_pips", non_negative, |x| x >= 0.0)?,
    };
    slip.finish()?;
    f.finish()?;
    Ok(ExecutionCosts { commission_per_lot_side, slippage })
}

/// ENGINE §10: fixed lots must be on the lot grid (judged on the decimal value) and
/// inside `[min_lot, max_lot]`.
fn check_fixed_lots(lots: f64, spec: &SymbolSpec) -> Result<(), ConfigError> {
    let path = "strategy.params.sizing.lots";
    // On the grid when the value is a whole number of steps written as a decimal: with
    // `q` steps per lot, `n = round(lots * q)` steps and `n / q` is the very double of
    // that decimal (0.07 is 7 / 100; 0.069999999999 is not).
    let per_lot = round_half_away(1.0 / spec.lot_step);
    if round_half_away(lots * per_lot) / per_lot != lots {
        return Err(ConfigError::new(
            path,
            format!("expected a multiple of lot_step {}, got {lots}", spec.lot_step),
        ));
    }
    if lots < spec.min_lot - 1e-12 || lots > spec.max_lot + 1e-12 {
        return Err(ConfigError::new(
            path,
            format!("expected a size in [{}, {}] lots, got {lots}", spec.min_lot, spec.max_lot),
        ));
    }
    Ok(())
}

fn clock_minutes(text: &str, allow_24: bool) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if allow_24 => Some(1_440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn sessions(value: Option<Value>) -> Result<(Vec<Session>, Value), ConfigError> {
    let items = match value {
        None => return Ok((Vec::new(), json!([]))),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ConfigError::new(
                "sessions",
                format!("expected a list of {{start, end}}, got {}", describe(&other)),
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    let mut resolved = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let mut f = Fields::new(&format!("sessions[{i}]"), item)?;
        let mut read = |key: &str, allow_24: bool| -> Result<(u32, String), ConfigError> {
            let text = f.string(key)?;
            let expected =
                if allow_24 { "\"HH:MM\" from 00:00 to 24:00" } else { "\"HH:MM\" from 00:00 to 23:59" };
            clock_minutes(&text, allow_24)
                .map(|m| (m, text.clone()))
                .ok_or_else(|| f.expected(key, expected, &Value::String(text)))
        };
        let (start, start_text) = read("start", false)?;
        let (end, end_text) = read("end", true)?;
        f.finish()?;
        out.push(Session { start, end });
        resolved.push(json!({"start": start_text, "end": end_text}));
    }
    Ok((out, Value::Array(resolved)))
}

fn news(mut f: Fields) -> Result<NewsConfig, ConfigError> {
    let file = PathBuf::from(f.path("file", "a file path")?);
    let minutes_before = f.int("minutes_before", 0, 100_000)?;
    let minutes_after = f.int("minutes_after", 0, 100_000)?;
    let min_impact = match f.choice("min_impact", &["low", "medium", "high"], None)? {
        "low" => omega_data::Impact::Low,
        "medium" => omega_data::Impact::Medium,
        _ => omega_data::Impact::High,
    };
    f.finish()?;
    Ok(NewsConfig { file, minutes_before, minutes_after, min_impact })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_cover_the_contract_cases() {
        let day = Session { start: 420, end: 1_020 };
        assert!(day.contains(420) && day.contains(1_019) && !day.contains(1_020));
        let night = Session { start: 1_320, end: 120 };
        assert!(night.contains(1_339) && night.contains(0) && night.contains(119) && !night.contains(120));
        assert!(Session { start: 600, end: 600 }.contains(3));
        assert_eq!(clock_minutes("24:00", true), Some(1_440));
        assert_eq!(clock_minutes("24:00", false), None);
        assert_eq!(clock_minutes("7:00", true), None);
        assert_eq!(clock_minutes("23:60", true), None);
    }

    #[test]
    fn fixed_lots_are_on_the_grid_when_their_decimal_value_is() {
        let spec = SymbolSpec {
            pip_size: 0.0001,
            tick_size: 0.00001,
            contract_size: 100_000.0,
            min_lot: 0.01,
            lot_step: 0.01,
            max_lot: 100.0,
            base_currency: "EUR".into(),
            quote_currency: "USD".into(),
        };
        for lots in [0.01, 0.07, 0.29, 1.23, 7.0, 100.0] {
            assert!(check_fixed_lots(lots, &spec).is_ok(), "{lots}");
        }
        for lots in [0.015, 0.069_999_999_999, 0.070_000_000_000_01, 0.070_000_001] {
            assert!(check_fixed_lots(lots, &spec).is_err(), "{lots}");
        }
    }
}
