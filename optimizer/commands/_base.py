"""The base class of the CLI's commands and helpers they share."""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import sqlalchemy
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

from optimizer.errors import BadInputError, StudyFileError
from optimizer.storage import StudyRecord, StudyRow, StudyStore, display_url, resolve_storage
from optimizer.storage._readonly import make_readonly_engine, readonly_url
from optimizer.study_file import is_study_name, read_study_header

__all__ = [
    "Command",
    "add_storage_argument",
    "open_study",
    "open_study_store",
    "study_exists",
]


class Command(ABC):
    """One CLI command: a name, a one-line help, its arguments and what it runs."""

    name: ClassVar[str]
    help: ClassVar[str]
    description: ClassVar[str] = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027
        """Adds the command's arguments to its parser."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Runs the command and returns the process exit code."""


def _storage_url(text: str) -> str:
    """Returns ``--storage``'s value; an empty one is refused rather than ignored."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a database URL such as sqlite:///studies/omega.db, got {text!r}"
        )
    return text


def add_storage_argument(parser: argparse.ArgumentParser, *, study_file: bool = True) -> None:
    """Adds ``--storage URL`` with the documented default (``study_file``: the command
    takes a study file, whose ``storage`` key then comes first)."""
    first = "the study file's storage key, else " if study_file else ""
    parser.add_argument(
        "--storage",
        type=_storage_url,
        metavar="URL",
        help=f"SQLAlchemy URL of the storage (default: {first}sqlite:///studies/omega.db "
        "relative to the working directory)",
    )


def _study_and_storage(study: str, storage: str | None) -> tuple[str, str]:
    """Returns ``(study name, storage URL)`` for a STUDY argument (a name or a study file).

    A ``.yaml``/``.yml`` argument that is no file and cannot be a study name (it holds
    a folder) is refused as a missing study file.
    """
    if study.endswith((".yaml", ".yml")):
        if Path(study).is_file():
            name, file_storage = read_study_header(study)
            return name, resolve_storage(storage, file_storage)
        if not is_study_name(study):
            raise StudyFileError(study, "", "an existing study file (no such file)")
    return study, resolve_storage(storage)


def _holds_no_studies(url: str) -> bool:
    """Tells whether ``url`` is a database that could be read and holds none of the
    project's tables (a foreign or empty database), looking through a read-only
    connection. False too when it could not be read: :class:`StudyStore` then says why."""
    try:
        engine = make_readonly_engine(readonly_url(url))
    except (BadInputError, ImportError, NoSuchModuleError, ValueError):  # ValueError: a NUL
        return False
    try:
        return not sqlalchemy.inspect(engine).has_table(StudyRow.__tablename__)
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def open_study_store(url: str) -> StudyStore | None:
    """Returns the store of an existing storage for reading, or None when the storage
    holds no studies: then nothing was written to it (no tables, no journal mode)."""
    if _holds_no_studies(url):
        return None
    return StudyStore(url, must_exist=True, read_only=True)


def study_exists(url: str, name: str) -> bool:
    """Tells whether ``url`` holds a study called ``name``, looking without writing;
    False where there is no database to look in (a SQLite file not created yet)."""
    try:
        store = open_study_store(url)
    except BadInputError:
        return False
    if store is None:
        return False
    try:
        return store.get_study(name) is not None
    finally:
        store.close()


def open_study(study: str, storage: str | None) -> tuple[StudyStore, StudyRecord]:
    """Returns the store and the record of the study named by a STUDY argument and
    ``--storage`` (the caller closes the store); raises :class:`BadInputError` when the
    storage has no such study."""
    name, url = _study_and_storage(study, storage)
    store = open_study_store(url)
    if store is None:  # worded as StudyStore.require_study words it
        raise BadInputError(f"storage {display_url(url)}: no study named {name!r} (studies: none)")
    try:
        return store, store.require_study(name)
    except BaseException:
        store.close()
        raise
