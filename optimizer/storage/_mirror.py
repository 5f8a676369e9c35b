"""Writes finished trials into Optuna's tables: one transaction per batch, or Optuna's API.

Optuna's public ``create_new_trial`` runs about 30 statements per trial (one upsert per
user attribute, a compatibility query per parameter) and commits once per trial; with
the engine at about 1.5 ms per trial that made the mirror most of a sweep's wall time.
:func:`bulk_add_trials` inserts a whole batch into the tables of Optuna's own ORM models
(the classes Optuna itself writes with, so the rows follow the schema of the installed
version, which the store checks on open) in one transaction, with one multi-row
INSERT per table. Those models are not public API: when they cannot be imported,
:func:`add_trials` falls back to the public, slower path. Tests check that both give
identical Optuna studies.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy
from optuna.distributions import distribution_to_json
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial
from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect, Engine

__all__ = ["WRITE_LOCK", "add_trials", "bulk_add_trials", "public_add_trials"]

#: Serializes this process's write transactions: the mirror, which a background thread
#: writes during a sweep, and the driver's batch transactions. Neither then waits for
#: SQLite's write lock, whose busy handler polls with sleeps of 1 ms and more.
WRITE_LOCK = threading.Lock()


def public_add_trials(storage: RDBStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """Adds ``trials`` (in number order) with Optuna's public API, one commit each."""
    with WRITE_LOCK:
        for trial in trials:
            storage.create_new_trial(study_id, template_trial=trial)


def bulk_add_trials(engine: Engine, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """Adds ``trials`` in one transaction, with one ``executemany`` per Optuna table.

    The rows are those Optuna's ORM models hold: each trial row's column values are read
    from a ``TrialModel`` built the way Optuna builds it (so its datetime conversion is
    the installed version's), the child rows are the models' plain columns. Going
    through the tables rather than an ORM session skips the unit of work (identity map,
    one ``RETURNING`` per row), which cost about 1 ms per trial. Each trial keeps its
    ``number`` (the caller guarantees it is the next one). Raises ImportError or
    AttributeError when this Optuna version does not have the expected models.
    """
    from optuna.storages._rdb import models  # not public: see the module docstring

    if not trials:
        return
    trial_table = models.TrialModel.__table__
    mapper = sqlalchemy.inspect(models.TrialModel)
    columns = [
        (attr.key, attr.columns[0].key)
        for attr in mapper.column_attrs
        if attr.columns[0].key not in ("trial_id", "number")
    ]
    trial_rows = []
    model = models.TrialModel(study_id=study_id)  # never added to a session: a converter
    # The trials of a round share their state and times: each such row is converted once.
    converted: dict[tuple[Any, ...], dict[str, Any]] = {}
    for trial in trials:
        shared = (trial.state, trial.datetime_start, trial.datetime_complete)
        row = converted.get(shared)
        if row is None:
            model.state, model.datetime_start, model.datetime_complete = shared
            row = converted[shared] = {column: getattr(model, key) for key, column in columns}
        trial_rows.append({**row, "number": trial.number})
    with WRITE_LOCK, engine.begin() as conn:
        conn.execute(sqlalchemy.insert(trial_table), trial_rows)
        ids: dict[int, int] = dict(
            conn.execute(
                sqlalchemy.select(trial_table.c.number, trial_table.c.trial_id).where(
                    trial_table.c.study_id == study_id,
                    trial_table.c.number.in_([t.number for t in trials]),
                )
            ).all()
        )
        values: list[dict[str, Any]] = []
        params: list[tuple[Any, ...]] = []
        user_attrs: list[tuple[Any, ...]] = []
        system_attrs: list[tuple[Any, ...]] = []
        # The trials share their distribution objects: each is written as JSON once.
        distribution_json: dict[int, str] = {}
        for trial in trials:
            trial_id = ids[trial.number]
            for index, value in enumerate(trial.values or ()):
                stored, kind = models.TrialValueModel.value_to_stored_repr(value)
                values.append(
                    {"trial_id": trial_id, "objective": index, "value": stored, "value_type": kind}
                )
            for name, value in trial.params.items():
                distribution = trial.distributions[name]
                text = distribution_json.get(id(distribution))
                if text is None:
                    text = distribution_json[id(distribution)] = distribution_to_json(distribution)
                params.append((trial_id, name, distribution.to_internal_repr(value), text))
            for key, value in trial.user_attrs.items():
                user_attrs.append((trial_id, key, _json_text(value)))
            for key, value in trial.system_attrs.items():
                system_attrs.append((trial_id, key, json.dumps(value)))
        if values:  # an enum column: through SQLAlchemy's type conversion
            conn.execute(sqlalchemy.insert(models.TrialValueModel.__table__), values)
        for table, names, rows in (
            (models.TrialParamModel.__table__, _PARAM_COLUMNS, params),
            (models.TrialUserAttributeModel.__table__, _ATTR_COLUMNS, user_attrs),
            (models.TrialSystemAttributeModel.__table__, _ATTR_COLUMNS, system_attrs),
        ):
            if rows:
                _insert_plain(conn, table, names, rows)


#: The columns of the parameter and attribute rows, in the order their tuples hold them.
_PARAM_COLUMNS = ("trial_id", "param_name", "param_value", "distribution_json")
_ATTR_COLUMNS = ("trial_id", "key", "value_json")


def _insert_plain(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Inserts rows of plain values (ints, floats, text: nothing for SQLAlchemy to convert)
    with the database driver's own ``executemany``, without SQLAlchemy's per-value
    processing (most of the mirror's cost: a trial has some 25 such rows)."""
    statement, order = _plain_insert(conn.dialect, table, columns)
    if statement is None:  # a column with a default computed in Python (another Optuna)
        named = [dict(zip(columns, row, strict=True)) for row in rows]
        conn.execute(sqlalchemy.insert(table), named)
    elif order is None:  # named parameters
        conn.exec_driver_sql(statement, [dict(zip(columns, row, strict=True)) for row in rows])
    elif order == list(range(len(columns))):
        conn.exec_driver_sql(statement, rows)
    else:
        conn.exec_driver_sql(statement, [tuple(row[i] for i in order) for row in rows])


#: A compiled INSERT as the database driver takes it, with the order of its positional
#: parameters (None: named ones); (None, None): SQLAlchemy must add values itself.
_PlainInsert = tuple[str | None, list[int] | None]

#: The compiled INSERTs of :func:`_plain_insert`, by database driver, table and columns.
_PLAIN_INSERTS: dict[tuple[str, str, str, str, tuple[str, ...]], _PlainInsert] = {}


def _plain_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _PlainInsert:
    """Returns the INSERT of ``columns`` into ``table`` as the database driver takes it and
    the order of its positional parameters (None: named ones), compiled once per driver
    (about 0.5 ms each time: several per mirror sync); (None, None) when SQLAlchemy must
    add values itself (a default computed in Python)."""
    key = (dialect.name, dialect.driver, dialect.paramstyle, table.name, columns)
    found = _PLAIN_INSERTS.get(key)
    if found is None:
        compiled = sqlalchemy.insert(table).compile(dialect=dialect, column_keys=list(columns))
        if set(compiled.params) != set(columns):
            found = (None, None)
        elif compiled.positional:
            found = (str(compiled), [columns.index(n) for n in compiled.positiontup or ()])
        else:
            found = (str(compiled), None)
        _PLAIN_INSERTS[key] = found
    return found


def _json_text(value: Any) -> str:
    """Returns ``json.dumps(value)``, without the encoder for the common finite floats,
    ints and nulls (a metric per user attribute: most of a trial's rows)."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return repr(value)  # what json.dumps writes for a finite float
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value)


def add_trials(
    engine: Engine,
    study_id: int,
    trials: Sequence[FrozenTrial],
    rdb_storage: Callable[[], RDBStorage],
    *,
    bulk: bool = True,
) -> None:
    """Adds ``trials`` to the Optuna study in the database of ``engine``, in bulk when
    possible; the public path asks ``rdb_storage()`` for Optuna's storage of it."""
    if not trials:
        return
    if bulk:
        try:
            bulk_add_trials(engine, study_id, trials)
            return
        except (ImportError, AttributeError):
            pass  # an Optuna without these models: the public path below
    public_add_trials(rdb_storage(), study_id, trials)
