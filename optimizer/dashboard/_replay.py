"""Equity, drawdown and trades of one trial, from a replay run on demand and kept in memory.

A sweep stores metrics only; the trial page replays the trial's stored resolved config
with trades and equity turned on (as ``python -m optimizer replay`` does, without
writing files) and caches the result by (study, trial number, config_hash). One replay
runs at a time, so opening many trial pages never takes more than one core from a sweep.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from optimizer.metrics import METRIC_KEYS
from optimizer.storage import TrialRecord

__all__ = [
    "MAX_CHART_POINTS",
    "MAX_TRADES",
    "ReplayCache",
    "ReplayError",
    "minmax_indices",
    "replay_view",
]

#: Points per chart series after downsampling (each bucket keeps its minimum and maximum).
MAX_CHART_POINTS = 2000

#: Trades sent to the page at most (the total is reported).
MAX_TRADES = 5000

_NS_PER_MS = 1_000_000


class ReplayError(Exception):
    """A replay that could not run (the message is shown on the trial page)."""


def minmax_indices(values: Sequence[float], max_points: int) -> list[int]:
    """Returns sorted indexes into ``values`` that keep each bucket's minimum and maximum
    (plus the first and last point), at most about ``max_points`` of them."""
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, max_points // 2)
    keep = {0, n - 1}
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if lo >= hi:
            continue
        chunk = values[lo:hi]
        keep.add(lo + min(range(len(chunk)), key=chunk.__getitem__))
        keep.add(lo + max(range(len(chunk)), key=chunk.__getitem__))
    return sorted(keep)


def _same(stored: Any, replayed: Any) -> bool:
    if stored is None or replayed is None:
        return stored is None and replayed is None
    return float(stored) == float(replayed)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def replay_view(trial: TrialRecord, result: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Returns the chart and table data of a replay ``result`` of ``trial``."""
    curve = result.get("equity") or {}
    stamps = [int(t) // _NS_PER_MS for t in curve.get("timestamp_ns") or []]
    equity = [float(v) for v in curve.get("equity") or []]
    balance = [float(v) for v in curve.get("balance") or []]
    peak = -math.inf
    dd_pct: list[float] = []
    dd_abs: list[float] = []
    for value in equity:
        peak = max(peak, value)
        dd_abs.append(value - peak)
        dd_pct.append((value - peak) / peak * 100.0 if peak > 0 else 0.0)
    keep = minmax_indices(equity, MAX_CHART_POINTS)
    keep_dd = minmax_indices(dd_pct, MAX_CHART_POINTS)
    trades = result.get("trades") or []
    stored = trial.metrics or {}
    replayed = result.get("metrics") or {}
    differences = [
        {"metric": key, "stored": _clean(stored.get(key)), "replayed": _clean(replayed.get(key))}
        for key in METRIC_KEYS
        if not _same(stored.get(key), replayed.get(key))
    ]
    replay_hash = (result.get("meta") or {}).get("config_hash")
    return {
        "points": len(equity),
        "equity": {
            "t": [stamps[i] for i in keep],
            "equity": [equity[i] for i in keep],
            "balance": [balance[i] for i in keep] if len(balance) == len(equity) else [],
        },
        "drawdown": {
            "t": [stamps[i] for i in keep_dd],
            "pct": [dd_pct[i] for i in keep_dd],
            "abs": [dd_abs[i] for i in keep_dd],
        },
        "trades_total": len(trades),
        "trades": [dict(_ms_times(trade)) for trade in trades[:MAX_TRADES]],
        "metrics_match": not differences and replay_hash == trial.config_hash,
        "differences": differences,
        "config_hash": replay_hash,
        "seconds": round(seconds, 3),
    }


class ReplayCache:
    """Replays trials on demand and keeps the last ``size`` results in memory."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._results: OrderedDict[tuple[str, int, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one replay at a time

    def get(self, study: str, trial: TrialRecord) -> dict[str, Any]:
        """Returns the replay view of ``trial``, running it once; raises :class:`ReplayError`."""
        key = (study, trial.number, trial.config_hash or "")
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        with self._run_lock:
            with self._lock:  # another request may have run it while this one waited
                if key in self._results:
                    return self._results[key]
            view = self._run(trial)
            with self._lock:
                self._results[key] = view
                while len(self._results) > self.size:
                    self._results.popitem(last=False)
            return view

    @staticmethod
    def _run(trial: TrialRecord) -> dict[str, Any]:
        import bt

        config = dict(trial.resolved_config or trial.config)
        if not config:
            raise ReplayError(f"trial {trial.number} has no stored config")
        config["output"] = {"trades": True, "equity": True}
        start = time.perf_counter()
        try:
            result = bt.run_backtest(config)
        except Exception as exc:  # a moved data file, an engine that changed
            raise ReplayError(f"replay failed: {type(exc).__name__}: {exc}") from exc
        seconds = time.perf_counter() - start
        if not result.get("ok"):
            error = result.get("error") or {}
            raise ReplayError(
                f"replay failed: {error.get('category')}: {error.get('message')}"
                " (the stored trial completed)"
            )
        return replay_view(trial, result, seconds)


def _ms_times(trade: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Yields a trade's fields with its ``*_time_ns`` as ``*_time_ms`` (epoch ms): a
    JavaScript number holds whole nanoseconds of today only to about 256 ns."""
    for key, value in trade.items():
        if key.endswith("_time_ns"):
            yield (
                key.removesuffix("_ns") + "_ms",
                None if value is None else int(value) // _NS_PER_MS,
            )
        else:
            yield key, value
