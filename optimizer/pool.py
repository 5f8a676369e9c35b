"""Runs a batch of trials in worker processes and survives workers that die.

The loky backend uses joblib's bundled loky executor directly (the same long-lived,
reusable worker processes that ``joblib.Parallel(backend="loky")`` uses), because
``Parallel`` aborts the whole call when one worker dies. When a worker dies, loky fails
every pending task; this module then sorts them out, with the crash file of each
worker process (``chunk C trial N`` while that trial runs, then what faulthandler
writes; see :mod:`optimizer.worker`):

* the running trial, when faulthandler wrote ``Fatal Python error`` or (the ``SIGALRM``
  watchdog) a bare traceback, is the culprit, recorded as ``crash`` or ``timeout`` at once;
* the trials of a chunk that were not running (done, with their results lost, or not
  started) are innocent and run again in parallel;
* a trial that was running when its process died silently (SIGKILL, ``os._exit``, or
  killed because another worker died) runs again alone, so that a second death names it
  (category ``crash``) and an innocent one simply succeeds.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from multiprocessing import connection as mp_connection
from pathlib import Path
from typing import Any, Protocol

from joblib.externals.loky import get_reusable_executor
from joblib.externals.loky.process_executor import BrokenProcessPool

from optimizer import prestart
from optimizer.dask_pool import DaskPool
from optimizer.errors import BadInputError, Interrupted
from optimizer.worker import (
    ChunkResult,
    TrialChunk,
    TrialOutcome,
    TrialTask,
    evaluate_chunk,
    failed_outcome,
    outcome_of_text,
    serve_stream,
    warm_up,
    worker_initializer,
)

__all__ = ["DaskPool", "LokyPool", "StartedRun", "TrialPool", "make_pool"]

#: Seconds an idle worker process waits for work before it exits.
IDLE_TIMEOUT_S = 120

_POLL_S = 0.1

#: The outcomes that come back are handed on (``on_outcomes``, which stores them)
#: together, once nothing more came for ``_POLL_S`` and at the latest this many seconds
#: after the first of them: fast trials are stored a round at a time (one transaction,
#: not one per chunk), and a finished trial waits about this long at most.
HAND_ON_S = 1.0

#: Seconds of trials that one chunk (one message each way) holds at most, at the pace
#: seen so far: fast trials share a message, a slow one comes back on its own.
CHUNK_S = 0.25

#: Seconds ``close`` waits at most for the workers' warm-up calls (an engine import).
WARM_UP_WAIT_S = 30

#: Seconds that opening the streaming sessions waits at most for every worker to connect
#: (a worker that was just started imports the engine first).
SESSION_WAIT_S = 30


#: Takes the outcomes that arrived together, in arrival order.
OutcomesCallback = Callable[[list[TrialOutcome]], None]


class TrialPool(Protocol):
    """Evaluates batches of trials; ``run`` returns one outcome per task."""

    def run(
        self,
        tasks: Sequence[TrialTask],
        stop: Callable[[], bool],
        on_outcomes: OutcomesCallback,
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` and returns their outcomes by trial number; ``on_outcomes``
        gets the outcomes that arrive together (a chunk, a trial) as they arrive."""
        ...

    def close(self) -> None:
        """Ends the worker processes."""
        ...


@dataclass
class StartedRun:
    """Trials handed to the loky workers: their engine configs and the pending chunks.

    A streamed run (:meth:`LokyPool.stream`) has no pending chunks: its trials are with
    the sessions, or ``held`` until a session is idle (or, when no session can take
    them, until :meth:`LokyPool.finish` runs them the usual way).
    """

    tasks: list[TrialTask]
    configs: dict[int, str | dict[str, Any]]
    pending: dict[Future[ChunkResult], tuple[TrialChunk, list[TrialTask]]]
    held: list[TrialTask] = field(default_factory=list)
    #: Streamed results read and not yet collected.
    received: list[ChunkResult] = field(default_factory=list)
    #: How many trials were handed to a session.
    streamed: int = 0


@dataclass
class _Session:
    """One worker process serving streamed chunks (:func:`optimizer.worker.serve_stream`):
    the driver's end of its socket and the chunk sent and not yet answered, with its run
    (at most one: see :meth:`LokyPool.send`)."""

    connection: mp_connection.Connection
    sent: tuple[StartedRun, TrialChunk, list[TrialTask]] | None = None


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignores SIGINT meanwhile (the main thread only: elsewhere a no-op). The window is
    the few milliseconds that spawning the processes takes; a Ctrl-C in it is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


#: Loky's resource tracker, a process of its own, may warn at the driver's exit about the
#: semaphores of a shut-down executor, which it then removes itself ("leaked semlock
#: objects to clean up", a FileNotFoundError for one already gone): nothing is left
#: behind and nobody can act on it, but the lines would follow a one-line error. The
#: processes loky starts with the executor (the tracker, the workers) ignore them.
_TRACKER_WARNINGS = "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker"


@contextlib.contextmanager
def _tracker_warnings_ignored() -> Iterator[None]:
    """Adds :data:`_TRACKER_WARNINGS` to ``PYTHONWARNINGS`` meanwhile, for the processes
    started meanwhile."""
    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [previous, _TRACKER_WARNINGS]))
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = previous


class _HandOn:
    """The outcomes that came back, held until they are handed on together: when nothing
    more came for a poll's wait, :data:`HAND_ON_S` after the first of them at the latest,
    and at the end (or before a stop). ``outcomes`` gets each one as it comes."""

    def __init__(self, on_outcomes: OutcomesCallback, outcomes: dict[int, TrialOutcome]) -> None:
        self._on_outcomes, self._outcomes = on_outcomes, outcomes
        self._held: list[TrialOutcome] = []
        self._since = 0.0

    def add(self, arrived: list[TrialOutcome]) -> None:
        """Holds ``arrived``."""
        if arrived:
            self._outcomes.update((o.number, o) for o in arrived)
            if not self._held:
                self._since = time.monotonic()
            self._held.extend(arrived)

    def tick(self, quiet: bool) -> None:
        """Hands the held outcomes on when nothing more came (``quiet``) or the first of
        them waited :data:`HAND_ON_S`."""
        if self._held and (quiet or time.monotonic() - self._since >= HAND_ON_S):
            self.flush()

    def flush(self) -> None:
        """Hands the held outcomes on now."""
        if self._held:
            arrived, self._held = self._held, []
            self._on_outcomes(arrived)


class LokyPool:
    """Trial pool on joblib's loky executor with ``workers`` long-lived processes.

    A batch goes out as at most ``workers`` chunks of consecutive trials (one message
    each way per chunk, see :func:`optimizer.worker.evaluate_chunk`); the engine config
    travels as JSON text and the engine's result text is parsed here.

    A streamed run (:meth:`stream`, :meth:`send`) hands its trials over one by one, as
    they are asked, on sessions: one long loky call per worker that serves chunks over
    its own Unix socket (:func:`optimizer.worker.serve_stream`). The driver writes each
    trial to a socket and reads the results itself, so no thread of the driver wakes up
    per trial: loky's threads would, and would take the interpreter lock from the
    sampler that is asking the next trial meanwhile. A worker that dies ends the
    sessions; its trials are then sorted out as above and run again the usual way.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._last: Any = None
        self._chunks = itertools.count()
        #: Per worker pid: CPU seconds spent from its first chunk's start to its last
        #: chunk's end (both counted in the worker), CPU seconds inside the engine, and
        #: its peak RSS in KiB.
        self.worker_cpu_s: dict[int, tuple[float, float]] = {}
        self.worker_engine_cpu_s: dict[int, float] = {}
        self.worker_rss_kb: dict[int, int] = {}
        #: A moving average of the trials' durations (seconds), None before the first.
        self._trial_s: float | None = None
        #: The streaming sessions, one per worker, while they are open; [] when they
        #: could not be opened or a worker died (then the next run opens them again).
        self._sessions: list[_Session] | None = None
        #: Sessions whose worker died, with the chunks they had not answered.
        self._broken_sessions: list[_Session] = []
        # Start the processes now: their start-up overlaps with the driver's own. They
        # are spawned with SIGINT ignored (an ignored signal stays ignored across exec,
        # and Python then installs no handler of its own), so a Ctrl-C to the process
        # group while they import prints no traceback of theirs; the driver alone
        # handles it. worker_initializer ignores SIGINT again for respawned workers.
        with _sigint_ignored(), _tracker_warnings_ignored():
            executor = self._executor()
            self._warm_ups = [executor.submit(warm_up) for _ in range(workers)]

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
        on_outcomes: OutcomesCallback,
    ) -> dict[int, TrialOutcome]:
        """Runs ``tasks`` in parallel, isolating the ones that were running when a worker died."""
        return self.finish(self.start(tasks), stop, on_outcomes)

    def start(self, tasks: Sequence[TrialTask]) -> StartedRun:
        """Hands ``tasks`` to the workers and returns at once; :meth:`finish` collects them.

        Several started runs may be in flight; each is finished on its own.
        """
        configs = {t.number: _config_text(t.config) for t in tasks}
        return StartedRun(list(tasks), configs, self._submit(list(tasks), configs))

    def finish(
        self,
        started: StartedRun,
        stop: Callable[[], bool],
        on_outcomes: OutcomesCallback,
    ) -> dict[int, TrialOutcome]:
        """Waits for a started run; returns its outcomes by trial number."""
        outcomes: dict[int, TrialOutcome] = {}
        queue: list[tuple[list[TrialTask], bool]] = []
        self._collect(started.pending, False, stop, on_outcomes, outcomes, queue)
        if self._sessions is not None:
            self._collect_streamed(started, stop, on_outcomes, outcomes, queue)
        if started.held:
            queue.append((started.held, False))
        while queue:
            group, isolated = queue.pop(0)
            rounds = [[task] for task in group] if isolated else [group]
            for tasks in rounds:
                pending = self._submit(tasks, started.configs)
                self._collect(pending, isolated, stop, on_outcomes, outcomes, queue)
        return outcomes

    def stream(self) -> StartedRun:
        """Starts an empty run whose trials are handed over one by one with :meth:`send`;
        :meth:`finish` collects them. One streamed run is in flight at a time."""
        if self._sessions is None:
            self._sessions = self._open_sessions()
        return StartedRun([], {}, {})

    def send(self, started: StartedRun, task: TrialTask) -> None:
        """Hands ``task`` (of the streamed run ``started``) to an idle worker, else holds
        it until one is idle: a worker holds at most one trial, so a slow trial delays
        no other (the next goes to whichever worker finishes first).

        The results that came back meanwhile are read first, so that neither side of a
        socket fills up while the other waits for it.
        """
        started.tasks.append(task)
        started.configs[task.number] = _config_text(task.config)
        started.held.append(task)
        self._receive(0.0)
        self._dispatch(started)

    def _dispatch(self, started: StartedRun) -> None:
        """Hands the held trials of ``started`` to the idle sessions, one each, as chunks
        of their own; none after a worker died (loky is ending the others too)."""
        if self._broken_sessions:
            return
        for session in list(self._sessions or []):
            if not started.held:
                return
            if session.sent is not None:
                continue
            task = started.held[0]
            chunk = self._chunk([task], started.configs)
            try:
                session.connection.send(chunk)
            except OSError:  # its worker died: finish sorts out what it had
                self._lose(session)
                return
            started.held.pop(0)
            started.streamed += 1
            session.sent = (started, chunk, [task])

    def _open_sessions(self) -> list[_Session]:
        """Starts one serving call per worker and waits until each has connected; returns
        the sessions, or [] when a worker did not connect (the runs then go the usual way)."""
        folder = tempfile.mkdtemp(prefix="omega-stream-")
        address = os.path.join(folder, "socket")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connections: list[mp_connection.Connection] = []
        try:
            listener.bind(address)
            listener.listen(self.workers)
            executor = self._executor()
            calls = [executor.submit(serve_stream, address) for _ in range(self.workers)]
            deadline = time.monotonic() + SESSION_WAIT_S
            while len(connections) < self.workers:
                if any(c.done() for c in calls) or time.monotonic() > deadline:
                    raise OSError("a worker did not connect")
                if select.select([listener], [], [], _POLL_S)[0]:
                    accepted, _ = listener.accept()
                    connections.append(mp_connection.Connection(accepted.detach()))
        except (OSError, BrokenProcessPool):
            for opened in connections:
                opened.close()
            return []
        finally:
            listener.close()
            shutil.rmtree(folder, ignore_errors=True)
        return [_Session(c) for c in connections]

    def _end_sessions(self) -> None:
        """Tells the serving calls to return and closes the sessions; the next streamed
        run opens new ones."""
        for session in self._sessions or []:
            with contextlib.suppress(OSError):
                session.connection.send(None)
            session.connection.close()
        self._sessions = None

    def _lose(self, session: _Session) -> None:
        """Notes that ``session``'s worker died; loky then ends the others too, so every
        session is ended once its answers are read (:meth:`_collect_streamed`)."""
        session.connection.close()
        self._broken_sessions.append(session)
        if self._sessions is not None:
            self._sessions.remove(session)

    def _receive(self, timeout: float) -> bool:
        """Reads the results that the sessions sent, waiting up to ``timeout`` seconds
        for the first; a session whose socket closed is lost (:meth:`_lose`). Returns
        whether anything came (a result or a closed socket)."""
        sessions = {s.connection.fileno(): s for s in self._sessions or [] if s.sent is not None}
        if not sessions:
            return False
        ready, _, _ = select.select(list(sessions), [], [], timeout)
        for fileno in ready:
            session = sessions[fileno]
            try:
                result = session.connection.recv()
            except (EOFError, OSError):
                self._lose(session)
                continue
            if session.sent is not None:
                session.sent[0].received.append(result)
                session.sent = None
        return bool(ready)

    def _streaming(self, started: StartedRun) -> bool:
        """Returns whether a live session still runs a trial of ``started``."""
        return any(s.sent is not None and s.sent[0] is started for s in self._sessions or [])

    def _collect_streamed(
        self,
        started: StartedRun,
        stop: Callable[[], bool],
        on_outcomes: OutcomesCallback,
        outcomes: dict[int, TrialOutcome],
        queue: list[tuple[list[TrialTask], bool]],
    ) -> None:
        """Waits for the streamed trials of ``started``; queues those of dead workers.

        What came back is handed on as :class:`_HandOn` says: fast trials then arrive
        in one call (one store), slow ones as they finish.
        """

        hand_on = _HandOn(on_outcomes, outcomes)

        def take() -> None:
            hand_on.add([o for result in started.received for o in self._outcomes_of(result)])
            started.received.clear()

        while True:
            self._dispatch(started)
            if not self._streaming(started):
                break
            quiet = not self._receive(_POLL_S)
            take()
            hand_on.tick(quiet)
            if stop():
                hand_on.flush()
                self.close()
                raise Interrupted("interrupted")
        take()
        hand_on.flush()
        if self._broken_sessions:
            broken = [
                (session.sent[1], session.sent[2], BrokenProcessPool("a worker process died"))
                for session in self._broken_sessions
                if session.sent is not None and session.sent[0] is started
            ]
            self._broken_sessions.clear()
            self._end_sessions()
            self._sort_out(broken, False, on_outcomes, outcomes, queue)

    def _submit(
        self, tasks: list[TrialTask], configs: dict[int, str | dict[str, Any]]
    ) -> dict[Future[ChunkResult], tuple[TrialChunk, list[TrialTask]]]:
        """Submits ``tasks`` as at most ``workers`` chunks of consecutive trials (ending
        the streaming sessions first: they hold the workers)."""
        if self._sessions is not None:
            self._end_sessions()
        executor = self._executor()
        pending: dict[Future[ChunkResult], tuple[TrialChunk, list[TrialTask]]] = {}
        # Nothing to submit is a valid round: another driver may have told every trial of
        # a claimed batch between the scan's reads (several drivers on a server).
        size = max(1, min(math.ceil(len(tasks) / self.workers), self._chunk_cap()))
        for at in range(0, len(tasks), size):
            group = tasks[at : at + size]
            chunk = self._chunk(group, configs)
            try:
                pending[executor.submit(evaluate_chunk, chunk)] = (chunk, group)
            except BrokenProcessPool:
                executor = self._executor()
                pending[executor.submit(evaluate_chunk, chunk)] = (chunk, group)
        return pending

    def _chunk(
        self, group: list[TrialTask], configs: dict[int, str | dict[str, Any]]
    ) -> TrialChunk:
        """Returns the chunk of the consecutive trials ``group``, with a new chunk id."""
        first = group[0]
        return TrialChunk(
            numbers=tuple(t.number for t in group),
            configs=tuple(configs[t.number] for t in group),
            timeout_s=first.timeout_s,
            crash_dir=first.crash_dir,
            chunk_id=next(self._chunks),
            faults=first.faults,
        )

    def _collect(
        self,
        pending: dict[Future[ChunkResult], tuple[TrialChunk, list[TrialTask]]],
        isolated: bool,
        stop: Callable[[], bool],
        on_outcomes: OutcomesCallback,
        outcomes: dict[int, TrialOutcome],
        queue: list[tuple[list[TrialTask], bool]],
    ) -> None:
        """Waits for ``pending`` chunks; queues the trials of chunks whose worker died.
        What came back is handed on as :class:`_HandOn` says."""
        broken: list[tuple[TrialChunk, list[TrialTask], BaseException]] = []
        hand_on = _HandOn(on_outcomes, outcomes)
        while pending:
            done, _ = wait(list(pending), timeout=_POLL_S, return_when=FIRST_COMPLETED)
            if stop():
                hand_on.flush()
                self.close()
                raise Interrupted("interrupted")
            arrived: list[TrialOutcome] = []
            for future in done:
                chunk, group = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    broken.append((chunk, group, exc))
                    continue
                except Exception as exc:
                    arrived.extend(
                        failed_outcome(task.number, "exception", f"{type(exc).__name__}: {exc}")
                        for task in group
                    )
                else:
                    arrived.extend(self._outcomes_of(result))
            hand_on.add(arrived)
            hand_on.tick(quiet=not done)
        hand_on.flush()
        self._sort_out(broken, isolated, on_outcomes, outcomes, queue)

    def _sort_out(
        self,
        broken: list[tuple[TrialChunk, list[TrialTask], BaseException]],
        isolated: bool,
        on_outcomes: OutcomesCallback,
        outcomes: dict[int, TrialOutcome],
        queue: list[tuple[list[TrialTask], bool]],
    ) -> None:
        """Sorts out the trials of chunks whose worker died: records the culprit that its
        crash file names, queues the others to run again (those that were running
        alone, ``isolated``)."""
        not_started: list[TrialTask] = []
        running: list[TrialTask] = []
        files = _crash_files(broken[0][0].crash_dir) if broken else {}
        for chunk, group, error in broken:
            # The dead worker's crash file names the chunk's trial that was running, if
            # any; the others had finished (their results were lost with the process)
            # or had not started: both are innocent and run again.
            path, culprit, text, ran_s = files.get(chunk.chunk_id, (None, None, "", 0.0))
            for task in group:
                if task.number != culprit:
                    not_started.append(task)
                    continue
                verdict = _crash_verdict(task, text, error, isolated, ran_s)
                if verdict is not None:
                    outcomes[task.number] = verdict
                    on_outcomes([verdict])
                else:
                    running.append(task)
            if path is not None:
                path.unlink(missing_ok=True)
        if running:
            queue.append((running, True))
        if not_started:
            queue.append((not_started, False))

    def _chunk_cap(self) -> int:
        """Returns the most trials a chunk may hold: about :data:`CHUNK_S` of work at the
        pace seen so far, one before any trial came back. A chunk's results come back
        together, so this bounds the finished work that waits in a worker unsaved."""
        if self._trial_s is None:
            return 1
        return max(1, int(CHUNK_S / max(self._trial_s, 1e-6)))

    def _outcomes_of(self, result: ChunkResult) -> list[TrialOutcome]:
        """Returns the outcomes of a chunk's result, after adding it to the figures."""
        self._account(result)
        return [
            outcome_of_text(number, text, engine_s, duration_s, result.pid)
            for number, text, engine_s, duration_s in result.results
        ]

    def _account(self, result: ChunkResult) -> None:
        """Adds a chunk's CPU time and peak RSS to the per-worker figures and its trials'
        durations to the pace that sizes chunks."""
        for *_, duration_s in result.results:
            previous = self._trial_s
            self._trial_s = duration_s if previous is None else 0.8 * previous + 0.2 * duration_s
        first, _ = self.worker_cpu_s.get(result.pid, (result.cpu_start_s, 0.0))
        self.worker_cpu_s[result.pid] = (first, result.cpu_end_s)
        engine = self.worker_engine_cpu_s.get(result.pid, 0.0)
        self.worker_engine_cpu_s[result.pid] = engine + result.engine_cpu_s
        rss = self.worker_rss_kb.get(result.pid, 0)
        self.worker_rss_kb[result.pid] = max(rss, result.max_rss_kb)

    def close(self) -> None:
        """Kills the worker processes now (they are started again on the next run)."""
        self._end_sessions()
        self._broken_sessions.clear()
        if self._last is not None:
            # Killing the processes while loky still hands out their warm-up calls races
            # with loky's manager thread (a KeyError there, printed as a thread traceback):
            # a pool closed right after it was made (a bad storage URL) waits for them.
            wait(self._warm_ups, timeout=WARM_UP_WAIT_S)
            with _manager_key_error_quiet():
                self._last.shutdown(wait=True, kill_workers=True)
            self._last = None


@contextlib.contextmanager
def _manager_key_error_quiet() -> Iterator[None]:
    """Keeps loky's shutdown race quiet meanwhile: ``shutdown(kill_workers=True)`` drops
    the queued calls (a Ctrl-C leaves a batch's later chunks queued) while the manager
    thread may still take one of their ids from its queue; the thread then dies of a
    ``KeyError`` after the workers are killed, which changes nothing but would print a
    thread traceback under the one-line "interrupted" message. Other thread errors are
    reported as usual."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        thread = args.thread
        if args.exc_type is KeyError and thread is not None and thread.name == _MANAGER_THREAD:
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


#: The name of loky's executor manager thread.
_MANAGER_THREAD = "ExecutorManagerThread"


def _config_text(config: dict[str, Any]) -> str | dict[str, Any]:
    """Returns the engine config as JSON text, or the dict when it has none (the worker's
    ``bt.run_backtest`` then reports the ``config`` error, naming the field)."""
    try:
        return json.dumps(config, allow_nan=False)
    except (TypeError, ValueError):  # a NaN, an infinity, or no JSON value
        return config


def _crash_files(crash_dir: str) -> dict[int, tuple[Path, int, str, float]]:
    """Returns, per chunk id, the worker crash file that names a running trial of it:
    the file, the trial number, what faulthandler wrote after that line, and how long
    the trial had run (from the start time on that line)."""
    found: dict[int, tuple[Path, int, str, float]] = {}
    for path in Path(crash_dir).glob("worker-*.log"):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        head, _, rest = text.partition("\n")
        match = re.fullmatch(r"chunk (\d+) trial (\d+) at (\d+\.\d+)", head.strip())
        if match:
            ran_s = max(0.0, time.time() - float(match.group(3)))
            found[int(match.group(1))] = (path, int(match.group(2)), rest, ran_s)
    return found


def _crash_verdict(
    task: TrialTask, text: str, exc: BaseException, isolated: bool, duration_s: float
) -> TrialOutcome | None:
    """Returns the failed outcome of the trial that was running when its worker died
    (``text``: what faulthandler wrote; ``duration_s``: how long it ran), or None if not
    yet known."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if "Fatal Python error" in first:
        return failed_outcome(
            task.number, "crash", f"worker process crashed: {first}", duration_s=duration_s
        )
    if first:
        # A bare traceback dump: only the SIGALRM watchdog writes one.
        return failed_outcome(
            task.number,
            "timeout",
            f"trial exceeded trial_timeout_s={task.timeout_s:g} s and was killed",
            duration_s=duration_s,
        )
    if isolated:
        codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
        how = f" (exit code {codes.group(1)})" if codes else ""
        return failed_outcome(
            task.number, "crash", f"worker process died{how}", duration_s=duration_s
        )
    return None


def make_pool(
    backend: str, workers: int, scheduler: str | None, files: Sequence[str] = ()
) -> TrialPool:
    """Returns the pool for ``backend`` (``loky`` or ``dask``); for loky, the one that
    :mod:`optimizer.prestart` started for this command line when it has ``workers``.

    For ``dask``, ``scheduler`` is the scheduler's address and ``files`` the data files
    that every worker must be able to read: the pool checks them before it returns, so
    a misconfigured cluster stops the sweep before its first batch.
    """
    if backend == "dask":
        if not scheduler:
            raise BadInputError(
                "backend dask: expected a scheduler address such as tcp://host:8786 "
                "(the study file's scheduler key or --scheduler)"
            )
        return DaskPool(scheduler, files)
    # python -m optimizer sweep may have started these processes already (prestart).
    return prestart.take(workers) or LokyPool(workers)
