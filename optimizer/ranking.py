"""The leaderboard order (OPTIMIZER §4), the one order used everywhere.

``score desc, profit_net desc, max_drawdown asc, config_hash asc`` on the rounded metric
values (ENGINE §7 rounding); infeasible trials (a failed constraint) after feasible
ones; failed trials are not ranked. ``show``, ``replay --rank`` and every export call
:func:`rank_trials`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.metrics import is_feasible, rounded
from optimizer.storage import TrialRecord

__all__ = ["RankedTrial", "rank_key", "rank_trials"]


@dataclass(frozen=True)
class RankedTrial:
    """A completed trial with its 1-based rank and feasibility."""

    rank: int
    feasible: bool
    trial: TrialRecord


def _desc(value: float | None) -> tuple[bool, float]:
    return (value is None, -(value or 0.0))


def _asc(value: float | None) -> tuple[bool, float]:
    return (value is None, value or 0.0)


def rank_key(
    metrics: Mapping[str, Any], config_hash: str | None, feasible: bool
) -> tuple[Any, ...]:
    """Returns the sort key of one completed trial; smaller sorts first."""
    return (
        not feasible,
        _desc(rounded(metrics, "score")),
        _desc(rounded(metrics, "profit_net")),
        _asc(rounded(metrics, "max_drawdown")),
        config_hash or "",
    )


def rank_trials(
    trials: Iterable[TrialRecord], constraints: Mapping[str, float]
) -> list[RankedTrial]:
    """Returns the completed trials in leaderboard order with ranks 1, 2, ...

    Failed and unfinished trials are left out. Two trials with equal keys (the same
    config_hash and metrics) keep trial-number order.
    """
    done = [t for t in trials if t.state == "COMPLETE" and t.metrics is not None]
    keyed = []
    for trial in done:
        assert trial.metrics is not None
        feasible = is_feasible(trial.metrics, constraints)
        keyed.append(
            (rank_key(trial.metrics, trial.config_hash, feasible), trial.number, feasible, trial)
        )
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [RankedTrial(rank=i + 1, feasible=f, trial=t) for i, (_, _, f, t) in enumerate(keyed)]
