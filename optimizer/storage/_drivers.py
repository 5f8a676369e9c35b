"""Several drivers on one study: who runs which batch, and which drivers are alive.

Two tables beside the results tables (created with ``create_all``, so an older database
gains them on its next sweep):

``omega_drivers``
    one row per ``sweep`` process: host, pid (and the pid's start time, so a reused pid
    is not mistaken for the driver), a heartbeat on the database server's clock, and
    ``stopped`` once it ended normally or was found dead.
``omega_batches``
    one row per asked batch, unique per ``(study_id, batch)``: the driver running it now
    (``driver_id``, NULL while nobody does), the driver that asked it, and ``history``,
    the trial numbers that were told when it was asked (as ``[low, high)`` ranges), so
    that it can be re-asked exactly on ``--resume``.

A driver claims a batch by inserting its ``omega_batches`` row together with the
batch's RUNNING trial rows in one transaction (the unique constraints on
``(study_id, batch)`` and ``(study_id, number)`` let exactly one of two racing drivers
win; the loser asks the next batch), or takes over an unfinished batch with a
conditional ``UPDATE ... WHERE driver_id = <the dead or absent owner>``. Results are
stored only while the batch is still the driver's (the same conditional update), so a
driver that was presumed dead and later wakes up cannot count a trial twice.

A driver is alive while its row is not ``stopped`` and, on its own host, its pid runs;
on another host, while its heartbeat is younger than :data:`LEASE_S`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from optimizer.storage._engine import db_clock
from optimizer.storage._models import Base

__all__ = [
    "HEARTBEAT_S",
    "LEASE_S",
    "BatchRow",
    "DriverRow",
    "Heartbeat",
    "HostProcess",
    "from_ranges",
    "is_alive",
    "to_ranges",
]

#: Seconds between two heartbeats of a driver on a database server.
HEARTBEAT_S = 5.0

#: A driver on another host whose heartbeat is older than this is presumed dead.
LEASE_S = 30.0


class DriverRow(Base):
    """One ``sweep`` process working on a study."""

    __tablename__ = "omega_drivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("omega_studies.id"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: The process's start time (``/proc/PID/stat`` field 22), to tell a reused pid.
    pid_start: Mapped[str | None] = mapped_column(String(32))
    #: Epoch seconds on the database server's clock.
    started_s: Mapped[float] = mapped_column(Float)
    heartbeat_s: Mapped[float] = mapped_column(Float)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class BatchRow(Base):
    """One asked batch of a study: its history and the driver running it now."""

    __tablename__ = "omega_batches"
    __table_args__ = (UniqueConstraint("study_id", "batch", name="uq_omega_batches_study_batch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("omega_studies.id"), index=True)
    batch: Mapped[int] = mapped_column(Integer)
    #: The driver running the batch now; NULL when nobody does (told, or released).
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("omega_drivers.id"))
    #: The driver that asked the batch.
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("omega_drivers.id"))
    #: The told trial numbers the batch was asked after, as [low, high) ranges.
    history: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


def to_ranges(numbers: Iterable[int]) -> list[list[int]]:
    """Returns sorted ``numbers`` as ``[low, high)`` ranges: ``{0,1,2,5}`` -> ``[[0,3],[5,6]]``."""
    ranges: list[list[int]] = []
    for n in sorted(set(numbers)):
        if ranges and ranges[-1][1] == n:
            ranges[-1][1] = n + 1
        else:
            ranges.append([n, n + 1])
    return ranges


def from_ranges(ranges: Sequence[Sequence[int]]) -> list[int]:
    """Returns the numbers of ``[low, high)`` ranges, sorted."""
    return sorted({n for low, high in ranges for n in range(int(low), int(high))})


def _pid_start(pid: int) -> str | None:
    """Returns the start time of process ``pid`` (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


@dataclass(frozen=True)
class HostProcess:
    """This process as a driver row names it."""

    host: str
    pid: int
    pid_start: str | None

    @classmethod
    def current(cls) -> HostProcess:
        """Returns this process."""
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, pid_start=_pid_start(pid))


def _pid_runs(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if start is None:
        return True
    current = _pid_start(pid)
    return current is None or current == start


def is_alive(row: DriverRow, now_s: float, here: HostProcess) -> bool:
    """Tells whether the driver of ``row`` still runs (``now_s``: the server's clock)."""
    if row.stopped:
        return False
    if row.host == here.host:
        return row.pid == here.pid or _pid_runs(row.pid, row.pid_start)
    return now_s - row.heartbeat_s < LEASE_S


class Heartbeat:
    """A daemon thread that refreshes a driver row's heartbeat every :data:`HEARTBEAT_S`."""

    def __init__(self, engine: Engine, driver_id: int) -> None:
        self._engine = engine
        self._driver_id = driver_id
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="omega-driver-heartbeat", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        clock = db_clock(self._engine.dialect.name)
        while not self._stop.wait(HEARTBEAT_S):
            # A failed beat (a dropped connection) is retried at the next tick; a driver
            # that cannot beat for LEASE_S is presumed dead and its batch is fenced off.
            with contextlib.suppress(Exception), self._engine.begin() as conn:
                conn.execute(
                    update(DriverRow)
                    .where(DriverRow.id == self._driver_id)
                    .values(heartbeat_s=clock)
                )

    def stop(self) -> None:
        """Stops the thread (waits for a beat in progress)."""
        self._stop.set()
        self._thread.join(timeout=10)
