"""Fixtures of the scale-out tests (docs/scaling.md): the real things, on loopback.

* ``pg_server``: a PostgreSQL server started for the session from Debian's binaries
  (``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1, as
  the ``postgres`` user when the tests run as root), stopped afterwards. Missing
  binaries fail the tests with the install line; they are never skipped.
* ``pg_url``: a fresh database on that server per test.
* ``dask_cluster``: a ``distributed.LocalCluster`` with 2 worker processes of one
  thread each on 127.0.0.1, no dashboard, ``allowed-failures`` 1 (docs/scaling.md).
* ``small_data``, ``base_config``, ``write_study``: the sliced fixture data and study
  files of tests/optimizer (two weeks of M5 bars: a trial takes milliseconds).
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

# The shared helpers of the optimizer tests (paths, result tables, the CLI runner).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizer"))

from opt_support import (
    BASE_CONFIG,
    FIXTURES,
    REPO,
    SEARCH_SPACE,
    SLICE_END_NS,
    StudyWriter,
)
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


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a folder with a two-week slice of the M5 files and the full D1 files."""
    folder = tmp_path_factory.mktemp("data")
    for side in ("BID", "ASK"):
        table = pq.read_table(FIXTURES / f"EURUSD_M5_{side}.parquet")
        table = table.filter(pc.less(table["timestamp"], SLICE_END_NS))
        pq.write_table(table, folder / f"EURUSD_M5_{side}.parquet")
        shutil.copy(FIXTURES / f"EURUSD_D1_{side}.parquet", folder / f"EURUSD_D1_{side}.parquet")
    return folder


@pytest.fixture(scope="session")
def base_config(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a base config file that reads the small data (absolute paths)."""
    config = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    config["data"]["dir"] = str(small_data)
    config["costs"]["symbol_specs"] = str(REPO / "configs" / "symbol_specs.yaml")
    config["costs"]["execution_costs"] = str(REPO / "configs" / "execution_costs.yaml")
    path = tmp_path_factory.mktemp("configs") / "base.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def write_study(tmp_path: Path, base_config: Path) -> StudyWriter:
    """Returns a function that writes a study file into tmp_path and returns its path.

    Keyword arguments override the defaults; a value of ``None`` removes the key.
    """

    def write(filename: str = "study.yaml", **overrides: Any) -> Path:
        data: dict[str, Any] = {
            "name": "test-study",
            "storage": f"sqlite:///{tmp_path / 'omega.db'}",
            "run_mode": "dev",
            "seed": 11,
            "base_config": str(base_config),
            "sampler": {"name": "tpe", "n_startup_trials": 6},
            "n_trials": 24,
            "workers": 2,
            "batch_size": 4,
            "objective": "score",
            "direction": "maximize",
            "constraints": {"min_trades": 3},
            "trial_timeout_s": 60,
            "search_space": SEARCH_SPACE,
        }
        for key, value in overrides.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
