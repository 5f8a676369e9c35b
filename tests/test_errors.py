"""Every error category of the engine, reached through the Python API (ENGINE.md §1, §9).

Data problems come back as ``{"ok": False, "error": {"category": "market_data", ...}}``
naming the file, row and value; config problems raise :class:`bt.ConfigError` naming the
dotted field path; a caught engine panic raises :class:`bt.InternalError`. Broken inputs
are derived from a 400-bar slice of the committed fixtures, written into ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import bt
import omega_bt

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "data"
CONFIG_FILE = ROOT / "configs" / "backtest" / "eurusd_m5_mrz.json"
SYMBOL_SPECS = ROOT / "configs" / "symbol_specs.yaml"
EXECUTION_COSTS = ROOT / "configs" / "execution_costs.yaml"
ROWS = 400
M5_NS = 5 * 60 * 1_000_000_000
SIDES = ("BID", "ASK")

# ------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the first ROWS M5 bars and the full D1 files."""
    folder = tmp_path_factory.mktemp("small_data")
    for side in SIDES:
        table = pq.read_table(FIXTURES / f"EURUSD_M5_{side}.parquet").slice(0, ROWS)
        pq.write_table(table, folder / f"EURUSD_M5_{side}.parquet")
        shutil.copy(FIXTURES / f"EURUSD_D1_{side}.parquet", folder)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, small_data: Path) -> Path:
    """A private copy of the small data that a test may break."""
    return Path(shutil.copytree(small_data, tmp_path / "data"))


def make_config(data: Path) -> dict[str, Any]:
    """The committed example config, reading ``data`` and carrying no trades or equity."""
    config: dict[str, Any] = json.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    config["data"]["dir"] = str(data)
    config["costs"] = {
        "symbol_specs": str(SYMBOL_SPECS),
        "execution_costs": str(EXECUTION_COSTS),
    }
    config["output"] = {"trades": False, "equity": False}
    return config


@pytest.fixture
def config(data_dir: Path) -> dict[str, Any]:
    return make_config(data_dir)


def m5(data: Path, side: str) -> Path:
    return data / f"EURUSD_M5_{side}.parquet"


def replace_column(path: Path, name: str, change: Callable[[np.ndarray], Any]) -> None:
    """Rewrites ``path`` with column ``name`` replaced by ``change(values)``."""
    table = pq.read_table(path)
    values = table[name].to_numpy().copy()
    index = table.schema.get_field_index(name)
    new = change(values)
    array = new if isinstance(new, pa.Array) else pa.array(new)
    pq.write_table(table.set_column(index, name, array), path)


def column(path: Path, name: str) -> np.ndarray:
    return pq.read_table(path)[name].to_numpy()


def market_error(config: dict[str, Any]) -> dict[str, Any]:
    """Runs ``config``, which must fail with a market_data error, and returns the error."""
    result = bt.run_backtest(config)
    assert result["ok"] is False, result
    assert set(result) == {"ok", "error", "config_hash"}
    assert len(result["config_hash"]) == 64
    error = result["error"]
    assert error["category"] == "market_data", error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def assert_names(message: str, *parts: object) -> None:
    for part in parts:
        assert str(part) in message, f"{part!r} not in {message!r}"


# ------------------------------------------------------------------- market data


def test_the_small_data_runs(config: dict[str, Any]) -> None:
    result = bt.run_backtest(config)
    assert result["ok"] is True, result.get("error")
    assert result["meta"]["bars"] == ROWS


@pytest.mark.parametrize(
    ("start", "end", "gaps"),
    [
        ("2024-01-08", "2024-01-12", 0),  # Monday to Friday
        ("2024-01-08", "2024-01-16", 1),  # one weekend
        (None, None, 13),  # every weekend of the files
    ],
)
def test_meta_counts_the_gaps_of_the_run_range(
    start: str | None, end: str | None, gaps: int
) -> None:
    """``meta.gaps`` counts the gaps between the bars that ``meta.bars`` counts."""
    config = make_config(FIXTURES)
    config["data"].update(start=start, end=end)
    result = bt.run_backtest(config)
    assert result["ok"] is True, result.get("error")
    assert result["meta"]["gaps"] == gaps


@pytest.mark.parametrize("codec", ["none", "snappy", "gzip", "brotli", "lz4", "zstd"])
def test_every_parquet_codec_pyarrow_writes_loads(
    config: dict[str, Any], data_dir: Path, codec: str
) -> None:
    config["output"] = {"trades": True, "equity": False}
    expected = bt.run_backtest(config)
    for side in ("BID", "ASK"):
        pq.write_table(pq.read_table(m5(data_dir, side)), m5(data_dir, side), compression=codec)
    result = bt.run_backtest(config)
    assert result["ok"] is True, result
    assert (result["trades"], result["metrics"]) == (expected["trades"], expected["metrics"])


def test_corrupt_file(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "BID")
    path.write_bytes(b"timestamp,open,high,low,close\n1704067200000000000,1,1,1,1\n")
    error = market_error(config)
    assert error["message"].startswith(f"{path}: cannot read Parquet")
    assert error["details"]["file"] == str(path)


def test_truncated_file(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "ASK")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    error = market_error(config)
    assert error["message"].startswith(f"{path}: cannot read Parquet")
    assert error["details"]["file"] == str(path)


def test_misaligned_bid_ask(config: dict[str, Any], data_dir: Path) -> None:
    # The ASK file skips one bar at row 250: still sorted and on the grid, but misaligned.
    replace_column(
        m5(data_dir, "ASK"), "timestamp", lambda t: np.where(np.arange(t.size) >= 250, t + M5_NS, t)
    )
    bid_ts = int(column(m5(data_dir, "BID"), "timestamp")[250])
    error = market_error(config)
    assert_names(
        error["message"],
        m5(data_dir, "BID"),
        m5(data_dir, "ASK"),
        "row 250",
        bid_ts,
        bid_ts + M5_NS,
    )
    assert error["details"]["row"] == 250
    assert error["details"]["file"] == str(m5(data_dir, "ASK"))
    assert error["details"]["other_file"] == str(m5(data_dir, "BID"))


def test_misaligned_lengths(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "ASK")
    pq.write_table(pq.read_table(path).slice(0, ROWS - 10), path)
    error = market_error(config)
    assert_names(error["message"], path, f"row {ROWS - 10}", f"{ROWS} rows", f"{ROWS - 10} rows")


def test_nan_price(config: dict[str, Any], data_dir: Path) -> None:
    replace_column(
        m5(data_dir, "BID"), "close", lambda v: np.where(np.arange(v.size) == 123, np.nan, v)
    )
    error = market_error(config)
    assert (
        error["message"]
        == f"{m5(data_dir, 'BID')}: row 123: close = NaN is not a finite positive price"
    )
    assert error["details"] == {
        "file": str(m5(data_dir, "BID")),
        "row": 123,
        "column": "close",
        "value": "NaN",
    }


@pytest.mark.parametrize(("value", "text"), [(0.0, "0"), (-1.0875, "-1.0875"), (np.inf, "inf")])
def test_non_positive_or_infinite_price(
    config: dict[str, Any], data_dir: Path, value: float, text: str
) -> None:
    replace_column(
        m5(data_dir, "ASK"), "low", lambda v: np.where(np.arange(v.size) == 77, value, v)
    )
    error = market_error(config)
    assert_names(error["message"], m5(data_dir, "ASK"), "row 77", f"low = {text} ")
    assert error["details"]["value"] == text


def test_negative_spread(config: dict[str, Any], data_dir: Path) -> None:
    bid = pq.read_table(m5(data_dir, "BID"))
    close, low = bid["close"].to_numpy(), bid["low"].to_numpy()
    # A row whose bid close is above its low, so the ASK bar stays consistent.
    row = next(r for r in range(150, ROWS) if close[r] > low[r])
    bid_close = float(close[row])
    bad_ask = round(bid_close - 0.00001, 5)
    ask_path = m5(data_dir, "ASK")
    ask = pq.read_table(ask_path)
    for name in ("open", "high", "low", "close"):
        values = ask[name].to_numpy().copy()
        values[row] = bad_ask if name == "close" else bid[name].to_numpy()[row]
        ask = ask.set_column(ask.schema.get_field_index(name), name, pa.array(values))
    pq.write_table(ask, ask_path)
    error = market_error(config)
    assert error["message"] == (
        f"{ask_path}: row {row}: negative spread, ask_close {bad_ask!r} < bid_close {bid_close!r}"
    )
    assert error["details"]["row"] == row
    assert error["details"]["column"] == "close"
    assert error["details"]["value"] == bad_ask


def test_inconsistent_bar(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "BID")
    table = pq.read_table(path)
    top = np.maximum(table["open"].to_numpy(), table["close"].to_numpy())
    bad_high = round(float(top[42]) - 0.0001, 5)
    replace_column(path, "high", lambda v: np.where(np.arange(v.size) == 42, bad_high, v))
    error = market_error(config)
    assert_names(error["message"], path, "row 42", f"high = {bad_high!r}", "inconsistent")


def test_unsorted_timestamps(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "BID")
    ts = column(path, "timestamp")

    def swap(t: np.ndarray) -> np.ndarray:
        t[[200, 201]] = t[[201, 200]]
        return t

    replace_column(path, "timestamp", swap)
    error = market_error(config)
    assert_names(error["message"], path, "row 201", int(ts[200]), "before", int(ts[201]))
    assert error["details"] == {
        "file": str(path),
        "row": 201,
        "column": "timestamp",
        "value": int(ts[200]),
    }


def test_duplicate_timestamp(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "ASK")
    ts = column(path, "timestamp")
    replace_column(path, "timestamp", lambda t: np.where(np.arange(t.size) == 9, t[8], t))
    error = market_error(config)
    assert_names(error["message"], path, "row 9", int(ts[8]), "equal to")


def test_off_grid_timestamp(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "BID")
    ts = column(path, "timestamp")
    minute = 60 * 1_000_000_000
    replace_column(path, "timestamp", lambda t: np.where(np.arange(t.size) == 5, t + minute, t))
    error = market_error(config)
    assert_names(error["message"], path, "row 5", int(ts[5]) + minute, "M5 grid")


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.int64(), pa.float32()])
def test_wrong_column_type(config: dict[str, Any], data_dir: Path, arrow_type: pa.DataType) -> None:
    path = m5(data_dir, "BID")
    values = pq.read_table(path)["close"]
    if pa.types.is_integer(arrow_type):
        values = pc.round(pc.multiply(values, 100_000))
    replace_column(path, "close", lambda _: pc.cast(values, arrow_type).combine_chunks())
    error = market_error(config)
    found = {"string": "Utf8", "int64": "Int64", "float": "Float32"}[str(arrow_type)]
    assert error["message"] == (f'{path}: column "close" has type {found}, expected float64')
    assert error["details"] == {"file": str(path), "column": "close", "value": found}


def test_naive_timestamp_rejected_utc_timestamp_accepted(
    config: dict[str, Any], data_dir: Path
) -> None:
    baseline = bt.run_backtest(config)
    for side in SIDES:
        replace_column(
            m5(data_dir, side),
            "timestamp",
            lambda t: pa.array(t, pa.timestamp("ns", tz="UTC")),
        )
    utc = bt.run_backtest(config)
    assert utc["ok"] is True, utc.get("error")
    assert utc["metrics"] == baseline["metrics"]

    replace_column(m5(data_dir, "BID"), "timestamp", lambda t: pa.array(t, pa.timestamp("ns")))
    error = market_error(config)
    assert_names(error["message"], m5(data_dir, "BID"), '"timestamp"', "Timestamp(ns)", "UTC")


def test_null_value(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "ASK")
    values = column(path, "open").tolist()
    values[321] = None
    replace_column(path, "open", lambda _: pa.array(values, pa.float64()))
    error = market_error(config)
    assert error["message"] == f'{path}: row 321: column "open" is null'


def test_missing_column(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "BID")
    pq.write_table(pq.read_table(path).drop_columns(["high"]), path)
    error = market_error(config)
    assert error["message"] == f'{path}: missing column "high"'
    assert error["details"] == {"file": str(path), "column": "high"}


def test_missing_data_file(config: dict[str, Any], data_dir: Path) -> None:
    path = m5(data_dir, "ASK")
    path.unlink()
    error = market_error(config)
    assert error["message"] == f"{path}: file not found"
    assert error["details"] == {"file": str(path)}


def test_missing_d1_file_with_trend_filter(config: dict[str, Any], data_dir: Path) -> None:
    for side in SIDES:
        (data_dir / f"EURUSD_D1_{side}.parquet").unlink()
    assert config["strategy"]["params"]["htf_filter"] == "trend"
    error = market_error(config)
    path = data_dir / "EURUSD_D1_BID.parquet"
    assert error["message"] == f"{path}: file not found"
    # D1 files are read only when htf_filter is "trend".
    config["strategy"]["params"]["htf_filter"] = "none"
    assert bt.run_backtest(config)["ok"] is True


def test_empty_d1_files_with_trend_filter(config: dict[str, Any], data_dir: Path) -> None:
    """The trend filter would block every entry: 0 trades that look like a result."""
    for side in SIDES:
        path = data_dir / f"EURUSD_D1_{side}.parquet"
        pq.write_table(pq.read_table(path).slice(0, 0), path)
    error = market_error(config)
    path = data_dir / "EURUSD_D1_BID.parquet"
    assert error["message"] == f'{path}: no bars, and htf_filter "trend" needs D1 bars'
    assert error["details"]["file"] == str(path)
    config["strategy"]["params"]["htf_filter"] = "none"
    assert bt.run_backtest(config)["ok"] is True


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2025-01-01", None, "[2025-01-01, end of data)"),
        (None, "2023-12-31T00:00:00Z", "[start of data, 2023-12-31T00:00:00Z)"),
        # Saturday inside the first weekend gap of the fixtures.
        ("2024-01-06", "2024-01-07T12:00:00Z", "[2024-01-06, 2024-01-07T12:00:00Z)"),
    ],
)
def test_empty_range(
    config: dict[str, Any], start: str | None, end: str | None, shown: str
) -> None:
    config["data"]["start"], config["data"]["end"] = start, end
    if start == "2024-01-06":
        # The slice must reach past that weekend for the range to be empty, not past the data.
        config["data"]["dir"] = str(FIXTURES)
    error = market_error(config)
    assert_names(error["message"], "EURUSD_M5_BID.parquet", shown)
    assert error["details"]["file"].endswith("EURUSD_M5_BID.parquet")


def test_empty_range_message_names_the_file(config: dict[str, Any], data_dir: Path) -> None:
    config["data"]["start"] = "2025-01-01"
    error = market_error(config)
    assert str(m5(data_dir, "BID")) in error["message"]


def write_news(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(FIXTURES / "news_calendar.parquet")), path)


def news_config(config: dict[str, Any], path: Path) -> dict[str, Any]:
    config["news"] = {
        "file": str(path),
        "minutes_before": 30,
        "minutes_after": 30,
        "min_impact": "high",
    }
    return config


def test_news_calendar_with_bad_impact(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "news.parquet"

    def break_impact(table: pa.Table) -> pa.Table:
        impact = table["impact"].to_pylist()
        impact[7] = "severe"
        return table.set_column(table.schema.get_field_index("impact"), "impact", pa.array(impact))

    write_news(path, break_impact)
    error = market_error(news_config(config, path))
    assert error["message"] == f'{path}: row 7: impact = "severe", expected low, medium or high'
    assert error["details"] == {"file": str(path), "row": 7, "column": "impact", "value": "severe"}


def test_news_calendar_with_bad_currency(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "news.parquet"

    def break_currency(table: pa.Table) -> pa.Table:
        currency = table["currency"].to_pylist()
        currency[3] = "usd"
        index = table.schema.get_field_index("currency")
        return table.set_column(index, "currency", pa.array(currency))

    write_news(path, break_currency)
    error = market_error(news_config(config, path))
    assert_names(error["message"], path, "row 3", 'currency = "usd"', "three uppercase letters")


def test_news_calendar_missing(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "no_news.parquet"
    error = market_error(news_config(config, path))
    assert error["message"] == f"{path}: file not found"


def test_valid_news_calendar_runs(config: dict[str, Any]) -> None:
    result = bt.run_backtest(news_config(config, FIXTURES / "news_calendar.parquet"))
    assert result["ok"] is True, result.get("error")


def test_raise_for_result_raises_market_data_error(config: dict[str, Any], data_dir: Path) -> None:
    m5(data_dir, "BID").unlink()
    result = bt.run_backtest(config)
    with pytest.raises(bt.MarketDataError) as info:
        bt.raise_for_result(result)
    exc = info.value
    assert isinstance(exc, bt.BacktestFailed)
    assert isinstance(exc, bt.OmegaError)
    assert exc.category == "market_data"
    assert str(exc) == exc.message == result["error"]["message"]
    assert exc.details == result["error"]["details"]
    assert str(m5(data_dir, "BID")) in str(exc)


def test_raise_for_result_passes_success_through(config: dict[str, Any]) -> None:
    result = bt.run_backtest(config)
    assert bt.raise_for_result(result) is result


@pytest.mark.parametrize(
    ("category", "cls"),
    [
        ("market_data", bt.MarketDataError),
        ("execution", bt.ExecutionFailed),
        ("strategy", bt.StrategyFailed),
        ("runtime", bt.RuntimeFailed),
        ("something_new", bt.RuntimeFailed),
    ],
)
def test_raise_for_result_maps_each_category(category: str, cls: type[Exception]) -> None:
    result = {"ok": False, "error": {"category": category, "message": "m", "details": {"k": 1}}}
    with pytest.raises(cls, match=r"^m$"):
        bt.raise_for_result(result)


# ---------------------------------------------------------------------- config


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Returns a mutation that sets the dotted ``path`` of a config to ``value``."""

    def mutate(config: dict[str, Any]) -> None:
        *head, leaf = path.split(".")
        node = config
        for key in head:
            node = node[key]
        node[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        *head, leaf = path.split(".")
        node = config
        for key in head:
            node = node[key]
        del node[leaf]

    return mutate


CONFIG_ERRORS = [
    pytest.param(_set("colour", "blue"), "colour", ["unknown key"], id="unknown-top-level-key"),
    pytest.param(
        _set("strategy.params.z_entyr", 2.0),
        "strategy.params.z_entyr",
        ["unknown key"],
        id="unknown-nested-key",
    ),
    pytest.param(
        _set("strategy.params.z_window", "48"),
        "strategy.params.z_window",
        ["expected an integer >= 2", 'got "48"'],
        id="wrong-type",
    ),
    pytest.param(
        _set("strategy.params.z_window", 1),
        "strategy.params.z_window",
        ["expected an integer >= 2", "got 1"],
        id="out-of-range",
    ),
    pytest.param(
        _drop("strategy.params.sizing"),
        "strategy.params.sizing",
        ["required", "an object"],
        id="missing-required",
    ),
    pytest.param(
        _set("strategy.params.entry_order", "iceberg"),
        "strategy.params.entry_order",
        ['one of "market", "limit", "stop"', 'got "iceberg"'],
        id="bad-enum",
    ),
    pytest.param(
        _drop("rng_seed"),
        "rng_seed",
        ["required in dev mode", "integer"],
        id="dev-without-seed",
    ),
    pytest.param(
        _set("execution_variant", "v1_parity"),
        "execution_variant",
        ["v1_parity", "no reference implementation", 'use "v2"'],
        id="v1-parity",
    ),
    pytest.param(
        _set("symbol", "XAUUSD"),
        "symbol",
        ['"XAUUSD" is not in', str(SYMBOL_SPECS), "EURUSD"],
        id="symbol-not-in-specs",
    ),
    pytest.param(
        _set("symbol", "X" * 100_000),  # the message quotes 40 characters of it
        "symbol",
        ['"' + "X" * 40 + '"... is not in'],
        id="megabyte-symbol",
    ),
    pytest.param(
        _set("costs.execution_costs", "/no/such/dir/costs.yaml"),
        "costs.execution_costs",
        ["cannot read /no/such/dir/costs.yaml"],
        id="missing-cost-file",
    ),
    pytest.param(
        _set("strategy.params.sizing", {"mode": "fixed_lots", "lots": 0.015}),
        "strategy.params.sizing.lots",
        ["multiple of lot_step 0.01", "got 0.015"],
        id="lots-off-grid",
    ),
    pytest.param(
        _set("strategy.params.sizing", {"mode": "fixed_lots", "lots": 150.0}),
        "strategy.params.sizing.lots",
        ["[0.01, 100]", "got 150"],
        id="lots-above-max",
    ),
    pytest.param(
        _set("sessions", [{"start": "25:00", "end": "17:00"}]),
        "sessions[0].start",
        ['"HH:MM"', 'got "25:00"'],
        id="bad-session-time",
    ),
    pytest.param(
        _set("data.start", "2024-13-01"),
        "data.start",
        ["ISO-8601", 'got "2024-13-01"'],
        id="bad-iso-date",
    ),
    pytest.param(
        _set("data.end", "2023-06-01"),
        "data.end",
        ["after data.start"],
        id="end-before-start",
    ),
    pytest.param(
        # An "open end" written as a far date: int64 nanoseconds end in 2262.
        _set("data.end", "9999-12-31"),
        "data.end",
        ["to 2262-04-11", "or null for no limit", 'got "9999-12-31"'],
        id="end-past-int64-nanoseconds",
    ),
    pytest.param(
        _set("data.start", "1600-01-01"),
        "data.start",
        ["from 1677-09-22", 'got "1600-01-01"'],
        id="start-before-int64-nanoseconds",
    ),
    pytest.param(
        _set("schema_version", 1),
        "schema_version",
        ["expected 2"],
        id="schema-version",
    ),
    pytest.param(
        _set("data.primary_tf", "M7"),
        "data.primary_tf",
        ["M1, M5", 'got "M7"'],
        id="bad-timeframe",
    ),
    pytest.param(
        _set("news", {"file": "x.parquet", "minutes_before": 5, "minutes_after": 5}),
        "news.min_impact",
        ["required"],
        id="news-without-min-impact",
    ),
    pytest.param(
        # An empty path would quietly read the working directory.
        _set("data.dir", ""),
        "data.dir",
        ["expected a folder path", 'got ""'],
        id="empty-data-dir",
    ),
    pytest.param(
        _set("news", {"file": " ", "minutes_before": 5, "minutes_after": 5, "min_impact": "high"}),
        "news.file",
        ["expected a file path", 'got " "'],
        id="blank-news-file",
    ),
    pytest.param(
        _set("costs.symbol_specs", ""),
        "costs.symbol_specs",
        ["expected a file path"],
        id="empty-symbol-specs-path",
    ),
]


@pytest.mark.parametrize(("mutate", "field_path", "expected"), CONFIG_ERRORS)
def test_config_error(
    small_data: Path,
    mutate: Callable[[dict[str, Any]], None],
    field_path: str,
    expected: list[str],
) -> None:
    config = make_config(small_data)
    mutate(config)
    with pytest.raises(bt.ConfigError) as info:
        bt.run_backtest(config)
    exc = info.value
    assert exc.field_path == field_path
    message = str(exc)
    assert message.startswith(f"{field_path}: "), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tick_size", 3),  # round(1 / 3) = 0 ticks per unit
        ("tick_size", 1e-320),  # 1 / x is infinite
        ("tick_size", 0.00003),  # 33,333.3 ticks per unit: no tick grid
        ("lot_step", 10),  # every size would become max_lot
        ("lot_step", 0.03),  # sizes off the lot grid
    ],
)
def test_a_tick_or_lot_step_without_a_whole_grid_is_a_config_error(
    small_data: Path, tmp_path: Path, key: str, value: float
) -> None:
    """ENGINE §10 rounds on ``round(1 / tick_size)`` ticks and ``round(1 / lot_step)``
    steps per unit: a value whose reciprocal is not whole has no such grid."""
    specs = yaml.safe_load(SYMBOL_SPECS.read_text(encoding="utf-8"))
    specs["EURUSD"][key] = value
    path = tmp_path / "symbol_specs.yaml"
    path.write_text(yaml.safe_dump(specs), encoding="utf-8")
    config = make_config(small_data)
    config["costs"]["symbol_specs"] = str(path)
    with pytest.raises(bt.ConfigError) as info:
        bt.run_backtest(config)
    assert info.value.field_path.endswith(f"EURUSD.{key}"), info.value.field_path
    assert "whose reciprocal is a whole number" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a JSON config object, got an empty string"),
        ("   \n", "expected a JSON config object, got an empty string"),
        ("{", "not valid JSON"),
        ('{"schema_version": 2,', "not valid JSON"),
        ("[1, 2]", "expected an object, got an array"),
    ],
)
def test_unusable_json_text(text: str, expected: str) -> None:
    with pytest.raises(omega_bt.ConfigError) as info:
        omega_bt.run_backtest(text)
    assert info.value.field_path == "$"
    assert str(info.value).startswith("$: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        # Bytes decoded with surrogateescape keep a lone surrogate that UTF-8 cannot hold.
        (b'{"symbol": "EUR\xffUSD"}'.decode("utf-8", "surrogateescape"), "lone surrogate"),
        (b"{}", "expected the config as JSON text (a str), got a bytes"),
        ({"schema_version": 2}, "got a dict"),
    ],
    ids=["lone-surrogate", "bytes", "dict"],
)
def test_an_argument_that_is_no_utf8_text_is_a_config_error(argument: Any, expected: str) -> None:
    with pytest.raises(omega_bt.ConfigError) as info:
        omega_bt.run_backtest(argument)
    assert info.value.field_path == "$"
    assert expected in str(info.value)


def test_config_error_is_the_bt_class() -> None:
    assert bt.ConfigError is omega_bt.ConfigError
    assert bt.InternalError is omega_bt.InternalError
    assert bt.OmegaError is omega_bt.OmegaError


def test_nan_in_a_config_dict_names_the_field(small_data: Path) -> None:
    config = make_config(small_data)
    config["strategy"]["params"]["z_entry"] = float("nan")
    with pytest.raises(bt.ConfigError) as info:
        bt.run_backtest(config)
    assert info.value.field_path == "strategy.params.z_entry"


def test_a_value_json_cannot_hold_names_its_field(small_data: Path) -> None:
    config = make_config(small_data)
    config["sessions"] = [{"start": "07:00", "end": {"17:00"}}]
    with pytest.raises(bt.ConfigError) as info:
        bt.run_backtest(config)
    assert info.value.field_path == "sessions[0].end"
    assert "cannot encode set in a config" in str(info.value)


def test_path_objects_in_a_config_dict_do_not_raise_type_error(small_data: Path) -> None:
    config = make_config(small_data)
    config["data"]["dir"] = small_data
    with contextlib.suppress(bt.OmegaError):
        bt.run_backtest(config)


def test_config_file_errors_have_a_field_path(tmp_path: Path) -> None:
    with pytest.raises(bt.ConfigError) as info:
        bt.run_backtest(tmp_path / "missing.json")
    assert info.value.field_path == "$"


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(bt.ConfigError, match="cannot read config file") as info:
        bt.run_backtest(missing)
    assert str(missing) in str(info.value)

    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 2,\n', encoding="utf-8")
    with pytest.raises(bt.ConfigError, match="not valid JSON at line") as info:
        bt.run_backtest(broken)
    assert str(broken) in str(info.value)

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"symbol": "EURUSDé"}'.encode("latin-1"))
    with pytest.raises(bt.ConfigError, match="expected UTF-8 text") as info:
        bt.run_backtest(latin1)
    assert info.value.field_path == "$" and str(latin1) in str(info.value)

    repeated = tmp_path / "repeated.json"
    repeated.write_text('{"account": {"initial_balance": -5, "initial_balance": 1e5}}')
    with pytest.raises(bt.ConfigError, match="'initial_balance' appears twice") as info:
        bt.run_backtest(repeated)
    assert str(repeated) in str(info.value)


def test_a_repeated_key_in_config_text_names_its_path(small_data: Path) -> None:
    """A plain JSON parse keeps the last value; the engine refuses the text instead."""
    text = json.dumps(make_config(small_data))
    text = text.replace('"symbol": "EURUSD"', '"symbol": "GBPUSD", "symbol": "EURUSD"', 1)
    assert text.count('"symbol"') == 2
    with pytest.raises(omega_bt.ConfigError) as info:
        omega_bt.run_backtest(text)
    assert info.value.field_path == "symbol"
    assert "appears twice in one object" in str(info.value)


# --------------------------------------------------------------- panics, tree


def test_panic_surfaces_as_internal_error(
    monkeypatch: pytest.MonkeyPatch, small_data: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = make_config(small_data)
    monkeypatch.setenv("OMEGA_BT_FAULT", "panic")
    caught: Exception | None = None
    capfd.readouterr()
    try:
        bt.run_backtest(config)
    except Exception as exc:  # the point: a plain `except Exception` must see it
        caught = exc
    assert capfd.readouterr().err == ""  # the caller has it; nothing printed beside it
    assert isinstance(caught, bt.InternalError)
    assert isinstance(caught, bt.OmegaError)
    assert type(caught).__name__ == "InternalError"
    assert "panic" in str(caught)
    # Even an empty argument: the panic comes before parsing and is still caught.
    with pytest.raises(bt.InternalError):
        omega_bt.run_backtest("")
    # The engine is usable again once the fault is gone.
    monkeypatch.setenv("OMEGA_BT_FAULT", "no")
    assert bt.run_backtest(config)["ok"] is True
    monkeypatch.delenv("OMEGA_BT_FAULT")
    assert bt.run_backtest(config)["ok"] is True


def test_omega_error_is_the_root() -> None:
    for cls in (
        bt.ConfigError,
        bt.InternalError,
        bt.BacktestFailed,
        bt.MarketDataError,
        bt.ExecutionFailed,
        bt.StrategyFailed,
        bt.RuntimeFailed,
    ):
        assert issubclass(cls, bt.OmegaError), cls
        assert issubclass(cls, Exception), cls
    assert issubclass(bt.OmegaError, Exception)
    assert not issubclass(bt.ConfigError, bt.BacktestFailed)
    assert not issubclass(bt.InternalError, bt.ConfigError)


def test_every_error_above_is_an_omega_error(
    monkeypatch: pytest.MonkeyPatch, small_data: Path
) -> None:
    """One ``except bt.OmegaError`` catches config errors, data failures and panics."""
    seen: list[str] = []
    bad = make_config(small_data)
    bad["strategy"]["params"]["z_window"] = 1
    missing = make_config(small_data)
    missing["data"]["dir"] = str(small_data / "nowhere")

    attempts: list[Callable[[], object]] = [
        lambda: bt.run_backtest(bad),
        lambda: bt.raise_for_result(bt.run_backtest(missing)),
        lambda: omega_bt.run_backtest("{"),
    ]
    for attempt in attempts:
        try:
            attempt()
        except bt.OmegaError as exc:
            seen.append(type(exc).__name__)
    monkeypatch.setenv("OMEGA_BT_FAULT", "panic")
    try:
        bt.run_backtest(copy.deepcopy(bad))
    except bt.OmegaError as exc:
        seen.append(type(exc).__name__)
    assert seen == ["ConfigError", "MarketDataError", "ConfigError", "InternalError"]


def test_unwritable_artifact_folder_is_a_runtime_error(small_data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should go", encoding="utf-8")
    result = bt.run_backtest(make_config(small_data), out_dir=blocker / "run")
    assert result["ok"] is False
    assert result["error"]["category"] == "runtime"
    assert "cannot write artifacts" in result["error"]["message"]
    assert str(blocker / "run") in result["error"]["message"]
    with pytest.raises(bt.RuntimeFailed):
        bt.raise_for_result(result)
