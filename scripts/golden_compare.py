"""Compares a fixture run's artifacts with the committed golden files (ENGINE §7, §8, §10).

The golden test (``tests/test_golden.py``) demands byte-identical files. This script is
the contract-level check that the nightly and release jobs run: two numbers are equal
when they differ by less than half a unit of the last decimal the contract writes for
that field, so a one-tick change of a price, one cent of money or 0.0001 of a ratio is
reported, while float noise below the output rounding is not.

    python scripts/golden_compare.py                      # run the fixture, then compare
    python scripts/golden_compare.py --out out/ci/golden  # the same, keeping the run
    python scripts/golden_compare.py --produced out/run   # compare an existing run

Exit status: 0 when the artifacts match, 1 when they differ (each difference is printed
with its path), 2 when an artifact is missing or unreadable.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "golden" / "eurusd_m5_mrz"
ARTIFACTS = ("trades.json", "equity.csv", "metrics.json", "meta.json")

# ENGINE §7 and §10: money and lots 2 decimals, percentages 2, ratios 4; prices carry
# the tick's decimals (resolved per run from the symbol spec, see `tick_decimals`).
MONEY = 2
PERCENT = 2
RATIO = 4
PRICE = "tick"

TRADE_FIELDS: dict[str, int | str] = {
    "entry_price": PRICE,
    "exit_price": PRICE,
    "sl": PRICE,
    "tp": PRICE,
    "lots": MONEY,
    "pnl_gross": MONEY,
    "fees": MONEY,
    "result": MONEY,
    "r_multiple": RATIO,
}
METRIC_FIELDS: dict[str, int | str] = {
    "profit_gross": MONEY,
    "fees_total": MONEY,
    "profit_net": MONEY,
    "max_drawdown": MONEY,
    "total_lots": MONEY,
    "max_drawdown_pct": PERCENT,
    "max_drawdown_initial_pct": PERCENT,
    "winrate": RATIO,
    "avg_r_multiple": RATIO,
    "profit_factor": RATIO,
    "sharpe": RATIO,
    "score": RATIO,
}
EQUITY_FIELDS: dict[str, int | str] = {"balance": MONEY, "equity": MONEY}


@dataclass(frozen=True)
class Difference:
    """One place where the produced artifacts and the golden files disagree."""

    path: str
    produced: object
    golden: object
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.path}: produced {self.produced!r}, golden {self.golden!r}{note}"


def tolerance(decimals: int) -> float:
    """Returns half a unit of the last decimal: the largest difference rounding hides."""
    return 0.5 * 10.0**-decimals


def tick_decimals(tick_size: float) -> int:
    """Returns the number of decimals a price on the tick grid carries (0.00001 -> 5)."""
    exponent = Decimal(repr(tick_size)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def resolve_tick_size(golden_dir: Path, root: Path = ROOT) -> float:
    """Reads the symbol's tick size from the symbol specs named in the golden meta.json."""
    meta = json.loads((golden_dir / "meta.json").read_text(encoding="utf-8"))
    config = meta["resolved_config"]
    specs_path = root / config["costs"]["symbol_specs"]
    specs = yaml.safe_load(specs_path.read_text(encoding="utf-8"))
    return float(specs[config["symbol"]]["tick_size"])


def _numbers_differ(produced: float, golden: float, decimals: int) -> str | None:
    if math.isnan(produced) or math.isnan(golden):
        return None if math.isnan(produced) and math.isnan(golden) else "NaN"
    diff = abs(produced - golden)
    limit = tolerance(decimals)
    if diff < limit:
        return None
    return f"differs by {diff:.3g}, tolerance < {limit:g} ({decimals} decimals)"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare_values(
    produced: Any, golden: Any, path: str, fields: dict[str, int | str], price_decimals: int
) -> Iterator[Difference]:
    """Yields the differences between two JSON values; `fields` maps keys to decimals."""
    if isinstance(golden, dict) and isinstance(produced, dict):
        for key in sorted(golden.keys() | produced.keys()):
            sub = f"{path}.{key}"
            if key not in produced:
                yield Difference(sub, "<missing>", golden[key])
            elif key not in golden:
                yield Difference(sub, produced[key], "<missing>")
            else:
                decimals = fields.get(key)
                if decimals is not None and _is_number(produced[key]) and _is_number(golden[key]):
                    places = price_decimals if decimals == PRICE else int(decimals)
                    note = _numbers_differ(float(produced[key]), float(golden[key]), places)
                    if note:
                        yield Difference(sub, produced[key], golden[key], note)
                else:
                    yield from compare_values(
                        produced[key], golden[key], sub, fields, price_decimals
                    )
    elif isinstance(golden, list) and isinstance(produced, list):
        if len(produced) != len(golden):
            yield Difference(f"{path}.length", len(produced), len(golden))
        for index, (left, right) in enumerate(zip(produced, golden, strict=False)):
            yield from compare_values(left, right, f"{path}[{index}]", fields, price_decimals)
    elif produced != golden or type(produced) is not type(golden):
        yield Difference(path, produced, golden)


def compare_equity(produced: str, golden: str, path: str = "equity.csv") -> Iterator[Difference]:
    """Yields the differences between two equity.csv texts (money to the cent)."""
    produced_rows = list(csv.reader(io.StringIO(produced)))
    golden_rows = list(csv.reader(io.StringIO(golden)))
    if not produced_rows or not golden_rows or produced_rows[0] != golden_rows[0]:
        yield Difference(f"{path}:header", produced_rows[:1], golden_rows[:1])
        return
    header = golden_rows[0]
    if len(produced_rows) != len(golden_rows):
        yield Difference(f"{path}.rows", len(produced_rows) - 1, len(golden_rows) - 1)
    for line, (left, right) in enumerate(zip(produced_rows, golden_rows, strict=False)):
        if line == 0:
            continue
        if len(left) != len(header) or len(right) != len(header):
            yield Difference(f"{path}:{line + 1}", left, right, "column count")
            continue
        for name, a, b in zip(header, left, right, strict=True):
            decimals = EQUITY_FIELDS.get(name)
            where = f"{path}:{line + 1}.{name}"
            if decimals is None:
                if a != b:
                    yield Difference(where, a, b)
                continue
            try:
                note = _numbers_differ(float(a), float(b), int(decimals))
            except ValueError:
                note = None if a == b else "not a number"
            if note:
                yield Difference(where, a, b, note)


def compare_dirs(
    produced_dir: Path, golden_dir: Path = GOLDEN_DIR, tick_size: float | None = None
) -> list[Difference]:
    """Returns every contract-level difference between two artifact directories."""
    size = tick_size if tick_size is not None else resolve_tick_size(golden_dir)
    price_decimals = tick_decimals(size)
    differences: list[Difference] = []
    for name in ARTIFACTS:
        produced = (produced_dir / name).read_text(encoding="utf-8")
        golden = (golden_dir / name).read_text(encoding="utf-8")
        if name == "equity.csv":
            differences.extend(compare_equity(produced, golden))
            continue
        fields = {"trades.json": TRADE_FIELDS, "metrics.json": METRIC_FIELDS}.get(name, {})
        differences.extend(
            compare_values(json.loads(produced), json.loads(golden), name, fields, price_decimals)
        )
    return differences


def run_fixture(out_dir: Path) -> None:
    """Runs the golden fixture config into `out_dir` (needs the built engine)."""
    # The packages from the checkout (an editable install finds them anyway) and the
    # golden helper from tests/, which owns the fixture config.
    for path in (ROOT / "tests", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from golden.update_golden import run_into

    result = run_into(out_dir)
    if not result["ok"]:
        raise SystemExit(f"fixture run failed: {result['error']}")


def main(argv: list[str] | None = None) -> int:
    """Parses the arguments, compares, prints the differences and returns the status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--produced", type=Path, help="artifacts to check (default: run now)")
    source.add_argument("--out", type=Path, help="run the fixture into this directory, keep it")
    parser.add_argument("--golden", type=Path, default=GOLDEN_DIR, help="golden directory")
    parser.add_argument("--tick-size", type=float, help="override the symbol's tick size")
    parser.add_argument("--max-report", type=int, default=20, help="differences to print")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="omega-golden-") as scratch:
        produced_dir = args.produced
        if produced_dir is None:
            produced_dir = args.out or Path(scratch) / "run"
            run_fixture(produced_dir)
        try:
            differences = compare_dirs(produced_dir, args.golden, args.tick_size)
        except (OSError, ValueError, KeyError) as exc:
            print(f"golden compare: cannot read artifacts: {exc}", file=sys.stderr)
            return 2

    if not differences:
        print(f"golden compare: {len(ARTIFACTS)} artifacts match {args.golden} (contract rounding)")
        return 0
    print(f"golden compare: {len(differences)} difference(s) against {args.golden}:")
    for difference in differences[: args.max_report]:
        print(f"  {difference}")
    if len(differences) > args.max_report:
        print(f"  ... and {len(differences) - args.max_report} more")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
