"""``python -m optimizer.dashboard``: the dashboard command on its own (same arguments)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from optimizer.commands.dashboard import DashboardCommand
from optimizer.errors import BadInputError


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the arguments of ``dashboard``, serves, and returns the exit code."""
    command = DashboardCommand()
    parser = argparse.ArgumentParser(
        prog="python -m optimizer.dashboard", description=command.description
    )
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return command.run(args)
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
