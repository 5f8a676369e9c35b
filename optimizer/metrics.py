"""The engine's metrics (ENGINE §7): names, output rounding and constraint checks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "INT_METRICS",
    "METRIC_DECIMALS",
    "METRIC_KEYS",
    "is_feasible",
    "round_half_away",
    "rounded",
]

#: Every metric of ENGINE §7, in the order of the contract.
METRIC_KEYS: tuple[str, ...] = (
    "trades",
    "wins",
    "losses",
    "winrate",
    "profit_gross",
    "fees_total",
    "profit_net",
    "max_drawdown",
    "max_drawdown_pct",
    "max_drawdown_initial_pct",
    "avg_r_multiple",
    "total_lots",
    "profit_factor",
    "sharpe",
    "score",
)

#: The metrics that are counts.
INT_METRICS: frozenset[str] = frozenset({"trades", "wins", "losses"})

#: Output decimals per metric (ENGINE §7: money and lots 2, percentages 2, ratios 4).
METRIC_DECIMALS: dict[str, int] = {
    "winrate": 4,
    "profit_gross": 2,
    "fees_total": 2,
    "profit_net": 2,
    "max_drawdown": 2,
    "max_drawdown_pct": 2,
    "max_drawdown_initial_pct": 2,
    "avg_r_multiple": 4,
    "total_lots": 2,
    "profit_factor": 4,
    "sharpe": 4,
    "score": 4,
}


def round_half_away(value: float, decimals: int) -> float:
    """Rounds half away from zero as ENGINE §10 does: ``sign(x)*floor(|x|*10^d+0.5)/10^d``."""
    scale = 10.0**decimals
    result = math.copysign(math.floor(abs(value) * scale + 0.5) / scale, value)
    return result + 0.0  # -0.0 -> 0.0


def rounded(metrics: Mapping[str, Any], key: str) -> float | None:
    """Returns metric ``key`` rounded as the engine writes it, or None when it is null."""
    value = metrics.get(key)
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return round_half_away(value, METRIC_DECIMALS.get(key, 0))


def is_feasible(metrics: Mapping[str, Any], constraints: Mapping[str, float]) -> bool:
    """Tells whether ``metrics`` meet every ``min_<metric>``/``max_<metric>`` constraint.

    A null metric never meets a constraint on it.
    """
    for key, bound in constraints.items():
        value = rounded(metrics, key[4:])
        if value is None:
            return False
        if key.startswith("min_") and value < bound:
            return False
        if key.startswith("max_") and value > bound:
            return False
    return True
