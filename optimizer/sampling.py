"""Asks a batch of trials from a sampler whose state is a pure function of its inputs.

OPTIMIZER §3: the driver owns sampling. For batch ``b`` a fresh in-memory Optuna study
receives the told history (every finished trial numbered below the batch, in number
order, with the sampler's system attributes) and a fresh sampler seeded with
``sampler_seed(study.seed, b)``; then the batch's trials are asked one after another.
Nothing depends on timing or on how many workers evaluate the batch, and a resumed
sweep asks exactly the same trials as an uninterrupted one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from optimizer.samplers import make_sampler
from optimizer.search_space import ParamSpec
from optimizer.seeds import sampler_seed
from optimizer.study_file import SamplerSpec

__all__ = ["AskedTrial", "ask_batch"]


@dataclass(frozen=True)
class AskedTrial:
    """One asked trial: its number, parameters and the sampler's system attributes."""

    number: int
    params: dict[str, Any]
    sampler_attrs: dict[str, Any]


def ask_batch(
    *,
    sampler: SamplerSpec,
    space: Sequence[ParamSpec],
    direction: str,
    history: Sequence[FrozenTrial],
    study_seed: int | None,
    batch: int,
    size: int,
) -> list[AskedTrial]:
    """Returns the ``size`` trials of batch ``batch``, asked after ``history``.

    The sampler is seeded with ``sampler_seed(study_seed, batch)``, except the grid
    sampler: its seed only shuffles the grid, and grid point ``k`` must mean the same
    parameters in every batch, so it takes ``sampler_seed(study_seed, 0)`` throughout.
    Without a study seed (prod) the sampler is unseeded.
    """
    seed: int | None = None
    if study_seed is not None:
        seed = sampler_seed(study_seed, 0 if sampler.name == "grid" else batch)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study in memory" lines
    try:
        return _ask(sampler, space, direction, history, seed, size)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _ask(
    sampler: SamplerSpec,
    space: Sequence[ParamSpec],
    direction: str,
    history: Sequence[FrozenTrial],
    seed: int | None,
    size: int,
) -> list[AskedTrial]:
    with warnings.catch_warnings():
        # Options are validated by the study file; Optuna's experimental flags on them
        # (e.g. TPE's constant_liar in some versions) are accepted on purpose.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            sampler=make_sampler(sampler, seed, space),
            direction="minimize" if direction == "minimize" else "maximize",
        )
        study.add_trials(history)
        distributions = {p.path: p.distribution() for p in space}
        for _ in range(size):
            study.ask(fixed_distributions=distributions)
    asked = study.get_trials(deepcopy=True, states=(TrialState.RUNNING,))
    return [
        AskedTrial(number=t.number, params=dict(t.params), sampler_attrs=dict(t.system_attrs))
        for t in sorted(asked, key=lambda t: t.number)
    ]
