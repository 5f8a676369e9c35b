"""Side by side: the same mean-reversion strategy in backtesting.py and in Omega V2.

backtesting.py (a benchmark-only dependency) gets the mid-price candles of the same
data, a z-score/ATR strategy with the same parameters (market entries, SL/TP at
``sl_atr``/``tp_atr`` ATRs, signal exit at ``z_exit``, the same session), and runs with
its data already in memory; Omega V2 runs metrics-only with its data cache warm. Both
timings are medians of repeated runs in this one process, and the table reports their
ratio per backtest. The two engines do not model fills identically (backtesting.py has
no bid/ask or per-fill slippage), so trade counts are shown for orientation only.

    python benchmarks/compare_backtesting.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from datasets import FIXTURE, HUNDRED_K, Dataset
from targets import Check, print_checks

import omega_bt

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar would garble the table

PARAMS = {
    "z_window": 48,
    "z_entry": 2.0,
    "z_exit": 0.0,
    "atr_length": 14,
    "sl_atr": 1.5,
    "tp_atr": 2.0,
}
SESSION = (7 * 60, 17 * 60)  # 07:00-17:00 UTC, minutes of the day


def mid_frame(folder: Path) -> pd.DataFrame:
    """Returns the mid OHLC of the M5 files as backtesting.py expects them."""
    bid = pq.read_table(folder / "EURUSD_M5_BID.parquet").to_pandas()
    ask = pq.read_table(folder / "EURUSD_M5_ASK.parquet").to_pandas()
    frame = pd.DataFrame(
        {
            col.capitalize(): (bid[col].to_numpy() + ask[col].to_numpy()) / 2
            for col in ("open", "high", "low", "close")
        },
        index=pd.to_datetime(bid["timestamp"].to_numpy(), unit="ns"),
    )
    frame["Volume"] = bid["volume"].to_numpy() if "volume" in bid else 1.0
    return frame


def _zscore(close: np.ndarray, window: int) -> np.ndarray:
    series = pd.Series(close)
    mean = series.rolling(window).mean()
    std = series.rolling(window).std(ddof=0)
    return ((series - mean) / std.replace(0.0, np.nan)).to_numpy()


def _atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    prev = np.roll(close, 1)
    tr = np.maximum(high - low, np.maximum(np.abs(high - prev), np.abs(low - prev)))
    tr[0] = high[0] - low[0]
    out = np.full(len(tr), np.nan)
    if len(tr) >= n:
        out[n - 1] = tr[:n].mean()
        for k in range(n, len(tr)):
            out[k] = (out[k - 1] * (n - 1) + tr[k]) / n
    return out


def backtesting_py_strategy() -> type:
    """Builds the backtesting.py version of Mean Reversion Z-Score."""
    from backtesting import Strategy

    class MeanReversionZScore(Strategy):  # type: ignore[misc]
        z_window = PARAMS["z_window"]
        z_entry = PARAMS["z_entry"]
        z_exit = PARAMS["z_exit"]
        atr_length = PARAMS["atr_length"]
        sl_atr = PARAMS["sl_atr"]
        tp_atr = PARAMS["tp_atr"]

        def init(self) -> None:
            self.z = self.I(_zscore, self.data.Close, self.z_window)
            self.atr = self.I(_atr, self.data.High, self.data.Low, self.data.Close, self.atr_length)

        def next(self) -> None:
            z, atr = self.z[-1], self.atr[-1]
            if np.isnan(z) or np.isnan(atr) or atr == 0:
                return
            if self.position:
                if (self.position.is_long and z >= -self.z_exit) or (
                    self.position.is_short and z <= self.z_exit
                ):
                    self.position.close()
                return
            stamp = self.data.index[-1]
            minute = stamp.hour * 60 + stamp.minute
            if not SESSION[0] <= minute < SESSION[1]:
                return
            price = self.data.Close[-1]
            if z <= -self.z_entry:
                self.buy(size=100_000, sl=price - self.sl_atr * atr, tp=price + self.tp_atr * atr)
            elif z >= self.z_entry:
                self.sell(size=100_000, sl=price + self.sl_atr * atr, tp=price - self.tp_atr * atr)

    return MeanReversionZScore


def time_backtesting_py(frame: pd.DataFrame, repeat: int) -> tuple[float, int]:
    """Returns the median seconds of one backtesting.py run and its trade count."""
    from backtesting import Backtest

    strategy = backtesting_py_strategy()
    samples, trades = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            test = Backtest(
                frame, strategy, cash=100_000, commission=0.00003, margin=0.02, finalize_trades=True
            )
            start = time.perf_counter()
            stats = test.run()
            samples.append(time.perf_counter() - start)
            trades = int(stats["# Trades"])
    return statistics.median(samples), trades


def time_omega(dataset: Dataset, repeat: int) -> tuple[float, int]:
    """Returns the median seconds of one warm Omega V2 run and its trade count."""
    config = dataset.config()
    config["strategy"]["params"].update(PARAMS, htf_filter="none", max_spread_pips=None)
    text = json.dumps(config)
    trades = json.loads(omega_bt.run_backtest(text))["metrics"]["trades"]
    samples = []
    for _ in range(max(repeat, 20)):
        start = time.perf_counter()
        omega_bt.run_backtest(text)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), trades


def compare(repeat: int) -> list[dict[str, Any]]:
    """Runs both engines on the fixture and the 100k set; returns the table rows."""
    rows = []
    for dataset in (FIXTURE, HUNDRED_K):
        frame = mid_frame(dataset.folder())
        bpy_s, bpy_trades = time_backtesting_py(frame, repeat)
        omega_s, omega_trades = time_omega(dataset, repeat)
        rows.append(
            {
                "bars": len(frame),
                "backtesting_py_ms": round(bpy_s * 1e3, 1),
                "omega_ms": round(omega_s * 1e3, 3),
                "ratio": round(bpy_s / omega_s, 1),
                "backtesting_py_trades": bpy_trades,
                "omega_trades": omega_trades,
            }
        )
    return rows


def main() -> int:
    """Prints the comparison table and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="backtesting.py runs per case")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "compare_backtesting.json")
    args = parser.parse_args()
    rows = compare(args.repeat)
    header = f"{'bars':>8} {'backtesting.py ms':>18} {'omega ms':>9} {'ratio':>8}"
    print(f"{header} {'trades (b.py/omega)':>20}")
    for r in rows:
        print(
            f"{r['bars']:>8} {r['backtesting_py_ms']:>18.1f} {r['omega_ms']:>9.3f} "
            f"{r['ratio']:>7.1f}x {r['backtesting_py_trades']:>9}/{r['omega_trades']}"
        )
    print_checks(
        [
            Check(
                f"at least 300x faster per backtest than backtesting.py ({r['bars']:,} bars)",
                f"{r['ratio']:.0f}x",
                r["ratio"] >= 300,
            )
            for r in rows
        ]
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
