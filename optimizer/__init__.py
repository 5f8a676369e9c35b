"""Omega V2 optimizer: deterministic, crash-safe parameter sweeps on the Rust engine.

Run it as ``python -m optimizer sweep STUDY.yaml`` (see ``docs/optimizer.md``). The
public pieces for programs and tests are re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optimizer.driver import SweepReport, build_config, run_sweep
    from optimizer.errors import (
        BadInputError,
        Interrupted,
        OptimizerError,
        ReplayMismatch,
        StudyFileError,
    )
    from optimizer.ranking import RankedTrial, rank_key, rank_trials
    from optimizer.seeds import derive, prod_seed, sampler_seed
    from optimizer.study_file import StudySpec, load_study_file

# Public name -> defining module. Imported on first use (PEP 562), so that a worker
# process, which only needs optimizer.worker, does not pay for Optuna and SQLAlchemy.
_EXPORTS: dict[str, str] = {
    "SweepReport": "optimizer.driver",
    "build_config": "optimizer.driver",
    "run_sweep": "optimizer.driver",
    "BadInputError": "optimizer.errors",
    "Interrupted": "optimizer.errors",
    "OptimizerError": "optimizer.errors",
    "ReplayMismatch": "optimizer.errors",
    "StudyFileError": "optimizer.errors",
    "RankedTrial": "optimizer.ranking",
    "rank_key": "optimizer.ranking",
    "rank_trials": "optimizer.ranking",
    "derive": "optimizer.seeds",
    "prod_seed": "optimizer.seeds",
    "sampler_seed": "optimizer.seeds",
    "StudySpec": "optimizer.study_file",
    "load_study_file": "optimizer.study_file",
}


def __getattr__(name: str) -> Any:
    """Imports a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BadInputError",
    "Interrupted",
    "OptimizerError",
    "RankedTrial",
    "ReplayMismatch",
    "StudyFileError",
    "StudySpec",
    "SweepReport",
    "build_config",
    "derive",
    "load_study_file",
    "prod_seed",
    "rank_key",
    "rank_trials",
    "run_sweep",
    "sampler_seed",
]
