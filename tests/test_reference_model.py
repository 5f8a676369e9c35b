"""The engine against the plain-Python reference model (tests/reference_model.py).

Part 1 checks the model alone on hand-computed mini scenarios. Part 2 runs 60 random
datasets x parameter sets (tests/synthetic.py) through ``bt.run_backtest`` and the model
and asserts equal trades (every field), equity rows and metrics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from collections import Counter
from typing import Any

import pytest
import synthetic
from reference_model import (
    NS_PER_DAY,
    Bars,
    Costs,
    ModelResult,
    NewsEvent,
    NewsFilter,
    in_sessions,
    last_complete_bar,
    news_blocks,
    round_out,
    round_tick,
    run_model,
    tick_decimals,
    wilder_atr,
    zscores,
)

EURUSD = synthetic.SPECS["EURUSD"]
T0 = 1_704_189_600 * 1_000_000_000  # 2024-01-02T10:00:00Z
M5 = 300 * 1_000_000_000
TRADE_FIELDS = (
    "id", "direction", "order_type", "entry_time_ns", "exit_time_ns", "entry_price",
    "exit_price", "sl", "tp", "lots", "reason", "scenario", "pnl_gross", "fees", "result",
    "r_multiple",
)  # fmt: skip


# ------------------------------------------------------------- hand-made scenarios


def eurusd_bars(bid_rows: list[tuple[int, int, int, int]], spread: int = 10) -> Bars:
    """M5 EURUSD bars from BID OHLC in ticks of 0.00001, ASK = BID + ``spread`` ticks."""
    columns: dict[str, list[Any]] = {"timestamp": [T0 + i * M5 for i in range(len(bid_rows))]}
    for i, name in enumerate(("open", "high", "low", "close")):
        columns[f"bid_{name}"] = [row[i] / 100_000 for row in bid_rows]
        columns[f"ask_{name}"] = [(row[i] + spread) / 100_000 for row in bid_rows]
    return Bars(**columns)


BASE_PARAMS: dict[str, Any] = {
    "z_window": 3,
    "z_entry": 1.2,
    "atr_length": 1,
    "sl_atr": 2.0,
    "tp_atr": 1.0,
    "sizing": {"mode": "fixed_lots", "lots": 1.0},
}
# Bars 0-2 end in a drop: mid closes 110005, 110005, 109975 (ticks) give z_2 = -sqrt(2)
# and ATR_2 = TR_2 = 40 ticks, so SL distance 0.00080, TP distance 0.00040.
LONG_SETUP = [
    (110000, 110010, 109990, 110000),
    (110000, 110010, 109990, 110000),
    (110000, 110000, 109960, 109970),
]


def model(bars: Bars, params: dict[str, Any], *, commission=0.0, slip_pips=0.0, **kw):
    return run_model(
        bars,
        "M5",
        EURUSD,
        Costs(commission, slip_pips),
        {**BASE_PARAMS, **params},
        initial_balance=100_000.0,
        **kw,
    )


def test_indicators_by_hand() -> None:
    z = zscores([1.0, 1.0, 1.0, 1.0, 4.0], 3)
    assert z[:4] == [None, None, None, None]  # undefined before k = 2 and when std == 0
    assert z[4] == pytest.approx(2 / 2**0.5)  # window 1, 1, 4: mean 2, std sqrt(2)
    atr = wilder_atr([2.0, 3.0, 5.0], [1.0, 1.0, 4.0], [1.5, 2.5, 4.5], 2)
    # TR = 1, 2, max(1, |5 - 2.5|, |4 - 2.5|) = 2.5; ATR_1 = 1.5; ATR_2 = (1.5 + 2.5) / 2
    assert atr == [None, 1.5, 2.0]
    # One mid price from two bid/ask splits: equal within a quarter tick.
    split, flat = (1.09901 + 1.09903) / 2, 1.09902
    assert split != flat
    assert zscores([flat, split, flat], 3, 0.25e-5) == [None, None, None]
    assert wilder_atr([split, flat], [split, flat], [split, flat], 1, 0.25e-5) == [0.0, 0.0]


def test_prices_carry_the_decimals_that_write_the_tick_grid() -> None:
    assert [tick_decimals(t) for t in (0.00001, 0.001, 0.25, 0.125, 0.2, 1.0)] == [5, 3, 2, 3, 1, 0]
    assert tick_decimals(1 / 3) is None


def test_rounding_rules() -> None:
    assert round_tick(1.099705, 0.00001) in (1.0997, 1.09971)
    assert round_tick(109971 * 0.00001, 0.00001) == 1.09971  # §10: n / q, not n * tick
    assert round_tick(1.1000049, 0.00001) == 1.1
    assert round_tick(150.0126, 0.001) == 150.013
    assert round_out(2.675, 2) == 2.68 or round_out(2.675, 2) == 2.67  # binary 2.675
    assert round_out(0.125, 2) == 0.13  # exact half: away from zero
    assert round_out(-0.125, 2) == -0.13
    assert str(round_out(-0.001, 2)) == "0.0"  # -0.0 is written as 0.0


def test_gates_by_hand() -> None:
    at = T0 - 10 * 3_600_000_000_000  # 2024-01-02T00:00Z
    minute = 60_000_000_000
    overnight = [{"start": "22:00", "end": "02:00"}]
    assert in_sessions(at + 23 * 60 * minute, overnight)
    assert in_sessions(at + 119 * minute, overnight)
    assert not in_sessions(at + 120 * minute, overnight)  # [start, end)
    assert in_sessions(at + 1439 * minute, [{"start": "12:00", "end": "24:00"}])
    assert in_sessions(at + 5 * minute, [{"start": "07:00", "end": "07:00"}])  # whole day
    assert in_sessions(at, None) and in_sessions(at, [])
    assert not in_sessions(at + 7 * 60 * minute, [{"start": "07:01", "end": "17:00"}])

    news = NewsFilter([NewsEvent(T0, "USD", "medium")], 10, 5, "medium")
    assert news_blocks(T0 - 10 * minute, news, EURUSD)  # edges are inclusive
    assert news_blocks(T0 + 5 * minute, news, EURUSD)
    assert not news_blocks(T0 + 5 * minute + 1, news, EURUSD)
    assert not news_blocks(T0, NewsFilter(news.events, 10, 5, "high"), EURUSD)
    assert not news_blocks(T0, NewsFilter([NewsEvent(T0, "JPY", "high")], 9, 9, "low"), EURUSD)

    d1_open = [T0 - 2 * NS_PER_DAY, T0 - NS_PER_DAY, T0]
    assert last_complete_bar(d1_open, NS_PER_DAY, T0) == 1  # bar T0 - 1 day ends at T0
    assert last_complete_bar(d1_open, NS_PER_DAY, T0 - 1) == 0
    assert last_complete_bar(d1_open, NS_PER_DAY, T0 - 2 * NS_PER_DAY) == -1


def test_long_market_take_profit() -> None:
    bars = eurusd_bars(
        [
            *LONG_SETUP,
            (109970, 109990, 109960, 109980),  # fill at ASK open 1.09980
            (109990, 110030, 109985, 110025),  # BID high reaches TP 1.10020
        ]
    )
    result = model(bars, {})
    assert result.trades == [
        {
            "id": 1, "direction": "long", "order_type": "market",
            "entry_time_ns": T0 + 3 * M5, "exit_time_ns": T0 + 4 * M5,
            "entry_price": 1.0998, "exit_price": 1.1002, "sl": 1.099, "tp": 1.1002,
            "lots": 1.0, "reason": "take_profit", "scenario": None,
            "pnl_gross": 40.0, "fees": 0.0, "result": 40.0, "r_multiple": 0.5,
        }
    ]  # fmt: skip
    assert result.equity["equity"] == [100_000.0] * 4 + [100_040.0]
    assert result.metrics == {
        "avg_r_multiple": 0.5, "fees_total": 0.0, "losses": 0, "max_drawdown": 0.0,
        "max_drawdown_initial_pct": 0.0, "max_drawdown_pct": 0.0, "profit_factor": None,
        "profit_gross": 40.0, "profit_net": 40.0, "score": 0.04, "sharpe": None,
        "total_lots": 1.0, "trades": 1, "winrate": 1.0, "wins": 1,
    }  # fmt: skip


def test_long_market_gap_through_stop_loss_with_slippage() -> None:
    bars = eurusd_bars(
        [
            *LONG_SETUP,
            (109970, 109990, 109960, 109980),  # fill 1.09980 + 2 ticks slip = 1.09982
            (109880, 109900, 109850, 109870),  # opens below SL 1.09902: exit open - slip
        ]
    )
    result = model(bars, {}, slip_pips=0.2)
    (trade,) = result.trades
    assert (trade["entry_price"], trade["sl"], trade["tp"]) == (1.09982, 1.09902, 1.10022)
    assert (trade["exit_price"], trade["reason"], trade["scenario"]) == (
        1.09878,
        "stop_loss",
        "gap",
    )
    assert (trade["pnl_gross"], trade["result"], trade["r_multiple"]) == (-104.0, -104.0, -1.3)
    assert result.equity["equity"][3:] == [99_998.0, 99_896.0]  # marked at the BID close
    m = result.metrics
    assert (m["max_drawdown"], m["max_drawdown_pct"], m["max_drawdown_initial_pct"]) == (
        104.0,
        0.1,
        0.1,
    )
    assert (m["profit_factor"], m["score"], m["wins"], m["losses"]) == (0.0, -0.104, 0, 1)


def test_sl_tp_same_bar_then_end_of_data() -> None:
    bars = eurusd_bars(
        [
            *LONG_SETUP,
            (109970, 109990, 109960, 109980),  # fill 1.09980, SL 1.09900, TP 1.10020
            (109950, 110030, 109890, 110000),  # both touched, open inside: SL wins
        ]
    )
    (trade,) = model(bars, {}).trades
    assert (trade["exit_price"], trade["reason"], trade["scenario"]) == (
        1.099,
        "stop_loss",
        "sl_tp_same_bar",
    )
    # A last bar that touches neither level closes the position at the BID close.
    bars = eurusd_bars(
        [*LONG_SETUP, (109970, 109990, 109960, 109980), (109950, 110010, 109940, 110000)]
    )
    (trade,) = model(bars, {}).trades
    assert (trade["exit_price"], trade["reason"], trade["scenario"]) == (1.1, "end_of_data", None)
    assert trade["pnl_gross"] == 20.0


def test_short_limit_in_entry_candle_take_profit() -> None:
    bars = eurusd_bars(
        [
            (110000, 110010, 109990, 110000),
            (110000, 110010, 109990, 110000),
            (110000, 110040, 110000, 110030),  # z = +sqrt(2): short limit at 1.10030 + 0.0002
            (110030, 110045, 110020, 110040),  # BID high below 1.10050: no fill (live 1 of 2)
            (110040, 110060, 110000, 109995),  # fill 1.10050; ASK close 1.10005 <= TP 1.10010
            (109995, 110000, 109990, 109995),
        ]
    )
    params = {
        "entry_order": "limit",
        "entry_offset_atr": 0.5,
        "order_ttl_bars": 2,
        "direction": "short",
        "sizing": {"mode": "fixed_lots", "lots": 0.5},
    }
    result = model(bars, params, commission=3.0)
    assert result.trades == [
        {
            "id": 1, "direction": "short", "order_type": "limit",
            "entry_time_ns": T0 + 4 * M5, "exit_time_ns": T0 + 4 * M5,
            "entry_price": 1.1005, "exit_price": 1.1001, "sl": 1.1013, "tp": 1.1001,
            "lots": 0.5, "reason": "take_profit", "scenario": "in_entry_candle",
            "pnl_gross": 20.0, "fees": 3.0, "result": 17.0, "r_multiple": 0.425,
        }
    ]  # fmt: skip
    assert result.equity["balance"] == [100_000.0] * 4 + [100_017.0] * 2
    # With a TTL of 1 the order is cancelled after bar 3 and never fills.
    assert model(bars, {**params, "order_ttl_bars": 1}, commission=3.0).trades == []


def test_signal_exit_and_risk_sizing() -> None:
    bars = eurusd_bars(
        [
            *LONG_SETUP,
            (109970, 109990, 109960, 109980),  # fill 1.09980; z_3 < 0: no exit yet
            (109990, 110010, 109985, 110010),  # z_4 > 0 >= -z_exit: exit queued
            (110000, 110010, 109995, 110005),  # exit at BID open 1.10000 - 1 tick
            (110005, 110010, 110000, 110005),
        ]
    )
    # risk 0.5 % of 100000 over SL distance 0.0008 * 100000 = 6.25 lots -> 6.25
    params = {"z_exit": 0.0, "tp_atr": 5.0, "sizing": {"mode": "risk_pct", "risk_pct": 0.5}}
    (trade,) = model(bars, params, slip_pips=0.1).trades
    assert trade["lots"] == 6.25
    assert (trade["entry_price"], trade["exit_price"]) == (1.09981, 1.09999)
    assert (trade["reason"], trade["exit_time_ns"]) == ("signal", T0 + 5 * M5)
    assert trade["pnl_gross"] == 112.5  # 18 ticks * 6.25 lots


# ------------------------------------------------------------------ engine vs model

SEEDS = range(60)


@functools.cache
def _drawn(seed: int) -> tuple[synthetic.Case, ModelResult]:
    """The random case of ``seed`` and the model's result for it. Every draw is compared:
    a z on a threshold up to floating-point noise is on it for both (Z_TIE)."""
    c = synthetic.random_case(seed)
    return c, synthetic.run_case_model(c)


def case(seed: int) -> synthetic.Case:
    return _drawn(seed)[0]


def model_result(seed: int) -> ModelResult:
    return _drawn(seed)[1]


def _fmt(value: Any) -> str:
    return json.dumps(value)


def trade_diff(engine: list[dict[str, Any]], model: list[dict[str, Any]]) -> str | None:
    """A readable report of the first differing trade, or None when all are equal."""
    for i in range(max(len(engine), len(model))):
        e = engine[i] if i < len(engine) else None
        m = model[i] if i < len(model) else None
        if e is not None and m is not None and all(e.get(f) == m[f] for f in TRADE_FIELDS):
            continue
        lines = [f"trade count: engine {len(engine)}, model {len(model)}"]
        lines.append(f"first differing trade at index {i}:")
        lines.append(f"  {'field':<14}{'engine':<28}model")
        for f in TRADE_FIELDS:
            ev = "-" if e is None else _fmt(e.get(f, "<missing>"))
            mv = "-" if m is None else _fmt(m[f])
            mark = "*" if ev != mv else " "
            lines.append(f"{mark} {f:<14}{ev:<28}{mv}")
        return "\n".join(lines)
    return None


def equity_diff(engine: dict[str, list[Any]], model: dict[str, list[Any]]) -> str | None:
    if len(engine["timestamp_ns"]) != len(model["timestamp_ns"]):
        counts = len(engine["timestamp_ns"]), len(model["timestamp_ns"])
        return f"equity rows: engine {counts[0]}, model {counts[1]}"
    for i in range(len(model["timestamp_ns"])):
        row_e = [engine[c][i] for c in ("timestamp_ns", "balance", "equity")]
        row_m = [model[c][i] for c in ("timestamp_ns", "balance", "equity")]
        if row_e != row_m:
            return f"first differing equity row {i}: engine {row_e}, model {row_m}"
    return None


@pytest.fixture(scope="module")
def bt_module() -> Any:
    return pytest.importorskip("bt", exc_type=ImportError)


def run_engine(bt_module: Any, c: synthetic.Case, **overrides: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = synthetic.engine_config(c, tmp, **overrides)
        result: dict[str, Any] = bt_module.run_backtest(config)
    return result


def assert_engine_matches_model(bt_module: Any, c: synthetic.Case, expected: ModelResult) -> None:
    """Runs ``c`` in the engine; asserts the model's trades, equity rows and metrics."""
    got = run_engine(bt_module, c)
    where = f"case {c.describe()}"
    assert got.get("ok") is True, f"engine failed: {got.get('error')}\n{where}"
    diff = trade_diff(got["trades"], expected.trades)
    assert diff is None, f"{diff}\n{where}"
    diff = equity_diff(got["equity"], expected.equity)
    assert diff is None, f"{diff}\n{where}"
    bad = {
        k: (got["metrics"].get(k, "<missing>"), v)
        for k, v in expected.metrics.items()
        if got["metrics"].get(k, "<missing>") != v
    }
    assert not bad, f"metrics differ (engine, model): {bad}\n{where}"


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_model(bt_module: Any, seed: int) -> None:
    assert_engine_matches_model(bt_module, case(seed), model_result(seed))


@pytest.mark.parametrize("seed", range(6))
def test_engine_matches_model_on_prices_off_the_tick_grid(bt_module: Any, seed: int) -> None:
    """Prices read through float32 are off the tick grid, so the engine's rolling z sums
    are not whole numbers and drift: windows of two unequal mids (z exactly +-1) against
    ``z_entry`` 1 still signal on every bar, as the model's two-pass z does."""
    drawn = case(seed)
    ties = {"z_window": 2, "z_entry": 1.0, "z_exit": 0.0, "entry_order": "market"}
    ungated = {"direction": "both", "max_positions": 3, "htf_filter": "none"}
    c = dataclasses.replace(
        drawn,
        primary=synthetic.through_float32(drawn.primary),
        d1=synthetic.through_float32(drawn.d1),
        params={**drawn.params, **ties, **ungated, "max_spread_pips": None},
        sessions=None,
        news=None,
    )
    expected = synthetic.run_case_model(c)
    assert len(expected.trades) >= 20, c.describe()
    assert_engine_matches_model(bt_module, c, expected)


def test_random_cases_are_not_vacuous() -> None:
    """Most random cases trade, and together they reach every reason, scenario and type."""
    counts = [len(model_result(seed).trades) for seed in SEEDS]
    assert sum(n >= 3 for n in counts) >= 40, counts
    seen: Counter[Any] = Counter()
    for seed in SEEDS:
        for t in model_result(seed).trades:
            seen.update([t["reason"], t["scenario"], t["order_type"], t["direction"]])
    expected = {
        "stop_loss", "take_profit", "signal", "end_of_data", "sl_tp_same_bar",
        "in_entry_candle", "gap", None, "market", "limit", "stop", "long", "short",
    }  # fmt: skip
    assert expected <= set(seen), seen
