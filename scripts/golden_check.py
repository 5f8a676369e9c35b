"""Verifies the golden manifest: checksums, engine version and age.

``tests/golden/MANIFEST.json`` records the SHA-256 of every golden file, the engine
version that produced them (``omega_bt.__engine_version__``) and ``last_updated``, the
ISO date of the last regeneration. ``tests/golden/update_golden.py`` rewrites it.

    python scripts/golden_check.py                  # checksums, versions, age <= 90 days
    python scripts/golden_check.py --skip-age       # the same without the age limit

The age limit makes someone look at the golden files at least once a quarter: the
nightly job fails when the manifest is older than ``--max-age-days`` (default 90).
Exit status: 0 when everything holds, 1 otherwise (each problem is printed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_ROOT = ROOT / "tests" / "golden"
MANIFEST = GOLDEN_ROOT / "MANIFEST.json"
# The files the manifest covers: every run directory under tests/golden/.
ARTIFACT_SUFFIXES = (".json", ".csv")
MAX_AGE_DAYS = 90


def sha256_of(path: Path) -> str:
    """Returns the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def golden_files(golden_root: Path = GOLDEN_ROOT) -> list[Path]:
    """Returns the golden artifacts (files inside run directories), sorted."""
    return sorted(
        path
        for path in golden_root.glob("*/*")
        if path.is_file() and path.suffix in ARTIFACT_SUFFIXES
    )


def build_manifest(
    engine_version: str, today: dt.date, golden_root: Path = GOLDEN_ROOT
) -> dict[str, Any]:
    """Returns the manifest for the golden files as they are on disk now."""
    return {
        "engine_version": engine_version,
        "files": {
            path.relative_to(golden_root).as_posix(): sha256_of(path)
            for path in golden_files(golden_root)
        },
        "last_updated": today.isoformat(),
    }


def write_manifest(manifest: dict[str, Any], path: Path = MANIFEST) -> None:
    """Writes the manifest as sorted, indented JSON with a final newline."""
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def installed_engine_version() -> str | None:
    """Returns ``omega_bt.__engine_version__``, or None when the engine is not built."""
    try:
        import omega_bt
    except ImportError:
        return None
    return str(omega_bt.__engine_version__)


def check_manifest(
    golden_root: Path = GOLDEN_ROOT,
    today: dt.date | None = None,
    max_age_days: int | None = MAX_AGE_DAYS,
    engine_version: str | None = None,
) -> list[str]:
    """Returns the problems found; an empty list means the manifest holds."""
    manifest_path = golden_root / "MANIFEST.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{manifest_path}: cannot read the manifest: {exc}"]

    problems: list[str] = []
    recorded: dict[str, str] = manifest.get("files", {})
    on_disk = {path.relative_to(golden_root).as_posix(): path for path in golden_files(golden_root)}
    for name in sorted(recorded.keys() - on_disk.keys()):
        problems.append(f"{name}: listed in MANIFEST.json but missing on disk")
    for name in sorted(on_disk.keys() - recorded.keys()):
        problems.append(f"{name}: golden file not listed in MANIFEST.json")
    for name in sorted(recorded.keys() & on_disk.keys()):
        actual = sha256_of(on_disk[name])
        if actual != recorded[name]:
            problems.append(f"{name}: sha256 {actual} != manifest {recorded[name]}")

    version = manifest.get("engine_version")
    for meta_name in sorted(name for name in on_disk if name.endswith("/meta.json")):
        meta_version = json.loads(on_disk[meta_name].read_text(encoding="utf-8")).get(
            "engine_version"
        )
        if meta_version != version:
            problems.append(f"{meta_name}: engine_version {meta_version!r} != manifest {version!r}")
    if engine_version is not None and engine_version != version:
        problems.append(
            f"engine_version: built engine is {engine_version!r}, golden files are from "
            f"{version!r}; regenerate them with tests/golden/update_golden.py"
        )

    try:
        updated = dt.date.fromisoformat(str(manifest.get("last_updated")))
    except ValueError:
        problems.append(f"last_updated: expected an ISO date, got {manifest.get('last_updated')!r}")
        return problems
    today = today or dt.datetime.now(dt.UTC).date()
    age = (today - updated).days
    if age < 0:
        problems.append(f"last_updated: {updated} lies in the future (today is {today})")
    elif max_age_days is not None and age > max_age_days:
        problems.append(
            f"last_updated: {updated} is {age} days old (limit {max_age_days}); review the "
            "golden files and rerun tests/golden/update_golden.py"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Parses the arguments, checks the manifest and prints what it found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden-root", type=Path, default=GOLDEN_ROOT)
    parser.add_argument("--max-age-days", type=int, default=MAX_AGE_DAYS)
    parser.add_argument("--skip-age", action="store_true", help="do not check the age")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="ISO date (tests)")
    args = parser.parse_args(argv)

    problems = check_manifest(
        args.golden_root,
        today=args.today,
        max_age_days=None if args.skip_age else args.max_age_days,
        engine_version=installed_engine_version(),
    )
    if problems:
        print(f"golden check: {len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    count = len(golden_files(args.golden_root))
    print(f"golden check: {count} files match MANIFEST.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
