"""Regenerates the golden artifacts of the fixture run.

Run from the repository root after an intended change of engine behaviour:

    python tests/golden/update_golden.py

and review the diff of ``tests/golden/eurusd_m5_mrz/`` before committing it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import bt

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = ROOT / "tests" / "golden" / "eurusd_m5_mrz"
CONFIG = ROOT / "configs" / "backtest" / "eurusd_m5_mrz.json"


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


def main() -> int:
    """Writes the golden artifacts and prints the headline."""
    result = run_into(GOLDEN_DIR)
    if not result["ok"]:
        print(result["error"], file=sys.stderr)
        return 1
    print(f"wrote {GOLDEN_DIR} ({result['metrics']['trades']} trades)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
