"""Optuna's tables opened without Alembic: the schema set up and checked in milliseconds.

``optuna.storages.RDBStorage`` checks its schema version on every open through Alembic:
importing it and loading Optuna's migration scripts cost about 0.35 s per command (0.4 s
of a 200-trial sweep's 1.4 s). The check itself is small: the ``alembic_version`` row must
name the newest migration of the installed Optuna, and ``version_info`` must hold its
schema version. :func:`open_optuna_tables` does that check (and, on a new database, what
``RDBStorage`` writes there: Optuna's tables, the ``version_info`` row and the Alembic
stamp) with Optuna's own ORM models and the revision names read from Optuna's migration
files. When anything is not as expected (an older schema, an Optuna without these
models), it returns None and the store opens ``RDBStorage``, whose own check then
decides, with its own messages. Tests check that a database set up here opens in
``RDBStorage`` as fully up to date, and that studies created both ways are identical.

:class:`OptunaTables` then does the few study-level writes and reads the driver needs
(find or create the study, set a study attribute, count its trials) the way
``RDBStorage`` does them, on the project's engine; :class:`RDBStudies` does the same
through ``RDBStorage`` when the fast path is not taken.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import sqlalchemy
from optuna.exceptions import DuplicatedStudyError
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["OptunaTables", "RDBStudies", "alembic_head", "count_trials", "open_optuna_tables"]

_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:None|["']([^"']+)["'])""", re.MULTILINE)

#: Alembic's version table, as ``alembic stamp`` creates it.
_ALEMBIC_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@functools.cache
def alembic_head() -> str | None:
    """Returns the newest migration revision of the installed Optuna's schema, read from
    its migration files (one ``revision = "..."`` and ``down_revision = ...`` each), or
    None when they do not form one chain."""
    from optuna.storages import _rdb  # not public: the folder of the migration scripts

    versions = Path(_rdb.__file__).parent / "alembic" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision, parent = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or parent is None:
            return None
        revisions.add(revision.group(1))
        if parent.group(1) is not None:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def open_optuna_tables(engine: Engine) -> OptunaTables | None:
    """Sets up Optuna's tables in a new database, or checks them in an existing one.

    Returns the tables when they hold the installed Optuna's schema, None when
    ``RDBStorage`` has to look (an older or unknown schema; an Optuna without the models
    or migration files read here). The caller serializes concurrent set-ups.
    """
    try:
        from optuna.storages._rdb import models  # not public: see the module docstring
        from optuna.version import __version__

        schema_version = models.SCHEMA_VERSION
    except (ImportError, AttributeError):
        return None
    head = alembic_head()
    if head is None:
        return None
    models.BaseModel.metadata.create_all(engine)
    with engine.begin() as conn:
        info = models.VersionInfoModel.__table__
        found = conn.execute(select(info.c.schema_version)).all()
        if not found:  # a new database: what RDBStorage writes into it
            conn.execute(
                sqlalchemy.insert(info).values(
                    version_info_id=1, schema_version=schema_version, library_version=__version__
                )
            )
        elif found[0][0] != schema_version:
            return None
        _ALEMBIC_VERSION.create(conn, checkfirst=True)
        stamped = conn.execute(select(_ALEMBIC_VERSION.c.version_num)).scalars().all()
        if not stamped:
            conn.execute(sqlalchemy.insert(_ALEMBIC_VERSION).values(version_num=head))
        elif stamped != [head]:
            return None
    return OptunaTables(engine)


class OptunaTables:
    """The study-level rows of Optuna's tables, written as ``RDBStorage`` writes them."""

    def __init__(self, engine: Engine) -> None:
        from optuna.storages._rdb import models  # not public: see the module docstring

        self.engine = engine
        self._models = models

    def study_id(self, name: str) -> int | None:
        """Returns the id of the Optuna study called ``name``, or None."""
        studies = self._models.StudyModel
        with self.engine.connect() as conn:
            return conn.scalar(select(studies.study_id).where(studies.study_name == name))

    def create_study(self, name: str, direction: StudyDirection) -> int:
        """Creates a one-objective study; raises ``DuplicatedStudyError`` when ``name``
        is taken."""
        models = self._models
        try:
            with Session(self.engine) as session, session.begin():
                study = models.StudyModel(
                    study_name=name,
                    directions=[models.StudyDirectionModel(objective=0, direction=direction)],
                )
                session.add(study)
                session.flush()
                return int(study.study_id)
        except IntegrityError:
            raise DuplicatedStudyError(f"a study named {name!r} exists") from None

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Sets a user attribute of the study (updated when the key exists, as
        ``RDBStorage`` does: a study left by a driver killed while creating it is taken
        over)."""
        table = self._models.StudyUserAttributeModel.__table__
        text = json.dumps(value)
        with self.engine.begin() as conn:
            updated = conn.execute(
                sqlalchemy.update(table)
                .where(table.c.study_id == study_id, table.c.key == key)
                .values(value_json=text)
            )
            if updated.rowcount == 0:
                conn.execute(
                    sqlalchemy.insert(table).values(study_id=study_id, key=key, value_json=text)
                )

    def trial_count(self, study_id: int) -> int:
        """Returns how many trials the study holds."""
        with Session(self.engine) as session:
            return count_trials(session, study_id)


def count_trials(session: Session, study_id: int) -> int:
    """Returns how many trials Optuna's tables hold for ``study_id``, read in ``session``
    (raises ImportError or AttributeError for an Optuna without these models)."""
    from optuna.storages._rdb import models  # not public: see the module docstring

    trials = models.TrialModel
    count = session.scalar(select(func.count(trials.trial_id)).where(trials.study_id == study_id))
    return int(count or 0)


class RDBStudies:
    """The same study-level operations through ``RDBStorage``'s public API (an Optuna
    whose tables :func:`open_optuna_tables` does not know)."""

    def __init__(self, storage: RDBStorage) -> None:
        self.storage = storage

    def study_id(self, name: str) -> int | None:
        """Returns the id of the Optuna study called ``name``, or None."""
        try:
            return self.storage.get_study_id_from_name(name)
        except KeyError:
            return None

    def create_study(self, name: str, direction: StudyDirection) -> int:
        """Creates a one-objective study; raises ``DuplicatedStudyError`` when ``name``
        is taken."""
        return self.storage.create_new_study([direction], study_name=name)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Sets a user attribute of the study."""
        self.storage.set_study_user_attr(study_id, key, value)

    def trial_count(self, study_id: int) -> int:
        """Returns how many trials the study holds."""
        return len(self.storage.get_all_trials(study_id, deepcopy=False))
