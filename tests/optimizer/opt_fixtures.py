"""Fixtures shared by the optimizer and scale-out tests: a small sliced copy of the EURUSD
fixtures, a base config that reads it, and a study-file writer.

Both conftest.py files import them; pytest registers imported fixtures like its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from opt_support import BASE_CONFIG, FIXTURES, REPO, SEARCH_SPACE, SLICE_END_NS, StudyWriter

__all__ = ["base_config", "small_data", "write_study"]


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a folder with a two-week slice of the M5 files and the full D1 files."""
    folder = tmp_path_factory.mktemp("data")
    for side in ("BID", "ASK"):
        table = pq.read_table(FIXTURES / f"EURUSD_M5_{side}.parquet")
        table = table.filter(pc.less(table["timestamp"], SLICE_END_NS))
        pq.write_table(table, folder / f"EURUSD_M5_{side}.parquet")
        shutil.copy(FIXTURES / f"EURUSD_D1_{side}.parquet", folder / f"EURUSD_D1_{side}.parquet")
    return folder


@pytest.fixture(scope="session")
def base_config(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a base config file that reads the small data (absolute paths)."""
    config = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    config["data"]["dir"] = str(small_data)
    config["costs"]["symbol_specs"] = str(REPO / "configs" / "symbol_specs.yaml")
    config["costs"]["execution_costs"] = str(REPO / "configs" / "execution_costs.yaml")
    path = tmp_path_factory.mktemp("configs") / "base.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def write_study(tmp_path: Path, base_config: Path) -> StudyWriter:
    """Returns a function that writes a study file into tmp_path and returns its path.

    Keyword arguments override the defaults; a value of ``None`` removes the key.
    """

    def write(filename: str = "study.yaml", **overrides: Any) -> Path:
        data: dict[str, Any] = {
            "name": "test-study",
            "storage": f"sqlite:///{tmp_path / 'omega.db'}",
            "run_mode": "dev",
            "seed": 11,
            "base_config": str(base_config),
            "sampler": {"name": "tpe", "n_startup_trials": 6},
            "n_trials": 24,
            "workers": 2,
            "batch_size": 4,
            "objective": "score",
            "direction": "maximize",
            "constraints": {"min_trades": 3},
            "trial_timeout_s": 60,
            "search_space": SEARCH_SPACE,
        }
        for key, value in overrides.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
