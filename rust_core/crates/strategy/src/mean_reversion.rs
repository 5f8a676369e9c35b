//! Mean Reversion Z-Score: fade stretched moves of the mid close (ENGINE §3, §4).

use omega_indicators::{ema, rolling_zscore, wilder_atr};
use omega_types::config::{ConfigError, Fields};
use omega_types::{Direction, NANOS_PER_DAY, OhlcView, OrderType};
use serde_json::{Value, json};

use crate::{EntrySignal, MarketInput, Sizing, Strategy, StrategyError};

/// Which side a higher-timeframe filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtfFilter {
    /// No filter.
    None,
    /// Long only above the D1 EMA, short only below it.
    Trend,
}

/// The parameters of `mean_reversion_z_score` (ENGINE §4, defaults from §10).
#[derive(Debug, Clone, PartialEq)]
pub struct MeanReversionParams {
    /// Window of the rolling z-score (>= 2).
    pub z_window: usize,
    /// Entry threshold (> 0).
    pub z_entry: f64,
    /// Exit threshold (>= 0), or no signal exit.
    pub z_exit: Option<f64>,
    /// ATR length (>= 1).
    pub atr_length: usize,
    /// Stop-loss distance in ATRs (> 0).
    pub sl_atr: f64,
    /// Take-profit distance in ATRs (> 0).
    pub tp_atr: f64,
    /// Market, limit or stop entries.
    pub entry_order: OrderType,
    /// Limit/stop offset from the close in ATRs (>= 0).
    pub entry_offset_atr: f64,
    /// Bars a pending order stays live (>= 1).
    pub order_ttl_bars: usize,
    /// Allowed directions: `None` means both.
    pub direction: Option<Direction>,
    /// Cap on positions + pending orders + queued entries (>= 1).
    pub max_positions: usize,
    /// Higher-timeframe filter.
    pub htf_filter: HtfFilter,
    /// D1 EMA length (>= 1).
    pub htf_ema_length: usize,
    /// Largest spread (pips) at which an entry is allowed, or no limit.
    pub max_spread_pips: Option<f64>,
    /// Bars to wait before the first entry.
    pub warmup_bars: usize,
    /// Position sizing.
    pub sizing: Sizing,
}

/// Default D1 EMA length when `htf_ema_length` is absent (the contract names none).
const DEFAULT_HTF_EMA_LENGTH: i64 = 20;
/// Spreads are compared with this tolerance in pips (docs/engine-choices.md).
const SPREAD_TOLERANCE_PIPS: f64 = 1e-9;
const MAX_COUNT: i64 = i64::MAX;

impl MeanReversionParams {
    /// Parses `strategy.params`.
    ///
    /// # Errors
    /// Naming the field path and the expectation of the first problem.
    pub fn parse(mut f: Fields) -> Result<Self, ConfigError> {
        let positive = "a number > 0";
        let non_negative = "a number >= 0";
        let z_window = f.int("z_window", 2, MAX_COUNT)? as usize;
        let z_entry = f.number("z_entry", positive, |x| x > 0.0)?;
        let z_exit = f.number_opt("z_exit", "a number >= 0 or null", |x| x >= 0.0)?;
        let atr_length = f.int("atr_length", 1, MAX_COUNT)? as usize;
        let sl_atr = f.number("sl_atr", positive, |x| x > 0.0)?;
        let tp_atr = f.number("tp_atr", positive, |x| x > 0.0)?;
        let entry_order = match f.choice("entry_order", &["market", "limit", "stop"], Some("market"))? {
            "limit" => OrderType::Limit,
            "stop" => OrderType::Stop,
            _ => OrderType::Market,
        };
        let entry_offset_atr = f.number_opt("entry_offset_atr", non_negative, |x| x >= 0.0)?.unwrap_or(0.0);
        let order_ttl_bars = f.int_or("order_ttl_bars", 1, MAX_COUNT, 1)? as usize;
        let direction = match f.choice("direction", &["long", "short", "both"], Some("both"))? {
            "long" => Some(Direction::Long),
            "short" => Some(Direction::Short),
            _ => None,
        };
        let max_positions = f.int_or("max_positions", 1, 1_000, 1)? as usize;
        let htf_filter = match f.choice("htf_filter", &["none", "trend"], Some("none"))? {
            "trend" => HtfFilter::Trend,
            _ => HtfFilter::None,
        };
        let htf_ema_length = f.int_or("htf_ema_length", 1, MAX_COUNT, DEFAULT_HTF_EMA_LENGTH)? as usize;
        let max_spread_pips = f.number_opt("max_spread_pips", "a number >= 0 or null", |x| x >= 0.0)?;
        let warmup_bars = f.int_or("warmup_bars", 0, i64::from(u32::MAX), 0)? as usize;
        let sizing = Sizing::parse(f.object("sizing")?)?;
        f.finish()?;
        Ok(Self {
            z_window,
            z_entry,
            z_exit,
            atr_length,
            sl_atr,
            tp_atr,
            entry_order,
            entry_offset_atr,
            order_ttl_bars,
            direction,
            max_positions,
            htf_filter,
            htf_ema_length,
            max_spread_pips,
            warmup_bars,
            sizing,
        })
    }

    /// Returns the resolved `params` object with every default filled in.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "z_window": self.z_window,
            "z_entry": self.z_entry,
            "z_exit": self.z_exit,
            "atr_length": self.atr_length,
            "sl_atr": self.sl_atr,
            "tp_atr": self.tp_atr,
            "entry_order": match self.entry_order {
                OrderType::Market => "market",
                OrderType::Limit => "limit",
                OrderType::Stop => "stop",
            },
            "entry_offset_atr": self.entry_offset_atr,
            "order_ttl_bars": self.order_ttl_bars,
            "direction": match self.direction {
                Some(Direction::Long) => "long",
                Some(Direction::Short) => "short",
                None => "both",
            },
            "max_positions": self.max_positions,
            "htf_filter": match self.htf_filter { HtfFilter::None => "none", HtfFilter::Trend => "trend" },
            "htf_ema_length": self.htf_ema_length,
            "max_spread_pips": self.max_spread_pips,
            "warmup_bars": self.warmup_bars,
            "sizing": self.sizing.to_json(),
        })
    }

    /// Returns true when the D1 trend filter is on.
    #[must_use]
    pub fn needs_htf(&self) -> bool {
        self.htf_filter == HtfFilter::Trend
    }
}

/// Trend state of the last complete D1 bar at a primary bar's decision time.
const TREND_UNDEFINED: i8 = i8::MIN;

/// The strategy with its indicator columns computed once for the run.
#[derive(Debug, Clone)]
pub struct MeanReversionZScore {
    params: MeanReversionParams,
    z: Vec<f64>,
    atr: Vec<f64>,
    /// Per primary bar: +1 close above EMA, -1 below, 0 equal, `TREND_UNDEFINED` unknown.
    trend: Vec<i8>,
    spread_ok: Vec<bool>,
    first_entry_bar: usize,
}

impl MeanReversionZScore {
    /// Computes z-score, ATR, spread gate and D1 trend for every primary bar.
    ///
    /// # Errors
    /// [`StrategyError::MissingHtf`] when the trend filter is on and no D1 bars came.
    pub fn new(params: MeanReversionParams, market: &MarketInput<'_>) -> Result<Self, StrategyError> {
        let _span = tracing::info_span!("indicators", bars = market.timestamps.len()).entered();
        let mid = OhlcView::mid(market.bid, market.ask);
        let z = rolling_zscore(&mid.close, params.z_window);
        let atr = wilder_atr(&mid.high, &mid.low, &mid.close, params.atr_length);
        let spread_ok = match params.max_spread_pips {
            None => vec![true; market.timestamps.len()],
            Some(limit) => market
                .ask
                .close
                .iter()
                .zip(market.bid.close)
                .map(|(a, b)| (a - b) / market.pip_size <= limit + SPREAD_TOLERANCE_PIPS)
                .collect(),
        };
        let trend = match params.htf_filter {
            HtfFilter::None => Vec::new(),
            HtfFilter::Trend => {
                let (htf_times, htf_bid, htf_ask) = market.htf.ok_or(StrategyError::MissingHtf)?;
                trend_per_bar(
                    market,
                    htf_times,
                    &OhlcView::mid(htf_bid, htf_ask).close,
                    params.htf_ema_length,
                )
            }
        };
        let first_entry_bar = (params.z_window - 1).max(params.atr_length - 1).max(params.warmup_bars);
        Ok(Self { params, z, atr, trend, spread_ok, first_entry_bar })
    }
}

/// ENGINE §2: a D1 bar is usable at decision time `T` only when `open + 1 day <= T`.
fn trend_per_bar(
    market: &MarketInput<'_>,
    htf_times: &[i64],
    htf_close: &[f64],
    ema_length: usize,
) -> Vec<i8> {
    let htf_ema = ema(htf_close, ema_length);
    let mut complete = 0; // number of D1 bars complete so far
    market
        .timestamps
        .iter()
        .map(|&t| {
            let decision = t + market.bar_duration_ns;
            while complete < htf_times.len() && htf_times[complete] + NANOS_PER_DAY <= decision {
                complete += 1;
            }
            let Some(j) = complete.checked_sub(1) else { return TREND_UNDEFINED };
            // ENGINE §10: compare a D1 close with the EMA at that same D1 bar.
            let (close, level) = (htf_close[j], htf_ema[j]);
            if level.is_nan() {
                TREND_UNDEFINED
            } else if close > level {
                1
            } else if close < level {
                -1
            } else {
                0
            }
        })
        .collect()
}

impl Strategy for MeanReversionZScore {
    fn entry_signal(&self, k: usize) -> Option<EntrySignal> {
        if k < self.first_entry_bar || !self.spread_ok[k] {
            return None;
        }
        let (z, atr) = (self.z[k], self.atr[k]);
        // ENGINE §10: `ATR_k == 0` skips the signal; NaN z means std == 0.
        if z.is_nan() || atr.is_nan() || atr == 0.0 {
            return None;
        }
        let p = &self.params;
        let direction = if z <= -p.z_entry {
            Direction::Long
        } else if z >= p.z_entry {
            Direction::Short
        } else {
            return None;
        };
        if p.direction.is_some_and(|allowed| allowed != direction) {
            return None;
        }
        if p.htf_filter == HtfFilter::Trend {
            let wanted = match direction {
                Direction::Long => 1,
                Direction::Short => -1,
            };
            if self.trend[k] != wanted {
                return None;
            }
        }
        Some(EntrySignal {
            direction,
            order_type: p.entry_order,
            offset: p.entry_offset_atr * atr,
            sl_distance: p.sl_atr * atr,
            tp_distance: p.tp_atr * atr,
            ttl_bars: p.order_ttl_bars,
        })
    }

    fn exit_signal(&self, k: usize, direction: Direction) -> bool {
        let (Some(z_exit), z) = (self.params.z_exit, self.z[k]) else { return false };
        match direction {
            _ if z.is_nan() => false,
            Direction::Long => z >= -z_exit,
            Direction::Short => z <= z_exit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: Value) -> MeanReversionParams {
        let mut base = json!({
            "z_window": 3, "z_entry": 1.0, "atr_length": 1, "sl_atr": 1.0, "tp_atr": 2.0,
            "sizing": {"mode": "fixed_lots", "lots": 1.0}
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        MeanReversionParams::parse(Fields::new("strategy.params", base).expect("object")).expect("valid")
    }

    use omega_types::Ohlc;

    fn flat_side(closes: &[f64], spread: f64) -> Ohlc {
        Ohlc {
            open: closes.iter().map(|c| c + spread).collect(),
            high: closes.iter().map(|c| c + spread + 0.0005).collect(),
            low: closes.iter().map(|c| c + spread - 0.0005).collect(),
            close: closes.iter().map(|c| c + spread).collect(),
        }
    }

    #[test]
    fn defaults_fill_the_resolved_params() {
        let p = params(json!({}));
        let resolved = p.to_json();
        assert_eq!(resolved["entry_order"], "market");
        assert_eq!(resolved["order_ttl_bars"], 1);
        assert_eq!(resolved["direction"], "both");
        assert_eq!(resolved["htf_filter"], "none");
        assert_eq!(resolved["z_exit"], Value::Null);
        assert_eq!(MeanReversionParams::parse(Fields::new("strategy.params", resolved).expect("o")), Ok(p));
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = MeanReversionParams::parse(
            Fields::new("strategy.params", json!({"z_window": 1})).expect("object"),
        )
        .expect_err("invalid");
        assert_eq!(err.to_string(), "strategy.params.z_window: expected an integer >= 2, got 1");
        let err = MeanReversionParams::parse(
            Fields::new(
                "strategy.params",
                json!({"z_window": 3, "z_entry": 1.0, "atr_length": 1, "sl_atr": 1.0, "tp_atr": 2.0,
                       "sizing": {"mode": "fixed_lots", "lots": 1.0}, "z_entyr": 2}),
            )
            .expect("object"),
        )
        .expect_err("typo");
        assert_eq!(err.to_string(), "strategy.params.z_entyr: unknown key");
    }

    #[test]
    fn signals_follow_the_z_score_and_the_spread_gate() {
        let closes = [1.1, 1.1, 1.1, 1.09, 1.1, 1.1, 1.12];
        let bid = flat_side(&closes, 0.0);
        let ask = flat_side(&closes, 0.0003);
        let times: Vec<i64> = (0..closes.len() as i64).map(|i| i * 300_000_000_000).collect();
        let market = MarketInput {
            timestamps: &times,
            bar_duration_ns: 300_000_000_000,
            bid: bid.view(0..closes.len()),
            ask: ask.view(0..closes.len()),
            htf: None,
            pip_size: 0.0001,
        };
        let s = MeanReversionZScore::new(params(json!({"z_exit": 0.0, "max_spread_pips": 3.0})), &market)
            .expect("built");
        assert_eq!(s.entry_signal(2), None, "flat window: z undefined");
        let long = s.entry_signal(3).expect("z = -1.41 <= -1");
        assert_eq!(long.direction, Direction::Long);
        assert_eq!(s.entry_signal(6).map(|e| e.direction), Some(Direction::Short));
        assert!(s.exit_signal(4, Direction::Long));
        let tight =
            MeanReversionZScore::new(params(json!({"max_spread_pips": 2.9})), &market).expect("built");
        assert_eq!(tight.entry_signal(3), None, "3-pip spread above a 2.9-pip limit");
    }

    #[test]
    fn trend_filter_uses_only_complete_d1_bars() {
        let day = NANOS_PER_DAY;
        // D1 closes rise, so the last complete bar closes above its EMA(1)? EMA(1) = close.
        let d1_times = [0, day, 2 * day];
        let d1 = flat_side(&[1.0, 1.1, 1.2], 0.0);
        let ask = flat_side(&[1.0, 1.1, 1.2], 0.0001);
        let times = [day - 300_000_000_000, day, 2 * day - 300_000_000_000];
        let bid = flat_side(&[1.1, 1.1, 1.1], 0.0);
        let ask_primary = flat_side(&[1.1, 1.1, 1.1], 0.0001);
        let market = MarketInput {
            timestamps: &times,
            bar_duration_ns: 300_000_000_000,
            bid: bid.view(0..3),
            ask: ask_primary.view(0..3),
            htf: Some((&d1_times, d1.view(0..3), ask.view(0..3))),
            pip_size: 0.0001,
        };
        let trend = trend_per_bar(&market, &d1_times, &OhlcView::mid(d1.view(0..3), ask.view(0..3)).close, 2);
        // Bar 0 closes exactly at the end of D1 bar 0: bar 0 is complete but EMA(2) is not defined.
        assert_eq!(trend[0], TREND_UNDEFINED);
        // Bar 1 (decision at day + 5 min): D1 bar 0 complete only. EMA(2) still undefined.
        assert_eq!(trend[1], TREND_UNDEFINED);
        // Bar 2 closes at 2 days: D1 bar 1 is complete; EMA(2) at 1 = mean(1.0, 1.1) < 1.1.
        assert_eq!(trend[2], 1);
    }
}
