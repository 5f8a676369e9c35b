"""The sweep driver: ask a batch, evaluate it in parallel, tell it in trial-number order.

Batch ``b`` holds trials ``b*batch_size .. (b+1)*batch_size - 1``. The driver records
the batch RUNNING (one transaction, seeds included) and hands it to the worker pool (in
dev mode on a storage that only it writes, hands it first and records it while it
runs), then records all outcomes in one transaction and adds them to the Optuna study
in number order. A batch that was asked but not told (a killed driver: RUNNING; Ctrl-C:
WAITING) runs again on ``--resume`` with its stored parameters and seeds, under the
same numbers; in dev mode the driver re-asks it and checks the parameters are unchanged.

One driver alone on its storage takes a round of several fresh batches at once when the
sampler ignores the history (random): they are claimed in one transaction and stored in
one, and each is still asked with its own seed and told in order, so the stored rows
are those of batches run one by one (only the number of transactions changes).

Several drivers may run one study on a PostgreSQL storage (docs/scaling.md): each claims
the lowest batch that is neither finished nor held by a live driver (see
``optimizer.storage._drivers``), asks it after the trials told so far (recorded with the
batch, so it can be re-asked exactly), and stores its results only while the batch is
still its own. One driver alone claims batch 0, 1, 2, ... in order: the sequence above.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from optuna.trial import TrialState

from optimizer.errors import BadInputError, Interrupted, OptimizerError, StudyFileError
from optimizer.metrics import is_feasible
from optimizer.pool import LokyPool, StartedRun, make_pool
from optimizer.progress import LineProgress, Progress
from optimizer.sampling import AskedTrial, BatchAsker
from optimizer.search_space import grid_size
from optimizer.seeds import derive, prod_seed
from optimizer.storage import (
    BatchClaim,
    BatchPlan,
    DriverLease,
    NewTrial,
    StudyExists,
    StudyRecord,
    StudyStore,
    TrialRecord,
)
from optimizer.storage._drivers import from_ranges
from optimizer.storage._mirror import WRITE_LOCK
from optimizer.study_file import MAX_TRIALS, StudySpec, data_files, trial_config
from optimizer.worker import FAULTS_ENV, TrialOutcome, TrialTask

__all__ = ["SweepReport", "build_config", "run_sweep"]

#: Seconds between two looks at batches that other live drivers hold (several drivers).
_WAIT_S = 0.5

#: The Optuna mirror is synced at most this often during a sweep (and once at its end):
#: each sync has a fixed cost of a few ms, so one per batch of fast trials was a large
#: share of the driver's time.
MIRROR_EVERY_S = 0.25


@dataclass
class SweepReport:
    """What one ``sweep`` invocation did, with the figures for throughput."""

    study: StudyRecord
    ran: int = 0
    failed: int = 0
    wall_s: float = 0.0
    engine_s: float = 0.0
    trial_s: float = 0.0
    workers: int = 1
    #: Wall seconds spent asking batches (sampler, hand-over, claims), evaluating them in
    #: the workers, and storing their results.
    ask_s: float = 0.0
    evaluate_s: float = 0.0
    store_s: float = 0.0
    #: CPU seconds of the worker processes from their first trial to their last, the
    #: part inside ``run_backtest``, and the largest peak RSS of one worker process in
    #: MiB (loky; 0 where not known).
    worker_cpu_s: float = 0.0
    worker_engine_cpu_s: float = 0.0
    worker_peak_rss_mb: float = 0.0

    @property
    def trials_per_s(self) -> float:
        """Returns the trials evaluated per second of wall time."""
        return self.ran / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def engine_share(self) -> float:
        """Returns the summed time inside ``run_backtest`` over wall time times workers."""
        capacity = self.wall_s * self.workers
        return self.engine_s / capacity if capacity > 0 else 0.0


def build_config(spec: StudySpec, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Returns the engine config of one trial of ``spec`` (:func:`trial_config`)."""
    return trial_config(spec.base_config, params, spec.run_mode, seed, spec.base_config_path.parent)


def _open_study(
    store: StudyStore, spec: StudySpec, total: int, resume: bool, study_text: str
) -> StudyRecord:
    existing = store.get_study(spec.name)
    if existing is None:
        try:
            import bt

            engine_version: str | None = bt.__engine_version__
        except ImportError:
            engine_version = None
        try:
            return store.create_study(
                name=spec.name,
                run_mode=spec.run_mode,
                seed=spec.seed,
                n_trials=total,
                batch_size=spec.batch_size,
                objective=spec.objective,
                direction=spec.direction,
                constraints=dict(spec.constraints),
                sampler=spec.sampler.to_dict(),
                search_space=[p.to_dict() for p in spec.search_space],
                fingerprint=spec.fingerprint(),
                study_file=str(spec.file),
                study_text=study_text,
                base_config=spec.base_config,
                engine_version=engine_version,
            )
        except StudyExists:
            # Another driver created it a moment ago: join it as --resume does, once its
            # own rows are committed (it writes the Optuna study first).
            existing = _await_study(store, spec.name)
    if not resume:
        raise BadInputError(
            f"{spec.file}: name: expected a new study name, {spec.name!r} already exists "
            f"in {store.display_url} (use --resume to continue it)"
        )
    fingerprint = spec.fingerprint()
    changed = [k for k in fingerprint if existing.fingerprint.get(k) != fingerprint[k]]
    if changed:
        raise BadInputError(
            f"{spec.file}: {changed[0]}: expected the value stored for study {spec.name!r} "
            "(it changed since the study started; use a new name to start a new study)"
        )
    if existing.n_trials != total:
        # Also when it grows: with several drivers, another one may have stored a budget
        # below the trials finished since.
        _check_budget(store, spec, existing, total)
        existing = store.set_n_trials(existing, total)
    return existing


def _check_budget(store: StudyStore, spec: StudySpec, study: StudyRecord, total: int) -> None:
    """Raises :class:`BadInputError` when ``total`` is below a trial ``study`` has
    already finished: the stored budget never drops below them (docs/optimizer.md). After
    a killed driver, trials may be finished above unfinished ones; the budget must hold
    them all, or the study would differ from one run with that budget."""
    finished, through = store.finished_extent(study)
    if total >= through:
        return
    done = f"study {study.name!r} in {store.display_url} has finished {finished} trials already"
    if through > finished:
        done += f", up to trial {through - 1}"
    if total == spec.n_trials:  # the budget is the study file's
        raise StudyFileError(
            str(spec.file), "n_trials", f"at least {through} ({done}; or a larger --trials)", total
        )
    raise BadInputError(f"--trials {total}: expected at least {through} ({done})")


#: Seconds a driver waits for the study that another driver is creating.
STUDY_WAIT_S = 10.0


def _await_study(store: StudyStore, name: str) -> StudyRecord:
    """Returns the study called ``name`` once it is there (another driver is creating
    it); raises :class:`BadInputError` after :data:`STUDY_WAIT_S` without it."""
    deadline = time.monotonic() + STUDY_WAIT_S
    while (study := store.get_study(name)) is None:
        if time.monotonic() > deadline:
            raise BadInputError(
                f"study {name!r}: expected another driver to finish creating it in "
                f"{store.display_url} within {STUDY_WAIT_S:g} s; run the command again"
            )
        time.sleep(_WAIT_S / 10)
    return study


def run_sweep(
    spec: StudySpec,
    *,
    storage_url: str,
    study_text: str = "",
    n_trials: int | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> SweepReport:
    """Runs (or resumes) the study of ``spec`` until ``n_trials`` trials are finished.

    Raises :class:`~optimizer.errors.Interrupted` when ``stop()`` turns true; the
    unfinished batch is then left WAITING for ``--resume``.
    """
    total = n_trials if n_trials is not None else spec.n_trials
    if not 1 <= total <= MAX_TRIALS:
        raise BadInputError(f"--trials {total}: expected an integer from 1 to {MAX_TRIALS:,}")
    if spec.sampler.name == "grid" and total > (
        size := grid_size(str(spec.file), spec.search_space)
    ):
        raise BadInputError(
            f"--trials {total}: expected at most the grid size {size} for sampler grid"
        )
    # No more processes than trials to run: the others would only start and idle.
    n_workers = min(workers if workers is not None else spec.workers, total)
    progress = progress or LineProgress()
    stop = stop or (lambda: False)
    faults = os.environ.get(FAULTS_ENV) or None

    # The worker processes start first, so that their start-up overlaps the storage's
    # set-up. A Dask cluster is reached and every worker checked (data files, engine
    # build, one thread) before the study is created or changed: a cluster that cannot
    # run the study stops the sweep here (exit 2).
    root = spec.base_config_path.parent
    files = [path for _, path in data_files(spec.base_config, spec.search_space, root)]
    pool = make_pool(spec.backend, n_workers, spec.scheduler, files)
    try:
        store = StudyStore(storage_url)
    except BaseException:
        pool.close()
        raise
    try:
        try:
            study = _open_study(store, spec, total, resume, study_text)
            lease = store.register_driver(study)
        except BaseException:
            pool.close()
            raise
        store.sync_optuna(study)
        report = SweepReport(study=study, workers=getattr(pool, "workers", n_workers))
        trials = {t.number: t for t in store.trials(study)}
        # One in-memory sampler study for the whole sweep, told batch by batch; it reads
        # the results tables only to catch up (a resume, batches other drivers told).
        asker = _asker(spec, store, study)
        best = _best_score(trials.values(), study.constraints)
        done = sum(1 for t in trials.values() if t.finished and t.number < total)
        failed = sum(1 for t in trials.values() if t.state == "FAIL" and t.number < total)
        progress.start(study.name, total, done, failed, best)
        crash_dir = tempfile.mkdtemp(prefix="omega-optimizer-")
        started = time.perf_counter()
        # A history-free sampler (random) in dev mode on a single-driver storage runs one
        # round ahead: round r+1 is asked and handed to the workers while round r runs,
        # before r+1 is claimed (with its results, once its turn comes and the plan
        # confirms it; a dev trial's seed and config are fixed, so the rows are the same
        # either way). The workers then never wait for the driver's bookkeeping.
        run_ahead = (
            asker.history_free
            and spec.run_mode == "dev"
            and not store.shared
            and isinstance(pool, LokyPool)
        )
        ahead: _Ahead | None = None
        # In dev mode on a storage that only this driver writes, a round's trials go to
        # the workers before they are claimed, and the claim waits for the transaction
        # that stores the round's first results (_Arrivals): a dev trial's seed and
        # config are fixed, so the claim writes the same rows either way, and a driver
        # killed before it commits leaves the batches to be asked again, as they were.
        # (Prod seeds are committed before a trial runs.)
        # Unless the round runs ahead, each trial goes to the workers as soon as it is
        # asked (LokyPool.stream): the workers run a batch while the sampler is still
        # asking it, and the sampler asks a batch's trials without its results anyway.
        early_pool = (
            pool
            if isinstance(pool, LokyPool) and spec.run_mode == "dev" and not store.shared
            else None
        )
        mirror = _Mirror(store, study, background=early_pool is None or run_ahead)
        # A streamed run's round is told as soon as its results are in and stored while
        # the next round's last trial runs, when the driver would otherwise wait idle.
        stores = _RoundStores(report, progress, late=early_pool is not None and not run_ahead)
        # One driver alone on its storage: no batch from here on was ever asked and only
        # this driver asks batches, so once every batch below one of them is told, the
        # scan's plan for it is known without reading the tables. A round is then several
        # such batches when the sampler ignores the history (each batch still asked with
        # its own seed, as alone): one transaction to claim them and one to store them.
        unasked_from = math.inf if store.shared else store.unasked_from(study)
        rounds = _RoundSizer(asker.history_free and not store.shared)
        try:
            first = 0  # every batch below it is finished
            while True:
                phase = time.perf_counter()
                busy = False
                if ahead is not None and ahead.plans[0].batch == first >= unasked_from:
                    plans = ahead.plans
                elif first >= unasked_from:  # what the scan would plan
                    plans = _fresh_plans(first, rounds.batches, spec.batch_size, total)
                else:
                    stores.flush()  # the scan reads the results tables
                    scan = store.next_batch(study, total, lease, first)
                    first, busy = scan.first, scan.busy
                    plans = [] if scan.plan is None else [scan.plan]
                if not plans:
                    if not busy:
                        break
                    # Live drivers hold the batches left: wait for them to finish (or to
                    # die: their batches are then taken over here).
                    if stop():
                        raise Interrupted("interrupted")
                    time.sleep(_WAIT_S)
                    continue
                numbers = [p.batch for p in plans]
                started_run: StartedRun | None = None
                tasks: list[TrialTask] | None
                if ahead is not None and ahead.plans == plans:
                    tasks, started_run, unclaimed = ahead.tasks, ahead.run, ahead.claims
                else:
                    if ahead is not None:  # a wrong guess: its trials ran for nothing
                        asker.discard()
                    tasks, started_run, unclaimed = _prepare_round(
                        store,
                        spec,
                        study,
                        plans,
                        asker,
                        lease,
                        crash_dir,
                        faults,
                        early_pool,
                        stream=not run_ahead,
                    )
                ahead = None
                if tasks is None:  # another driver claimed it first: look again
                    report.ask_s += time.perf_counter() - phase
                    # Planned without the scan, the batch could only be lost to a row
                    # that this driver's plan did not expect: scan from now on.
                    unasked_from = math.inf
                    if stop():
                        raise Interrupted("interrupted")
                    continue

                arrivals = _Arrivals(store, study, lease, numbers, tasks, unclaimed, progress, best)
                if run_ahead:  # its rounds go to the pool as they are asked (early_pool)
                    assert isinstance(pool, LokyPool) and started_run is not None
                    after = _fresh_plans(
                        plans[-1].batch + 1, rounds.batches, spec.batch_size, total
                    )
                    if after:
                        ahead = _ask_ahead(spec, after, asker, pool, crash_dir, faults)
                report.ask_s += time.perf_counter() - phase
                phase = time.perf_counter()
                stores.flush()  # the round before, while this one's last trial runs
                report.store_s += time.perf_counter() - phase
                phase = time.perf_counter()
                mirror.sync_if_due()
                try:
                    if started_run is not None:
                        assert isinstance(pool, LokyPool)
                        outcomes = pool.finish(started_run, stop, arrivals)
                    else:
                        outcomes = pool.run(tasks, stop, arrivals)
                except BaseException:
                    try:
                        stores.flush()
                    finally:
                        arrivals.mark_waiting()
                    raise
                report.evaluate_s += time.perf_counter() - phase
                phase = time.perf_counter()
                best = arrivals.best
                if not stores.add(arrivals, [outcomes[t.number] for t in tasks]):
                    # Presumed dead (no heartbeat for LEASE_S), this driver lost the batch
                    # to another one, which runs it again: these results are dropped.
                    asker.discard()  # its trials are never told here
                    report.store_s += time.perf_counter() - phase
                    unasked_from = math.inf  # the tables decide from now on
                    continue
                for plan in plans:
                    _tell(asker, plan, outcomes, study.objective)
                    if plan.batch == first:  # every trial of it is told now
                        first += 1
                report.store_s += time.perf_counter() - phase
                rounds.done(len(plans))
            stores.flush()
            mirror.finish()
        finally:
            # A round told but not stored yet when something else failed: its trials ran.
            with contextlib.suppress(Exception):
                stores.flush()
            mirror.close()
            report.wall_s = time.perf_counter() - started
            _worker_figures(report, pool)
            pool.close()
            with contextlib.suppress(Exception):  # an unreachable database: the lease expires
                store.release_driver(lease)
            progress.close()
            shutil.rmtree(crash_dir, ignore_errors=True)
        return report
    finally:
        store.close()


class _Mirror:
    """Keeps the study's Optuna mirror up to date during a sweep: one sync at a time, at
    most every :data:`MIRROR_EVERY_S`, each adding every trial told since the last one
    (a slow sync makes the next one larger, never the sweep slower), and one at the end.

    In the background, by a thread of its own, while the driver waits for the workers;
    in the driver's thread when ``background`` is false (a streamed run, where the
    driver never waits: a thread would take the interpreter lock from the sampler at
    every I/O call of either). Its writes and the driver's batch transactions take
    ``WRITE_LOCK`` in turn instead of waiting for SQLite's write lock. The sampler's
    history never comes from the mirror, so it may lag by a few batches;
    ``sync_optuna`` repairs it after a kill.
    """

    def __init__(self, store: StudyStore, study: StudyRecord, *, background: bool) -> None:
        self._store, self._study = store, study
        self._thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="omega-optuna-mirror")
            if background
            else None
        )
        self._last: Future[None] | None = None
        self._at = -math.inf

    def sync_if_due(self) -> None:
        """Syncs the mirror (or starts syncing it) unless a sync runs or ran lately."""
        if self._last is not None:
            if not self._last.done():
                return
            self._last.result()  # raises what the last sync raised
        if time.perf_counter() - self._at < MIRROR_EVERY_S:
            return
        if self._thread is None:
            self._store.sync_optuna(self._study)
        else:
            self._last = self._thread.submit(self._store.sync_optuna, self._study)
        self._at = time.perf_counter()

    def finish(self) -> None:
        """Waits for the sync under way, then adds what is left."""
        if self._last is not None:
            self._last.result()
        self._store.sync_optuna(self._study)

    def close(self) -> None:
        """Ends the thread, after the sync under way."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)


class _RoundStores:
    """Stores each round's results (:meth:`_Arrivals.store_rest`) and counts them in the
    report and on the progress line.

    ``late``: a round is stored one step later, by :meth:`flush`, which the driver calls
    once the next round is handed to the workers (its last trial then runs meanwhile),
    before an interrupted round is left WAITING, and at the end. Such a round is told to
    the sampler before it is stored: a dev round that a kill leaves unstored is asked
    again as it was. A late round that another driver took over (this one was presumed
    dead) stops the sweep, since the next round was asked after it.
    """

    def __init__(self, report: SweepReport, progress: Progress, *, late: bool) -> None:
        self._report, self._progress, self._late = report, progress, late
        self._pending: tuple[_Arrivals, list[TrialOutcome]] | None = None

    def add(self, arrivals: _Arrivals, results: list[TrialOutcome]) -> bool:
        """Stores a round's ``results`` (or, when ``late``, keeps them for :meth:`flush`);
        returns False when the round is no longer this driver's (nothing stored)."""
        if self._late:
            self.flush()
            self._pending = (arrivals, results)
            return True
        return self._store(arrivals, results)

    def flush(self) -> None:
        """Stores the round kept by :meth:`add`, if any."""
        if self._pending is None:
            return
        arrivals, results = self._pending
        self._pending = None
        if not self._store(arrivals, results):
            raise OptimizerError(
                "another driver took over this sweep's batches (this one was presumed dead: "
                "no heartbeat for a while); it goes on with the study"
            )

    def _store(self, arrivals: _Arrivals, results: list[TrialOutcome]) -> bool:
        if not arrivals.store_rest(results):
            return False
        report = self._report
        self._progress.batch_done()
        report.ran += len(results)
        report.failed += sum(1 for o in results if not o.ok)
        report.engine_s += sum(o.engine_s for o in results)
        report.trial_s += sum(o.duration_s for o in results)
        return True


class _Arrivals:
    """Takes a round's outcomes as they arrive (the pools' ``on_outcomes``): counts them
    on the progress line, keeps the best feasible score, and stores those that arrive
    while others of the round still run as soon as the pool hands them on (within about
    a second, see ``pool.HAND_ON_S``), so that a ``kill -9`` of the driver loses no
    trial finished before that. The round's last arrivals are stored afterwards
    (:meth:`store_rest`), in the transaction that releases its batches.

    ``unclaimed``, the round's claims when they were left to the first transaction that
    stores its results (a dev round that went to the workers first): fast trials are
    then claimed, stored and released in one transaction.
    """

    def __init__(
        self,
        store: StudyStore,
        study: StudyRecord,
        lease: DriverLease,
        batches: list[int],
        tasks: Iterable[TrialTask],
        unclaimed: list[BatchClaim],
        progress: Progress,
        best: float | None,
    ) -> None:
        self._store, self._study, self._lease, self._batches = store, study, lease, batches
        self._progress = progress
        self._numbers = [t.number for t in tasks]
        self._running = set(self._numbers)
        self._unclaimed = unclaimed
        #: The best feasible score so far (rank 1's), None before one.
        self.best = best
        #: The trials stored as they arrived.
        self.saved: set[int] = set()

    def __call__(self, arrived: list[TrialOutcome]) -> None:
        for outcome in arrived:
            self._running.discard(outcome.number)
            metrics = outcome.metrics
            if outcome.ok and metrics and is_feasible(metrics, self._study.constraints):
                score = metrics.get("score")
                if score is not None and (self.best is None or score > self.best):
                    self.best = float(score)
            self._progress.trial_done(not outcome.ok, self.best)
        if self._running and arrived and self._store_outcomes(arrived, release=False):
            self.saved.update(o.number for o in arrived)

    def store_rest(self, results: list[TrialOutcome]) -> bool:
        """Stores the round's ``results`` not stored yet and releases its batches, in one
        transaction; returns False, storing nothing, when the batches are no longer this
        driver's."""
        return self._store_outcomes(
            [o for o in results if o.number not in self.saved], release=True
        )

    def mark_waiting(self) -> None:
        """Leaves the round's unfinished trials WAITING (an interrupted round), claimed
        first when they were not."""
        with WRITE_LOCK:
            if self._unclaimed and not self._store.claim_batches(
                self._study, self._unclaimed, self._lease
            ):
                return
            self._unclaimed = []
            self._store.mark_waiting(self._study, self._numbers, self._lease, self._batches)

    def _store_outcomes(self, outcomes: list[TrialOutcome], *, release: bool) -> bool:
        with WRITE_LOCK:
            stored = self._store.finish_batches(
                self._study,
                outcomes,
                self._lease,
                self._batches,
                release=release,
                claims=self._unclaimed,
            )
        if stored:
            self._unclaimed = []
        return stored


def _worker_figures(report: SweepReport, pool: object) -> None:
    """Copies the worker processes' CPU time and peak RSS from a pool that counts them."""
    cpu: dict[int, tuple[float, float]] = getattr(pool, "worker_cpu_s", {})
    rss: dict[int, int] = getattr(pool, "worker_rss_kb", {})
    report.worker_cpu_s = sum(end - start for start, end in cpu.values())
    report.worker_engine_cpu_s = sum(getattr(pool, "worker_engine_cpu_s", {}).values())
    report.worker_peak_rss_mb = max(rss.values(), default=0) / 1024


def _tell(
    asker: BatchAsker, plan: BatchPlan, outcomes: Mapping[int, TrialOutcome], objective: str
) -> None:
    """Tells the sampler study a stored batch in number order, each trial as the results
    tables hold it (``StudyStore.told_trials``): COMPLETE with its objective value when
    it completed with a finite one, else FAIL."""
    for number, row in zip(plan.numbers, plan.rows, strict=True):
        value: Any = None
        if number in outcomes:
            outcome = outcomes[number]
            if outcome.ok and outcome.metrics is not None:
                value = outcome.metrics.get(objective)
        elif row is not None and row.state == "COMPLETE":  # told before this run
            value = row.objective_value
        value = None if value is None else float(value)
        # A stored trial ran (or runs again) with its stored parameters, whatever was
        # re-asked (an unseeded prod sampler re-asks others).
        ran = None if row is None else (row.params, row.sampler_attrs)
        if value is not None and math.isfinite(value):
            asker.tell(number, TrialState.COMPLETE, value, ran)
        else:
            asker.tell(number, TrialState.FAIL, None, ran)


#: Most batches in one round, and the wall time a round aims at: a round's trials are
#: stored together, so a longer round would lose more finished work to a kill -9.
MAX_ROUND_BATCHES = 8
ROUND_S = 0.1


class _RoundSizer:
    """How many fresh batches the next round takes: 1 unless ``grouped``; then as many
    as fit in about ``ROUND_S`` of wall time at the recent pace (at most
    ``MAX_ROUND_BATCHES``). Timing sets the size only: every batch is asked, stored and
    told as it would be alone, so the results do not depend on it."""

    def __init__(self, grouped: bool) -> None:
        self.grouped = grouped
        self.batches = 1
        self._since = time.perf_counter()

    def done(self, batches: int) -> None:
        """Notes the end of a round of ``batches`` batches; sizes the next one."""
        now = time.perf_counter()
        per_batch = (now - self._since) / batches
        self._since = now
        if self.grouped:
            fit = int(ROUND_S / per_batch) if per_batch > 0 else MAX_ROUND_BATCHES
            self.batches = max(1, min(MAX_ROUND_BATCHES, fit))


@dataclass
class _Ahead:
    """The next round as it is expected to be planned, asked and started early."""

    plans: list[BatchPlan]
    claims: list[BatchClaim]
    tasks: list[TrialTask]
    run: StartedRun


def _ask_ahead(
    spec: StudySpec,
    plans: list[BatchPlan],
    asker: BatchAsker,
    pool: LokyPool,
    crash_dir: str,
    faults: str | None,
) -> _Ahead:
    """Asks the fresh batches ``plans`` (the next numbers, never asked, after every trial
    below them: as they will be planned once the current round is told) and hands them
    to the pool."""
    claims, tasks = _ask_round(spec, plans, asker, crash_dir, faults)
    return _Ahead(plans=plans, claims=claims, tasks=tasks, run=pool.start(tasks))


def _asker(spec: StudySpec, store: StudyStore, study: StudyRecord) -> BatchAsker:
    """Returns the batch asker of ``study``, which loads its history from ``store``."""
    return BatchAsker(
        sampler=spec.sampler,
        space=spec.search_space,
        direction=spec.direction,
        study_seed=spec.seed,
        load_history=lambda numbers: store.told_trials(study, numbers),
    )


def _fresh_plans(first: int, count: int, size: int, total: int) -> list[BatchPlan]:
    """Returns the plans of up to ``count`` batches from ``first`` that were never asked,
    each after every trial below it is told (what :meth:`StudyStore.next_batch` plans
    for them then); none past ``total``."""
    plans = []
    for batch in range(first, first + count):
        start = batch * size
        if start >= total:
            break
        numbers = list(range(start, min(start + size, total)))
        plans.append(
            BatchPlan(
                batch=batch,
                numbers=numbers,
                rows=[None] * len(numbers),
                history=[[0, start]] if start else [],
                has_row=False,
                owner=None,
            )
        )
    return plans


def _prepare_round(
    store: StudyStore,
    spec: StudySpec,
    study: StudyRecord,
    plans: list[BatchPlan],
    asker: BatchAsker,
    lease: DriverLease,
    crash_dir: str,
    faults: str | None,
    pool: LokyPool | None,
    stream: bool = False,
) -> tuple[list[TrialTask] | None, StartedRun | None, list[BatchClaim]]:
    """Asks (or re-asks) the batches of a round; returns their tasks, their run and
    their claims still to be made.

    Without ``pool``, the batches are claimed RUNNING here (no claims are left; the
    tasks are None when another driver claimed one of them first). With ``pool``, the
    tasks are handed to it, each as soon as it is asked when ``stream``, and the claims
    are left to the transaction that stores the round's first results.
    """
    if pool is None:
        claims, tasks = _ask_round(spec, plans, asker, crash_dir, faults)
        with WRITE_LOCK:
            claimed = store.claim_batches(study, claims, lease)
        return (tasks if claimed else None), None, []
    if stream:
        started = pool.stream()
        send = functools.partial(pool.send, started)
        claims, tasks = _ask_round(spec, plans, asker, crash_dir, faults, send)
    else:
        claims, tasks = _ask_round(spec, plans, asker, crash_dir, faults)
        started = pool.start(tasks)
    return tasks, started, claims


def _ask_round(
    spec: StudySpec,
    plans: list[BatchPlan],
    asker: BatchAsker,
    crash_dir: str,
    faults: str | None,
    on_task: Callable[[TrialTask], None] | None = None,
) -> tuple[list[BatchClaim], list[TrialTask]]:
    """Asks (or re-asks) the batches ``plans`` in order; returns their claims and tasks
    (``on_task`` gets each task as soon as its trial is asked)."""
    claims: list[BatchClaim] = []
    tasks: list[TrialTask] = []
    for plan in plans:
        new, restart, batch_tasks = _ask_batch(spec, plan, asker, crash_dir, faults, on_task)
        claims.append(BatchClaim(plan=plan, new=new, restart=restart))
        tasks.extend(batch_tasks)
    return claims, tasks


def _ask_batch(
    spec: StudySpec,
    plan: BatchPlan,
    asker: BatchAsker,
    crash_dir: str,
    faults: str | None,
    on_task: Callable[[TrialTask], None] | None = None,
) -> tuple[list[NewTrial], list[int], list[TrialTask]]:
    """Asks (or re-asks) a batch; returns its new trials, the stored ones that run again,
    and the tasks. ``on_task`` gets each task as soon as its trial is asked."""
    batch, numbers, rows = plan.batch, plan.numbers, plan.rows
    history = from_ranges(plan.history)
    new: list[NewTrial] = []
    restart: list[int] = []
    tasks: list[TrialTask] = []

    def take(index: int, ask: AskedTrial) -> None:
        number, row = numbers[index], rows[index]
        # The sampler study holds the history, then the batch: one driver alone asks
        # after every trial below the batch, so its numbers are ours; with several
        # drivers the history may lack batches still running elsewhere.
        if ask.number != len(history) + index:
            raise OptimizerError(
                f"trial {number}: the sampler study numbered it {ask.number}, expected "
                f"{len(history) + index}"
            )
        if row is not None:
            if spec.run_mode == "dev" and row.params != ask.params:
                raise OptimizerError(
                    f"trial {number}: re-asked parameters {ask.params} differ from the stored "
                    f"{row.params}; the sweep is not deterministic"
                )
            if row.finished:
                # A short last batch that a larger --trials now extends: keep what was told.
                return
            restart.append(number)
            config = row.config
        else:
            trial_seed = derive(spec.seed, number) if spec.run_mode == "dev" else prod_seed()  # type: ignore[arg-type]
            config = build_config(spec, ask.params, trial_seed)
            new.append(
                NewTrial(
                    number=number,
                    batch=batch,
                    params=ask.params,
                    sampler_attrs=ask.sampler_attrs,
                    seed=trial_seed,
                    config=config,
                )
            )
        task = TrialTask(
            number=number,
            config=config,
            timeout_s=spec.trial_timeout_s,
            crash_dir=crash_dir,
            faults=faults,
        )
        tasks.append(task)
        if on_task is not None:
            on_task(task)

    asker.ask(batch, numbers, history, take)
    return new, restart, tasks


def _best_score(trials: Iterable[TrialRecord], constraints: Mapping[str, float]) -> float | None:
    """Returns the best score among completed feasible trials (rank 1's score), or None."""
    scores = [
        float(t.metrics["score"])
        for t in trials
        if t.state == "COMPLETE"
        and t.metrics
        and t.metrics.get("score") is not None
        and is_feasible(t.metrics, constraints)
    ]
    return max(scores) if scores else None
