"""Regenerates the golden artifacts of the fixture run.

Run from the repository root after an intended change of engine behaviour:

    python tests/golden/update_golden.py

and review the diff of ``tests/golden/eurusd_m5_mrz/`` before committing it. Each run
also rewrites ``tests/golden/MANIFEST.json`` (SHA-256 of every golden file, the engine
version and today's date), which ``scripts/golden_check.py`` verifies; after a review
that changed nothing, ``--manifest-only`` renews the manifest without rerunning.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import bt
import omega_bt

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = ROOT / "tests" / "golden" / "eurusd_m5_mrz"
CONFIG = ROOT / "configs" / "backtest" / "eurusd_m5_mrz.json"
GOLDEN_CHECK = ROOT / "scripts" / "golden_check.py"


def golden_config() -> dict[str, Any]:
    """Returns the fixture config with paths relative to the repository root.

    Relative paths keep ``meta.json`` (and so ``config_hash``) independent of where the
    checkout lives; the run must happen with the repository root as working directory.
    """
    config: dict[str, Any] = json.loads(CONFIG.read_text(encoding="utf-8"))
    config["data"]["dir"] = "fixtures/data"
    config["costs"] = {
        "symbol_specs": "configs/symbol_specs.yaml",
        "execution_costs": "configs/execution_costs.yaml",
    }
    return config


def run_into(out_dir: Path) -> dict[str, Any]:
    """Runs the golden config from the repository root, writing artifacts to ``out_dir``."""
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        return bt.run_backtest(golden_config(), out_dir=out_dir)
    finally:
        os.chdir(previous)


def _golden_check() -> ModuleType:
    """Loads ``scripts/golden_check.py``, which owns the manifest format."""
    spec = importlib.util.spec_from_file_location("golden_check", GOLDEN_CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def update_manifest(today: dt.date | None = None) -> Path:
    """Rewrites ``tests/golden/MANIFEST.json`` for the golden files on disk."""
    check = _golden_check()
    manifest = check.build_manifest(
        omega_bt.__engine_version__, today or dt.datetime.now(dt.UTC).date()
    )
    check.write_manifest(manifest)
    return Path(check.MANIFEST)


def main(argv: list[str] | None = None) -> int:
    """Writes the golden artifacts and the manifest, and prints the headline."""
    parser = argparse.ArgumentParser(description="Regenerates the golden artifacts.")
    parser.add_argument(
        "--manifest-only",
        action="store_true",
        help="only rewrite MANIFEST.json (checksums, engine version, today's date)",
    )
    args = parser.parse_args(argv)
    if not args.manifest_only:
        result = run_into(GOLDEN_DIR)
        if not result["ok"]:
            print(result["error"], file=sys.stderr)
            return 1
        print(f"wrote {GOLDEN_DIR} ({result['metrics']['trades']} trades)")
    print(f"wrote {update_manifest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
