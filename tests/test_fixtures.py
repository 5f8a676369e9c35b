"""Checks on the committed market-data fixtures (fixtures/data) and their generator.

The fixtures must pass every load-time validation rule of ENGINE.md section 1, look like
an FX market (weekend gaps, rollover spreads), give the D1 trend filter enough history,
and be exactly reproducible with ``python fixtures/generate.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "fixtures" / "generate.py"
DATA = ROOT / "fixtures" / "data"
SYMBOL = "EURUSD"
NS_PER_MINUTE = 60_000_000_000
NS_PER_DAY = 1440 * NS_PER_MINUTE
DURATION = {"M5": 5 * NS_PER_MINUTE, "D1": NS_PER_DAY}
PRICES = ("open", "high", "low", "close")
CANDLE_COLUMNS = ["timestamp", *PRICES, "volume"]
CANDLE_FILES = [f"{SYMBOL}_{tf}_{side}.parquet" for tf in DURATION for side in ("BID", "ASK")]
CALENDAR = "news_calendar.parquet"
PIP = 1e-4
M5_FIRST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
M5_LAST = dt.datetime(2024, 3, 31, 23, 55, tzinfo=dt.UTC)


def _ns(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@functools.cache
def _table(name: str) -> pa.Table:
    return pq.read_table(DATA / name)


def _candles(tf: str, side: str) -> dict[str, np.ndarray]:
    table = _table(f"{SYMBOL}_{tf}_{side}.parquet")
    return {name: table.column(name).to_numpy() for name in CANDLE_COLUMNS}


def _weekday(ts: np.ndarray) -> np.ndarray:
    """UTC weekday, Monday = 0 (1970-01-01 was a Thursday)."""
    return (ts // NS_PER_DAY + 3) % 7


def _hour(ts: np.ndarray) -> np.ndarray:
    return ts % NS_PER_DAY // (60 * NS_PER_MINUTE)


def test_files_present_and_small() -> None:
    names = sorted(p.name for p in DATA.iterdir())
    assert names == sorted([*CANDLE_FILES, CALENDAR])
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 5 * 1024 * 1024


@pytest.mark.parametrize("name", CANDLE_FILES)
def test_candle_schema(name: str) -> None:
    schema = _table(name).schema
    assert schema.names == CANDLE_COLUMNS
    assert schema.field("timestamp").type == pa.int64()
    for column in CANDLE_COLUMNS[1:]:
        assert schema.field(column).type == pa.float64()
    assert _table(name).num_rows > 0
    assert all(col.null_count == 0 for col in _table(name).columns)


@pytest.mark.parametrize("side", ["BID", "ASK"])
@pytest.mark.parametrize("tf", list(DURATION))
def test_candles_pass_engine_validation(tf: str, side: str) -> None:
    c = _candles(tf, side)
    ts = c["timestamp"]
    assert np.all(np.diff(ts) > 0), "timestamps must be strictly increasing (sorted, unique)"
    assert np.all(ts % DURATION[tf] == 0), "timestamps must lie on the epoch-aligned grid"
    for column in (*PRICES, "volume"):
        assert np.all(np.isfinite(c[column])), column
        assert np.all(c[column] > 0), column
    for column in PRICES:
        assert np.array_equal(np.round(c[column], 5), c[column]), f"{column} off the tick"
    assert np.all(c["high"] >= np.maximum(c["open"], c["close"]))
    assert np.all(c["low"] <= np.minimum(c["open"], c["close"]))


@pytest.mark.parametrize("tf", list(DURATION))
def test_bid_ask_aligned_without_negative_spread(tf: str) -> None:
    bid, ask = _candles(tf, "BID"), _candles(tf, "ASK")
    assert np.array_equal(bid["timestamp"], ask["timestamp"])
    for column in PRICES:
        assert np.all(ask[column] >= bid[column]), column


def test_m5_range_and_count() -> None:
    ts = _candles("M5", "BID")["timestamp"]
    assert ts[0] == _ns(M5_FIRST)
    assert ts[-1] == _ns(M5_LAST)
    assert 18_000 <= ts.size <= 19_500


def test_weekend_gaps() -> None:
    ts = _candles("M5", "BID")["timestamp"]
    weekday, hour = _weekday(ts), _hour(ts)
    assert not np.any(weekday == 5), "no bars on Saturday"
    assert not np.any((weekday == 4) & (hour >= 22)), "Friday closes by 22:00 UTC"
    assert not np.any((weekday == 6) & (hour < 21)), "Sunday opens at 21:00/22:00 UTC"
    gaps = np.flatnonzero(np.diff(ts) > DURATION["M5"])
    assert gaps.size == 13  # every weekend from 2024-01-05 to 2024-03-29, nothing else
    assert np.all(_weekday(ts[gaps]) == 4)
    assert np.all(_weekday(ts[gaps + 1]) == 6)
    hours = (ts[gaps + 1] - ts[gaps]) / (60 * NS_PER_MINUTE)
    assert np.all((hours >= 47) & (hours <= 49))
    d1 = _candles("D1", "BID")["timestamp"]
    assert not np.any(_weekday(d1) == 5), "no Saturday D1 bars"


def test_week_open_price_gaps() -> None:
    bid = _candles("M5", "BID")
    opens = np.flatnonzero(np.diff(bid["timestamp"]) > DURATION["M5"]) + 1
    jumps = np.abs(bid["open"][opens] - bid["close"][opens - 1]) / PIP
    assert np.max(jumps) >= 10.0


def test_spreads_realistic_and_wider_at_rollover() -> None:
    bid, ask = _candles("M5", "BID"), _candles("M5", "ASK")
    spread = (ask["close"] - bid["close"]) / PIP
    assert spread.min() >= 0.1 - 1e-6
    assert spread.max() <= 6.0 + 1e-6
    hour = _hour(bid["timestamp"])
    liquid = spread[(hour >= 10) & (hour < 16)].mean()
    rollover = spread[(hour >= 21) & (hour < 23)].mean()
    assert 0.1 <= liquid <= 0.8
    assert rollover > 2.0 * liquid
    assert spread[(hour >= 21) & (hour < 23)].max() >= 2.0


def test_price_level_is_eurusd_like() -> None:
    for tf in DURATION:
        bid, ask = _candles(tf, "BID"), _candles(tf, "ASK")
        mid = (bid["close"] + ask["close"]) / 2
        assert mid.min() > 1.04
        assert mid.max() < 1.13


def test_d1_history_before_m5() -> None:
    first_m5 = _candles("M5", "BID")["timestamp"][0]
    d1 = _candles("D1", "BID")["timestamp"]
    before = d1[d1 < first_m5]
    assert first_m5 - d1[0] >= 60 * NS_PER_DAY
    assert np.count_nonzero(_weekday(before) < 5) >= 60, "about 60 trading days of warm-up"


@pytest.mark.parametrize("side", ["BID", "ASK"])
def test_d1_agrees_with_m5(side: str) -> None:
    m5, d1 = _candles("M5", side), _candles("D1", side)
    day = m5["timestamp"] // NS_PER_DAY * NS_PER_DAY
    starts = np.concatenate([[0], np.flatnonzero(np.diff(day)) + 1])
    ends = np.concatenate([starts[1:], [day.size]]) - 1
    overlap = d1["timestamp"] >= day[0]
    assert np.array_equal(d1["timestamp"][overlap], day[starts]), "one D1 bar per M5 day"
    assert np.array_equal(d1["open"][overlap], m5["open"][starts])
    assert np.array_equal(d1["close"][overlap], m5["close"][ends])
    assert np.array_equal(d1["high"][overlap], np.maximum.reduceat(m5["high"], starts))
    assert np.array_equal(d1["low"][overlap], np.minimum.reduceat(m5["low"], starts))
    np.testing.assert_allclose(
        d1["volume"][overlap], np.add.reduceat(m5["volume"], starts), rtol=1e-9
    )


def test_news_calendar() -> None:
    table = _table(CALENDAR)
    assert table.schema.names == ["timestamp", "currency", "impact"]
    assert table.schema.field("timestamp").type == pa.int64()
    ts = table.column("timestamp").to_numpy()
    currency = table.column("currency").to_pylist()
    impact = table.column("impact").to_pylist()
    assert np.all(np.diff(ts) >= 0)
    assert set(currency) == {"USD", "EUR", "GBP", "JPY"}
    assert set(impact) == {"low", "medium", "high"}
    assert len(set(zip(ts.tolist(), currency, strict=True))) == len(currency)
    events = set(zip(ts.tolist(), currency, impact, strict=True))
    # NFP: first Friday of each M5 month, 08:30 New York = 13:30 UTC in winter.
    for nfp in (dt.date(2024, 1, 5), dt.date(2024, 2, 2), dt.date(2024, 3, 1)):
        moment = dt.datetime(nfp.year, nfp.month, nfp.day, 13, 30, tzinfo=dt.UTC)
        assert (_ns(moment), "USD", "high") in events
    m5 = _candles("M5", "BID")["timestamp"]
    inside = (ts >= m5[0]) & (ts <= m5[-1])
    high = np.array(impact) == "high"
    assert {c for c, h, i in zip(currency, high, inside, strict=True) if h and i} >= {
        "USD",
        "EUR",
    }


def test_regenerating_gives_identical_tables(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*CANDLE_FILES, CALENDAR])
    for name in [*CANDLE_FILES, CALENDAR]:
        assert pq.read_table(tmp_path / name).equals(_table(name)), name


def test_generator_help() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for option in ("--out", "--start", "--end", "--seed", "--symbol"):
        assert option in result.stdout
