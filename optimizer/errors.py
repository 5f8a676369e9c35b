"""The optimizer's exception tree.

Every error that the optimizer raises on purpose derives from :class:`OptimizerError`.
The CLI turns :class:`BadInputError` into exit code 2 with a one-line message.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "Interrupted",
    "OptimizerError",
    "ReplayMismatch",
    "StudyFileError",
]


class OptimizerError(Exception):
    """Root of every error that the optimizer raises on purpose."""


class BadInputError(OptimizerError):
    """Input that the user must fix: a bad argument, an unknown study (exit code 2)."""


class StudyFileError(BadInputError):
    """A study file that does not validate; the message names file, key and expectation."""

    def __init__(self, file: str, key: str, expected: str, got: object = ...) -> None:
        message = f"{file}: {key}: expected {expected}" if key else f"{file}: expected {expected}"
        if got is not ...:
            message += f", got {got!r}"
        super().__init__(message)
        self.file = file
        self.key = key
        self.expected = expected


class ReplayMismatch(OptimizerError):
    """A replayed trial whose metrics differ from the stored ones (exit code 1)."""


class Interrupted(OptimizerError):
    """The sweep was stopped by Ctrl-C; the unfinished batch is left WAITING (exit code 130)."""
