"""Read-only database access for the dashboard and the reading commands: no writes, no held lock.

A SQLite storage is opened through a ``file:...?mode=ro`` URI, so SQLite itself refuses
every write; with the WAL journal that the driver switches on, a reader never blocks the
driver's writes. A PostgreSQL storage gets ``default_transaction_read_only``. Every
request uses its own short transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url

from optimizer.errors import BadInputError
from optimizer.storage._engine import LIBPQ_DRIVERS, server_connect_args
from optimizer.storage._json import JSON_CODEC

__all__ = [
    "make_readonly_engine",
    "readonly_engine_kwargs",
    "readonly_url",
    "readonly_warning",
    "shown_url",
]

#: How long a read waits for a lock (only WAL recovery can make a reader wait).
_BUSY_TIMEOUT_S = 10.0


def check_sqlite_path(parsed: URL) -> None:
    """Raises :class:`BadInputError` for a SQLite URL that is not a plain file path: a
    ``file:`` URI or query parameters (``?mode=ro&uri=true``), which the commands' own
    connections (read-only, Optuna's) would each read differently."""
    if (parsed.database or "").startswith("file:"):
        raise BadInputError(
            f"storage {parsed}: expected a plain SQLite path such as sqlite:///studies/omega.db, "
            "not a file: URI"
        )
    if parsed.query:
        raise BadInputError(
            f"storage {parsed}: expected a plain SQLite path such as sqlite:///studies/omega.db, "
            f"without query parameters (?{'&'.join(sorted(parsed.query))})"
        )


def _sqlite_file(parsed: URL) -> Path | None:
    database = parsed.database
    if database in (None, "", ":memory:"):
        return None
    assert database is not None
    check_sqlite_path(parsed)
    return Path(database).resolve()


def shown_url(url: str) -> str:
    """Returns ``url`` as pages may show it: a password is replaced by ``***``."""
    try:
        parsed = make_url(url)
    except Exception:
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def readonly_url(url: str) -> str:
    """Returns the URL to open ``url`` read-only with (a ``mode=ro`` URI for SQLite).

    Raises :class:`BadInputError` for a malformed URL or a missing SQLite file.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise BadInputError(f"--storage {url}: expected a SQLAlchemy URL") from None
    if parsed.get_backend_name() != "sqlite":
        return url
    path = _sqlite_file(parsed)
    if path is None:
        raise BadInputError(f"--storage {url}: expected a SQLite file (an in-memory one is empty)")
    if not path.is_file():
        raise BadInputError(f"--storage {url}: expected an existing database (no such file)")
    # The URI form needs percent-escaping of the path; mode=ro makes SQLite refuse writes.
    uri = f"file:{quote(path.as_posix())}?mode=ro&uri=true"
    driver = parsed.drivername
    return f"{driver}:///{uri}"


def _enforced(url: str) -> bool:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    return backend == "sqlite" or (
        backend == "postgresql" and parsed.get_driver_name() in LIBPQ_DRIVERS
    )


def readonly_engine_kwargs(url: str) -> dict[str, Any]:
    """Returns ``create_engine`` arguments that keep connections read-only for ``url``."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": _BUSY_TIMEOUT_S}, **JSON_CODEC}
    if _enforced(url):  # PostgreSQL through libpq: every transaction is read-only
        return {
            **JSON_CODEC,
            "pool_pre_ping": True,
            "connect_args": {
                **server_connect_args(url),
                "options": "-c default_transaction_read_only=on",
            },
        }
    return {"pool_pre_ping": True, "connect_args": server_connect_args(url), **JSON_CODEC}


def readonly_warning(url: str) -> str | None:
    """Returns a warning when ``url``'s connections cannot be made read-only, else None."""
    if _enforced(url):
        return None
    return (
        f"warning: {make_url(url).drivername} storage: the dashboard only reads, but its "
        "connections are not read-only at the database level"
    )


def make_readonly_engine(url: str) -> Engine:
    """Returns an engine that opens ``url`` (already made by :func:`readonly_url`) read-only."""
    return sqlalchemy.create_engine(url, **readonly_engine_kwargs(url))
