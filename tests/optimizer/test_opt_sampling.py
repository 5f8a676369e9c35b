"""The sampler state is a pure function of (study seed, batch index, told history)."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from optimizer.sampling import ask_batch
from optimizer.search_space import ParamSpec
from optimizer.study_file import SamplerSpec

SPACE = (
    ParamSpec(path="a", type="int", low=1, high=50, step=1),
    ParamSpec(path="b", type="float", low=0.0, high=2.0, step=0.1),
    ParamSpec(path="c", type="float", low=0.01, high=10.0, log=True),
    ParamSpec(path="d", type="categorical", choices=("x", "y", "z")),
)
GRID_SPACE = (
    ParamSpec(path="a", type="int", low=1, high=5, step=1),
    ParamSpec(path="d", type="categorical", choices=("x", "y")),
)
SAMPLERS: list[tuple[str, dict[str, Any]]] = [
    ("tpe", {"n_startup_trials": 4}),
    ("random", {}),
    ("grid", {}),
    ("cmaes", {"n_startup_trials": 2, "popsize": 4}),
    ("nsga2", {"population_size": 4}),
]


def _space(name: str) -> tuple[ParamSpec, ...]:
    return GRID_SPACE if name == "grid" else SPACE


def _objective(params: dict[str, Any]) -> float:
    return -abs(params["a"] - 3) + (1.0 if params["d"] == "y" else 0.0) + params.get("b", 0.0)


def _run(name: str, options: dict[str, Any], batches: int, size: int) -> list[dict[str, Any]]:
    """Asks and tells ``batches`` batches the way the driver does; returns every param set."""
    history: list[optuna.trial.FrozenTrial] = []
    asked_all: list[dict[str, Any]] = []
    space = _space(name)
    distributions = {p.path: p.distribution() for p in space}
    for batch in range(batches):
        asked = ask_batch(
            sampler=SamplerSpec(name, options),
            space=space,
            direction="maximize",
            history=history,
            study_seed=1000,
            batch=batch,
            size=size,
        )
        assert [a.number for a in asked] == list(range(batch * size, (batch + 1) * size))
        for a in asked:
            asked_all.append(a.params)
            failed = a.number % 5 == 4
            history.append(
                optuna.trial.create_trial(
                    state=TrialState.FAIL if failed else TrialState.COMPLETE,
                    value=None if failed else _objective(a.params),
                    params=a.params,
                    distributions=distributions,
                    system_attrs=a.sampler_attrs,
                )
            )
    return asked_all


@pytest.mark.parametrize(("name", "options"), SAMPLERS)
def test_each_sampler_is_reproducible(name: str, options: dict[str, Any]) -> None:
    size = 2
    batches = 5
    first = _run(name, options, batches, size)
    assert first == _run(name, options, batches, size)
    assert len(first) == batches * size
    if name == "grid":
        assert len({tuple(sorted(p.items())) for p in first}) == len(first)


def test_a_short_batch_asks_a_prefix_of_the_full_batch() -> None:
    # Extending --trials later must give the trials an uninterrupted run would have.
    common: dict[str, Any] = {
        "sampler": SamplerSpec("tpe", {"n_startup_trials": 1}),
        "space": SPACE,
        "direction": "maximize",
        "history": [],
        "study_seed": 5,
        "batch": 0,
    }
    full = ask_batch(size=6, **common)
    short = ask_batch(size=2, **common)
    assert [a.params for a in short] == [a.params for a in full[:2]]


def test_the_seed_and_history_matter() -> None:
    common: dict[str, Any] = {
        "sampler": SamplerSpec("random", {}),
        "space": SPACE,
        "direction": "maximize",
        "history": [],
        "size": 3,
    }
    one = [a.params for a in ask_batch(study_seed=1, batch=0, **common)]
    assert one != [a.params for a in ask_batch(study_seed=2, batch=0, **common)]
    assert one != [a.params for a in ask_batch(study_seed=1, batch=1, **common)]
