"""Benchmark datasets: the bundled fixtures and larger generated EURUSD M5 sets.

Larger sets are generated once with ``fixtures/generate.py`` (deterministic) into
``out/bench-data/<name>`` and reused by later runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bt

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "backtest" / "eurusd_m5_mrz.json"
CACHE = ROOT / "out" / "bench-data"


@dataclass(frozen=True)
class Dataset:
    """A named EURUSD M5 dataset: a data folder and an optional end of range."""

    name: str
    bars_hint: str
    generate: tuple[str, str] | None  # (start, end) days for fixtures/generate.py
    end: str | None = None

    def folder(self) -> Path:
        """Returns the data folder, generating it first when needed."""
        if self.generate is None:
            return ROOT / "fixtures" / "data"
        folder = CACHE / self.name
        if not (folder / "EURUSD_M5_ASK.parquet").exists():
            start, end = self.generate
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "fixtures" / "generate.py"),
                    "--out",
                    str(folder),
                    "--start",
                    start,
                    "--end",
                    end,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        return folder

    def config(self, **overrides: Any) -> dict[str, Any]:
        """Returns the fixture backtest config on this dataset, metrics only."""
        config = bt.load_config(CONFIG)
        config["data"]["dir"] = str(self.folder())
        config["data"]["start"] = None
        config["data"]["end"] = self.end
        config["output"] = {"trades": False, "equity": False}
        config.update(overrides)
        return config

    def config_json(self, **overrides: Any) -> str:
        """Returns :meth:`config` as JSON text."""
        return json.dumps(self.config(**overrides))


#: 10,000 bars of the fixtures: bar 10,000 (0-based) opens on 2024-02-16 17:20 UTC.
TEN_K = Dataset("10k", "10,000", None, end="2024-02-16T17:20:00Z")
#: The whole committed fixture set (18,732 bars).
FIXTURE = Dataset("fixture", "18,732", None)
#: About 106,000 bars (17 months).
HUNDRED_K = Dataset("100k", "106,020", ("2022-01-01", "2023-05-31"))
#: About 1,000,000 bars (13 years).
ONE_M = Dataset("1m", "1,001,100", ("2010-01-01", "2023-04-30"))

ALL = (TEN_K, FIXTURE, HUNDRED_K, ONE_M)
