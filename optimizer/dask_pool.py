"""Trial pool on an existing Dask cluster (``backend: dask``, docs/scaling.md).

The driver stays the only writer: it submits each trial of a batch as one Dask task
(one ``run_backtest`` call, :func:`optimizer.worker.evaluate` in the worker process) and
stores the outcomes itself. Workers read the data files at the paths of the config, so
every worker needs them at the same path (a shared filesystem); before the first batch,
and before each batch for workers that joined since, :meth:`DaskPool.check_workers` runs
:func:`worker_check` on the new workers and stops the sweep (exit 2, naming the worker
and the file) when one cannot read a data file, runs another engine build, or has more
than one thread (a trial needs a process of its own: its timeout watchdog ends the
process, and a crash must not take other trials with it).

A worker that dies mid-batch (killed, OOM, a crashing trial, a trial past its timeout)
makes the scheduler run its tasks again elsewhere. A task that was on
``allowed-failures + 1`` workers that all died comes back as ``KilledWorker``. Each
trial announces its start to the driver (a synchronous event through the scheduler,
sent before the engine call), so the driver knows whether the task was *running* on the
worker that died last (the last trial that started there: a worker has one thread): then
it is the culprit and is recorded failed (``timeout`` when it ran as long as its timeout,
else ``crash``); otherwise it only waited in that worker's queue (Dask assigns a worker
slightly more tasks than it has threads), or had finished there before the next trial
killed the worker, and is submitted again, at most :data:`MAX_RESUBMITS` times. Each
trial's outcome is taken from one future and stored once, so no trial is counted twice.
The ``distributed`` package is imported only when a DaskPool is made.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from optimizer.errors import BadInputError, Interrupted
from optimizer.worker import TrialOutcome, TrialTask, evaluate, failed_outcome

__all__ = [
    "CONNECT_TIMEOUT_S",
    "WORKER_WAIT_S",
    "DaskPool",
    "WorkerSetupError",
    "evaluate_on_worker",
    "worker_check",
]

#: Seconds to reach the scheduler before the sweep gives up (exit 2).
CONNECT_TIMEOUT_S = 20.0

#: Seconds to wait for a first worker when the cluster has none.
WORKER_WAIT_S = 60.0

#: How often a trial that was only queued on dying workers is submitted again.
MAX_RESUBMITS = 3

_POLL_S = 0.1

#: The end of the messages that stop a sweep mid-batch for the cluster's sake.
_RESUME_LATER = (
    "; the unfinished trials are WAITING: run the sweep again with --resume once the "
    "cluster can run them"
)


class WorkerSetupError(Exception):
    """Raised in a trial's task by a worker that cannot run the study (a data file it
    cannot read): the sweep stops with exit 2 and the batch is not stored, since the
    trial's failure would say nothing about its parameters."""


def _unreadable(paths: Sequence[str]) -> list[str]:
    """Returns the paths among ``paths`` that this process cannot read as files."""
    return [p for p in paths if not (os.path.isfile(p) and os.access(p, os.R_OK))]


def _missing_file_message(address: str, host: str, path: str) -> str:
    """Returns the error for a worker that cannot read the data file ``path``."""
    return (
        f"dask worker {address} (host {host}): cannot read data file {path}: backend dask "
        "reads the data files on the workers at the paths of the config, so every worker "
        "needs them at the same path (a shared filesystem)"
    )


def worker_check(paths: Sequence[str]) -> dict[str, Any]:
    """Runs on a worker: the data files it cannot read, its engine version, host and pid."""
    import bt

    return {
        "missing": _unreadable(paths),
        "engine": getattr(bt, "__engine_version__", None),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def evaluate_on_worker(task: TrialTask, topic: str, files: Sequence[str] = ()) -> TrialOutcome:
    """Runs on a worker: checks that it can read the data ``files`` (a worker that joined
    in the middle of a batch was not checked yet; :class:`WorkerSetupError` otherwise),
    announces the start to the driver, evaluates the trial (its crash file in the
    worker's own local directory) and sends the outcome to the driver.

    The start is a round trip to the scheduler (not the worker's batched stream), so it
    is delivered even when the trial kills this process right after. The outcome goes on
    the batched stream ahead of the task's completion, so the driver has it when it
    learns the task finished and needs no gather round trip per trial (it is also the
    task's result, fetched when the event is missing).
    """
    from distributed import get_client, get_worker

    worker = get_worker()
    missing = _unreadable(files)
    if missing:
        raise WorkerSetupError(
            _missing_file_message(worker.address, socket.gethostname(), missing[0])
        )
    get_client().log_event(topic, {"number": task.number, "worker": worker.address})
    local = replace(task, crash_dir=os.path.join(worker.local_directory, "omega-crash"))
    outcome = evaluate(local)
    worker.log_event(topic, {"number": task.number, "outcome": asdict(outcome)})
    return outcome


def _probe_scheduler(address: str) -> None:
    """Asks ``address`` who it is, on a connection of its own, before a Client is made.

    A server that answers but is no Dask scheduler (an SSH banner, say) would have its
    first bytes read as a message length by the Client (a MemoryError), and the
    half-made Client would then wait 40 s to close at exit. Raises ValueError (or
    OSError, TimeoutError) when the address is not a reachable scheduler.
    """
    import asyncio

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        # connect's timeout covers the TCP connection and the handshake; a server that
        # accepts and then never answers would hold the read for ever.
        return await asyncio.wait_for(identity(), CONNECT_TIMEOUT_S)

    try:
        reply = asyncio.run(bounded())
    except (OSError, TimeoutError, ValueError):
        raise
    except Exception as exc:  # another protocol (MemoryError: a banner read as a length)
        raise ValueError(f"not a Dask scheduler: {type(exc).__name__}: {exc}") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ValueError(f"not a Dask scheduler: it answered {str(reply)[:100]!r}")


class DaskPool:
    """Trial pool on the Dask cluster whose scheduler listens at ``scheduler``.

    ``files`` are the data files every trial may read; each worker must see them.
    Raises :class:`BadInputError` when the scheduler is unreachable, has no worker, or a
    worker fails :meth:`check_workers`.
    """

    def __init__(self, scheduler: str, files: Sequence[str] = ()) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BadInputError(
                "backend dask: expected the 'distributed' package (pip install distributed)"
            ) from None
        self.scheduler = scheduler
        self._files = [str(f) for f in files]
        self._checked: set[str] = set()
        #: Trial number -> (worker, driver clock) of its latest start; its outcome.
        self._starts: dict[int, tuple[str, float]] = {}
        self._outcomes: dict[int, TrialOutcome] = {}
        #: Worker -> the trial that started on it last (the one running, a worker having
        #: one thread; start events arrive in the order the trials started).
        self._last_start_on: dict[str, int] = {}
        self._lock = threading.Lock()
        self._topic = f"omega-optimizer-{uuid.uuid4().hex}"
        try:
            _probe_scheduler(scheduler)
            self.client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadInputError(
                f"scheduler {scheduler}: expected a reachable Dask scheduler "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
            ) from None
        for name in _CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client.subscribe_topic(self._topic, self._on_event)
            #: The cluster's worker processes (each has one thread) at the first check.
            self.workers = self.check_workers()
        except BaseException:
            self.close()
            raise

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        number = int(message["number"])
        with self._lock:
            if "outcome" in message:
                self._outcomes[number] = TrialOutcome(**message["outcome"])
            else:
                self._starts[number] = (str(message["worker"]), time.monotonic())
                self._last_start_on[str(message["worker"])] = number

    def _nthreads(self) -> dict[str, int]:
        """Returns the threads of each worker (one light round trip to the scheduler);
        raises :class:`BadInputError` when the scheduler cannot be reached any more."""
        try:
            workers: dict[str, int] = self.client.nthreads()
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None
        return workers

    def _lost(self, exc: BaseException) -> BadInputError:
        """Returns the error that ends the sweep when the scheduler cannot be reached any
        more (``exc``: the connection's error)."""
        return BadInputError(
            f"scheduler {self.scheduler}: expected a reachable Dask scheduler, the "
            f"connection was lost ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
            f"{_RESUME_LATER}"
        )

    def check_workers(self) -> int:
        """Checks the workers not checked yet; returns how many workers the cluster has."""
        workers = self._nthreads()
        if not workers:
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise BadInputError(
                    f"scheduler {self.scheduler}: expected at least one Dask worker "
                    f"(none joined within {WORKER_WAIT_S:g} s)"
                ) from None
            workers = self._nthreads()
        new = sorted(a for a in workers if a not in self._checked)
        if not new:
            return len(workers)
        for address in new:
            threads = workers[address]
            if threads != 1:
                raise BadInputError(
                    f"dask worker {address}: expected 1 thread per worker process, it has "
                    f"{threads} (start workers with dask worker --nthreads 1 --nworkers N: a "
                    "trial needs a process of its own for its timeout and crash isolation)"
                )
        import bt

        engine = getattr(bt, "__engine_version__", None)
        try:
            results = self.client.run(worker_check, self._files, workers=new, on_error="return")
        except (OSError, TimeoutError) as exc:  # the scheduler was lost meanwhile
            raise self._lost(exc) from None
        for address in new:
            result = results.get(address)
            if result is None:
                continue  # the worker left meanwhile
            if isinstance(result, BaseException):
                raise BadInputError(
                    f"dask worker {address}: expected a worker that can run the optimizer's "
                    f"tasks ({type(result).__name__}: {result}); install omega-v2 (optimizer, "
                    "bt and the engine) in every worker's environment"
                )
            if result["missing"]:
                raise BadInputError(
                    _missing_file_message(address, result["host"], result["missing"][0])
                )
            if result["engine"] != engine:
                raise BadInputError(
                    f"dask worker {address} (host {result['host']}): expected engine "
                    f"{engine} as on the driver, it has {result['engine']} (results would "
                    "differ): install the same build on every worker"
                )
        self._checked.update(new)
        return len(workers)

    def run(
        self,
        tasks: Sequence[TrialTask],
        stop: Callable[[], bool],
        on_outcomes: Callable[[list[TrialOutcome]], None],
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` on the cluster, one task per trial; returns outcomes by number."""
        self.check_workers()
        pending: dict[Any, tuple[Any, TrialTask]] = {}
        finished: queue.Queue[Any] = queue.Queue()

        def submit(group: Sequence[TrialTask]) -> None:
            keys = [f"omega-trial-{t.number}-{uuid.uuid4().hex}" for t in group]
            futures = self.client.map(
                evaluate_on_worker,
                list(group),
                [self._topic] * len(group),
                [self._files] * len(group),
                key=keys,
                pure=False,
            )
            for future, task in zip(futures, group, strict=True):
                pending[future.key] = (future, task)
                future.add_done_callback(finished.put)

        submit(tasks)
        resubmits: dict[int, int] = {}
        outcomes: dict[int, TrialOutcome] = {}
        watch = _ClusterWatch(self)
        try:
            while pending:
                if stop():
                    raise Interrupted("interrupted")
                try:
                    done = finished.get(timeout=_POLL_S)
                except queue.Empty:
                    watch.check()
                    continue
                entry = pending.pop(done.key, None)
                if entry is None:
                    continue
                future, task = entry
                if not future.done():
                    # Its result was lost with a worker before it was fetched; the
                    # scheduler computes it again: wait for that.
                    pending[future.key] = entry
                    future.add_done_callback(finished.put)
                    continue
                outcome = self._outcome(future, task)
                future.release()  # the scheduler forgets the result now
                if outcome is None:  # only queued on the workers that died: innocent
                    resubmits[task.number] = resubmits.get(task.number, 0) + 1
                    if resubmits[task.number] <= MAX_RESUBMITS:
                        submit([task])
                        continue
                    outcome = failed_outcome(
                        task.number,
                        "crash",
                        f"worker process died (Dask: the workers it was sent to died "
                        f"{MAX_RESUBMITS + 1} times)",
                    )
                outcomes[task.number] = outcome
                on_outcomes([outcome])
        finally:
            if pending:
                self.client.cancel([f for f, _ in pending.values()])
        return outcomes

    def _outcome(self, future: Any, task: TrialTask) -> TrialOutcome | None:
        """Returns the outcome of a done future; None for a task to submit again.

        Fetching the result waits when it is lost meanwhile and computed again.
        """
        from distributed import CancelledError, KilledWorker

        if future.status == "finished":
            with self._lock:
                sent = self._outcomes.pop(task.number, None)
            if sent is not None:
                return sent
        try:
            outcome: TrialOutcome = future.result()
            return outcome
        except WorkerSetupError as exc:
            raise BadInputError(str(exc)) from None
        except CancelledError:
            # The scheduler was lost or restarted: that says nothing about the trial.
            raise BadInputError(
                f"scheduler {self.scheduler}: expected the Dask cluster to keep trial "
                f"{task.number}'s task, it cancelled it (the scheduler was lost or "
                f"restarted){_RESUME_LATER}"
            ) from None
        except KilledWorker as exc:
            last = getattr(exc.last_worker, "address", str(exc.last_worker))
            with self._lock:
                started = self._starts.get(task.number)
                running = self._last_start_on.get(last)
            if started is None or started[0] != last or running != task.number:
                # Not running there when it died: it waited in that worker's queue, or it
                # had finished there and the worker died (killed by the next trial)
                # before its completion reached the scheduler.
                return None
            timeout = task.timeout_s
            # The watchdog ends a trial's process at its timeout: a task whose last run
            # lasted that long timed out (a crash ends it sooner).
            if (
                started is not None
                and timeout is not None
                and time.monotonic() - started[1] >= 0.95 * timeout
            ):
                return failed_outcome(
                    task.number,
                    "timeout",
                    f"trial exceeded trial_timeout_s={timeout:g} s and was killed "
                    f"(Dask worker {started[0]})",
                )
            return failed_outcome(
                task.number,
                "crash",
                f"worker process died (Dask worker {last}; the trial ran on "
                f"{exc.allowed_failures + 1} workers that all died)",
            )
        except Exception as exc:  # e.g. the worker could not unpickle the task
            return failed_outcome(task.number, "exception", f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Disconnects from the cluster (the cluster itself keeps running)."""
        try:
            if self.client.status == "running":  # else the scheduler is gone
                self.client.unsubscribe_topic(self._topic)
        finally:
            self.client.close(timeout=CLOSE_TIMEOUT_S)


#: distributed's client-side loggers. In the driver they only repeat, with tracebacks, a
#: lost connection (the batched stream closed, a reconnection given up or cancelled) that
#: the pool itself reports as one line. They are quiet from the first pool on, for the
#: rest of the process: the client's event loop may still log after close returns.
_CLIENT_LOGGERS = ("distributed.batched", "distributed.client", "distributed.core")

#: Seconds between two looks at the cluster while a batch waits for its trials.
_WATCH_S = 1.0

#: Seconds that closing the connection to a cluster may take (a lost scheduler).
CLOSE_TIMEOUT_S = 5.0


class _ClusterWatch:
    """Looks at the cluster every :data:`_WATCH_S` while a batch waits: a lost scheduler
    stops the sweep at once, a cluster without workers after :data:`WORKER_WAIT_S` (all
    of them died mid-batch and none came back), each with a one-line error and the
    unfinished trials WAITING, instead of a wait without end."""

    def __init__(self, pool: DaskPool) -> None:
        self._pool = pool
        self._next = time.monotonic() + _WATCH_S
        self._empty_since: float | None = None

    def check(self) -> None:
        """Looks at the cluster when it is time to; raises BadInputError as above."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _WATCH_S
        if self._pool._nthreads():
            self._empty_since = None
            return
        self._empty_since = self._empty_since or now
        if now - self._empty_since >= WORKER_WAIT_S:
            raise BadInputError(
                f"scheduler {self._pool.scheduler}: expected a Dask worker to run the batch, "
                f"the cluster has had none for {WORKER_WAIT_S:g} s{_RESUME_LATER}"
            )
