"""End-to-end benchmark of one ``run_backtest`` call from Python.

Measures the median wall time of a metrics-only backtest on 10k, 18.7k (the bundled
fixtures), 100k and 1M EURUSD M5 bars, with the Parquet cache warm (the normal case in a
sweep worker) and cold (a fresh process that decodes the files), and the peak RSS of a
fresh process that runs it. Prints a table and writes JSON. From the repository root:

    python benchmarks/bench_engine.py [--repeat 30] [--json out/bench_engine.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from datasets import ALL
from targets import Check, print_checks

import omega_bt

ROOT = Path(__file__).resolve().parents[1]


def warm_median_ms(config_json: str, repeat: int) -> tuple[float, int]:
    """Returns the median wall time (ms) of warm calls and the bar count."""
    result = json.loads(omega_bt.run_backtest(config_json))
    assert result["ok"], result
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        omega_bt.run_backtest(config_json)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), int(result["meta"]["bars"])


_COLD_SNIPPET = """
import json, resource, sys, time
import omega_bt
config = sys.stdin.read()
start = time.perf_counter()
omega_bt.run_backtest(config)
elapsed = (time.perf_counter() - start) * 1e3
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": elapsed, "rss_mb": rss_mb}))
"""


def cold_run(config_json: str, repeat: int) -> tuple[float, float]:
    """Returns the median cold call time (ms) and the max peak RSS (MB) over fresh processes."""
    times, rss = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _COLD_SNIPPET],
            input=config_json,
            capture_output=True,
            text=True,
            check=True,
        )
        sample = json.loads(out.stdout)
        times.append(sample["ms"])
        rss.append(sample["rss_mb"])
    return statistics.median(times), max(rss)


def engine_checks(rows: list[dict[str, Any]]) -> list[Check]:
    """Returns the engine targets of issue 4 against the measured rows."""
    by_case = {r["case"].split()[0]: r for r in rows}
    ten_k, one_m = by_case["10k"], by_case["1m"]
    return [
        Check(
            "one 10k-bar backtest from Python <= 1 ms (data cached)",
            f"{ten_k['warm_median_ms']:.2f} ms",
            ten_k["warm_median_ms"] <= 1.0,
        ),
        Check(
            "<= 50 ns per bar at 1M bars (data cached)",
            f"{one_m['ns_per_bar_warm']:.1f} ns",
            one_m["ns_per_bar_warm"] <= 50.0,
        ),
        Check(
            "peak RSS <= 150 MB for 1M bars (fresh process)",
            f"{one_m['peak_rss_mb']:.0f} MB",
            one_m["peak_rss_mb"] <= 150.0,
        ),
    ]


def main() -> int:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="warm calls per case")
    parser.add_argument("--cold-repeat", type=int, default=5, help="fresh processes per case")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench_engine.json")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for dataset in ALL:
        config_json = dataset.config_json()
        label = f"{dataset.name} M5 bars"
        repeat = args.repeat if dataset.name != "1m" else max(10, args.repeat // 2)
        warm_ms, bars = warm_median_ms(config_json, repeat)
        cold_ms, rss_mb = cold_run(config_json, args.cold_repeat)
        rows.append(
            {
                "case": label,
                "bars": bars,
                "warm_median_ms": round(warm_ms, 3),
                "ns_per_bar_warm": round(warm_ms * 1e6 / bars, 1),
                "cold_median_ms": round(cold_ms, 3),
                "peak_rss_mb": round(rss_mb, 1),
            }
        )
    header = f"{'case':<14} {'bars':>7} {'warm ms':>9} {'ns/bar':>7} {'cold ms':>9} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<14} {r['bars']:>7} {r['warm_median_ms']:>9.3f}"
            f" {r['ns_per_bar_warm']:>7.1f} {r['cold_median_ms']:>9.3f} {r['peak_rss_mb']:>8.1f}"
        )
    print_checks(engine_checks(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {"engine_version": omega_bt.__engine_version__, "rows": rows}
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
