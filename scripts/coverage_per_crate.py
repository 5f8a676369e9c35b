"""Line coverage per Rust crate from a cargo-tarpaulin JSON report, with a floor.

``make coverage-rust`` runs ``cargo tarpaulin --workspace --out Json`` and then this
script, which sums tarpaulin's per-file ``covered``/``coverable`` counts by crate
(``rust_core/crates/<crate>/...``) and fails when any crate is under ``--min`` percent.

    python3 scripts/coverage_per_crate.py out/ci/tarpaulin-report.json --min 80

A crate can be held to a lower floor only by name and with a reason, so the exception
shows in the table: ``--floor ffi=0:"exercised from Python, see docs/ci.md"``.
Exit status: 0 when every crate meets its floor, 1 otherwise, 2 on an unreadable report.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

CRATES_DIR = ("rust_core", "crates")


@dataclass
class CrateCoverage:
    """Covered and coverable line counts of one crate."""

    name: str
    covered: int = 0
    coverable: int = 0

    @property
    def percent(self) -> float:
        """Returns the line coverage in percent (100 for a crate with nothing to cover)."""
        return 100.0 * self.covered / self.coverable if self.coverable else 100.0


def _parts(path: Any) -> tuple[str, ...]:
    if isinstance(path, list):
        return tuple(str(part) for part in path if part not in ("/", ""))
    return PurePosixPath(str(path).replace("\\", "/")).parts


def crate_of(path: Any) -> str | None:
    """Returns the crate folder name of a source path, or None outside rust_core/crates."""
    parts = _parts(path)
    for index in range(len(parts) - 2):
        if parts[index : index + 2] == CRATES_DIR:
            return parts[index + 2]
    return None


def per_crate(report: dict[str, Any]) -> dict[str, CrateCoverage]:
    """Sums a tarpaulin JSON report's file counts by crate."""
    crates: dict[str, CrateCoverage] = {}
    for entry in report.get("files", []):
        name = crate_of(entry.get("path"))
        if name is None:
            continue
        crate = crates.setdefault(name, CrateCoverage(name))
        crate.covered += int(entry.get("covered", 0))
        crate.coverable += int(entry.get("coverable", 0))
    return dict(sorted(crates.items()))


def _floor(text: str) -> tuple[str, float, str]:
    name, _, rest = text.partition("=")
    value, _, reason = rest.partition(":")
    if not name or not value or not reason:
        raise argparse.ArgumentTypeError(f"expected CRATE=PERCENT:REASON, got {text!r}")
    return name, float(value), reason


def main(argv: list[str] | None = None) -> int:
    """Prints the per-crate table and returns 1 when a crate is under its floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="tarpaulin-report.json")
    parser.add_argument("--min", type=float, default=80.0, help="floor for every crate (%%)")
    parser.add_argument("--floor", type=_floor, action="append", default=[], metavar="C=P:WHY")
    parser.add_argument("--expect", nargs="*", default=[], help="crates that must be present")
    args = parser.parse_args(argv)

    try:
        with open(args.report, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"coverage: cannot read {args.report}: {exc}", file=sys.stderr)
        return 2
    crates = per_crate(report)
    floors = {name: (value, reason) for name, value, reason in args.floor}
    failed = [name for name in args.expect if name not in crates]

    print(f"{'crate':<12} {'covered':>8} {'lines':>8} {'percent':>8}  floor")
    for crate in crates.values():
        floor, reason = floors.get(crate.name, (args.min, ""))
        ok = crate.percent + 1e-9 >= floor
        if not ok:
            failed.append(crate.name)
        note = f"  ({reason})" if reason else ""
        flag = "" if ok else "  FAIL"
        print(
            f"{crate.name:<12} {crate.covered:>8} {crate.coverable:>8} "
            f"{crate.percent:>7.1f}%  {floor:.0f}%{note}{flag}"
        )
    total_covered = sum(c.covered for c in crates.values())
    total_lines = sum(c.coverable for c in crates.values())
    total = 100.0 * total_covered / total_lines if total_lines else 100.0
    print(f"{'total':<12} {total_covered:>8} {total_lines:>8} {total:>7.1f}%")
    if failed:
        print(f"coverage: under the floor or missing: {', '.join(sorted(set(failed)))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
