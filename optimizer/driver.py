"""The sweep driver: ask a batch, evaluate it in parallel, tell it in trial-number order.

Batch ``b`` holds trials ``b*batch_size .. (b+1)*batch_size - 1``. The driver records
the batch RUNNING (one transaction, seeds included), hands it to the worker pool, then
records all outcomes in one transaction and adds them to the Optuna study in number
order. A batch that was asked but not told (a killed driver: RUNNING; Ctrl-C: WAITING)
runs again on ``--resume`` with its stored parameters and seeds, under the same
numbers; in dev mode the driver re-asks it and checks the parameters are unchanged.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial

from optimizer.errors import BadInputError, OptimizerError
from optimizer.metrics import is_feasible
from optimizer.pool import make_pool
from optimizer.progress import LineProgress, Progress
from optimizer.sampling import ask_batch
from optimizer.search_space import apply_params, grid_size
from optimizer.seeds import derive, prod_seed
from optimizer.storage import NewTrial, StudyRecord, StudyStore, TrialRecord
from optimizer.study_file import StudySpec
from optimizer.worker import FAULTS_ENV, TrialOutcome, TrialTask

__all__ = ["SweepReport", "build_config", "run_sweep"]


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
    #: Wall seconds spent asking batches (sampler and RUNNING rows), evaluating them in
    #: the workers, and storing their results.
    ask_s: float = 0.0
    evaluate_s: float = 0.0
    store_s: float = 0.0

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
    """Returns the engine config of one trial: base config, params, seed, metrics only."""
    config = apply_params(spec.base_config, params)
    config["run_mode"] = spec.run_mode
    config["rng_seed"] = seed
    config["output"] = {"trades": False, "equity": False}
    return config


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
    if not resume:
        raise BadInputError(
            f"{spec.file}: name: expected a new study name, {spec.name!r} already exists "
            f"in {store.url} (use --resume to continue it)"
        )
    fingerprint = spec.fingerprint()
    changed = [k for k in fingerprint if existing.fingerprint.get(k) != fingerprint[k]]
    if changed:
        raise BadInputError(
            f"{spec.file}: {changed[0]}: expected the value stored for study {spec.name!r} "
            "(it changed since the study started; use a new name to start a new study)"
        )
    if existing.n_trials != total:
        existing = store.set_n_trials(existing, total)
    return existing


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
    if total < 1:
        raise BadInputError(f"--trials {total}: expected an integer >= 1")
    if spec.sampler.name == "grid" and total > grid_size(str(spec.file), spec.search_space):
        raise BadInputError(
            f"--trials {total}: expected at most the grid size "
            f"{grid_size(str(spec.file), spec.search_space)} for sampler grid"
        )
    n_workers = workers if workers is not None else spec.workers
    progress = progress or LineProgress()
    stop = stop or (lambda: False)
    faults = os.environ.get(FAULTS_ENV) or None

    store = StudyStore(storage_url)
    try:
        study = _open_study(store, spec, total, resume, study_text)
        store.sync_optuna(study)
        report = SweepReport(study=study, workers=n_workers)
        trials = {t.number: t for t in store.trials(study)}
        told = store.told_trials(study)
        best = _best_score(trials.values(), study.constraints)
        done = sum(1 for t in trials.values() if t.finished and t.number < total)
        failed = sum(1 for t in trials.values() if t.state == "FAIL" and t.number < total)
        progress.start(study.name, total, done, failed, best)
        pool = make_pool(spec.backend, n_workers, spec.scheduler)
        crash_dir = tempfile.mkdtemp(prefix="omega-optimizer-")
        # The Optuna mirror of batch b is written by a background thread while the
        # workers run batch b+1 (after its RUNNING rows are committed and before its results
        # are, so the two never wait for each other's SQLite write lock). The sampler's
        # history comes from the project's tables, so the mirror may lag by one batch;
        # sync_optuna repairs it after a kill.
        mirror = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omega-optuna-mirror")
        started = time.perf_counter()
        try:
            for batch in range(math.ceil(total / study.batch_size)):
                numbers = list(
                    range(batch * study.batch_size, min((batch + 1) * study.batch_size, total))
                )
                rows = [trials.get(n) for n in numbers]
                if all(r is not None and r.finished for r in rows):
                    continue
                history = [told[n] for n in sorted(told) if n < numbers[0]]
                phase = time.perf_counter()
                tasks = _prepare_batch(
                    store, spec, study, batch, numbers, rows, history, crash_dir, faults
                )

                def on_outcome(outcome: TrialOutcome) -> None:
                    nonlocal best
                    metrics = outcome.metrics
                    if outcome.ok and metrics and is_feasible(metrics, study.constraints):
                        score = metrics.get("score")
                        if score is not None and (best is None or score > best):
                            best = float(score)
                    progress.trial_done(not outcome.ok, best)

                mirrored = mirror.submit(store.sync_optuna, study)
                report.ask_s += time.perf_counter() - phase
                phase = time.perf_counter()
                try:
                    outcomes = pool.run(tasks, stop, on_outcome)
                except BaseException:
                    with contextlib.suppress(Exception):
                        mirrored.result()
                    store.mark_waiting(study, [t.number for t in tasks])
                    raise
                mirrored.result()
                report.evaluate_s += time.perf_counter() - phase
                phase = time.perf_counter()
                results = [outcomes[t.number] for t in tasks]
                store.finish_batch(study, results)
                told.update(store.told_trials(study, [o.number for o in results]))
                report.store_s += time.perf_counter() - phase
                progress.batch_done()
                report.ran += len(results)
                report.failed += sum(1 for o in results if not o.ok)
                report.engine_s += sum(o.engine_s for o in results)
                report.trial_s += sum(o.duration_s for o in results)
            store.sync_optuna(study)
        finally:
            mirror.shutdown(wait=True)
            report.wall_s = time.perf_counter() - started
            pool.close()
            progress.close()
            shutil.rmtree(crash_dir, ignore_errors=True)
        return report
    finally:
        store.close()


def _prepare_batch(
    store: StudyStore,
    spec: StudySpec,
    study: StudyRecord,
    batch: int,
    numbers: list[int],
    rows: list[TrialRecord | None],
    history: list[FrozenTrial],
    crash_dir: str,
    faults: str | None,
) -> list[TrialTask]:
    """Asks (or re-asks) a batch, records it RUNNING and returns its tasks."""
    asked = ask_batch(
        sampler=spec.sampler,
        space=spec.search_space,
        direction=spec.direction,
        history=history,
        study_seed=spec.seed,
        batch=batch,
        size=len(numbers),
    )
    new: list[NewTrial] = []
    restart: list[int] = []
    tasks: list[TrialTask] = []
    for number, row, ask in zip(numbers, rows, asked, strict=True):
        if ask.number != number:
            raise OptimizerError(f"trial {number}: the sampler study numbered it {ask.number}")
        if row is not None:
            if spec.run_mode == "dev" and row.params != ask.params:
                raise OptimizerError(
                    f"trial {number}: re-asked parameters {ask.params} differ from the stored "
                    f"{row.params}; the sweep is not deterministic"
                )
            if row.finished:
                # A short last batch that a larger --trials now extends: keep what was told.
                continue
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
        tasks.append(
            TrialTask(
                number=number,
                config=config,
                timeout_s=spec.trial_timeout_s,
                crash_dir=crash_dir,
                faults=faults,
            )
        )
    store.begin_batch(study, new, restart)
    return tasks


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
