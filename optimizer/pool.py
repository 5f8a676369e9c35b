"""Runs a batch of trials in worker processes and survives workers that die.

The loky backend uses joblib's bundled loky executor directly (the same long-lived,
reusable worker processes that ``joblib.Parallel(backend="loky")`` uses), because
``Parallel`` aborts the whole call when one worker dies. When a worker dies, loky fails
every pending task; this module then sorts them out:

* a task whose crash file says ``Timeout`` or ``Fatal Python error`` is the culprit and
  is recorded as ``timeout`` or ``crash`` at once;
* a task that had not started (no crash file) is innocent and runs again in parallel;
* a task that was running (an empty crash file) runs again alone, so that a second death
  names it (category ``crash``) and an innocent one simply succeeds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Protocol

from joblib.externals.loky import get_reusable_executor
from joblib.externals.loky.process_executor import BrokenProcessPool

from optimizer.errors import Interrupted
from optimizer.worker import TrialOutcome, TrialTask, evaluate, failed_outcome, worker_initializer

__all__ = ["DaskPool", "LokyPool", "TrialPool", "make_pool"]

#: Seconds an idle worker process waits for work before it exits.
IDLE_TIMEOUT_S = 120

_POLL_S = 0.1


class TrialPool(Protocol):
    """Evaluates batches of trials; ``run`` returns one outcome per task."""

    def run(
        self,
        tasks: Sequence[TrialTask],
        stop: Callable[[], bool],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` and returns their outcomes by trial number."""
        ...

    def close(self) -> None:
        """Ends the worker processes."""
        ...


class LokyPool:
    """Trial pool on joblib's loky executor with ``workers`` long-lived processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._last: Any = None

    def _executor(self) -> Any:
        self._last = get_reusable_executor(
            max_workers=self.workers,
            timeout=IDLE_TIMEOUT_S,
            initializer=worker_initializer,
            initargs=(os.getpid(),),
        )
        return self._last

    def run(
        self,
        tasks: Sequence[TrialTask],
        stop: Callable[[], bool],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` in parallel, isolating the ones that were running when a worker died."""
        outcomes: dict[int, TrialOutcome] = {}
        queue: list[tuple[list[TrialTask], bool]] = [(list(tasks), False)]
        while queue:
            group, isolated = queue.pop(0)
            if isolated:
                for task in group:
                    self._round([task], True, stop, on_outcome, outcomes, queue)
            else:
                self._round(group, False, stop, on_outcome, outcomes, queue)
        return outcomes

    def _round(
        self,
        tasks: list[TrialTask],
        isolated: bool,
        stop: Callable[[], bool],
        on_outcome: Callable[[TrialOutcome], None],
        outcomes: dict[int, TrialOutcome],
        queue: list[tuple[list[TrialTask], bool]],
    ) -> None:
        executor = self._executor()
        pending: dict[Future[TrialOutcome], TrialTask] = {}
        for task in tasks:
            try:
                pending[executor.submit(evaluate, task)] = task
            except BrokenProcessPool:
                executor = self._executor()
                pending[executor.submit(evaluate, task)] = task
        broken: list[tuple[TrialTask, BaseException]] = []
        while pending:
            done, _ = wait(list(pending), timeout=_POLL_S, return_when=FIRST_COMPLETED)
            if stop():
                self.close()
                raise Interrupted("interrupted")
            for future in done:
                task = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    broken.append((task, exc))
                    continue
                except Exception as exc:
                    outcome = failed_outcome(
                        task.number, "exception", f"{type(exc).__name__}: {exc}"
                    )
                outcomes[task.number] = outcome
                on_outcome(outcome)
        not_started: list[TrialTask] = []
        running: list[TrialTask] = []
        for task, error in broken:
            verdict = _crash_verdict(task, error, isolated)
            if verdict is not None:
                outcomes[task.number] = verdict
                on_outcome(verdict)
            elif task.crash_file.exists():
                running.append(task)
            else:
                not_started.append(task)
            task.crash_file.unlink(missing_ok=True)
        if running:
            queue.append((running, True))
        if not_started:
            queue.append((not_started, False))

    def close(self) -> None:
        """Kills the worker processes now (they are started again on the next run)."""
        if self._last is not None:
            self._last.shutdown(wait=True, kill_workers=True)
            self._last = None


def _crash_verdict(task: TrialTask, exc: BaseException, isolated: bool) -> TrialOutcome | None:
    """Returns the failed outcome of a task whose worker died, or None if not yet known."""
    try:
        text = task.crash_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first.startswith("Timeout"):
        return failed_outcome(
            task.number,
            "timeout",
            f"trial exceeded trial_timeout_s={task.timeout_s:g} s and was killed",
        )
    if "Fatal Python error" in first:
        return failed_outcome(task.number, "crash", f"worker process crashed: {first}")
    if isolated:
        codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
        how = f" (exit code {codes.group(1)})" if codes else ""
        return failed_outcome(task.number, "crash", f"worker process died{how}")
    return None


class DaskPool:
    """Trial pool on an existing Dask cluster (``backend: dask``)."""

    def __init__(self, scheduler: str) -> None:
        from distributed import Client

        self.client = Client(scheduler)

    def run(
        self,
        tasks: Sequence[TrialTask],
        stop: Callable[[], bool],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` on the cluster; a task whose worker died is recorded as ``crash``."""
        pending = {self.client.submit(evaluate, t, pure=False): t for t in tasks}
        outcomes: dict[int, TrialOutcome] = {}
        while pending:
            for future in [f for f in pending if f.done()]:
                task = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:
                    outcome = failed_outcome(task.number, "crash", f"{type(exc).__name__}: {exc}")
                outcomes[task.number] = outcome
                on_outcome(outcome)
            if stop():
                for future in pending:
                    future.cancel()
                raise Interrupted("interrupted")
            if pending:
                import time

                time.sleep(_POLL_S)
        return outcomes

    def close(self) -> None:
        """Disconnects from the cluster."""
        self.client.close()


def make_pool(backend: str, workers: int, scheduler: str | None) -> TrialPool:
    """Returns the pool for ``backend`` (``loky`` or ``dask``)."""
    if backend == "dask":
        assert scheduler is not None
        return DaskPool(scheduler)
    return LokyPool(workers)
