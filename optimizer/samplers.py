"""Builds Optuna samplers from a study's ``sampler`` section, seeded per batch."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from optimizer.search_space import ParamSpec
from optimizer.study_file import SamplerSpec

__all__ = ["make_sampler"]


def make_sampler(
    spec: SamplerSpec, seed: int | None, space: Sequence[ParamSpec]
) -> optuna.samplers.BaseSampler:
    """Returns a fresh sampler for ``spec`` seeded with ``seed`` (None: unseeded, prod only)."""
    options = dict(spec.options)
    if spec.name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **options)
    if spec.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.name == "grid":
        grid = {p.path: p.grid_values() or [] for p in space}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if spec.name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **options)
    if spec.name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
    raise ValueError(f"unknown sampler {spec.name!r}")
