"""Renders leaderboards as a terminal table, CSV or JSON (all in §4 order)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from optimizer.metrics import METRIC_KEYS
from optimizer.ranking import RankedTrial

__all__ = [
    "infeasible_mark",
    "leaderboard_csv",
    "leaderboard_json",
    "leaderboard_rows",
    "leaderboard_table",
    "render_table",
]

_TABLE_METRICS = (
    ("score", "score"),
    ("profit_net", "profit_net"),
    ("max_drawdown", "max_dd"),
    ("trades", "trades"),
    ("winrate", "winrate"),
    ("profit_factor", "pf"),
    ("sharpe", "sharpe"),
)
#: Decimals shown per metric (ENGINE §7 rounding: money 2, ratios 4).
_DECIMALS = {
    "score": 4,
    "profit_net": 2,
    "max_drawdown": 2,
    "winrate": 4,
    "profit_factor": 4,
    "sharpe": 4,
}


def _metric_cell(key: str, value: Any) -> Any:
    """Returns a metric with a fixed number of decimals, so a column's points line up."""
    if isinstance(value, float) and key in _DECIMALS:
        return _Fixed(f"{value:.{_DECIMALS[key]}f}")
    return value


class _Fixed(str):
    """A number already formatted as text; aligned to the right like other numbers."""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e6 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def infeasible_mark(value: Any, feasible: bool) -> Any:
    """Returns ``value`` as a table cell, followed by ``*`` (as text that aligns like a
    number) when it belongs to an infeasible trial."""
    return value if feasible else _Fixed(f"{_fmt(value)}*")


def _short_names(paths: Sequence[str]) -> dict[str, str]:
    """Returns the last path component of each path, or the full path on a collision."""
    lasts = [p.rsplit(".", 1)[-1] for p in paths]
    return {p: (s if lasts.count(s) == 1 else p) for p, s in zip(paths, lasts, strict=True)}


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Returns an aligned plain-text table; numbers are right-aligned."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(r[i], int | float | _Fixed) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def leaderboard_table(ranked: Sequence[RankedTrial], param_paths: Sequence[str]) -> str:
    """Returns the leaderboard as a terminal table (``*`` marks an infeasible trial)."""
    names = _short_names(param_paths)
    headers = ["rank", "trial", *[h for _, h in _TABLE_METRICS], *names.values(), "config_hash"]
    rows = []
    for item in ranked:
        metrics = item.trial.metrics or {}
        rank = f"{item.rank}" if item.feasible else f"{item.rank}*"
        rows.append(
            [
                rank,
                item.trial.number,
                *[_metric_cell(k, metrics.get(k)) for k, _ in _TABLE_METRICS],
                *[item.trial.params.get(p) for p in param_paths],
                (item.trial.config_hash or "")[:12],
            ]
        )
    return render_table(headers, rows)


def leaderboard_rows(ranked: Sequence[RankedTrial]) -> list[dict[str, Any]]:
    """Returns the leaderboard as plain records (rank, trial, seed, hash, params, metrics)."""
    return [
        {
            "rank": item.rank,
            "number": item.trial.number,
            "feasible": item.feasible,
            "seed": item.trial.seed,
            "config_hash": item.trial.config_hash,
            "params": item.trial.params,
            "metrics": {k: (item.trial.metrics or {}).get(k) for k in METRIC_KEYS},
            "duration_s": item.trial.duration_s,
        }
        for item in ranked
    ]


def leaderboard_json(ranked: Sequence[RankedTrial]) -> str:
    """Returns the leaderboard as a JSON array."""
    return json.dumps(leaderboard_rows(ranked), indent=2)


def leaderboard_csv(ranked: Sequence[RankedTrial], param_paths: Sequence[str]) -> str:
    """Returns the leaderboard as CSV: rank, number, feasible, seed, hash, metrics, params."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["rank", "number", "feasible", "seed", "config_hash", *METRIC_KEYS, *param_paths]
    )
    for item in ranked:
        metrics = item.trial.metrics or {}
        writer.writerow(
            [
                item.rank,
                item.trial.number,
                item.feasible,
                item.trial.seed,
                item.trial.config_hash,
                *[metrics.get(k) for k in METRIC_KEYS],
                *[item.trial.params.get(p) for p in param_paths],
            ]
        )
    return buffer.getvalue()
