"""The performance targets the benchmarks check, printed under their tables.

A benchmark lists what it measured against each target as a :class:`Check`; the checks
are printed as one block, each line saying ``met`` or ``NOT MET`` with the figures. No
benchmark fails on a missed target (timings belong in a report, not in an exit code).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Check", "print_checks"]


@dataclass(frozen=True)
class Check:
    """One target: what it asks, the figures measured, and whether they meet it."""

    target: str
    measured: str
    met: bool


def print_checks(checks: Sequence[Check], stream: TextIO = sys.stdout) -> None:
    """Prints the checks as one block, one line each."""
    if not checks:
        return
    print("\ntargets:", file=stream)
    for check in checks:
        verdict = "met    " if check.met else "NOT MET"
        print(f"  {verdict}  {check.target}: {check.measured}", file=stream)
