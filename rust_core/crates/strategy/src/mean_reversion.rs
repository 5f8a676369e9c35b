//! Mean Reversion Z-Score: fade stretched moves of the mid close (ENGINE §3, §4).

use omega_indicators::{RollingZScore, WilderAtr, ema, window_zscore};
use omega_types::config::{ConfigError, Fields};
use omega_types::{Direction, NANOS_PER_DAY, OrderType};
use serde_json::{Value, json};

use crate::column::Column;
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
/// A z this close to a threshold is on it, and meets it (docs/engine-choices.md): z is
/// computed in floating point, so an exact tie (|z| = 1 in every window of two unequal
/// mids; z = 0 when the close is the window's mean) comes out a few ulps either side.
const Z_TIE: f64 = 1e-9;
/// A rolling z this close to a threshold is recomputed from its window before it is
/// compared: the rolling sums can drift by some 1e-9 on mids off the tick grid, far more
/// than [`Z_TIE`] and far less than this (docs/engine-choices.md).
const Z_RECHECK: f64 = 1e-6;
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

/// Per-bar signal flags, computed once per run.
const LONG_ENTRY: u8 = 1;
const SHORT_ENTRY: u8 = 1 << 1;
const LONG_EXIT: u8 = 1 << 2;
const SHORT_EXIT: u8 = 1 << 3;

/// Trend of the last complete D1 bar: close above (+1), below (-1) or at (0) its EMA.
type Trend = Option<i8>;

/// The strategy with its indicators computed once for the run.
///
/// One pass over the bars runs the z-score, ATR and D1 trend side by side and keeps only
/// what the loop asks for: the ATR column (for order distances) and one byte of flags
/// per bar (entry allowed long/short, exit signal long/short). Their buffers are
/// recycled for the next run on the same thread (see [`Column`]).
#[derive(Debug, Clone)]
pub struct MeanReversionZScore {
    params: MeanReversionParams,
    atr: Column<f64>,
    flags: Column<u8>,
}

impl MeanReversionZScore {
    /// Computes z-score, ATR, spread gate and D1 trend for every primary bar.
    ///
    /// # Errors
    /// [`StrategyError::MissingHtf`] when the trend filter is on and no D1 bars came.
    pub fn new(params: MeanReversionParams, market: &MarketInput<'_>) -> Result<Self, StrategyError> {
        let bars = market.timestamps.len();
        let _span = tracing::info_span!("indicators", bars).entered();
        let (bid, ask) = (market.bid, market.ask);
        let mut trend = match params.htf_filter {
            HtfFilter::None => None,
            HtfFilter::Trend => Some(D1Trend::new(market, params.htf_ema_length)?),
        };
        let first_entry_bar = (params.z_window - 1).max(params.atr_length - 1).max(params.warmup_bars);
        // Indicators use mid prices (ENGINE §1). Mids lie on a grid of half ticks, but one
        // mid price can be two neighbouring doubles (1.09902 as bid = ask, and as the mid
        // of 1.09901 / 1.09903): the z-score counts mid closes in half ticks, whole
        // numbers for closes on the tick grid, so its sums are exact; and a quarter tick
        // tells equal mids from different ones, so that a flat window has no z and a bar
        // that did not move no true range.
        let resolution = market.tick_size / 4.0;
        let half_ticks = mid_half_ticks(bid.close, ask.close, market.tick_size);
        let atr = {
            let mut wilder = WilderAtr::new(params.atr_length).with_resolution(resolution);
            let highs = bid.high.iter().zip(ask.high);
            let lows = bid.low.iter().zip(ask.low);
            let closes = bid.close.iter().zip(ask.close);
            Column::collect(highs.zip(lows).zip(closes).map(|(((bh, ah), (bl, al)), (bc, ac))| {
                wilder.push((bh + ah) / 2.0, (bl + al) / 2.0, (bc + ac) / 2.0).unwrap_or(f64::NAN)
            }))
        };
        // Most bars have no stretched z: the cheap test comes first, the gates only after it.
        let entry_gates_pass = |k: usize, direction: Direction, trend: &mut Option<D1Trend<'_>>| {
            // ENGINE §10: `ATR_k == 0` skips the signal.
            let spread_ok = params.max_spread_pips.is_none_or(|limit| {
                (ask.close[k] - bid.close[k]) / market.pip_size <= limit + SPREAD_TOLERANCE_PIPS
            });
            k >= first_entry_bar
                && atr[k] > 0.0
                && spread_ok
                && allowed(
                    &params,
                    direction,
                    trend.as_mut().map(|t| t.at(market.timestamps[k] + market.bar_duration_ns)),
                )
        };
        let mut flags = Column::with_capacity(bars);
        let window = params.z_window;
        let near_threshold = |z: f64| {
            let size = z.abs();
            (size - params.z_entry).abs() < Z_RECHECK
                || params.z_exit.is_some_and(|z_exit| (size - z_exit).abs() < Z_RECHECK)
        };
        for (k, z) in RollingZScore::new(&half_ticks, window).with_resolution(0.5).enumerate() {
            // No z (warm-up or a flat window): no signal of any kind.
            let Some(mut z) = z else {
                flags.push(0);
                continue;
            };
            if near_threshold(z) {
                z = window_zscore(&half_ticks[k + 1 - window..=k]).unwrap_or(z);
            }
            // The sign of z is a coin toss from bar to bar: set the exit bits without a branch.
            let mut f = params.z_exit.map_or(0, |z_exit| {
                (u8::from(z >= -z_exit - Z_TIE) * LONG_EXIT) | (u8::from(z <= z_exit + Z_TIE) * SHORT_EXIT)
            });
            let stretched = if z <= -params.z_entry + Z_TIE {
                Some((Direction::Long, LONG_ENTRY))
            } else if z >= params.z_entry - Z_TIE {
                Some((Direction::Short, SHORT_ENTRY))
            } else {
                None
            };
            if let Some((direction, bit)) = stretched
                && entry_gates_pass(k, direction, &mut trend)
            {
                f |= bit;
            }
            flags.push(f);
        }
        Ok(Self { params, atr, flags })
    }
}

/// Returns the mid closes counted in half ticks, `bid * q + ask * q` with `q` ticks per
/// unit, each term a whole number when it is within 1e-6 of one (a price on the tick
/// grid; far above the rounding of a decimal price, far below a digit more). Prices are
/// positive (validated at load), so adding 0.5 and truncating rounds them, without a call
/// to the C library's `round`.
fn mid_half_ticks(bid: &[f64], ask: &[f64], tick_size: f64) -> Column<f64> {
    let per_unit = (1.0 / tick_size).round();
    let ticks = |price: f64| {
        let exact = price * per_unit;
        let whole = (exact + 0.5) as i64 as f64;
        if (exact - whole).abs() <= 1e-6 { whole } else { exact }
    };
    Column::collect(bid.iter().zip(ask).map(|(b, a)| ticks(*b) + ticks(*a)))
}

/// Direction and D1 trend gates of one entry (ENGINE §4).
fn allowed(params: &MeanReversionParams, direction: Direction, trend: Option<Trend>) -> bool {
    if params.direction.is_some_and(|only| only != direction) {
        return false;
    }
    match trend {
        None => true,
        Some(None) => false,
        Some(Some(t)) => t == direction.sign() as i8,
    }
}

/// The D1 trend filter, walked forward with the primary bars' decision times.
struct D1Trend<'a> {
    open_times: &'a [i64],
    close: Vec<f64>,
    ema: Vec<f64>,
    complete: usize,
}

impl<'a> D1Trend<'a> {
    fn new(market: &MarketInput<'a>, ema_length: usize) -> Result<Self, StrategyError> {
        let (open_times, bid, ask) = market.htf.ok_or(StrategyError::MissingHtf)?;
        let close: Vec<f64> = bid.close.iter().zip(ask.close).map(|(b, a)| (b + a) / 2.0).collect();
        let ema = ema(&close, ema_length);
        Ok(Self { open_times, close, ema, complete: 0 })
    }

    /// Returns the trend of the last D1 bar complete at `decision` (ENGINE §2: a D1 bar
    /// is usable only when `open + 1 day <= decision`); decision times must not decrease.
    fn at(&mut self, decision: i64) -> Trend {
        while self.complete < self.open_times.len()
            && self.open_times[self.complete] + NANOS_PER_DAY <= decision
        {
            self.complete += 1;
        }
        let j = self.complete.checked_sub(1)?;
        // ENGINE §10: compare a D1 close with the EMA at that same D1 bar.
        let (close, level) = (self.close[j], self.ema[j]);
        (!level.is_nan()).then(|| (close > level) as i8 - (close < level) as i8)
    }
}

impl Strategy for MeanReversionZScore {
    fn entry_signal(&self, k: usize) -> Option<EntrySignal> {
        let direction = match self.flags[k] & (LONG_ENTRY | SHORT_ENTRY) {
            0 => return None,
            LONG_ENTRY => Direction::Long,
            _ => Direction::Short,
        };
        let (p, atr) = (&self.params, self.atr[k]);
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
        let bit = match direction {
            Direction::Long => LONG_EXIT,
            Direction::Short => SHORT_EXIT,
        };
        self.flags[k] & bit != 0
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
            tick_size: 0.00001,
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
        let d1_times = [0, day, 2 * day];
        // D1 mid closes 1.00005, 1.10005, 1.20005.
        let d1 = flat_side(&[1.0, 1.1, 1.2], 0.0);
        let d1_ask = flat_side(&[1.0, 1.1, 1.2], 0.0001);
        let times = [day - 300_000_000_000, day, 2 * day - 300_000_000_000];
        let bid = flat_side(&[1.1, 1.1, 1.1], 0.0);
        let ask = flat_side(&[1.1, 1.1, 1.1], 0.0001);
        let market = MarketInput {
            timestamps: &times,
            bar_duration_ns: 300_000_000_000,
            bid: bid.view(0..3),
            ask: ask.view(0..3),
            htf: Some((&d1_times, d1.view(0..3), d1_ask.view(0..3))),
            pip_size: 0.0001,
            tick_size: 0.00001,
        };
        let mut trend = D1Trend::new(&market, 2).expect("d1");
        // Bar 0 closes exactly when D1 bar 0 completes, but EMA(2) needs two D1 bars.
        assert_eq!(trend.at(day), None);
        // Bar 1 decides at day + 5 min: still only D1 bar 0 complete.
        assert_eq!(trend.at(day + 300_000_000_000), None);
        // Bar 2 decides at 2 days: D1 bar 1 complete; EMA(2) = mean(1.00005, 1.10005) < 1.10005.
        assert_eq!(trend.at(2 * day), Some(1));
        assert!(matches!(
            MeanReversionZScore::new(
                params(json!({"htf_filter": "trend"})),
                &MarketInput { htf: None, ..market }
            ),
            Err(StrategyError::MissingHtf)
        ));
    }
}
