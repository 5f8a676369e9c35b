"""Optuna's tables set up and checked without Alembic: the database must be exactly what
``RDBStorage`` makes of it, and anything else must still reach ``RDBStorage``'s check."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.study import StudyDirection

from optimizer.errors import BadInputError
from optimizer.storage import StudyStore
from optimizer.storage._optuna_schema import (
    OptunaTables,
    RDBStudies,
    alembic_head,
    open_optuna_tables,
)


def _schema(path: Path) -> dict[str, str]:
    """Returns every table's and index's CREATE statement in a SQLite file, by name."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'omega_%'")
        return {name: sql for name, sql in rows if sql is not None}
    finally:
        conn.close()


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        conn.close()


def _rdb_storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url)


def test_the_head_revision_is_the_one_alembic_finds(tmp_path: Path) -> None:
    storage = _rdb_storage(f"sqlite:///{tmp_path / 'rdb.db'}")
    try:
        assert alembic_head() == storage._version_manager.get_head_version()
    finally:
        storage.engine.dispose()


def test_a_new_database_is_set_up_as_rdb_storage_sets_it_up(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    StudyStore(f"sqlite:///{ours}").close()
    _rdb_storage(f"sqlite:///{theirs}").engine.dispose()
    assert _schema(ours) == _schema(theirs)
    for table in ("version_info", "alembic_version"):
        assert _rows(ours, table) == _rows(theirs, table)
    # And Optuna's own check finds it up to date.
    storage = _rdb_storage(f"sqlite:///{ours}")
    try:
        manager = storage._version_manager
        assert manager.get_current_version() == manager.get_head_version()
    finally:
        storage.engine.dispose()


def test_a_study_is_created_as_rdb_storage_creates_it(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    store = StudyStore(f"sqlite:///{ours}")
    tables = open_optuna_tables(store.engine)
    storage = _rdb_storage(f"sqlite:///{theirs}")
    try:
        assert isinstance(tables, OptunaTables)
        for studies in (tables, RDBStudies(storage)):
            assert studies.study_id("m") is None
            study_id = studies.create_study("m", StudyDirection.MINIMIZE)
            studies.set_study_user_attr(study_id, "omega_run_mode", "dev")
            assert studies.study_id("m") == study_id
            assert studies.trial_count(study_id) == 0
            with pytest.raises(optuna.exceptions.DuplicatedStudyError):
                studies.create_study("m", StudyDirection.MAXIMIZE)
    finally:
        store.close()
        storage.engine.dispose()
    for table in ("studies", "study_directions", "study_user_attributes"):
        assert _rows(ours, table) == _rows(theirs, table)
    loaded = optuna.load_study(study_name="m", storage=f"sqlite:///{ours}")
    assert loaded.direction == StudyDirection.MINIMIZE
    assert loaded.user_attrs == {"omega_run_mode": "dev"}


def test_a_sweep_store_opens_without_alembic(tmp_path: Path) -> None:
    # Importing Alembic and loading Optuna's migrations is what the fast open avoids.
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code = (
        "import sys\n"
        "from optimizer.storage import StudyStore\n"
        f"for _ in range(2): StudyStore({url!r}).close()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_older_optuna_schema_is_refused_with_optunas_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    StudyStore(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = 'v3.0.0.d'")
    conn.close()
    with pytest.raises(BadInputError, match="optuna storage upgrade"):
        StudyStore(f"sqlite:///{path}")


def test_a_database_rdb_storage_made_opens_fast(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    storage = _rdb_storage(f"sqlite:///{path}")
    storage.create_new_study([StudyDirection.MAXIMIZE], "m")
    storage.engine.dispose()
    store = StudyStore(f"sqlite:///{path}")
    try:
        tables = open_optuna_tables(store.engine)
        assert tables is not None and tables.study_id("m") is not None
    finally:
        store.close()


def test_processes_that_open_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    # Two sweeps started at once on a fresh default database: both set up the schema.
    # (Before the retry, about one process in five failed with "table ... already exists".)
    code = "import sys\nfrom optimizer.storage import StudyStore\nStudyStore(sys.argv[1]).close()\n"
    for attempt in range(4):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
