"""The base class of the CLI's commands and helpers they share."""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from optimizer.storage import resolve_storage
from optimizer.study_file import read_study_header

__all__ = ["Command", "add_storage_argument", "study_and_storage"]


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


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``--storage URL`` with the documented default."""
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="SQLAlchemy URL of the storage (default: the study file's storage key, "
        "else sqlite:///studies/omega.db relative to the working directory)",
    )


def study_and_storage(study: str, storage: str | None) -> tuple[str, str]:
    """Returns ``(study name, storage URL)`` for a STUDY argument (a name or a study file)."""
    if study.endswith((".yaml", ".yml")) and Path(study).is_file():
        name, file_storage = read_study_header(study)
        return name, resolve_storage(storage, file_storage)
    return study, resolve_storage(storage)
