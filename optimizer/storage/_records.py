"""Plain, detached records of the stored studies and trials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["NewTrial", "StudyRecord", "TrialRecord", "study_record"]


@dataclass(frozen=True)
class StudyRecord:
    """A stored study's settings."""

    id: int
    name: str
    run_mode: str
    seed: int | None
    n_trials: int
    batch_size: int
    objective: str
    direction: str
    constraints: dict[str, float]
    sampler: dict[str, Any]
    search_space: list[dict[str, Any]]
    fingerprint: dict[str, Any]
    study_file: str
    study_text: str
    engine_version: str | None
    created_at: datetime


@dataclass(frozen=True)
class TrialRecord:
    """A stored trial; ``metrics`` is None unless the trial completed."""

    number: int
    batch: int
    state: str
    params: dict[str, Any]
    sampler_attrs: dict[str, Any]
    seed: int
    config: dict[str, Any]
    config_hash: str | None
    resolved_config: dict[str, Any] | None
    metrics: dict[str, Any] | None
    objective_value: float | None
    feasible: bool | None
    duration_s: float | None
    engine_s: float | None
    worker_pid: int | None
    stats: dict[str, Any] | None
    error_category: str | None
    error_message: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """Tells whether the trial is COMPLETE or FAIL."""
        return self.state in ("COMPLETE", "FAIL")


@dataclass(frozen=True)
class NewTrial:
    """A trial that the driver asked and is about to run."""

    number: int
    batch: int
    params: dict[str, Any]
    sampler_attrs: dict[str, Any]
    seed: int
    config: dict[str, Any]


def study_record(row: Any) -> StudyRecord:
    """Returns the record of an ``omega_studies`` row (an ORM row or a Core result row).

    JSON columns that a reader sees as NULL come back empty rather than failing.
    """
    return StudyRecord(
        id=row.id,
        name=row.name,
        run_mode=row.run_mode,
        seed=row.seed,
        n_trials=row.n_trials,
        batch_size=row.batch_size,
        objective=row.objective,
        direction=row.direction,
        constraints=dict(row.constraints or {}),
        sampler=dict(row.sampler or {}),
        search_space=list(row.search_space or []),
        fingerprint=dict(row.fingerprint or {}),
        study_file=row.study_file,
        study_text=row.study_text,
        engine_version=row.engine_version,
        created_at=row.created_at,
    )
