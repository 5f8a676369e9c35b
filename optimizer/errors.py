"""The optimizer's exception tree.

Every error that the optimizer raises on purpose derives from :class:`OptimizerError`.
The CLI turns :class:`BadInputError` into exit code 2 with a one-line message.
"""

from __future__ import annotations

import itertools
import math
import reprlib

__all__ = [
    "BadInputError",
    "Interrupted",
    "OptimizerError",
    "ReplayMismatch",
    "StudyFileError",
    "shown",
]


class OptimizerError(Exception):
    """Root of every error that the optimizer raises on purpose."""


class BadInputError(OptimizerError):
    """Input that the user must fix: a bad argument, an unknown study (exit code 2)."""


class _ShortRepr(reprlib.Repr):
    """``repr`` cut short: a few levels and items of a collection, the ends of a long
    string, the size of a huge integer (whose ``repr`` Python refuses past 4300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 8
        self.maxstring = 80
        self.maxother = 80

    def repr_dict(self, x: dict[object, object], level: int) -> str:
        # reprlib's sorts the keys; a message quotes them in the order they were written.
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [
            f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
            for key, value in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(items + ["..."] * (len(x) > self.maxdict)) + "}"

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() <= 128:
            return repr(x)
        return f"<an integer of about {math.ceil(x.bit_length() * math.log10(2))} digits>"


#: The longest ``got`` value an error message quotes.
MAX_SHOWN = 200


def shown(value: object) -> str:
    """Returns ``repr(value)`` cut to a length that fits in a one-line error message."""
    text = _ShortRepr().repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


class StudyFileError(BadInputError):
    """A study file that does not validate; the message names file, key and expectation."""

    def __init__(self, file: str, key: str, expected: str, got: object = ...) -> None:
        message = f"{file}: {key}: expected {expected}" if key else f"{file}: expected {expected}"
        if got is not ...:
            message += f", got {shown(got)}"
        super().__init__(message)
        self.file = file
        self.key = key
        self.expected = expected


class ReplayMismatch(OptimizerError):
    """A replayed trial whose metrics differ from the stored ones (exit code 1)."""


class Interrupted(OptimizerError):
    """The sweep was stopped by Ctrl-C; the unfinished batch is left WAITING (exit code 130)."""
