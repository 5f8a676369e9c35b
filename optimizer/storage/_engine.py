"""Storage URLs and SQLAlchemy engines: the default file, SQLite pragmas, fork safety,
and what several drivers on one server need (a schema lock, the database's clock)."""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Float, cast, event, func, literal, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from optimizer.storage._json import JSON_CODEC

__all__ = [
    "DEFAULT_STORAGE",
    "LIBPQ_DRIVERS",
    "PG_CONNECT_TIMEOUT_S",
    "SQLITE_BUSY_TIMEOUT_S",
    "db_clock",
    "display_url",
    "engine_kwargs",
    "is_shared_storage",
    "make_engine",
    "resolve_storage",
    "retry_schema_race",
    "schema_lock",
    "server_connect_args",
]

_T = TypeVar("_T")

#: The storage of every command when neither ``--storage`` nor a study's ``storage`` is
#: given: a SQLite file relative to the working directory.
DEFAULT_STORAGE = "sqlite:///studies/omega.db"

#: How long a SQLite connection waits for a lock before it gives up.
SQLITE_BUSY_TIMEOUT_S = 30.0

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _dispose_after_fork() -> None:
    # A pooled connection must never be used by two processes: a forked child starts
    # with empty pools (close=False leaves the parent's connections alone).
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_after_fork)


def resolve_storage(cli: str | None, study: str | None = None) -> str:
    """Returns the storage URL: ``--storage``, else the study's ``storage``, else the default."""
    return cli or study or DEFAULT_STORAGE


#: Seconds a PostgreSQL server has to answer a new connection: one that accepts the TCP
#: connection and then says nothing (a frozen server, a stuck proxy) is an unreachable
#: server (exit 2), not a wait without end.
PG_CONNECT_TIMEOUT_S = 20

#: PostgreSQL drivers built on libpq, which take ``connect_timeout`` and ``options``.
LIBPQ_DRIVERS = ("psycopg2", "psycopg")


def server_connect_args(url: str) -> dict[str, Any]:
    """Returns the connection arguments every connection to ``url`` gets: a connect
    timeout for PostgreSQL through libpq, else none."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in LIBPQ_DRIVERS:
        return {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return {}


def engine_kwargs(url: str) -> dict[str, Any]:
    """Returns the engine arguments for ``url`` (a busy timeout for SQLite, a connect
    timeout for PostgreSQL, the JSON columns' codec)."""
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}, **JSON_CODEC}
    return {"pool_pre_ping": True, "connect_args": server_connect_args(url), **JSON_CODEC}


def prepare_sqlite_file(url: str) -> None:
    """Creates the folder of a SQLite file and switches the file to WAL journaling."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    engine = sqlalchemy.create_engine(url, **engine_kwargs(url))
    try:
        # WAL is a property of the file: every later connection (ours and Optuna's) uses
        # it, so a reader never blocks the driver's writes. Switching a new file to it
        # takes a lock that SQLite does not wait for: a process that opens the same new
        # file at that moment gets "database is locked" at once, and tries again.
        def switch_to_wal() -> None:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

        _retry_lost_race(switch_to_wal, lambda exc: "locked" in str(exc.orig))
    finally:
        engine.dispose()


def make_engine(url: str) -> Engine:
    """Returns an engine for ``url``, prepared by :func:`register_engine`."""
    engine = sqlalchemy.create_engine(url, **engine_kwargs(url))
    register_engine(engine)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    # With WAL, NORMAL never corrupts the file and loses nothing when a process is
    # killed (only an OS crash may drop the last commits); FULL would fsync every commit,
    # and Optuna commits once per trial.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def register_engine(engine: Engine) -> None:
    """Prepares an engine (also Optuna's): SQLite pragmas on every new connection, and a
    forked child process drops its pooled connections."""
    if engine.dialect.name == "sqlite" and not event.contains(
        engine, "connect", _sqlite_on_connect
    ):
        event.listen(engine, "connect", _sqlite_on_connect)
        engine.dispose()  # connections opened before the listener reconnect with it
    _ENGINES.add(engine)


def display_url(url: str) -> str:
    """Returns ``url`` with its password masked, for messages (never log a password)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def is_shared_storage(url: str) -> bool:
    """Tells whether several drivers may run one study in ``url``: a database server
    (PostgreSQL, MySQL), not a SQLite file (one driver per study there)."""
    return make_url(url).get_backend_name() != "sqlite"


#: The key of the PostgreSQL advisory lock that serializes schema creation ("omega-v2").
_SCHEMA_LOCK_KEY = 0x6F6D656761_7632


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Holds a server-wide lock while tables are created, on PostgreSQL.

    Two drivers that open a fresh PostgreSQL database at the same moment would both
    run ``CREATE TABLE`` (Optuna's and ours) and one would fail on a duplicate; a
    session-level advisory lock on its own connection serializes them. Elsewhere a no-op.
    """
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = sqlalchemy.create_engine(
        url, poolclass=sqlalchemy.pool.NullPool, connect_args=server_connect_args(url)
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


#: Attempts of :func:`retry_schema_race`, and the pause before the first retry (seconds;
#: it doubles each time).
SCHEMA_ATTEMPTS = 5
_SCHEMA_RETRY_S = 0.05


def retry_schema_race(set_up: Callable[[], _T]) -> _T:
    """Runs ``set_up`` (which creates tables and their first rows where missing) and runs
    it again after a short pause when another process did the same thing at the same
    moment.

    On SQLite nothing serializes two processes that open a new database file together
    (:func:`schema_lock` covers PostgreSQL): both see a table missing and one of them
    fails on ``CREATE TABLE`` ("already exists") or on a unique row; once the other is
    done, a second look finds everything in place.
    """
    return _retry_lost_race(
        set_up,
        lambda exc: isinstance(exc, IntegrityError) or "already exists" in str(exc.orig),
    )


def _retry_lost_race(
    action: Callable[[], _T], lost: Callable[[IntegrityError | OperationalError], bool]
) -> _T:
    """Runs ``action``, again after a pause (doubling) while it fails with an error that
    ``lost`` calls a race lost to another process, at most :data:`SCHEMA_ATTEMPTS` times."""
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            return action()
        except (IntegrityError, OperationalError) as exc:
            if not lost(exc) or attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(_SCHEMA_RETRY_S * 2**attempt)
    raise AssertionError("unreachable")


def db_clock(dialect: str) -> ColumnElement[float]:
    """Returns a SQL expression for the database server's time in epoch seconds.

    Driver heartbeats are written and compared with the server's clock, so the clocks of
    the machines that run drivers never matter. Other backends use this process's clock.
    """
    if dialect == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()), Float)
    if dialect == "sqlite":
        return cast((func.julianday("now") - 2440587.5) * 86400.0, Float)
    return literal(time.time(), Float)
