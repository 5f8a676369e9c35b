"""The JSON documents behind the pages, built from compact rows (no configs loaded).

Numbers that JavaScript cannot hold exactly (seeds go up to 2**63) are sent as strings;
non-finite floats become null, so every document is strict JSON.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from optimizer.dashboard._data import Snapshot, StudyStatus
from optimizer.metrics import METRIC_KEYS
from optimizer.ranking import RankedTrial
from optimizer.storage import StudyRecord, TrialRecord

__all__ = [
    "MAX_PAGE_SIZE",
    "BadQuery",
    "failed_view",
    "leaderboard_view",
    "points_view",
    "replay_command",
    "studies_view",
    "summary_view",
    "trial_view",
]

#: The largest leaderboard page a client may ask for.
MAX_PAGE_SIZE = 500

#: Metrics where smaller is better: a click on their column sorts ascending first.
_ASCENDING_FIRST = frozenset(
    {"max_drawdown", "max_drawdown_pct", "max_drawdown_initial_pct", "fees_total", "losses"}
)


class BadQuery(ValueError):
    """A query parameter that the API does not accept (answered with 400)."""


def finite(value: Any) -> Any:
    """Returns ``value``, or None for a non-finite float (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def iso(value: datetime | None) -> str | None:
    """Returns a naive UTC datetime as ISO 8601 with a ``Z``."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """Returns each dotted path's last component, or the full path where two collide."""
    lasts = [p.rsplit(".", 1)[-1] for p in paths]
    return {p: (s if lasts.count(s) == 1 else p) for p, s in zip(paths, lasts, strict=True)}


def param_specs(study: StudyRecord) -> list[dict[str, Any]]:
    """Returns the search space as sent to the pages: path, short name, type, range."""
    paths = [str(spec["path"]) for spec in study.search_space]
    names = short_names(paths)
    return [
        {
            "path": path,
            "name": names[path],
            "type": spec.get("type"),
            "low": spec.get("low"),
            "high": spec.get("high"),
            "step": spec.get("step"),
            "log": bool(spec.get("log")),
            "choices": spec.get("choices"),
        }
        for path, spec in zip(paths, study.search_space, strict=True)
    ]


def replay_command(study: str, number: int, storage_arg: str | None) -> str:
    """Returns the shell command that replays trial ``number`` (quoted for a POSIX shell)."""
    parts = ["python", "-m", "optimizer", "replay", study, "--trial", str(number)]
    if storage_arg:
        parts += ["--storage", storage_arg]
    return shlex.join(parts)


def _best_score(first: RankedTrial | None) -> dict[str, Any] | None:
    """Returns rank 1's number, score and feasibility, None before a ranked trial."""
    if first is None:
        return None
    return {
        "number": first.trial.number,
        "score": finite((first.trial.metrics or {}).get("score")),
        "feasible": first.feasible,
    }


def summary_view(status: StudyStatus, snapshot: Snapshot | None) -> dict[str, Any]:
    """Returns a study's header: settings, counts, phase, best trial and version token."""
    study = status.study
    return {
        "name": study.name,
        "run_mode": study.run_mode,
        "seed": None if study.seed is None else str(study.seed),
        "sampler": study.sampler,
        "objective": study.objective,
        "direction": study.direction,
        "constraints": study.constraints,
        "n_trials": study.n_trials,
        "batch_size": study.batch_size,
        "engine_version": study.engine_version,
        "study_file": study.study_file,
        "created_at": iso(study.created_at),
        "last_activity": iso(status.last_activity),
        "counts": status.counts,
        "done": status.done,
        "failed": status.counts.get("FAIL", 0),
        "pending": status.counts.get("RUNNING", 0) + status.counts.get("WAITING", 0),
        "phase": status.phase,
        "running": status.running,
        "best": _best_score(snapshot.ranked[0] if snapshot and snapshot.ranked else None),
        "params": param_specs(study),
        "metrics": list(METRIC_KEYS),
        "version": status.version,
    }


def studies_view(entries: Sequence[tuple[StudyStatus, RankedTrial | None]]) -> dict[str, Any]:
    """Returns the studies list: one short summary per study, with its rank 1."""
    return {
        "studies": [
            {
                "name": status.study.name,
                "run_mode": status.study.run_mode,
                "sampler": status.study.sampler.get("name"),
                "n_trials": status.study.n_trials,
                "done": status.done,
                "complete": status.counts.get("COMPLETE", 0),
                "failed": status.counts.get("FAIL", 0),
                "pending": status.counts.get("RUNNING", 0) + status.counts.get("WAITING", 0),
                "best": _best_score(leader),
                "created_at": iso(status.study.created_at),
                "last_activity": iso(status.last_activity),
                "phase": status.phase,
                "running": status.running,
                "version": status.version,
            }
            for status, leader in entries
        ]
    }


def _row(item: RankedTrial) -> dict[str, Any]:
    trial = item.trial
    metrics = trial.metrics or {}
    return {
        "rank": item.rank,
        "feasible": item.feasible,
        "number": trial.number,
        "seed": str(trial.seed),
        "config_hash": trial.config_hash,
        "metrics": {key: finite(metrics.get(key)) for key in METRIC_KEYS},
        "params": trial.params,
        "duration_s": finite(trial.duration_s),
    }


def _sort_value(item: RankedTrial, sort: str) -> Any:
    trial = item.trial
    if sort == "number":
        return trial.number
    if sort == "duration_s":
        return finite(trial.duration_s)
    if sort.startswith("param:"):
        value = trial.params.get(sort[6:])
        if value is None:
            return None
        # Mixed categorical choices (bool, number, string) sort by type, then value.
        if isinstance(value, bool | int | float):
            return (0, float(value), "")
        return (1, 0.0, str(value))
    return finite((trial.metrics or {}).get(sort))


def _sorted(ranked: Sequence[RankedTrial], sort: str, descending: bool) -> list[RankedTrial]:
    if sort == "rank":
        return list(reversed(ranked)) if descending else list(ranked)
    present = [(_sort_value(item, sort), item) for item in ranked]
    missing = [item for value, item in present if value is None]
    kept = [(value, item) for value, item in present if value is not None]
    # Stable either way (reverse=True keeps ties in order): equal values stay in
    # leaderboard order; nulls always come last.
    kept.sort(key=lambda pair: pair[0], reverse=descending)
    return [item for _, item in kept] + missing


def leaderboard_view(
    status: StudyStatus,
    snapshot: Snapshot,
    *,
    sort: str = "rank",
    order: str = "asc",
    page: int = 1,
    size: int = 50,
) -> dict[str, Any]:
    """Returns one page of the leaderboard, in §4 rank order or sorted by one column.

    ``sort`` is ``rank``, ``number``, ``duration_s``, a metric key or ``param:PATH``;
    ``order`` is ``asc`` or ``desc``. Raises :class:`BadQuery` for anything else.
    """
    paths = [str(spec["path"]) for spec in status.study.search_space]
    allowed = {"rank", "number", "duration_s", *METRIC_KEYS, *(f"param:{p}" for p in paths)}
    if sort not in allowed:
        raise BadQuery(f"sort {sort!r}: expected rank, number, duration_s, a metric or param:PATH")
    if order not in ("asc", "desc"):
        raise BadQuery(f"order {order!r}: expected asc or desc")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadQuery(f"size {size}: expected 1 to {MAX_PAGE_SIZE}")
    items = _sorted(snapshot.ranked, sort, order == "desc")
    pages = max(1, math.ceil(len(items) / size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    return {
        "sort": sort,
        "order": order,
        "page": page,
        "pages": pages,
        "size": size,
        "total": len(items),
        "infeasible": sum(1 for item in snapshot.ranked if not item.feasible),
        "rows": [_row(item) for item in items[start : start + size]],
        "ascending_first": sorted(_ASCENDING_FIRST),
        "version": snapshot.version,
    }


def points_view(status: StudyStatus, snapshot: Snapshot) -> dict[str, Any]:
    """Returns the chart data, column-wise: every completed trial with an objective value
    (number, objective, best so far, feasibility, params) and the failed trials' numbers."""
    maximize = status.study.direction == "maximize"
    numbers: list[int] = []
    objective: list[float] = []
    best: list[float] = []
    feasible: list[bool] = []
    paths = [str(spec["path"]) for spec in status.study.search_space]
    params: dict[str, list[Any]] = {path: [] for path in paths}
    failed: list[int] = []
    current: float | None = None
    for trial in snapshot.trials:
        if trial.state == "FAIL":
            failed.append(trial.number)
            continue
        value = finite(trial.objective_value)
        if trial.state != "COMPLETE" or value is None:
            continue
        if current is None or (value > current if maximize else value < current):
            current = value
        entry = snapshot.rank_of(trial.number)
        numbers.append(trial.number)
        objective.append(value)
        best.append(current)
        feasible.append(bool(entry.feasible) if entry else False)
        for path in paths:
            params[path].append(trial.params.get(path))
    return {
        "objective_name": status.study.objective,
        "direction": status.study.direction,
        "number": numbers,
        "objective": objective,
        "best": best,
        "feasible": feasible,
        "params": params,
        "failed": failed,
        "version": snapshot.version,
    }


def failed_view(snapshot: Snapshot, *, limit: int = 200) -> dict[str, Any]:
    """Returns the failed trials (newest last, at most ``limit``) with their reasons."""
    failed = [t for t in snapshot.trials if t.state == "FAIL"]
    return {
        "total": len(failed),
        "rows": [
            {
                "number": t.number,
                "seed": str(t.seed),
                "error_category": t.error_category,
                "error_message": t.error_message,
            }
            for t in failed[-limit:]
        ],
        "version": snapshot.version,
    }


def trial_view(
    status: StudyStatus,
    trial: TrialRecord,
    ranked: RankedTrial | None,
    storage_arg: str | None,
) -> dict[str, Any]:
    """Returns everything the trial page shows, except the replayed equity and trades."""
    study = status.study
    names = short_names([str(spec["path"]) for spec in study.search_space])
    config = trial.resolved_config or trial.config
    return {
        "study": study.name,
        "number": trial.number,
        "batch": trial.batch,
        "state": trial.state,
        "rank": ranked.rank if ranked else None,
        "feasible": ranked.feasible if ranked else None,
        "params": [
            {"path": path, "name": names.get(path, path), "value": value}
            for path, value in trial.params.items()
        ],
        "seed": str(trial.seed),
        "config_hash": trial.config_hash,
        "metrics": None
        if trial.metrics is None
        else [[key, finite(trial.metrics.get(key))] for key in METRIC_KEYS],
        "objective": {
            "name": study.objective,
            "direction": study.direction,
            "value": finite(trial.objective_value),
        },
        "constraints": study.constraints,
        "duration_s": finite(trial.duration_s),
        "engine_s": finite(trial.engine_s),
        "worker_pid": trial.worker_pid,
        "created_at": iso(trial.created_at),
        "finished_at": iso(trial.finished_at),
        "error": None
        if trial.state != "FAIL"
        else {"category": trial.error_category, "message": trial.error_message},
        "replay_command": replay_command(study.name, trial.number, storage_arg),
        # As text: the config holds 64-bit integers (rng_seed) that JSON numbers in
        # JavaScript would round.
        "config_json": json.dumps(config, indent=2, sort_keys=True) if config else None,
        "stats_json": json.dumps(trial.stats, indent=2, sort_keys=True) if trial.stats else None,
        "version": status.version,
    }
