"""The study store: the project's tables and the Optuna study in one database.

Only the driver writes. The project's tables are the source of truth; each batch is
written in one transaction when it is asked (RUNNING, with seeds: OPTIMIZER §3 prod
seeds are recorded before the trial runs) and in one transaction when it is told.
After that transaction, the told trials are added to the Optuna study in trial-number
order, each as one finished trial carrying the user attributes ``seed``,
``config_hash`` and every metric. :meth:`StudyStore.sync_optuna` repairs a mirror that
a killed driver left behind, so Optuna's trial numbers always equal ours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from optimizer.errors import BadInputError
from optimizer.metrics import METRIC_KEYS, is_feasible
from optimizer.search_space import ParamSpec
from optimizer.storage._engine import (
    engine_kwargs,
    make_engine,
    prepare_sqlite_file,
    register_engine,
)
from optimizer.storage._mirror import add_trials
from optimizer.storage._models import Base, StudyRow, TrialRow
from optimizer.storage._records import NewTrial, StudyRecord, TrialRecord
from optimizer.worker import TrialOutcome

__all__ = ["StudyStore"]


def _now() -> datetime:
    """Returns the time as a naive UTC datetime (how the project's tables store time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _local(value: datetime) -> datetime:
    """Turns a naive UTC datetime into the naive local time that Optuna's trials use."""
    return value.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


class StudyStore:
    """Reads and writes studies and trials in one storage URL."""

    def __init__(self, url: str, *, must_exist: bool = False, bulk_mirror: bool = True) -> None:
        self.url = url
        #: Whether the Optuna mirror is written in one transaction per batch (see _mirror).
        self.bulk_mirror = bulk_mirror
        try:
            parsed = make_url(url)
        except Exception:
            raise BadInputError(f"--storage {url}: expected a SQLAlchemy URL") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            from pathlib import Path

            if must_exist and not Path(parsed.database).is_file():  # type: ignore[arg-type]
                raise BadInputError(f"storage {url}: expected an existing database (no such file)")
            prepare_sqlite_file(url)
        self.optuna = RDBStorage(url, engine_kwargs=engine_kwargs(url))
        register_engine(self.optuna.engine)
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._optuna_counts: dict[int, int] = {}

    def close(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()
        self.optuna.engine.dispose()

    # --- studies -------------------------------------------------------------------

    def get_study(self, name: str) -> StudyRecord | None:
        """Returns the study called ``name``, or None."""
        with self._session() as session:
            row = session.scalar(select(StudyRow).where(StudyRow.name == name))
            return None if row is None else _study_record(row)

    def require_study(self, name: str) -> StudyRecord:
        """Returns the study called ``name`` or raises :class:`BadInputError`."""
        study = self.get_study(name)
        if study is None:
            names = ", ".join(s.name for s in self.list_studies()) or "none"
            raise BadInputError(f"storage {self.url}: no study named {name!r} (studies: {names})")
        return study

    def list_studies(self) -> list[StudyRecord]:
        """Returns every study, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(StudyRow).order_by(StudyRow.id)).all()
            return [_study_record(r) for r in rows]

    def state_counts(self, study: StudyRecord) -> dict[str, int]:
        """Returns the number of trials per state."""
        with self._session() as session:
            rows = session.execute(
                select(TrialRow.state, func.count())
                .where(TrialRow.study_id == study.id)
                .group_by(TrialRow.state)
            ).all()
            return {state: count for state, count in rows}

    def create_study(
        self,
        *,
        name: str,
        run_mode: str,
        seed: int | None,
        n_trials: int,
        batch_size: int,
        objective: str,
        direction: str,
        constraints: dict[str, float],
        sampler: dict[str, Any],
        search_space: list[dict[str, Any]],
        fingerprint: dict[str, Any],
        study_file: str,
        study_text: str,
        base_config: dict[str, Any],
        engine_version: str | None,
    ) -> StudyRecord:
        """Creates the study in the project's tables and in Optuna's."""
        optuna_direction = (
            StudyDirection.MAXIMIZE if direction == "maximize" else StudyDirection.MINIMIZE
        )
        try:
            study_id = self.optuna.get_study_id_from_name(name)
        except KeyError:
            study_id = self.optuna.create_new_study([optuna_direction], study_name=name)
        if self.optuna.get_all_trials(study_id, deepcopy=False):
            raise BadInputError(
                f"storage {self.url}: an Optuna study named {name!r} exists that this "
                "optimizer did not create; choose another name"
            )
        self.optuna.set_study_user_attr(study_id, "omega_run_mode", run_mode)
        with self._session.begin() as session:
            row = StudyRow(
                name=name,
                run_mode=run_mode,
                seed=seed,
                n_trials=n_trials,
                batch_size=batch_size,
                objective=objective,
                direction=direction,
                constraints=constraints,
                sampler=sampler,
                search_space=search_space,
                fingerprint=fingerprint,
                study_file=study_file,
                study_text=study_text,
                base_config=base_config,
                engine_version=engine_version,
                created_at=_now(),
            )
            session.add(row)
            session.flush()
            return _study_record(row)

    def set_n_trials(self, study: StudyRecord, n_trials: int) -> StudyRecord:
        """Stores a new trial budget for ``study``."""
        with self._session.begin() as session:
            session.execute(
                update(StudyRow).where(StudyRow.id == study.id).values(n_trials=n_trials)
            )
        return self.require_study(study.name)

    # --- trials --------------------------------------------------------------------

    def trials(self, study: StudyRecord, states: Iterable[str] | None = None) -> list[TrialRecord]:
        """Returns the study's trials in number order, optionally only some states."""
        query = select(TrialRow).where(TrialRow.study_id == study.id).order_by(TrialRow.number)
        if states is not None:
            query = query.where(TrialRow.state.in_(list(states)))
        with self._session() as session:
            return [_trial_record(r) for r in session.scalars(query).all()]

    def begin_batch(
        self, study: StudyRecord, new: Sequence[NewTrial], restart: Sequence[int]
    ) -> None:
        """Records a batch as RUNNING in one transaction: new trials and re-run ones."""
        now = _now()
        with self._session.begin() as session:
            if restart:
                session.execute(
                    update(TrialRow)
                    .where(TrialRow.study_id == study.id, TrialRow.number.in_(list(restart)))
                    .values(state="RUNNING")
                )
            for trial in new:
                session.add(
                    TrialRow(
                        study_id=study.id,
                        number=trial.number,
                        batch=trial.batch,
                        state="RUNNING",
                        params=trial.params,
                        sampler_attrs=trial.sampler_attrs,
                        seed=trial.seed,
                        config=trial.config,
                        created_at=now,
                    )
                )

    def finish_batch(self, study: StudyRecord, outcomes: Sequence[TrialOutcome]) -> None:
        """Records a batch's outcomes in one transaction (then call :meth:`sync_optuna`)."""
        now = _now()
        with self._session.begin() as session:
            rows = {
                r.number: r
                for r in session.scalars(
                    select(TrialRow).where(
                        TrialRow.study_id == study.id,
                        TrialRow.number.in_([o.number for o in outcomes]),
                    )
                )
            }
            for outcome in sorted(outcomes, key=lambda o: o.number):
                _apply_outcome(rows[outcome.number], outcome, study, now)

    def mark_waiting(self, study: StudyRecord, numbers: Sequence[int]) -> None:
        """Sets unfinished trials back to WAITING (an interrupted batch; resumed later)."""
        with self._session.begin() as session:
            session.execute(
                update(TrialRow)
                .where(
                    TrialRow.study_id == study.id,
                    TrialRow.number.in_(list(numbers)),
                    TrialRow.state.in_(["RUNNING", "WAITING"]),
                )
                .values(state="WAITING")
            )

    # --- the Optuna mirror ---------------------------------------------------------

    def sync_optuna(self, study: StudyRecord) -> None:
        """Adds every finished trial that Optuna lacks, in number order (idempotent)."""
        study_id = self.optuna.get_study_id_from_name(study.name)
        have = self._optuna_counts.get(study_id)
        if have is None:  # counted once per store: only this driver adds trials
            have = len(self.optuna.get_all_trials(study_id, deepcopy=False))
        with self._session() as session:
            rows = session.scalars(
                select(TrialRow)
                .where(TrialRow.study_id == study.id, TrialRow.number >= have)
                .order_by(TrialRow.number)
            ).all()
            records = [_trial_record(r) for r in rows]
        distributions = _distributions(study)
        templates = []
        for record in records:
            if not record.finished:
                break
            templates.append(_frozen_trial(record, distributions, study.objective))
        self._optuna_counts.pop(study_id, None)  # recount after an error below
        add_trials(self.optuna, study_id, templates, bulk=self.bulk_mirror)
        self._optuna_counts[study_id] = have + len(templates)

    def told_trials(
        self, study: StudyRecord, numbers: Iterable[int] | None = None
    ) -> dict[int, FrozenTrial]:
        """Returns finished trials as the Optuna trials they are mirrored as, by number.

        This is the sampler's history: built from the project's rows with the same
        function that writes the Optuna mirror, so a fresh and a resumed sweep see
        exactly the same history.
        """
        query = select(TrialRow).where(
            TrialRow.study_id == study.id, TrialRow.state.in_(["COMPLETE", "FAIL"])
        )
        if numbers is not None:
            query = query.where(TrialRow.number.in_(list(numbers)))
        with self._session() as session:
            records = [_trial_record(r) for r in session.scalars(query.order_by(TrialRow.number))]
        distributions = _distributions(study)
        return {r.number: _frozen_trial(r, distributions, study.objective) for r in records}

    def load_optuna_study(self, study: StudyRecord) -> optuna.Study:
        """Returns the Optuna study object of ``study`` (read-only use)."""
        return optuna.load_study(
            study_name=study.name, storage=self.optuna, sampler=optuna.samplers.RandomSampler()
        )


def _distributions(study: StudyRecord) -> dict[str, BaseDistribution]:
    specs = [ParamSpec.from_dict(d) for d in study.search_space]
    return {s.path: s.distribution() for s in specs}


def _frozen_trial(
    record: TrialRecord, distributions: dict[str, BaseDistribution], objective: str
) -> FrozenTrial:
    user_attrs: dict[str, Any] = {"seed": record.seed, "config_hash": record.config_hash}
    for key in METRIC_KEYS:
        user_attrs[key] = None if record.metrics is None else record.metrics.get(key)
    state = TrialState.FAIL
    values: list[float] | None = None
    if record.state == "COMPLETE":
        value = record.objective_value
        if value is not None and math.isfinite(value):
            state, values = TrialState.COMPLETE, [value]
        else:
            user_attrs["error_message"] = f"objective {objective} is null"
    if record.state == "FAIL":
        user_attrs["error_category"] = record.error_category
        user_attrs["error_message"] = record.error_message
    start = _local(record.created_at)
    return FrozenTrial(
        number=record.number,
        state=state,
        value=None,
        values=values,
        datetime_start=start,
        datetime_complete=_local(record.finished_at or record.created_at),
        params=dict(record.params),
        distributions={k: distributions[k] for k in record.params},
        user_attrs=user_attrs,
        system_attrs=dict(record.sampler_attrs),
        intermediate_values={},
        trial_id=0,
    )


def _apply_outcome(row: TrialRow, outcome: TrialOutcome, study: StudyRecord, now: datetime) -> None:
    row.finished_at = now
    row.duration_s = outcome.duration_s
    row.engine_s = outcome.engine_s
    row.worker_pid = outcome.worker_pid
    row.config_hash = outcome.config_hash
    row.stats = outcome.stats
    if outcome.ok and outcome.metrics is not None:
        row.state = "COMPLETE"
        row.resolved_config = outcome.resolved_config
        for key in METRIC_KEYS:
            setattr(row, key, outcome.metrics.get(key))
        value = outcome.metrics.get(study.objective)
        row.objective_value = None if value is None else float(value)
        row.feasible = is_feasible(outcome.metrics, study.constraints)
        row.error_category = row.error_message = None
    else:
        row.state = "FAIL"
        row.error_category = outcome.error_category
        row.error_message = outcome.error_message


def _study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(
        id=row.id,
        name=row.name,
        run_mode=row.run_mode,
        seed=row.seed,
        n_trials=row.n_trials,
        batch_size=row.batch_size,
        objective=row.objective,
        direction=row.direction,
        constraints=dict(row.constraints),
        sampler=dict(row.sampler),
        search_space=list(row.search_space),
        fingerprint=dict(row.fingerprint),
        study_file=row.study_file,
        study_text=row.study_text,
        engine_version=row.engine_version,
        created_at=row.created_at,
    )


def _trial_record(row: TrialRow) -> TrialRecord:
    metrics = {key: getattr(row, key) for key in METRIC_KEYS} if row.state == "COMPLETE" else None
    return TrialRecord(
        number=row.number,
        batch=row.batch,
        state=row.state,
        params=dict(row.params),
        sampler_attrs=dict(row.sampler_attrs or {}),
        seed=row.seed,
        config=dict(row.config),
        config_hash=row.config_hash,
        resolved_config=row.resolved_config,
        metrics=metrics,
        objective_value=row.objective_value,
        feasible=row.feasible,
        duration_s=row.duration_s,
        engine_s=row.engine_s,
        worker_pid=row.worker_pid,
        stats=row.stats,
        error_category=row.error_category,
        error_message=row.error_message,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
