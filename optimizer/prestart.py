"""The worker processes of ``python -m optimizer sweep``, started before its imports.

A loky worker needs about 0.3 s to start: a fresh interpreter that imports joblib and
the engine. The command line's own imports (Optuna, SQLAlchemy, NumPy) take longer than
that, and a sweep's first batch used to wait for its workers after them. So
``optimizer.__main__`` calls :func:`start_early` first: from a quick reading of the
arguments and the study file (:func:`optimizer.study_yaml.load_yaml`, nothing
validated) it starts the pool that the sweep will most likely ask for, and the sweep
takes it over with :func:`take` once its study file is validated, if the worker count
is the one the sweep asks for. Anything unusual (no study file, ``--help``, a Dask
backend or ``--scheduler``, a count out of range) starts nothing, and the sweep starts
its own pool as before; the validation reports what is wrong. :func:`close` ends a pool that
no sweep took (a study file that did not validate).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from optimizer.limits import DEFAULT_WORKERS, MAX_WORKERS
from optimizer.study_yaml import load_yaml

if TYPE_CHECKING:
    from optimizer.pool import LokyPool

__all__ = ["close", "start_early", "sweep_workers", "take"]

#: The ``sweep`` options that take a value (``--name VALUE`` or ``--name=VALUE``).
_VALUE_OPTIONS = frozenset({"--trials", "--workers", "--storage", "--scheduler", "--top"})

#: The pool started by :func:`start_early` and not taken yet.
_early: LokyPool | None = None


def sweep_workers(argv: Sequence[str]) -> int | None:
    """Returns the worker count of a ``sweep`` command line that runs on loky workers
    (``--workers``, else the study file's ``workers``, else the default), or None when
    ``argv`` is anything else or the count cannot be told without validating."""
    if not argv or argv[0] != "sweep":
        return None
    positional: list[str] = []
    options: dict[str, str | None] = {}
    rest = iter(argv[1:])
    for arg in rest:
        name, equals, value = arg.partition("=")
        if arg in ("-h", "--help") or name == "--scheduler":
            return None
        if name in _VALUE_OPTIONS:
            options[name] = value if equals else next(rest, None)
        elif not arg.startswith("-"):
            positional.append(arg)
    if len(positional) != 1:
        return None
    study = _read_mapping(Path(positional[0]))
    if study is None or (study.get("backend") or "loky") != "loky":  # null: the default
        return None
    given = options.get("--workers")
    workers = _count(given if given is not None else study.get("workers"), DEFAULT_WORKERS)
    if workers is None or workers > MAX_WORKERS:
        return None
    trials = _count(options.get("--trials") or study.get("n_trials"), None)
    return workers if trials is None else min(workers, trials)  # as the sweep caps it


def _count(value: Any, default: int | None) -> int | None:
    """Returns ``value`` (an int, or digits from the command line) when it is >= 1,
    ``default`` when it is None, else None."""
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if type(value) is int and value >= 1 else None


def _read_mapping(path: Path) -> dict[str, Any] | None:
    """Returns the study file's top-level mapping, or None when it cannot be read as one."""
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def start_early(argv: Sequence[str]) -> None:
    """Starts the loky pool of the ``sweep`` command line ``argv`` (see the module)."""
    global _early
    workers = sweep_workers(argv)
    if workers is None or _early is not None:
        return
    from optimizer.pool import LokyPool  # imports joblib, which the pool needs first

    _early = LokyPool(workers)


def take(workers: int) -> LokyPool | None:
    """Returns the pool started early when it has ``workers`` processes; the caller
    then owns it. Otherwise None (and a pool of another size is ended)."""
    global _early
    pool, _early = _early, None
    if pool is not None and pool.workers != workers:
        pool.close()
        return None
    return pool


def close() -> None:
    """Ends the pool started early if no sweep took it."""
    global _early
    pool, _early = _early, None
    if pool is not None:
        pool.close()
