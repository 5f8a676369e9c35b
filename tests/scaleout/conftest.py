"""Fixtures of the scale-out tests (docs/scaling.md): the real things, on loopback.

* ``pg_server``: a PostgreSQL server started for the session from Debian's binaries
  (``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1, as
  the ``postgres`` user when the tests run as root), stopped afterwards. Missing
  binaries fail the tests with the install line; they are never skipped.
* ``pg_url``: a fresh database on that server per test.
* ``dask_cluster``: a ``distributed.LocalCluster`` with 2 worker processes of one
  thread each on 127.0.0.1, no dashboard, ``allowed-failures`` 1 (docs/scaling.md).
* ``silent_port``: a loopback port that accepts connections and never answers (a frozen
  server, a stuck proxy).
* ``small_data``, ``base_config``, ``write_study``, ``marker``: the sliced fixture data,
  study files and process marker of tests/optimizer (two weeks of M5 bars: a trial
  takes milliseconds).
"""

from __future__ import annotations

import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The shared helpers of the optimizer tests (paths, result tables, the CLI runner).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizer"))

from opt_fixtures import base_config, marker, small_data, write_study  # noqa: F401 (fixtures)
from pg_server import PgServer, PgUnavailable


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Returns a PostgreSQL server that runs for the whole session."""
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """Returns the URL of a fresh, empty database (``postgresql+psycopg://``)."""
    return pg_server.create_database(f"omega_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """Returns a LocalCluster: 2 worker processes, 1 thread each, loopback, no dashboard."""
    import logging

    import dask
    from distributed import LocalCluster

    # allowed-failures 1: a task is run again once when its worker dies (an innocent
    # trial on a killed worker completes), and recorded failed when a second worker dies
    # under it (the trial itself kills its worker).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # No dashboard; the scheduler's bare HTTP endpoint (health checks) binds a
            # free loopback port instead of 8787, which another cluster may hold.
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Returns a loopback port whose server accepts every connection and never answers."""
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def accept() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:  # closed at the end of the test
                    return
                accepted.append(conn)  # held open, never read or written

        threading.Thread(target=accept, daemon=True).start()
        yield server.getsockname()[1]
    for conn in accepted:
        conn.close()
