"""Fixtures shared by the optimizer and scale-out tests: a small sliced copy of the EURUSD
fixtures, a base config that reads it, a study-file writer and a process marker.

Both conftest.py files import them; pytest registers imported fixtures like its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opt_support import (
    SEARCH_SPACE,
    StudyWriter,
    marked_processes,
    write_base_config,
    write_sliced_data,
)

__all__ = ["base_config", "marker", "small_data", "write_study"]


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a folder with a two-week slice of the M5 files and the full D1 files."""
    return write_sliced_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def base_config(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a base config file that reads the small data (absolute paths)."""
    return write_base_config(tmp_path_factory.mktemp("configs"), small_data)


@pytest.fixture
def marker() -> Iterator[str]:
    """Returns a unique environment marker; kills leftover marked processes at the end."""
    value = f"OMEGA_TEST_MARK={uuid.uuid4().hex}"
    yield value
    for pid in marked_processes(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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
