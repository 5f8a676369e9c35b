"""Command line of the ``bt`` wrapper: ``python -m bt run CONFIG [--out DIR]``.

Exit codes: 0 success, 1 the run failed (``ok: false``), 2 bad input (config error).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bt.api import run_backtest
from bt.errors import ConfigError, InternalError

__all__ = ["HEADLINE_METRICS", "format_metrics", "main"]

#: The metrics shown in the summary table, in display order.
HEADLINE_METRICS: tuple[str, ...] = (
    "trades",
    "winrate",
    "profit_net",
    "profit_factor",
    "max_drawdown",
    "max_drawdown_pct",
    "sharpe",
    "score",
)


def format_metrics(metrics: dict[str, Any]) -> str:
    """Returns the headline metrics as a two-column text table."""
    width = max(len(name) for name in HEADLINE_METRICS)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    for name in HEADLINE_METRICS:
        value = metrics.get(name)
        text = "n/a" if value is None else f"{value}"
        lines.append(f"{name:<{width}}  {text}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bt", description="Run one Omega V2 backtest from a JSON config."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run a backtest and print its headline metrics",
        description="Run a backtest. Relative paths in CONFIG resolve against its folder.",
    )
    run.add_argument("config", metavar="CONFIG", help="path of a JSON backtest config")
    run.add_argument(
        "--out", metavar="DIR", help="write trades.json, equity.csv, metrics.json, meta.json here"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        result = run_backtest(args.config, out_dir=args.out)
    except ConfigError as exc:
        message = str(exc).removeprefix("$: ")
        where = "" if message.startswith(str(args.config)) else f"{args.config}: "
        print(f"error: {where}{message}", file=sys.stderr)
        return 2
    except InternalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not result.get("ok"):
        error = result.get("error", {})
        print(f"error [{error.get('category')}]: {error.get('message')}", file=sys.stderr)
        return 1
    print(format_metrics(result["metrics"]))
    if args.out:
        print(f"\nartifacts written to {args.out}")
    return 0
