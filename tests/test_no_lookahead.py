"""No look-ahead (ENGINE §2): cutting the data at T never changes what happened before T.

For random data and a random cut time T, the engine runs once with ``data.end = T`` and
once on the full range. Every trade that exits before the cut run's last bar is identical
in both runs, every trade entered before that bar has the same id, entry time, entry
price, SL, TP and lots in both, and the equity rows before that bar are equal.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import synthetic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

bt = pytest.importorskip("bt", exc_type=ImportError)

ENTRY_FIELDS = ("id", "direction", "order_type", "entry_time_ns", "entry_price", "sl", "tp", "lots")


def _run(case: synthetic.Case, directory: str, end: str | None) -> dict[str, Any]:
    config = synthetic.engine_config(case, directory, end=end, write=False)
    result: dict[str, Any] = bt.run_backtest(config)
    assert result.get("ok") is True, f"engine failed: {result.get('error')}\n{case.describe()}"
    return result


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), cut=st.floats(0.05, 0.95))
def test_cutting_the_data_does_not_change_the_past(seed: int, cut: float) -> None:
    case = synthetic.random_case(seed)
    first = synthetic.parse_iso(case.start)
    last = case.primary.timestamp[-1]
    if case.end is not None:
        last = min(last, synthetic.parse_iso(case.end))
    cut_ns = first + int((last - first) * cut) // 1_000_000_000 * 1_000_000_000
    cut_iso = synthetic.iso(cut_ns)
    if not any(first <= t < cut_ns for t in case.primary.timestamp):
        return  # an empty range is a data error, not this property

    with tempfile.TemporaryDirectory() as tmp:
        synthetic.write_case(case, tmp)
        full = _run(case, tmp, case.end)
        part = _run(case, tmp, cut_iso)

    where = f"cut at {cut_iso}; case {case.describe()}"
    last_bar = part["equity"]["timestamp_ns"][-1]
    assert last_bar < cut_ns, where
    full_by_id = {t["id"]: t for t in full["trades"]}
    part_by_id = {t["id"]: t for t in part["trades"]}

    for trade in part["trades"]:
        if trade["entry_time_ns"] >= last_bar:
            continue
        other = full_by_id.get(trade["id"])
        assert other is not None, f"trade {trade} missing from the full run\n{where}"
        if trade["exit_time_ns"] < last_bar:
            assert trade == other, f"cut run {trade}\nfull run {other}\n{where}"
        else:
            for key in ENTRY_FIELDS:
                assert trade[key] == other[key], f"{key}: cut {trade}\nfull {other}\n{where}"

    for trade in full["trades"]:  # nothing entered before the cut is lost in the cut run
        if trade["entry_time_ns"] < last_bar:
            assert trade["id"] in part_by_id, f"full-run trade {trade} missing\n{where}"

    rows = len(part["equity"]["timestamp_ns"]) - 1  # the cut run's last bar closes everything
    for column in ("timestamp_ns", "balance", "equity"):
        assert part["equity"][column][:rows] == full["equity"][column][:rows], (column, where)
