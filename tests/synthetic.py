"""Random but valid market data, news and strategy params for engine-vs-model tests.

Everything is drawn from one seeded ``numpy.random.Generator``, so a seed names a case.
Prices are generated in integer ticks and converted with ``ticks / q`` (q = ticks per
unit), so every price is the very double a data file holds for its decimal value.

Choices that keep the comparison free of floating-point ties the contract does not
decide: commissions are whole currency units (no half-cent fees), slippage is a whole
number of ticks and ``htf_ema_length >= 2``. z ties are drawn on purpose (``z_window`` 2,
where every defined z is exactly +-1, against ``z_entry`` 1; ``z_exit`` 0): a z on a
threshold up to floating-point noise meets it (docs/engine-choices.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from reference_model import (
    NS_PER_DAY,
    NS_PER_MINUTE,
    TF_NS,
    Bars,
    Costs,
    ModelResult,
    NewsEvent,
    NewsFilter,
    SymbolSpec,
    run_model,
)

SPECS: dict[str, SymbolSpec] = {
    "EURUSD": SymbolSpec(0.0001, 0.00001, 100000.0, 0.01, 0.01, 100.0, "EUR", "USD"),
    "GBPUSD": SymbolSpec(0.0001, 0.00001, 100000.0, 0.01, 0.01, 50.0, "GBP", "USD"),
    "USDJPY": SymbolSpec(0.01, 0.001, 100000.0, 0.01, 0.01, 100.0, "USD", "JPY"),
}
#: Ticks per unit (``q`` of ENGINE §10) and a typical price, in ticks.
TICKS_PER_UNIT = {"EURUSD": 100_000, "GBPUSD": 100_000, "USDJPY": 1_000}
BASE_TICKS = {"EURUSD": 110_000, "GBPUSD": 127_000, "USDJPY": 150_000}
COMMISSIONS = {"EURUSD": (0.0, 2.0, 3.0, 7.0), "GBPUSD": (0.0, 4.0), "USDJPY": (0.0, 300.0, 500.0)}
CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF", "AUD")
IMPACTS = ("low", "medium", "high")
EPOCH_2024 = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


@dataclass
class Case:
    """One random dataset plus everything a run needs."""

    seed: int
    symbol: str
    primary_tf: str
    primary: Bars  # the whole primary file (not clipped)
    d1: Bars  # the whole D1 file
    news_events: list[NewsEvent]
    spec: SymbolSpec
    costs: Costs
    params: dict[str, Any]
    sessions: list[dict[str, str]] | None
    news: dict[str, Any] | None  # the config's news block, without "file"
    initial_balance: float
    start: str  # ISO, data.start
    end: str | None  # ISO, data.end
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "symbol": self.symbol,
                "tf": self.primary_tf,
                "bars_in_file": len(self.primary),
                "start": self.start,
                "end": self.end,
                "costs": self.costs.__dict__,
                "initial_balance": self.initial_balance,
                "params": self.params,
                "sessions": self.sessions,
                "news": self.news,
                "notes": self.notes,
            },
            sort_keys=True,
        )


# ---------------------------------------------------------------------------- time


def iso(ns: int) -> str:
    """Epoch ns (whole seconds) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    assert ns % 1_000_000_000 == 0
    moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> int:
    """``YYYY-MM-DD`` (00:00 UTC) or ``YYYY-MM-DDTHH:MM:SSZ`` as epoch ns."""
    if len(text) == 10:
        text += "T00:00:00Z"
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000_000


def is_weekend(ns: int) -> bool:
    """FX weekend: Friday 21:00 to Sunday 21:00 UTC."""
    moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.UTC)
    weekday, hour = moment.weekday(), moment.hour
    return weekday == 5 or (weekday == 4 and hour >= 21) or (weekday == 6 and hour < 21)


def clip(bars: Bars, start_ns: int | None, end_ns: int | None) -> Bars:
    """ENGINE §10 Range: ``start <= t_k < end``."""
    keep = [
        i
        for i, t in enumerate(bars.timestamp)
        if (start_ns is None or t >= start_ns) and (end_ns is None or t < end_ns)
    ]
    return Bars(**{name: [getattr(bars, name)[i] for i in keep] for name in Bars.__annotations__})


# ---------------------------------------------------------------------------- bars


def _bars_from_ticks(timestamps: list[int], bid: np.ndarray, spread: np.ndarray, q: int) -> Bars:
    """Builds valid BID/ASK bars from BID OHLC ticks (n x 4) and per-field spreads (n x 4)."""
    ask = bid + spread
    # Keep every ASK bar valid: high >= max(open, close), low <= min(open, close).
    ask[:, 1] = np.maximum(ask[:, 1], np.maximum(ask[:, 0], ask[:, 3]))
    ask[:, 2] = np.minimum(ask[:, 2], np.minimum(ask[:, 0], ask[:, 3]))
    columns: dict[str, list[Any]] = {"timestamp": list(timestamps)}
    for side, ticks in (("bid", bid), ("ask", ask)):
        for i, name in enumerate(("open", "high", "low", "close")):
            columns[f"{side}_{name}"] = [int(v) / q for v in ticks[:, i]]
    return Bars(**columns)


def random_primary(rng: np.random.Generator, symbol: str, tf: str) -> tuple[Bars, list[str]]:
    """A random walk in ticks with gaps, flat stretches, varying spreads and volatility."""
    notes = []
    tf_ns = TF_NS[tf]
    n = int(rng.integers(300, 2500 if tf == "M5" else 1500))
    weekends = bool(rng.random() < 0.5)
    t = EPOCH_2024 + int(rng.integers(0, 300)) * NS_PER_DAY + int(rng.integers(0, 288)) * tf_ns
    timestamps = []
    while len(timestamps) < n:
        if not (weekends and is_weekend(t)) and rng.random() > 0.003:  # rare missing bars
            timestamps.append(t)
        t += tf_ns
    notes.append(f"weekend gaps: {weekends}")

    bid = np.zeros((n, 4), dtype=np.int64)
    spread = np.zeros((n, 4), dtype=np.int64)
    close = BASE_TICKS[symbol] + int(rng.integers(-3000, 3000))
    sigma = float(rng.uniform(2.0, 12.0))
    flat_left = 0
    flat_spread = 0
    for k in range(n):
        if rng.random() < 0.01:
            sigma = float(rng.uniform(2.0, 15.0))  # volatility regime change
        if flat_left == 0 and rng.random() < 0.004:
            flat_left = int(rng.integers(5, 90))  # a flat stretch: std == 0 windows
            flat_spread = int(rng.integers(0, 20))
        if flat_left > 0:
            flat_left -= 1
            bid[k] = close
            spread[k] = flat_spread
            continue
        if rng.random() < 0.02:  # a gap at the open, often through SL/TP levels
            open_ = close + int(rng.choice([-1, 1])) * int(rng.integers(10, 150))
        else:
            open_ = close + int(rng.integers(-1, 2))
        close = open_ + round(float(rng.normal(0.0, sigma)))
        high = max(open_, close) + round(abs(float(rng.normal(0.0, sigma / 2))))
        low = min(open_, close) - round(abs(float(rng.normal(0.0, sigma / 2))))
        bid[k] = (open_, high, low, close)
        base = int(rng.integers(0, 25)) if rng.random() > 0.05 else int(rng.integers(25, 80))
        spread[k] = base + rng.integers(0, 4, size=4)
    return _bars_from_ticks(timestamps, bid, spread, TICKS_PER_UNIT[symbol]), notes


def random_d1(rng: np.random.Generator, symbol: str, first_ns: int, last_ns: int) -> Bars:
    """D1 bars from some weeks before ``first_ns`` to a few days after ``last_ns``."""
    first_day = first_ns // NS_PER_DAY - int(rng.integers(3, 40))
    last_day = last_ns // NS_PER_DAY + int(rng.integers(0, 6))
    skip_weekends = bool(rng.random() < 0.5)
    days = [
        d * NS_PER_DAY
        for d in range(first_day, last_day + 1)
        if not (skip_weekends and dt.datetime.fromtimestamp(d * 86400, tz=dt.UTC).weekday() >= 5)
    ]
    bid = np.zeros((len(days), 4), dtype=np.int64)
    close = BASE_TICKS[symbol] + int(rng.integers(-3000, 3000))
    for k in range(len(days)):
        open_ = close + int(rng.integers(-3, 4))
        step = 0
        while step == 0:  # consecutive closes differ: no EMA ties from flat days
            step = round(float(rng.normal(0.0, 80.0)))
        close = open_ + step
        high = max(open_, close) + int(rng.integers(0, 60))
        low = min(open_, close) - int(rng.integers(0, 60))
        bid[k] = (open_, high, low, close)
    spread = rng.integers(0, 20, size=(len(days), 1)) + rng.integers(0, 3, size=(len(days), 4))
    return _bars_from_ticks(days, bid, spread, TICKS_PER_UNIT[symbol])


def random_news(rng: np.random.Generator, primary: Bars, tf: str) -> list[NewsEvent]:
    """Events in the data span; half on bar closes (so window edges hit exactly)."""
    events = []
    for _ in range(int(rng.integers(0, 80))):
        t = int(rng.choice(primary.timestamp))
        if rng.random() < 0.5:
            t += TF_NS[tf] + int(rng.integers(-2, 3)) * 5 * NS_PER_MINUTE
        else:
            t += int(rng.integers(0, 3600)) * 1_000_000_000
        events.append(NewsEvent(t, str(rng.choice(CURRENCIES)), str(rng.choice(IMPACTS))))
    events.sort(key=lambda e: e.timestamp_ns)
    return events


# -------------------------------------------------------------------------- params


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def random_sessions(rng: np.random.Generator) -> list[dict[str, str]] | None:
    kind = int(rng.integers(0, 8))
    if kind == 0:
        return None
    if kind == 1:
        return []
    if kind == 2:  # an ordinary day window
        start = int(rng.integers(0, 12 * 60))
        return [{"start": _hhmm(start), "end": _hhmm(start + int(rng.integers(60, 12 * 60)))}]
    if kind == 3:  # crossing midnight
        start = int(rng.integers(18 * 60, 24 * 60))
        return [{"start": _hhmm(start), "end": _hhmm(int(rng.integers(1, 8 * 60)))}]
    if kind == 4:  # up to the end of the day
        return [{"start": _hhmm(int(rng.integers(6 * 60, 20 * 60))), "end": "24:00"}]
    if kind == 5:  # start == end: the whole day
        same = _hhmm(int(rng.integers(0, 24 * 60)))
        return [{"start": same, "end": same}]
    # two windows, possibly one crossing midnight
    a, b, c, d = sorted(int(v) for v in rng.choice(24 * 60, size=4, replace=False))
    if kind == 6:
        return [{"start": _hhmm(a), "end": _hhmm(b)}, {"start": _hhmm(c), "end": _hhmm(d)}]
    return [{"start": _hhmm(b), "end": _hhmm(c)}, {"start": _hhmm(d), "end": _hhmm(a)}]


def random_params(rng: np.random.Generator) -> dict[str, Any]:
    """Strategy params covering every option (ENGINE §4), defaults sometimes left out."""
    z_window = 2 if rng.random() < 0.15 else int(rng.integers(2, 41))
    if rng.random() < 0.5:
        sizing: dict[str, Any] = {"mode": "fixed_lots", "lots": int(rng.integers(1, 301)) / 100}
    else:
        sizing = {"mode": "risk_pct", "risk_pct": float(rng.choice([0.1, 0.25, 0.5, 1.0, 2.0]))}
    params: dict[str, Any] = {
        "z_window": z_window,
        "z_entry": 1.0 if rng.random() < 0.25 else float(rng.uniform(0.8, 2.2)),
        "z_exit": [None, 0.0, float(rng.uniform(0.0, 1.2))][int(rng.integers(0, 3))],
        "atr_length": int(rng.integers(1, 21)),
        "sl_atr": float(rng.uniform(0.3, 3.0)),
        "tp_atr": float(rng.uniform(0.3, 3.0)),
        "entry_order": str(rng.choice(["market", "limit", "stop"])),
        "entry_offset_atr": 0.0 if rng.random() < 0.3 else float(rng.uniform(0.0, 1.0)),
        "order_ttl_bars": int(rng.integers(1, 6)),
        "direction": str(rng.choice(["both", "both", "long", "short"])),
        "max_positions": int(rng.integers(1, 4)),
        "htf_filter": str(rng.choice(["none", "trend"])),
        "htf_ema_length": int(rng.integers(2, 11)),
        "max_spread_pips": [None, 1.0, 1.5, 2.0, float(rng.uniform(0.5, 3.0))][
            int(rng.integers(0, 5))
        ],
        "warmup_bars": 0 if rng.random() < 0.5 else int(rng.integers(0, 150)),
        "sizing": sizing,
    }
    defaults = {
        "z_exit": None, "entry_order": "market", "entry_offset_atr": 0.0, "order_ttl_bars": 1,
        "direction": "both", "max_positions": 1, "htf_filter": "none", "max_spread_pips": None,
        "warmup_bars": 0,
    }  # fmt: skip
    for key, default in defaults.items():  # ENGINE §10 Defaults: absent means the default
        if params[key] == default and rng.random() < 0.5:
            del params[key]
    if params.get("htf_filter", "none") == "none" and rng.random() < 0.5:
        del params["htf_ema_length"]
    return params


def random_case(seed: int, tf: str | None = None) -> Case:
    """The case named by ``seed``; ``tf`` overrides the drawn timeframe (M5 or M15)."""
    rng = np.random.default_rng(seed)
    symbol = str(rng.choice(["EURUSD", "EURUSD", "GBPUSD", "USDJPY"]))
    drawn_tf = str(rng.choice(["M5", "M15"]))
    tf = tf or drawn_tf
    primary, notes = random_primary(rng, symbol, tf)
    d1 = random_d1(rng, symbol, primary.timestamp[0], primary.timestamp[-1])
    news_events = random_news(rng, primary, tf)
    costs = Costs(
        commission_per_lot_side=float(rng.choice(COMMISSIONS[symbol])),
        fixed_pips=float(rng.choice([0.0, 0.1, 0.2, 0.5])),
        random_pips=0.0,
    )
    params = random_params(rng)
    news = None
    if rng.random() < 0.5:
        news = {
            "minutes_before": int(rng.integers(0, 61)),
            "minutes_after": int(rng.integers(0, 61)),
            "min_impact": str(rng.choice(IMPACTS)),
        }
    ts = primary.timestamp
    start_kind = int(rng.integers(0, 3))
    if start_kind == 0:  # an ISO date: 00:00 UTC of the first bar's day
        start = dt.datetime.fromtimestamp(ts[0] // 1_000_000_000, tz=dt.UTC).strftime("%Y-%m-%d")
    elif start_kind == 1:  # exactly on a bar
        start = iso(ts[int(rng.integers(0, 40))])
    else:  # between two bars
        start = iso(ts[int(rng.integers(0, 40))] + 60_000_000_000)
    end = None
    if rng.random() < 0.3:
        end = iso(ts[int(rng.integers(len(ts) * 3 // 4, len(ts)))] + 120_000_000_000)
    return Case(
        seed=seed,
        symbol=symbol,
        primary_tf=tf,
        primary=primary,
        d1=d1,
        news_events=news_events,
        spec=SPECS[symbol],
        costs=costs,
        params=params,
        sessions=random_sessions(rng),
        news=news,
        initial_balance=float(rng.choice([10_000.0, 50_000.0, 100_000.0])),
        start=start,
        end=end,
        notes=notes,
    )


def through_float32(bars: Bars) -> Bars:
    """``bars`` with every price read through float32, as some feeds store them: valid
    bars still (rounding keeps the order of prices), but off the tick grid."""
    columns = {name: getattr(bars, name) for name in Bars.__annotations__}
    for name, values in columns.items():
        if name != "timestamp":
            columns[name] = np.asarray(values, dtype=np.float32).astype(np.float64).tolist()
    return Bars(**columns)


# -------------------------------------------------------------------------- files


def write_bars(bars: Bars, directory: Path, symbol: str, tf: str) -> None:
    """``{dir}/{SYMBOL}_{TF}_BID.parquet`` and ``_ASK.parquet`` (ENGINE §1)."""
    for side in ("bid", "ask"):
        table = pa.table(
            {
                "timestamp": pa.array(bars.timestamp, type=pa.int64()),
                **{
                    name: pa.array(getattr(bars, f"{side}_{name}"), type=pa.float64())
                    for name in ("open", "high", "low", "close")
                },
                "volume": pa.array([100.0] * len(bars), type=pa.float64()),
            }
        )
        pq.write_table(table, directory / f"{symbol}_{tf}_{side.upper()}.parquet")


def write_news(events: list[NewsEvent], path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([e.timestamp_ns for e in events], type=pa.int64()),
            "currency": pa.array([e.currency for e in events], type=pa.string()),
            "impact": pa.array([e.impact for e in events], type=pa.string()),
        }
    )
    pq.write_table(table, path)


def write_case(case: Case, directory: str | os.PathLike[str]) -> Path:
    """Writes the data, news and cost files of ``case``; returns the data folder."""
    root = Path(directory)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_bars(case.primary, data, case.symbol, case.primary_tf)
    write_bars(case.d1, data, case.symbol, "D1")
    write_news(case.news_events, root / "news.parquet")
    spec = {case.symbol: dict(case.spec.__dict__)}
    costs = {
        case.symbol: {
            "commission_per_lot_side": case.costs.commission_per_lot_side,
            "slippage": {
                "fixed_pips": case.costs.fixed_pips,
                "random_pips": case.costs.random_pips,
            },
        }
    }
    (root / "symbol_specs.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (root / "execution_costs.yaml").write_text(yaml.safe_dump(costs), encoding="utf-8")
    return data


def engine_config(
    case: Case, directory: str | os.PathLike[str], *, end: str | None = ..., write: bool = True
) -> dict[str, Any]:
    """The engine config dict for ``case`` (files written under ``directory``).

    ``end`` overrides ``case.end`` (pass an ISO string or None).
    """
    root = Path(directory).resolve()
    if write:
        write_case(case, root)
    # engine-choices (HTF data): D1 is read for "trend" whether or not it is listed here.
    additional = ["D1"] if case.seed % 2 else []
    news = None
    if case.news is not None:
        news = {"file": str(root / "news.parquet"), **case.news}
    return {
        "schema_version": 2,
        "run_mode": "dev",
        "rng_seed": case.seed,
        "execution_variant": "v2",
        "symbol": case.symbol,
        "data": {
            "dir": str(root / "data"),
            "primary_tf": case.primary_tf,
            "additional_tfs": additional,
            "start": case.start,
            "end": case.end if end is ... else end,
        },
        "costs": {
            "symbol_specs": str(root / "symbol_specs.yaml"),
            "execution_costs": str(root / "execution_costs.yaml"),
        },
        "account": {"initial_balance": case.initial_balance},
        "strategy": {"name": "mean_reversion_z_score", "params": case.params},
        "sessions": case.sessions,
        "news": news,
        "output": {"trades": True, "equity": True},
    }


def run_case_model(case: Case, *, end: str | None = ...) -> ModelResult:
    """Runs the reference model on ``case`` (``end`` as in :func:`engine_config`)."""
    end = case.end if end is ... else end
    bars = clip(case.primary, parse_iso(case.start), None if end is None else parse_iso(end))
    news = None
    if case.news is not None:
        news = NewsFilter(
            case.news_events,
            case.news["minutes_before"],
            case.news["minutes_after"],
            case.news["min_impact"],
        )
    return run_model(
        bars,
        case.primary_tf,
        case.spec,
        case.costs,
        case.params,
        initial_balance=case.initial_balance,
        d1=case.d1,
        sessions=case.sessions,
        news=news,
    )
