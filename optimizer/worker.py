"""The worker side: one trial is exactly one ``bt.run_backtest`` call.

This module runs inside long-lived worker processes (so the engine's per-process
Parquet cache loads each data file once per worker) and never touches the database.

A per-trial watchdog (:func:`faulthandler.dump_traceback_later` with ``exit=True``) ends
the worker process when a trial outlives its timeout, even inside native code, and
writes ``Timeout (...)!`` into the trial's crash file; a fatal signal (segfault) writes
``Fatal Python error: ...`` there. The driver reads that file to name the reason.

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
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "FAULTS_ENV",
    "TrialOutcome",
    "TrialTask",
    "evaluate",
    "failed_outcome",
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
