//! Symbol specifications and trading costs (ENGINE §0).

use serde::{Deserialize, Serialize};

/// The contract specification of one symbol, as read from `symbol_specs.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolSpec {
    /// Size of one pip in price units (0.0001 for EURUSD).
    pub pip_size: f64,
    /// Smallest price step (0.00001 for EURUSD).
    pub tick_size: f64,
    /// Units of the base currency in one lot.
    pub contract_size: f64,
    /// Smallest tradable size in lots.
    pub min_lot: f64,
    /// Lot size granularity.
    pub lot_step: f64,
    /// Largest tradable size in lots.
    pub max_lot: f64,
    /// Base currency (three letters).
    pub base_currency: String,
    /// Quote currency (three letters); the account currency of a run.
    pub quote_currency: String,
}

/// Slippage in pips: `fixed_pips + u * random_pips`, `u` in `[0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slippage {
    /// Slippage always applied, in pips.
    pub fixed_pips: f64,
    /// Upper bound of the random part, in pips.
    pub random_pips: f64,
}

/// The trading costs of one symbol, as read from `execution_costs.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionCosts {
    /// Commission per lot and side, in the account currency.
    pub commission_per_lot_side: f64,
    /// Slippage applied to slipped fills.
    pub slippage: Slippage,
}
