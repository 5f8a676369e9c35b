"""The worker side: one trial is exactly one ``bt.run_backtest`` call.

This module runs inside long-lived worker processes (so the engine's per-process
Parquet cache loads each data file once per worker) and never touches the database.

:func:`evaluate` runs one trial (the Dask backend): a per-trial watchdog
(:func:`faulthandler.dump_traceback_later` with ``exit=True``) ends the worker process
when the trial outlives its timeout, even inside native code, and writes
``Timeout (...)!`` into the trial's crash file; a fatal signal (segfault) writes
``Fatal Python error: ...`` there.

The loky pool sends trials in chunks (:func:`evaluate_chunk`: several trials per
message, all their results back in one), with the engine config as JSON text that the
worker hands to ``omega_bt.run_backtest`` unchanged and whose result text the driver
parses, so a worker does little besides running the engine. A worker process has one
crash file, ``worker-PID.log`` in the sweep's crash folder: a fixed-size first line,
``chunk C trial N at T`` (T: its start, epoch seconds) while that trial runs and
``idle`` otherwise (overwritten in place, so the driver knows which trial was running
when the process died, and for how long), then whatever faulthandler writes. The
watchdog is a per-process interval timer (``setitimer``): at the deadline ``SIGALRM``
makes faulthandler's C-level handler dump the tracebacks into the crash file, then the
default action ends the process, even inside native code. (The per-trial
``dump_traceback_later`` of :func:`evaluate` starts and joins a watchdog thread for
every trial: 0.2 ms on an idle machine, several ms on a busy one.)

For samplers that learn from results, the pool streams a batch's trials one by one as
the driver asks them (:func:`serve_stream`: one long-running task per worker process
that reads chunks from its own socket and writes each result back), so the workers run
a batch while the driver is still asking it.

Test-only fault injection: the driver copies the environment variable
``OMEGA_OPTIMIZER_FAULTS`` into each task. It is a comma-separated list of
``TRIAL:KIND`` items, ``TRIAL`` a trial number or ``*`` (every trial), ``KIND`` one of
``exit`` (``os._exit(1)``), ``kill`` (SIGKILL to itself), ``segv`` (reads address 0),
``raise`` (raises RuntimeError), ``hang`` (sleeps forever), ``sleep=SECONDS``. Items
apply in order before the engine call. Never set it outside tests.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

import orjson

__all__ = [
    "FAULTS_ENV",
    "ChunkResult",
    "TrialChunk",
    "TrialOutcome",
    "TrialTask",
    "crash_file_of",
    "evaluate",
    "evaluate_chunk",
    "failed_outcome",
    "outcome_of_text",
    "serve_stream",
    "warm_up",
    "worker_initializer",
]

#: The environment variable of the test-only fault hook.
FAULTS_ENV = "OMEGA_OPTIMIZER_FAULTS"


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial: its number and complete engine config."""

    number: int
    config: dict[str, Any]
    timeout_s: float | None
    crash_dir: str
    faults: str | None = None

    @property
    def crash_file(self) -> Path:
        """Returns the file where the watchdog and faulthandler write for this trial."""
        return Path(self.crash_dir) / f"trial-{self.number}.log"


@dataclass
class TrialOutcome:
    """What came back from one trial (success or failure), ready to be stored."""

    number: int
    ok: bool
    metrics: dict[str, Any] | None = None
    config_hash: str | None = None
    resolved_config: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    error_category: str | None = None
    error_message: str | None = None
    duration_s: float = 0.0
    engine_s: float = 0.0
    worker_pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialChunk:
    """Trials for one worker, run one after the other; their results come back together.

    ``configs[i]`` is trial ``numbers[i]``'s engine config as JSON text (or, when it has
    no JSON form, the dict, which ``bt.run_backtest`` then rejects as a ``config`` error).
    """

    numbers: tuple[int, ...]
    configs: tuple[str | dict[str, Any], ...]
    timeout_s: float | None
    #: The sweep's crash folder and this chunk's id (unique in the sweep).
    crash_dir: str
    chunk_id: int
    faults: str | None = None


@dataclass
class ChunkResult:
    """What a worker sends back for a chunk: per trial ``(number, result, engine_s,
    duration_s)``, ``result`` the engine's JSON text or a failed outcome; and the worker
    process's pid, CPU time (before and after the chunk, and inside the engine calls)
    and peak RSS."""

    pid: int
    results: list[tuple[int, str | TrialOutcome, float, float]]
    cpu_start_s: float
    cpu_end_s: float
    engine_cpu_s: float
    max_rss_kb: int


def failed_outcome(number: int, category: str, message: str, **kwargs: Any) -> TrialOutcome:
    """Returns a failed outcome with ``category`` and a one-line ``message``."""
    one_line = " ".join(message.split())[:2000]
    return TrialOutcome(
        number=number, ok=False, error_category=category, error_message=one_line, **kwargs
    )


def worker_initializer(parent_pid: int) -> None:
    """Prepares a worker process: ignores Ctrl-C and exits when the driver is gone.

    Ctrl-C in a terminal reaches the whole process group; the driver alone decides what
    happens then. A daemon thread polls the parent pid so that a worker never outlives a
    driver killed with SIGKILL.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch_parent, name="omega-parent-watch", daemon=True).start()


def evaluate(task: TrialTask) -> TrialOutcome:
    """Runs one trial in this process and returns its outcome (never raises for a run)."""
    import bt  # imported here so that the CLI's --help works without the engine

    started = time.perf_counter()
    crash_path = task.crash_file
    crash_path.parent.mkdir(parents=True, exist_ok=True)  # a remote (Dask) worker has none
    crash: TextIO = open(crash_path, "w", encoding="utf-8")  # noqa: SIM115
    faulthandler.enable(file=crash)
    if task.timeout_s is not None:
        faulthandler.dump_traceback_later(task.timeout_s, exit=True, file=crash)
    engine_s = 0.0
    pid = os.getpid()
    try:
        _apply_faults(task.faults, task.number)
        engine_start = time.perf_counter()
        try:
            result = bt.run_backtest(task.config)
        finally:
            engine_s = time.perf_counter() - engine_start
        outcome = _outcome_of(task.number, result)
    except bt.ConfigError as exc:
        outcome = failed_outcome(task.number, "config", str(exc))
    except bt.InternalError as exc:
        outcome = failed_outcome(task.number, "internal", f"engine panic: {exc}")
    except Exception as exc:
        outcome = failed_outcome(task.number, "exception", f"{type(exc).__name__}: {exc}")
    finally:
        faulthandler.cancel_dump_traceback_later()
        faulthandler.enable(file=sys.stderr)
        crash.close()
        crash_path.unlink(missing_ok=True)
    outcome.duration_s = time.perf_counter() - started
    outcome.engine_s = engine_s
    outcome.worker_pid = pid
    return outcome


def warm_up() -> int:
    """Imports the engine in a fresh worker process (sent once per worker when a pool
    starts, so that the imports overlap with the driver's own start); returns the pid."""
    import bt  # noqa: F401
    import omega_bt  # noqa: F401

    return os.getpid()


def evaluate_chunk(chunk: TrialChunk) -> ChunkResult:
    """Runs the trials of ``chunk`` in this process, in order (never raises for a run).

    See the module docstring for the crash file and the ``SIGALRM`` watchdog.
    """
    import bt
    import omega_bt

    cpu_start = time.process_time()
    pid = os.getpid()
    results: list[tuple[int, str | TrialOutcome, float, float]] = []
    fd = _crash_fd(chunk.crash_dir)
    header = b"chunk %d trial %%d at %%.3f" % chunk.chunk_id
    perf_counter, process_time = time.perf_counter, time.process_time
    engine_cpu = 0.0
    try:
        for number, config in zip(chunk.numbers, chunk.configs, strict=True):
            started = perf_counter()
            line = header % (number, time.time())  # when it started: a crash's duration
            os.pwrite(fd, line.ljust(CRASH_HEADER_SIZE - 1) + b"\n", 0)
            if chunk.timeout_s is not None:
                signal.setitimer(signal.ITIMER_REAL, chunk.timeout_s)
            engine_s = 0.0
            result: str | TrialOutcome
            try:
                _apply_faults(chunk.faults, number)
                if isinstance(config, str):
                    engine_cpu -= process_time()
                    engine_start = perf_counter()
                    try:
                        result = omega_bt.run_backtest(config)
                    finally:
                        engine_s = perf_counter() - engine_start
                        engine_cpu += process_time()
                else:
                    result = _outcome_of(number, bt.run_backtest(config))
            except bt.ConfigError as exc:
                result = failed_outcome(number, "config", str(exc))
            except bt.InternalError as exc:
                result = failed_outcome(number, "internal", f"engine panic: {exc}")
            except Exception as exc:
                result = failed_outcome(number, "exception", f"{type(exc).__name__}: {exc}")
            finally:
                if chunk.timeout_s is not None:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                os.pwrite(fd, _IDLE, 0)
            results.append((number, result, engine_s, perf_counter() - started))
    finally:
        os.pwrite(fd, _IDLE, 0)
    return ChunkResult(
        pid=pid,
        results=results,
        cpu_start_s=cpu_start,
        cpu_end_s=time.process_time(),
        engine_cpu_s=engine_cpu,
        max_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


def serve_stream(address: str) -> int:
    """Serves the driver's chunks over the Unix socket at ``address``: runs each chunk it
    reads (:func:`evaluate_chunk`) and writes its :class:`ChunkResult` back, until the
    driver sends None or closes its end. Returns how many chunks it ran.

    One such call holds a worker process for the whole session; a trial that kills the
    process (a crash, the watchdog) closes the socket, which is how the driver notices.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(address)
    except BaseException:
        client.close()
        raise
    served = 0
    with Connection(client.detach()) as connection:
        while True:
            try:
                chunk = connection.recv()
            except EOFError:
                break
            if chunk is None:
                break
            connection.send(evaluate_chunk(chunk))
            served += 1
    return served


#: This process's crash file: (crash folder, file descriptor), opened on first use.
_CRASH: tuple[str, int] | None = None

#: The size of a crash file's first line (``chunk C trial N at T``, T its start in epoch
#: seconds, or ``idle``, padded).
CRASH_HEADER_SIZE = 64
_IDLE = b"idle".ljust(CRASH_HEADER_SIZE - 1) + b"\n"


def crash_file_of(crash_dir: str, pid: int) -> str:
    """Returns the crash file of worker process ``pid`` in the sweep's crash folder."""
    return os.path.join(crash_dir, f"worker-{pid}.log")


def _crash_fd(crash_dir: str) -> int:
    """Returns the descriptor of this process's crash file in ``crash_dir`` (opened, with
    faulthandler writing there on fatal errors and on ``SIGALRM``, on first use)."""
    global _CRASH
    if _CRASH is not None and _CRASH[0] == crash_dir:
        return _CRASH[1]
    os.makedirs(crash_dir, exist_ok=True)
    path = crash_file_of(crash_dir, os.getpid())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, _IDLE, 0)
    os.lseek(fd, CRASH_HEADER_SIZE, os.SEEK_SET)  # faulthandler writes after the line
    faulthandler.enable(file=fd)
    faulthandler.register(signal.SIGALRM, file=fd, all_threads=True, chain=True)
    if _CRASH is not None:
        os.close(_CRASH[1])
    _CRASH = (crash_dir, fd)
    return fd


def outcome_of_text(
    number: int, result: str | TrialOutcome, engine_s: float, duration_s: float, pid: int
) -> TrialOutcome:
    """Returns the outcome of one entry of :class:`ChunkResult` (parsed in the driver, with
    orjson: about three times faster than ``json.loads`` on the engine's result)."""
    outcome = _outcome_of(number, orjson.loads(result)) if isinstance(result, str) else result
    outcome.engine_s = engine_s
    outcome.duration_s = duration_s
    outcome.worker_pid = pid
    return outcome


def _outcome_of(number: int, result: dict[str, Any]) -> TrialOutcome:
    if result.get("ok"):
        meta = result.get("meta") or {}
        return TrialOutcome(
            number=number,
            ok=True,
            metrics=dict(result.get("metrics") or {}),
            config_hash=meta.get("config_hash"),
            resolved_config=meta.get("resolved_config"),
            stats=result.get("stats"),
        )
    error = result.get("error") or {}
    return failed_outcome(
        number,
        str(error.get("category") or "runtime"),
        str(error.get("message") or "unknown engine error"),
        config_hash=result.get("config_hash"),
        extra={"details": error.get("details")},
    )


def _apply_faults(spec: str | None, number: int) -> None:
    """Runs the test-only faults of ``spec`` that name trial ``number`` (or ``*``)."""
    if not spec:
        return
    for item in spec.split(","):
        target, _, kind = item.strip().partition(":")
        if target != "*" and (not target.isdigit() or int(target) != number):
            continue
        if kind == "exit":
            os._exit(1)
        elif kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif kind == "segv":
            import ctypes

            ctypes.string_at(0)
        elif kind == "raise":
            raise RuntimeError(f"injected fault in trial {number}")
        elif kind == "hang":
            while True:
                time.sleep(3600)
        elif kind.startswith("sleep="):
            time.sleep(float(kind[6:]))
