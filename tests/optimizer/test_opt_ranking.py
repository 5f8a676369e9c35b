"""OPTIMIZER §4: one test per tie-break level, feasibility, failures, rounding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optimizer.metrics import METRIC_KEYS, is_feasible, round_half_away
from optimizer.ranking import rank_trials
from optimizer.storage import TrialRecord


def trial(
    number: int,
    *,
    score: float = 1.0,
    profit_net: float = 100.0,
    max_drawdown: float = 50.0,
    config_hash: str = "h",
    trades: int = 30,
    state: str = "COMPLETE",
) -> TrialRecord:
    metrics: dict[str, Any] = dict.fromkeys(METRIC_KEYS, 0.0)
    metrics.update(score=score, profit_net=profit_net, max_drawdown=max_drawdown, trades=trades)
    return TrialRecord(
        number=number,
        batch=0,
        state=state,
        params={},
        sampler_attrs={},
        seed=number,
        config={},
        config_hash=config_hash,
        resolved_config=None,
        metrics=metrics if state == "COMPLETE" else None,
        objective_value=score,
        feasible=None,
        duration_s=None,
        engine_s=None,
        worker_pid=None,
        stats=None,
        error_category=None if state == "COMPLETE" else "crash",
        error_message=None,
        created_at=datetime(2024, 1, 1),
        finished_at=None,
    )


def order(trials: list[TrialRecord], constraints: dict[str, float] | None = None) -> list[int]:
    return [r.trial.number for r in rank_trials(trials, constraints or {})]


def test_score_descending_first() -> None:
    trials = [trial(0, score=0.5, profit_net=900), trial(1, score=2.0, profit_net=1)]
    assert order(trials) == [1, 0]


def test_profit_net_breaks_a_score_tie() -> None:
    trials = [trial(0, profit_net=10.0, max_drawdown=1), trial(1, profit_net=20.0, max_drawdown=99)]
    assert order(trials) == [1, 0]


def test_max_drawdown_ascending_breaks_a_profit_tie() -> None:
    trials = [
        trial(0, max_drawdown=60.0, config_hash="a"),
        trial(1, max_drawdown=40.0, config_hash="b"),
    ]
    assert order(trials) == [1, 0]


def test_config_hash_ascending_breaks_a_full_metric_tie() -> None:
    trials = [trial(0, config_hash="bb"), trial(1, config_hash="aa"), trial(2, config_hash="ab")]
    assert order(trials) == [1, 2, 0]


def test_ties_use_rounded_values() -> None:
    # 1.00004 and 1.00001 are both 1.0 at four decimals: profit_net decides.
    trials = [trial(0, score=1.00004, profit_net=5.0), trial(1, score=1.00001, profit_net=6.0)]
    assert order(trials) == [1, 0]
    # 100.004 and 100.001 are both 100.00 at two decimals: max_drawdown decides.
    trials = [
        trial(0, profit_net=100.004, max_drawdown=9.0),
        trial(1, profit_net=100.001, max_drawdown=8.0),
    ]
    assert order(trials) == [1, 0]


def test_infeasible_after_feasible_and_failed_not_ranked() -> None:
    trials = [
        trial(0, score=9.0, trades=5),
        trial(1, score=1.0, trades=40),
        trial(2, state="FAIL"),
        trial(3, state="RUNNING"),
        trial(4, score=3.0, trades=3),
    ]
    ranked = rank_trials(trials, {"min_trades": 20})
    assert [(r.rank, r.trial.number, r.feasible) for r in ranked] == [
        (1, 1, True),
        (2, 0, False),
        (3, 4, False),
    ]


def test_constraints_min_and_max() -> None:
    metrics = dict.fromkeys(METRIC_KEYS, 1.0) | {"trades": 20, "max_drawdown_pct": 12.0}
    assert is_feasible(metrics, {"min_trades": 20, "max_max_drawdown_pct": 12.0})
    assert not is_feasible(metrics, {"min_trades": 21})
    assert not is_feasible(metrics, {"max_max_drawdown_pct": 11.99})
    assert not is_feasible(metrics | {"sharpe": None}, {"min_sharpe": 0.0})


def test_round_half_away_from_zero() -> None:
    assert round_half_away(0.125, 2) == 0.13
    assert round_half_away(-0.125, 2) == -0.13
    assert round_half_away(-0.0001, 2) == 0.0
