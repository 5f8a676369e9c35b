//! Strategy configs by name: parsing with field paths, resolved JSON, and building.

use omega_types::config::{ConfigError, Fields};
use serde_json::{Value, json};

use crate::{MarketInput, MeanReversionParams, MeanReversionZScore, Strategy, StrategyError};

/// How a position is sized (`strategy.params.sizing`, ENGINE §6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizing {
    /// A fixed number of lots.
    FixedLots(f64),
    /// Risk this percentage of equity between entry and stop-loss.
    RiskPct(f64),
}

impl Sizing {
    /// Parses `{mode: fixed_lots, lots}` or `{mode: risk_pct, risk_pct}`.
    ///
    /// # Errors
    /// Naming the field when a mode or value is wrong or a key unknown.
    pub fn parse(mut fields: Fields) -> Result<Self, ConfigError> {
        let sizing = match fields.choice("mode", &["fixed_lots", "risk_pct"], None)? {
            "fixed_lots" => Sizing::FixedLots(fields.number("lots", "a number > 0", |x| x > 0.0)?),
            _ => {
                Sizing::RiskPct(fields.number("risk_pct", "a number in (0, 100]", |x| x > 0.0 && x <= 100.0)?)
            }
        };
        fields.finish()?;
        Ok(sizing)
    }

    /// Returns the resolved JSON form.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Sizing::FixedLots(lots) => json!({"mode": "fixed_lots", "lots": lots}),
            Sizing::RiskPct(pct) => json!({"mode": "risk_pct", "risk_pct": pct}),
        }
    }
}

/// A parsed `strategy` section: the name and its typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyConfig {
    /// `mean_reversion_z_score`.
    MeanReversionZScore(MeanReversionParams),
}

impl StrategyConfig {
    /// The strategy names this engine knows.
    pub const NAMES: [&'static str; 1] = ["mean_reversion_z_score"];

    /// Parses the `strategy` object (`{name, params}`) found at `path`.
    ///
    /// # Errors
    /// Naming the field path of the first problem.
    pub fn parse(mut fields: Fields) -> Result<Self, ConfigError> {
        // `choice` rejects every name but the known ones; with one strategy so far,
        // every accepted name is the mean-reversion one.
        fields.choice("name", &Self::NAMES, None)?;
        let params = fields.object("params")?;
        fields.finish()?;
        Ok(StrategyConfig::MeanReversionZScore(MeanReversionParams::parse(params)?))
    }

    /// Returns the resolved `strategy` object with every default filled in.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            StrategyConfig::MeanReversionZScore(p) => {
                json!({"name": "mean_reversion_z_score", "params": p.to_json()})
            }
        }
    }

    /// Returns true when the strategy reads D1 bars.
    #[must_use]
    pub fn needs_htf(&self) -> bool {
        match self {
            StrategyConfig::MeanReversionZScore(p) => p.needs_htf(),
        }
    }

    /// Returns the position sizing rule.
    #[must_use]
    pub fn sizing(&self) -> Sizing {
        match self {
            StrategyConfig::MeanReversionZScore(p) => p.sizing,
        }
    }

    /// Returns the cap on open positions + pending orders + queued entries.
    #[must_use]
    pub fn max_positions(&self) -> usize {
        match self {
            StrategyConfig::MeanReversionZScore(p) => p.max_positions,
        }
    }

    /// Computes the indicators and returns the ready strategy.
    ///
    /// # Errors
    /// When the market input lacks what the strategy needs.
    pub fn build(&self, market: &MarketInput<'_>) -> Result<Box<dyn Strategy>, StrategyError> {
        match self {
            StrategyConfig::MeanReversionZScore(p) => {
                Ok(Box::new(MeanReversionZScore::new(p.clone(), market)?))
            }
        }
    }
}
