"""The study store: the project's tables and the Optuna study in one database.

Only the driver writes. The project's tables are the source of truth; each batch is
written in one transaction when it is asked (RUNNING, with seeds: OPTIMIZER §3 prod
seeds are recorded before the trial runs) and in one transaction when it is told. A
dev batch run by one driver alone may be claimed in the transaction that stores its
first results instead (``finish_batches(claims=...)``): its seeds and configs are
fixed, so a batch that a kill left without rows is asked again as it was.
After that transaction, the told trials are added to the Optuna study in trial-number
order, each as one finished trial carrying the user attributes ``seed``,
``config_hash`` and every metric. :meth:`StudyStore.sync_optuna` repairs a mirror that
a killed driver left behind, so Optuna's trial numbers always equal ours.

Several drivers may share a study on a database server (see ``_drivers``): batches are
claimed through ``omega_batches`` (unique per batch, conditional takeover), results are
stored only while the batch is still the driver's, and the Optuna mirror is written
under a lock on the study's row. On SQLite one driver runs a study at a time (a second
one is refused while the first is alive).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from optimizer.errors import BadInputError
from optimizer.metrics import METRIC_KEYS, is_feasible
from optimizer.search_space import ParamSpec
from optimizer.storage._drivers import (
    BatchRow,
    DriverRow,
    Heartbeat,
    HostProcess,
    from_ranges,
    is_alive,
    to_ranges,
)
from optimizer.storage._engine import (
    db_clock,
    display_url,
    engine_kwargs,
    is_shared_storage,
    make_engine,
    prepare_sqlite_file,
    register_engine,
    retry_schema_race,
    schema_lock,
)
from optimizer.storage._mirror import add_trials
from optimizer.storage._models import Base, StudyRow, TrialRow
from optimizer.storage._optuna_schema import (
    OptunaTables,
    RDBStudies,
    count_trials,
    open_optuna_tables,
)
from optimizer.storage._readonly import check_sqlite_path, make_readonly_engine, readonly_url
from optimizer.storage._records import NewTrial, StudyRecord, TrialRecord, study_record
from optimizer.worker import TrialOutcome

__all__ = ["BatchClaim", "BatchPlan", "DriverLease", "StudyExists", "StudyStore"]

# What a store's first use would otherwise load is loaded with this module: Optuna's ORM
# models (not public, see _optuna_schema; absent in another Optuna), SQLite's dialect
# and the mappers of both schemas, set up once. ``python -m optimizer sweep`` imports
# this while its worker processes start, so they cost the sweep nothing; in the store's
# first calls they took 50 to 80 ms of a 200-trial TPE sweep's 1.2 s.
with contextlib.suppress(ImportError):
    import optuna.storages._rdb.models
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

configure_mappers()

_FINISHED = ("COMPLETE", "FAIL")

#: The tables behind the ORM models, for Core statements on the hot path of a sweep.
_TRIALS = cast(Table, TrialRow.__table__)
_BATCHES = cast(Table, BatchRow.__table__)


class StudyExists(BadInputError):
    """Another driver created the study between our check and our insert."""


@dataclass
class DriverLease:
    """This driver's row in ``omega_drivers`` (and its heartbeat on a database server)."""

    id: int
    here: HostProcess
    heartbeat: Heartbeat | None = None


@dataclass(frozen=True)
class BatchPlan:
    """A batch that this driver may claim: fresh, released, or left by a dead driver."""

    batch: int
    #: The batch's trial numbers below the budget.
    numbers: list[int]
    #: The stored row of each number, None where the trial was not asked yet.
    rows: list[TrialRecord | None]
    #: The told trial numbers the batch is asked after, as [low, high) ranges.
    history: list[list[int]]
    #: Whether an ``omega_batches`` row exists (then it is taken over, not inserted).
    has_row: bool
    #: The driver that holds the batch now (a dead one), or None.
    owner: int | None


@dataclass(frozen=True)
class BatchScan:
    """The next claimable batch (or None), and whether live drivers hold unfinished ones."""

    plan: BatchPlan | None
    busy: bool
    #: Every batch below this one is finished (the next scan starts here).
    first: int


@dataclass(frozen=True)
class BatchClaim:
    """A batch to claim (:meth:`StudyStore.claim_batches`): its plan, the trials asked
    for it and the stored ones that run again."""

    plan: BatchPlan
    new: Sequence[NewTrial]
    restart: Sequence[int]


def _now() -> datetime:
    """Returns the time as a naive UTC datetime (how the project's tables store time)."""
    return datetime.now(UTC).replace(tzinfo=None)


@functools.lru_cache(maxsize=256)
def _local(value: datetime) -> datetime:
    """Turns a naive UTC datetime into the naive local time that Optuna's trials use
    (cached: the trials of a round share their start and finish times)."""
    return value.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


class StudyStore:
    """Reads and writes studies and trials in one storage URL."""

    def __init__(
        self,
        url: str,
        *,
        must_exist: bool = False,
        bulk_mirror: bool = True,
        read_only: bool = False,
    ) -> None:
        self.url = url
        #: The URL for messages: the password masked.
        self.display_url = display_url(url)
        #: Whether the Optuna mirror is written in one transaction per batch (see _mirror).
        self.bulk_mirror = bulk_mirror
        try:
            parsed = make_url(url)
        except Exception:
            raise BadInputError(f"--storage {url}: expected a SQLAlchemy URL") from None
        #: Whether several drivers may run one study here (a database server, not SQLite).
        self.shared = is_shared_storage(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                # Optuna's engine and ours would each get an empty database of their own,
                # and everything would be gone when the command ends.
                raise BadInputError(
                    f"storage {self.display_url}: expected a database file such as "
                    "sqlite:///studies/omega.db (not an in-memory database)"
                )
            if "\x00" in parsed.database:  # %00 in the URL: no file system takes it
                raise BadInputError(
                    f"storage {self.display_url}: expected a database file path without a "
                    "NUL character (%00)"
                )
            check_sqlite_path(parsed)
            from pathlib import Path

            if must_exist and not Path(parsed.database).is_file():
                raise BadInputError(f"storage {url}: expected an existing database (no such file)")
        try:
            self._rdb: RDBStorage | None = None
            if read_only:
                # The reading commands: a connection that cannot write (a SQLite file is
                # then neither switched to WAL nor checkpointed into when it closes), on a
                # storage that is set up already, so the set-up below only reads.
                self.engine = make_readonly_engine(readonly_url(url))
                self._studies: OptunaTables | RDBStudies = self._set_up()
            else:
                prepare_sqlite_file(url)
                self.engine = make_engine(url)
                with schema_lock(url):
                    #: The Optuna study rows: through Optuna's tables, or RDBStorage when
                    #: the schema is not one that open_optuna_tables knows (it decides).
                    self._studies = retry_schema_race(self._set_up)
        except (ImportError, NoSuchModuleError) as exc:
            raise BadInputError(
                f"storage {self.display_url}: expected an installed database driver "
                f"({exc.__cause__ or exc}); for PostgreSQL use postgresql+psycopg://... with "
                "pip install 'psycopg[binary]'"
            ) from None
        except (DBAPIError, OSError) as exc:
            # Unreachable server, a file that is no database, a folder, no write access.
            orig = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = " ".join(str(orig or exc).split())[:300]
            access = "read" if read_only else "write"
            raise BadInputError(
                f"storage {self.display_url}: expected a reachable database that this user "
                f"may {access} ({reason})"
            ) from None
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        #: Per study (our id): its Optuna study id and how many trials Optuna holds.
        self._optuna_counts: dict[int, tuple[int, int]] = {}

    def _set_up(self) -> OptunaTables | RDBStudies:
        """Creates or checks Optuna's tables and the project's; returns the study rows'
        access."""
        tables = open_optuna_tables(self.engine)
        studies = tables if tables is not None else RDBStudies(self.optuna)
        Base.metadata.create_all(self.engine)
        return studies

    @property
    def optuna(self) -> RDBStorage:
        """Optuna's own storage of this database, opened on first use (its schema check
        costs about 0.35 s; the sweep itself does not need it)."""
        if self._rdb is None:
            try:
                self._rdb = RDBStorage(self.url, engine_kwargs=engine_kwargs(self.url))
            except RuntimeError as exc:  # a schema of another Optuna version
                raise BadInputError(f"storage {self.display_url}: {exc}") from None
            register_engine(self._rdb.engine)
        return self._rdb

    def close(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()
        if self._rdb is not None:
            self._rdb.engine.dispose()

    # --- studies -------------------------------------------------------------------

    def get_study(self, name: str) -> StudyRecord | None:
        """Returns the study called ``name``, or None."""
        with self._session() as session:
            row = session.scalar(select(StudyRow).where(StudyRow.name == name))
            return None if row is None else study_record(row)

    def require_study(self, name: str) -> StudyRecord:
        """Returns the study called ``name`` or raises :class:`BadInputError`."""
        study = self.get_study(name)
        if study is None:
            names = ", ".join(s.name for s in self.list_studies()) or "none"
            raise BadInputError(
                f"storage {self.display_url}: no study named {name!r} (studies: {names})"
            )
        return study

    def list_studies(self) -> list[StudyRecord]:
        """Returns every study, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(StudyRow).order_by(StudyRow.id)).all()
            return [study_record(r) for r in rows]

    def finished_extent(self, study: StudyRecord) -> tuple[int, int]:
        """Returns how many trials are finished and the number after the highest one (0
        and 0 for none): after a killed driver, trials above unfinished ones may be done."""
        with self._session() as session:
            count, highest = session.execute(
                select(func.count(), func.max(TrialRow.number)).where(
                    TrialRow.study_id == study.id, TrialRow.state.in_(_FINISHED)
                )
            ).one()
        return int(count), (-1 if highest is None else int(highest)) + 1

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
        """Creates the study in the project's tables and in Optuna's.

        Raises :class:`StudyExists` when another driver created it at the same moment.
        """
        optuna_direction = (
            StudyDirection.MAXIMIZE if direction == "maximize" else StudyDirection.MINIMIZE
        )
        study_id = self._studies.study_id(name)
        if study_id is None:
            try:
                study_id = self._studies.create_study(name, optuna_direction)
            except optuna.exceptions.DuplicatedStudyError:
                raise StudyExists(f"study {name!r} was just created by another driver") from None
        if self.get_study(name) is not None:
            raise StudyExists(f"study {name!r} was just created by another driver")
        if self._studies.trial_count(study_id):
            raise BadInputError(
                f"storage {self.display_url}: an Optuna study named {name!r} exists that this "
                "optimizer did not create; choose another name"
            )
        try:
            self._studies.set_study_user_attr(study_id, "omega_run_mode", run_mode)
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
                return study_record(row)
        except IntegrityError:
            # The unique study name (ours or Optuna's attribute key): another driver won.
            raise StudyExists(f"study {name!r} was just created by another driver") from None

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
        with self.engine.begin() as conn:
            self._insert_trials(conn, study, new, restart, now)

    def _insert_trials(
        self,
        conn: Connection,
        study: StudyRecord,
        new: Sequence[NewTrial],
        restart: Sequence[int],
        now: datetime,
        finished: Mapping[int, dict[str, Any]] | None = None,
    ) -> set[int]:
        """Adds the RUNNING rows of ``new`` and sets ``restart`` RUNNING again (Core
        statements on the tables: no ORM unit of work). A new trial that ``finished``
        holds the outcome values of (by number) is added finished instead; returns
        their numbers."""
        if restart:
            conn.execute(
                update(_TRIALS)
                .where(_TRIALS.c.study_id == study.id, _TRIALS.c.number.in_(list(restart)))
                .values(state="RUNNING")
            )
        running: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        for trial in new:
            row = {
                "study_id": study.id,
                "number": trial.number,
                "batch": trial.batch,
                "state": "RUNNING",
                "params": trial.params,
                "sampler_attrs": trial.sampler_attrs,
                "seed": trial.seed,
                "config": trial.config,
                "created_at": now,
            }
            values = None if finished is None else finished.get(trial.number)
            if values is None:
                running.append(row)
            else:
                done.append({**row, **values})
        for rows in (running, done):
            if rows:  # one INSERT, executed for every row
                conn.execute(insert(_TRIALS), rows)
        return {row["number"] for row in done}

    def finish_batches(
        self,
        study: StudyRecord,
        outcomes: Sequence[TrialOutcome],
        lease: DriverLease | None = None,
        batches: Sequence[int] = (),
        *,
        release: bool = True,
        claims: Sequence[BatchClaim] = (),
    ) -> bool:
        """Records the outcomes of one or more batches in one transaction (then call
        :meth:`sync_optuna`).

        With ``lease`` and ``batches``, only while every one of the batches is still this
        driver's (they are released in the same transaction, unless ``release`` is false:
        the outcomes of a batch that is still running); returns False, storing nothing,
        when another driver took one over (this one was presumed dead): a trial is never
        counted twice. With ``claims`` (and ``lease``), the batches are claimed first, in
        the same transaction (see :meth:`claim_batches`; False when another driver got
        one first), and their new trials that have an outcome here are added finished.
        """
        now = _now()
        values = {o.number: _outcome_values(o, study, now) for o in outcomes}
        try:
            with self.engine.begin() as conn:
                added: set[int] = set()
                if claims:
                    assert lease is not None, "a claim needs the driver's lease"
                    added = self._claim(conn, study, claims, lease, now, values)
                if lease is not None and batches:
                    self._release(conn, study, batches, lease, keep=not release)
                # One Core UPDATE, executed once per trial with its values (executemany):
                # no loaded rows, no ORM unit of work.
                changes = [
                    {"b_number": number, **values[number]}
                    for number in sorted(values)
                    if number not in added
                ]
                if changes:
                    conn.execute(
                        update(_TRIALS)
                        .where(
                            _TRIALS.c.study_id == study.id,
                            _TRIALS.c.number == bindparam("b_number"),
                        )
                        .values({key: bindparam(key) for key in changes[0] if key != "b_number"}),
                        changes,
                    )
                if self.shared and values:
                    # Drivers may run one study with budgets of their own, and the last
                    # to open it stored its own: the budget never stays below a stored
                    # trial.
                    through = max(values) + 1
                    conn.execute(
                        update(StudyRow)
                        .where(StudyRow.id == study.id, StudyRow.n_trials < through)
                        .values(n_trials=through)
                    )
        except _Lost:
            return False
        except IntegrityError:
            if not claims:
                raise
            return False  # another driver claimed one of the batches first
        return True

    def mark_waiting(
        self,
        study: StudyRecord,
        numbers: Sequence[int],
        lease: DriverLease | None = None,
        batches: Sequence[int] = (),
    ) -> None:
        """Sets unfinished trials back to WAITING (interrupted batches; resumed later).

        With ``lease`` and ``batches`` the batches are released too, and nothing changes
        when one of them is no longer this driver's.
        """
        try:
            with self.engine.begin() as conn:
                if lease is not None and batches:
                    self._release(conn, study, batches, lease)
                conn.execute(
                    update(_TRIALS)
                    .where(
                        _TRIALS.c.study_id == study.id,
                        _TRIALS.c.number.in_(list(numbers)),
                        _TRIALS.c.state.in_(["RUNNING", "WAITING"]),
                    )
                    .values(state="WAITING")
                )
        except _Lost:
            return

    # --- several drivers (see _drivers) -------------------------------------------

    def _lock_study(self, session: Session, study: StudyRecord) -> None:
        """Serializes the drivers of ``study`` until the transaction ends: a row lock on
        a server, the write lock on SQLite (a no-op UPDATE takes both, portably)."""
        session.execute(
            update(StudyRow).where(StudyRow.id == study.id).values(n_trials=StudyRow.n_trials)
        )

    def register_driver(self, study: StudyRecord) -> DriverLease:
        """Records this process as a driver of ``study`` and starts its heartbeat.

        On SQLite, raises :class:`BadInputError` while another driver of the study is
        alive (several drivers need a database server).
        """
        here = HostProcess.current()
        with self._session.begin() as session:
            self._lock_study(session, study)
            now_s = float(session.scalar(select(db_clock(self.engine.dialect.name))) or 0.0)
            others = session.scalars(
                select(DriverRow).where(
                    DriverRow.study_id == study.id, DriverRow.stopped.is_(False)
                )
            ).all()
            live = [d for d in others if is_alive(d, now_s, here)]
            for dead in others:
                if dead not in live and dead.host == here.host:
                    dead.stopped = True  # its pid is gone: certainly dead
            if live and not self.shared:
                first = live[0]
                raise BadInputError(
                    f"storage {self.display_url}: study {study.name!r} is being run by another "
                    f"driver (pid {first.pid} on {first.host}); one driver per study on SQLite, "
                    "several drivers need a PostgreSQL storage (docs/scaling.md)"
                )
            row = DriverRow(
                study_id=study.id,
                host=here.host,
                pid=here.pid,
                pid_start=here.pid_start,
                started_s=now_s,
                heartbeat_s=now_s,
                stopped=False,
            )
            session.add(row)
            session.flush()
            driver_id = row.id
        heartbeat = Heartbeat(self.engine, driver_id) if self.shared else None
        return DriverLease(id=driver_id, here=here, heartbeat=heartbeat)

    def release_driver(self, lease: DriverLease) -> None:
        """Stops the heartbeat and marks this driver stopped (its batches are released)."""
        if lease.heartbeat is not None:
            lease.heartbeat.stop()
        with self._session.begin() as session:
            session.execute(update(DriverRow).where(DriverRow.id == lease.id).values(stopped=True))
            session.execute(
                update(BatchRow).where(BatchRow.driver_id == lease.id).values(driver_id=None)
            )

    def next_batch(
        self, study: StudyRecord, total: int, lease: DriverLease, first: int = 0
    ) -> BatchScan:
        """Returns the lowest batch (from ``first``) that this driver may claim.

        A batch is claimable when some of its trials below ``total`` are not finished
        and no live driver holds it. Its ``history`` is the recorded one when it was
        asked before (a batch asked before ``omega_batches`` existed: every trial below
        it, the single-driver rule), else the trials told now that are numbered below it.
        """
        size = study.batch_size
        batches = math.ceil(total / size)
        with self._session() as session:
            self._read_snapshot(session)
            states = dict(
                session.execute(
                    select(TrialRow.number, TrialRow.state).where(
                        TrialRow.study_id == study.id,
                        TrialRow.number >= first * size,
                        TrialRow.number < total,
                    )
                ).all()
            )
            asked = {
                r.batch: r
                for r in session.scalars(
                    select(BatchRow).where(BatchRow.study_id == study.id, BatchRow.batch >= first)
                )
            }
            owner_ids = {r.driver_id for r in asked.values() if r.driver_id is not None}
            owners = {
                d.id: d
                for d in session.scalars(select(DriverRow).where(DriverRow.id.in_(owner_ids)))
            }
            now_s = float(session.scalar(select(db_clock(self.engine.dialect.name))) or 0.0)
            busy = False
            for batch in range(first, batches):
                numbers = list(range(batch * size, min((batch + 1) * size, total)))
                if all(states.get(n) in _FINISHED for n in numbers):
                    if batch == first:
                        first += 1
                    continue
                row = asked.get(batch)
                owner = None if row is None else row.driver_id
                if owner is not None and owner != lease.id:
                    holder = owners.get(owner)
                    if holder is not None and is_alive(holder, now_s, lease.here):
                        busy = True
                        continue
                stored = {
                    r.number: _trial_record(r)
                    for r in session.scalars(
                        select(TrialRow).where(
                            TrialRow.study_id == study.id, TrialRow.number.in_(numbers)
                        )
                    )
                }
                if row is not None:
                    history = [list(r) for r in row.history]
                elif stored:
                    history = [[0, numbers[0]]] if numbers[0] else []
                else:
                    told = set(range(first * size)) | {
                        n for n, state in states.items() if state in _FINISHED
                    }
                    history = to_ranges(n for n in told if n < numbers[0])
                plan = BatchPlan(
                    batch=batch,
                    numbers=numbers,
                    rows=[stored.get(n) for n in numbers],
                    history=history,
                    has_row=row is not None,
                    owner=owner,
                )
                return BatchScan(plan=plan, busy=busy, first=first)
        return BatchScan(plan=None, busy=busy, first=first)

    def _read_snapshot(self, session: Session) -> None:
        """Makes every read of ``session`` see one snapshot of the database.

        Several drivers share a database server, where each statement of a READ
        COMMITTED transaction sees the commits made before it: a scan could then miss a
        batch row and, one statement later, see the trial rows that another driver's
        claim committed with it, and plan that batch with the wrong history. REPEATABLE
        READ fixes the snapshot at the first statement (PostgreSQL, MySQL). One driver
        alone on SQLite needs nothing.
        """
        if self.engine.dialect.name != "sqlite":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    def unasked_from(self, study: StudyRecord) -> int:
        """Returns the first batch after every batch that has a stored row (0 for a new
        study): no batch from there on was ever asked."""
        with self._session() as session:
            highest = [
                session.scalar(select(func.max(table.c.batch)).where(table.c.study_id == study.id))
                for table in (_BATCHES, _TRIALS)
            ]
        return max((h for h in highest if h is not None), default=-1) + 1

    def claim_batches(
        self, study: StudyRecord, claims: Sequence[BatchClaim], lease: DriverLease
    ) -> bool:
        """Claims the batches of ``claims`` and records them RUNNING, in one transaction.

        A fresh batch is claimed by inserting its ``omega_batches`` row and trial rows
        (unique per batch and per number), a known one by a conditional update of its
        holder. Returns False, changing nothing, when another driver got one of them first.
        """
        try:
            with self.engine.begin() as conn:
                self._claim(conn, study, claims, lease, _now())
        except (IntegrityError, _Lost):
            return False
        return True

    def _claim(
        self,
        conn: Connection,
        study: StudyRecord,
        claims: Sequence[BatchClaim],
        lease: DriverLease,
        now: datetime,
        finished: Mapping[int, dict[str, Any]] | None = None,
    ) -> set[int]:
        """:meth:`claim_batches` in the transaction of ``conn``; the new trials that
        ``finished`` holds outcome values of are added finished (their numbers are
        returned). Raises IntegrityError or :class:`_Lost` when a batch is taken."""
        fresh = [c.plan for c in claims if not c.plan.has_row]
        if fresh:
            conn.execute(
                insert(_BATCHES),
                [
                    {
                        "study_id": study.id,
                        "batch": plan.batch,
                        "driver_id": lease.id,
                        "asked_by": lease.id,
                        "history": plan.history,
                        "created_at": now,
                    }
                    for plan in fresh
                ],
            )
        for plan in (c.plan for c in claims if c.plan.has_row):
            holder = (
                _BATCHES.c.driver_id.is_(None)
                if plan.owner is None
                else _BATCHES.c.driver_id == plan.owner
            )
            taken = conn.execute(
                update(_BATCHES)
                .where(_BATCHES.c.study_id == study.id, _BATCHES.c.batch == plan.batch, holder)
                .values(driver_id=lease.id)
            )
            if taken.rowcount != 1:
                raise _Lost
        return self._insert_trials(
            conn,
            study,
            [trial for c in claims for trial in c.new],
            [number for c in claims for number in c.restart],
            now,
            finished,
        )

    def _release(
        self,
        conn: Connection,
        study: StudyRecord,
        numbers: Sequence[int],
        lease: DriverLease,
        *,
        keep: bool = False,
    ) -> None:
        """Releases the batches ``numbers`` (with ``keep``, only checks that they are held);
        raises :class:`_Lost` (to roll the transaction back) unless every one of them was
        still this driver's."""
        released = conn.execute(
            update(_BATCHES)
            .where(
                _BATCHES.c.study_id == study.id,
                _BATCHES.c.batch.in_(list(numbers)),
                _BATCHES.c.driver_id == lease.id,
            )
            .values(driver_id=lease.id if keep else None)
        )
        if released.rowcount != len(set(numbers)):
            raise _Lost

    def batch_history(self, study: StudyRecord) -> dict[int, list[int]]:
        """Returns each recorded batch's history: the told trial numbers it was asked after."""
        with self._session() as session:
            rows = session.scalars(select(BatchRow).where(BatchRow.study_id == study.id))
            return {r.batch: from_ranges(r.history) for r in rows}

    # --- the Optuna mirror ---------------------------------------------------------

    def sync_optuna(self, study: StudyRecord) -> None:
        """Adds every finished trial that Optuna lacks, in number order (idempotent)."""
        if self.shared:
            self._sync_optuna_shared(study)
            return
        cached = self._optuna_counts.get(study.id)
        if cached is None:  # looked up once per store: only this driver adds trials
            study_id = self._optuna_study_id(study)
            have = self._studies.trial_count(study_id)
        else:
            study_id, have = cached
        with self.engine.connect() as conn:  # Core: no ORM session per sync
            rows = conn.execute(
                select(*_TOLD_COLUMNS)
                .where(TrialRow.study_id == study.id, TrialRow.number >= have)
                .order_by(TrialRow.number)
            ).all()
        distributions = _distributions(study)
        templates = []
        for row in rows:
            if row.state not in _FINISHED:
                break
            templates.append(_frozen_trial(row, distributions, study.objective))
        self._optuna_counts.pop(study.id, None)  # recount after an error below
        self._add_optuna_trials(study_id, templates)
        self._optuna_counts[study.id] = (study_id, have + len(templates))

    def _sync_optuna_shared(self, study: StudyRecord) -> None:
        """:meth:`sync_optuna` when other drivers may mirror the same study: under the
        study's row lock, counting Optuna's trials afresh each time."""
        study_id = self._optuna_study_id(study)
        distributions = _distributions(study)
        with self._session.begin() as session:
            self._lock_study(session, study)
            if isinstance(self._studies, OptunaTables):
                have = count_trials(session, study_id)
            else:
                have = self._studies.trial_count(study_id)
            rows = session.execute(
                select(*_TOLD_COLUMNS)
                .where(TrialRow.study_id == study.id, TrialRow.number >= have)
                .order_by(TrialRow.number)
            ).all()
            templates = []
            for number, row in enumerate(rows, start=have):
                if row.number != number or row.state not in _FINISHED:
                    break
                templates.append(_frozen_trial(row, distributions, study.objective))
            # Written on another connection while this transaction holds the lock.
            self._add_optuna_trials(study_id, templates)

    def _optuna_study_id(self, study: StudyRecord) -> int:
        """Returns the Optuna study id of ``study`` (created with it)."""
        study_id = self._studies.study_id(study.name)
        if study_id is None:
            raise BadInputError(
                f"storage {self.display_url}: the Optuna study {study.name!r} is missing"
            )
        return study_id

    def _add_optuna_trials(self, study_id: int, trials: Sequence[FrozenTrial]) -> None:
        add_trials(self.engine, study_id, trials, lambda: self.optuna, bulk=self.bulk_mirror)

    def told_trials(
        self, study: StudyRecord, numbers: Iterable[int] | None = None
    ) -> dict[int, FrozenTrial]:
        """Returns finished trials as the Optuna trials they are mirrored as, by number.

        This is the sampler's history: built from the project's rows with the same
        function that writes the Optuna mirror, so a fresh and a resumed sweep see
        exactly the same history.
        """
        query = select(*_TOLD_COLUMNS).where(
            TrialRow.study_id == study.id, TrialRow.state.in_(_FINISHED)
        )
        if numbers is not None:
            query = query.where(TrialRow.number.in_(list(numbers)))
        with self._session() as session:
            rows = session.execute(query.order_by(TrialRow.number)).all()
        distributions = _distributions(study)
        return {r.number: _frozen_trial(r, distributions, study.objective) for r in rows}


class _Lost(Exception):
    """Another driver claimed a batch first, or took it over."""


def _distributions(study: StudyRecord) -> dict[str, BaseDistribution]:
    specs = [ParamSpec.from_dict(d) for d in study.search_space]
    return {s.path: s.distribution() for s in specs}


#: The columns a told trial's Optuna form is built from (:func:`_frozen_trial`): not the
#: configs, whose JSON is most of a row and which the mirror does not hold.
_TOLD_COLUMNS = (
    TrialRow.number,
    TrialRow.state,
    TrialRow.params,
    TrialRow.sampler_attrs,
    TrialRow.seed,
    TrialRow.config_hash,
    TrialRow.objective_value,
    TrialRow.error_category,
    TrialRow.error_message,
    TrialRow.created_at,
    TrialRow.finished_at,
    *(getattr(TrialRow, key) for key in METRIC_KEYS),
)

#: Where the metrics begin in a row of :data:`_TOLD_COLUMNS`.
_TOLD_METRICS_AT = len(_TOLD_COLUMNS) - len(METRIC_KEYS)


def _frozen_trial(
    record: Row[Any], distributions: dict[str, BaseDistribution], objective: str
) -> FrozenTrial:
    """Returns a finished trial (a row of :data:`_TOLD_COLUMNS`) as its Optuna mirror trial."""
    user_attrs: dict[str, Any] = {"seed": record.seed, "config_hash": record.config_hash}
    if record.state == "COMPLETE":
        user_attrs.update(zip(METRIC_KEYS, record[_TOLD_METRICS_AT:], strict=True))
    else:
        user_attrs.update(dict.fromkeys(METRIC_KEYS))
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
        system_attrs=dict(record.sampler_attrs or {}),
        intermediate_values={},
        trial_id=0,
    )


def _outcome_values(outcome: TrialOutcome, study: StudyRecord, now: datetime) -> dict[str, Any]:
    """Returns the column values that record ``outcome`` (the same keys for every outcome:
    a failed trial has no metrics, no objective value and no resolved config)."""
    metrics = outcome.metrics if outcome.ok else None
    values: dict[str, Any] = {
        "finished_at": now,
        "duration_s": outcome.duration_s,
        "engine_s": outcome.engine_s,
        "worker_pid": outcome.worker_pid,
        "config_hash": outcome.config_hash,
        "stats": outcome.stats,
        "state": "FAIL",
        "resolved_config": None,
        **{key: None for key in METRIC_KEYS},
        "objective_value": None,
        "feasible": None,
        "error_category": outcome.error_category,
        "error_message": outcome.error_message,
    }
    if metrics is not None:
        value = metrics.get(study.objective)
        values.update(
            {key: metrics.get(key) for key in METRIC_KEYS},
            state="COMPLETE",
            resolved_config=outcome.resolved_config,
            objective_value=None if value is None else float(value),
            feasible=is_feasible(metrics, study.constraints),
            error_category=None,
            error_message=None,
        )
    return values


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
