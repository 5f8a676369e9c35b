"""The command line: ``python -m optimizer COMMAND ...``, a registry of small commands.

Exit codes: 0 success, 1 a replay whose metrics differ, 2 bad input (one line naming the
file, the key and what was expected; no traceback), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from optimizer.commands import (
    Command,
    DashboardCommand,
    ReplayCommand,
    ShowCommand,
    StudiesCommand,
    SweepCommand,
)
from optimizer.errors import BadInputError, Interrupted, ReplayMismatch

__all__ = ["main"]

#: The registry: command name -> command class.
_COMMANDS: dict[str, type[Command]] = {
    "sweep": SweepCommand,
    "show": ShowCommand,
    "studies": StudiesCommand,
    "replay": ReplayCommand,
    "dashboard": DashboardCommand,
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Prints ``PROG: error: MESSAGE (see --help)`` and exits with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser with one subcommand per registry entry."""
    parser = _Parser(
        prog="python -m optimizer",
        description="Omega V2 optimizer: parameter sweeps on the Rust backtest engine.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cls in _COMMANDS.items():
        command = cls()
        child = sub.add_parser(name, help=cls.help, description=cls.description or cls.help)
        command.add_arguments(child)
        child.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the exit code."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args._command.run(args))
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ReplayMismatch as exc:
        print(f"replay mismatch: {exc}", file=sys.stderr)
        return 1
    except Interrupted:
        print("interrupted", file=sys.stderr)
        return 130
