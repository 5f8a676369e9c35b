"""The dashboard's reads: study status, compact trial rows, the cached ranking, one trial.

Lists and charts never load a trial's configs: they use compact rows (number, state,
params, seed, hash, metrics, outcome). The ranking (OPTIMIZER §4, computed by
:func:`optimizer.ranking.rank_trials`) is cached per study and recomputed only when the
study's trials changed, so paging through 10,000 trials costs one small query per page.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from optimizer.metrics import METRIC_KEYS
from optimizer.ranking import RankedTrial, rank_trials
from optimizer.storage import StudyRecord, StudyRow, TrialRecord, TrialRow, study_record

__all__ = [
    "ACTIVE_WINDOW_S",
    "BETWEEN_BATCHES_S",
    "FULL_RELOAD_S",
    "DashboardData",
    "Snapshot",
    "StudyStatus",
    "utc_now",
]

#: A study with RUNNING trials counts as running while its last activity is this recent
#: (the default trial timeout, plus a minute); older RUNNING trials are a killed driver's.
ACTIVE_WINDOW_S = 660.0

#: Between two batches a running study has no RUNNING trial for a moment: an unfinished
#: study whose last change is this recent still counts as running.
BETWEEN_BATCHES_S = 10.0

#: Seconds after which a snapshot reads every row again instead of only the changed ones.
FULL_RELOAD_S = 60.0

#: How many studies' rankings stay cached.
_SNAPSHOTS_KEPT = 8

_STUDY_COLUMNS = (
    StudyRow.id,
    StudyRow.name,
    StudyRow.run_mode,
    StudyRow.seed,
    StudyRow.n_trials,
    StudyRow.batch_size,
    StudyRow.objective,
    StudyRow.direction,
    StudyRow.constraints,
    StudyRow.sampler,
    StudyRow.search_space,
    StudyRow.fingerprint,
    StudyRow.study_file,
    StudyRow.study_text,
    StudyRow.engine_version,
    StudyRow.created_at,
)

_COMPACT_COLUMNS = (
    TrialRow.number,
    TrialRow.batch,
    TrialRow.state,
    TrialRow.params,
    TrialRow.seed,
    TrialRow.config_hash,
    *(getattr(TrialRow, key) for key in METRIC_KEYS),
    TrialRow.objective_value,
    TrialRow.feasible,
    TrialRow.duration_s,
    TrialRow.engine_s,
    TrialRow.error_category,
    TrialRow.error_message,
    TrialRow.created_at,
    TrialRow.finished_at,
)


def utc_now() -> datetime:
    """Returns the time as a naive UTC datetime, as the results tables store it."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class StudyStatus:
    """A study with its trial counts per state and the time of its last stored change."""

    study: StudyRecord
    counts: dict[str, int]
    last_activity: datetime | None

    @property
    def done(self) -> int:
        """Returns the number of finished trials (complete or failed)."""
        return self.counts.get("COMPLETE", 0) + self.counts.get("FAIL", 0)

    @property
    def total(self) -> int:
        """Returns the number of stored trials in any state."""
        return sum(self.counts.values())

    @property
    def version(self) -> str:
        """Returns a token that changes whenever a trial is added or changes state."""
        counts = ",".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        stamp = self.last_activity.isoformat() if self.last_activity else "-"
        return f"{self.study.id}:{counts}:{stamp}:{self.study.n_trials}"

    @property
    def running(self) -> bool:
        """Tells whether a driver is evaluating trials now (RUNNING trials, recent activity)."""
        if self.last_activity is None:
            return False
        age = (utc_now() - self.last_activity).total_seconds()
        if self.counts.get("RUNNING"):
            return age < ACTIVE_WINDOW_S
        return self.done < self.study.n_trials and age < BETWEEN_BATCHES_S

    @property
    def phase(self) -> str:
        """Returns ``running``, ``interrupted`` (unfinished trials, no driver), ``finished``
        (the budget is done) or ``stopped`` (fewer trials than the budget, none pending)."""
        if self.running:
            return "running"
        if self.counts.get("RUNNING") or self.counts.get("WAITING"):
            return "interrupted"
        return "finished" if self.done >= self.study.n_trials else "stopped"


@dataclass(frozen=True)
class Snapshot:
    """A study's compact trials (number order) and its leaderboard at one version."""

    version: str
    trials: tuple[TrialRecord, ...]
    ranked: tuple[RankedTrial, ...]
    #: Trial number -> its leaderboard entry (ranked trials only).
    by_number: dict[int, RankedTrial]
    #: When every row was last read (``time.monotonic()``).
    loaded_at: float

    def rank_of(self, number: int) -> RankedTrial | None:
        """Returns the leaderboard entry of trial ``number``, or None when it is not ranked."""
        return self.by_number.get(number)


def _trial_record(row: Any, *, full: bool) -> TrialRecord:
    complete = row.state == "COMPLETE"
    return TrialRecord(
        number=row.number,
        batch=row.batch,
        state=row.state,
        params=dict(row.params or {}),
        sampler_attrs=dict(row.sampler_attrs or {}) if full else {},
        seed=row.seed,
        config=dict(row.config or {}) if full else {},
        config_hash=row.config_hash,
        resolved_config=row.resolved_config if full else None,
        metrics={key: getattr(row, key) for key in METRIC_KEYS} if complete else None,
        objective_value=row.objective_value,
        feasible=row.feasible,
        duration_s=row.duration_s,
        engine_s=row.engine_s,
        worker_pid=row.worker_pid if full else None,
        stats=row.stats if full else None,
        error_category=row.error_category,
        error_message=row.error_message,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _missing_tables(exc: Exception) -> bool:
    return "no such table" in str(exc) or "does not exist" in str(exc)


class DashboardData:
    """Reads studies and trials through a read-only engine; caches the rankings."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self._snapshot_locks: dict[int, threading.Lock] = {}
        #: Per study: the version and rank 1 that :meth:`leader` last computed.
        self._leaders: dict[int, tuple[str, RankedTrial | None]] = {}

    def statuses(self) -> list[StudyStatus]:
        """Returns every study (oldest first) with its counts; empty before the first sweep."""
        activity = func.max(func.coalesce(TrialRow.finished_at, TrialRow.created_at))
        try:
            with self.engine.connect() as conn:
                studies = conn.execute(select(*_STUDY_COLUMNS).order_by(StudyRow.id)).all()
                rows = conn.execute(
                    select(TrialRow.study_id, TrialRow.state, func.count(), activity).group_by(
                        TrialRow.study_id, TrialRow.state
                    )
                ).all()
        except (OperationalError, ProgrammingError) as exc:
            if _missing_tables(exc):
                return []
            raise
        counts: dict[int, dict[str, int]] = {}
        last: dict[int, datetime] = {}
        for study_id, state, count, when in rows:
            counts.setdefault(study_id, {})[state] = count
            if when is not None and (study_id not in last or when > last[study_id]):
                last[study_id] = when
        return [
            StudyStatus(study_record(row), counts.get(row.id, {}), last.get(row.id))
            for row in studies
        ]

    def status(self, name: str) -> StudyStatus | None:
        """Returns the study called ``name`` with its counts, or None."""
        activity = func.max(func.coalesce(TrialRow.finished_at, TrialRow.created_at))
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(*_STUDY_COLUMNS).where(StudyRow.name == name)).first()
                if row is None:
                    return None
                rows = conn.execute(
                    select(TrialRow.state, func.count(), activity)
                    .where(TrialRow.study_id == row.id)
                    .group_by(TrialRow.state)
                ).all()
        except (OperationalError, ProgrammingError) as exc:
            if _missing_tables(exc):
                return None
            raise
        times = [when for _, _, when in rows if when is not None]
        return StudyStatus(
            study_record(row),
            {state: count for state, count, _ in rows},
            max(times) if times else None,
        )

    def leader(self, status: StudyStatus) -> RankedTrial | None:
        """Returns the study's rank 1 (None before a ranked trial), kept per study and
        version apart from the snapshots: the studies list asks every study for it, and
        more studies than :data:`_SNAPSHOTS_KEPT` would otherwise push each other's
        snapshots out and be ranked again on every poll."""
        study_id = status.study.id
        with self._lock:
            kept = self._leaders.get(study_id)
        if kept is not None and kept[0] == status.version:
            return kept[1]
        ranked = self.snapshot(status).ranked
        first = ranked[0] if ranked else None
        with self._lock:
            self._leaders[study_id] = (status.version, first)
        return first

    def snapshot(self, status: StudyStatus) -> Snapshot:
        """Returns the study's compact trials and ranking, recomputed when they changed.

        While a sweep runs only the rows that can have changed are read again: trials
        newer than the last snapshot's and those it saw unfinished (a finished trial is
        never written again). A full read happens every :data:`FULL_RELOAD_S` seconds and
        whenever the rows do not add up.
        """
        study_id = status.study.id
        with self._lock:
            lock = self._snapshot_locks.setdefault(study_id, threading.Lock())
        with lock:  # one computation per study at a time; the others wait for its result
            with self._lock:
                cached = self._snapshots.get(study_id)
            if cached is not None and cached.version == status.version:
                return cached
            now = time.monotonic()
            base = cached if cached is not None and now - cached.loaded_at < FULL_RELOAD_S else None
            trials = self._load(study_id, base)
            if base is not None and len(trials) < status.total:
                base, trials = None, self._load(study_id, None)
            ranked = tuple(rank_trials(trials, status.study.constraints))
            snapshot = Snapshot(
                version=status.version,
                trials=trials,
                ranked=ranked,
                by_number={r.trial.number: r for r in ranked},
                loaded_at=now if base is None else base.loaded_at,
            )
            with self._lock:
                self._snapshots[study_id] = snapshot
                self._snapshots.move_to_end(study_id)
                while len(self._snapshots) > _SNAPSHOTS_KEPT:
                    self._snapshots.popitem(last=False)
            return snapshot

    def _load(self, study_id: int, base: Snapshot | None) -> tuple[TrialRecord, ...]:
        """Returns the study's compact trials in number order, reading only what may have
        changed since ``base`` (everything when it is None)."""
        query = select(*_COMPACT_COLUMNS).where(TrialRow.study_id == study_id)
        if base is not None:
            newest = base.trials[-1].number if base.trials else -1
            pending = [t.number for t in base.trials if not t.finished]
            changed = TrialRow.number > newest
            if pending:
                changed = or_(changed, TrialRow.number.in_(pending))
            query = query.where(changed)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(TrialRow.number)).all()
        fresh = [_trial_record(row, full=False) for row in rows]
        if base is None:
            return tuple(fresh)
        merged = {t.number: t for t in base.trials}
        merged.update((t.number, t) for t in fresh)
        return tuple(merged[number] for number in sorted(merged))

    def trial(self, study: StudyRecord, number: int) -> TrialRecord | None:
        """Returns trial ``number`` of ``study`` in full (configs included), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TrialRow.__table__).where(
                    TrialRow.study_id == study.id, TrialRow.number == number
                )
            ).first()
        return None if row is None else _trial_record(row, full=True)

    def close(self) -> None:
        """Closes the pooled connections."""
        self.engine.dispose()
