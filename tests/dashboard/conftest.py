"""Shared fixtures: a real small sweep (with one failed trial), a hostile study, a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dash_support import (
    FAILED_TRIAL,
    Dashboard,
    add_hostile_study,
    dashboard,
    run_cli,
    write_sliced_data,
    write_study,
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a folder with a two-week slice of the EURUSD fixtures."""
    return write_sliced_data(tmp_path_factory.mktemp("dash-data"))


@pytest.fixture(scope="session")
def swept(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[str, Path]:
    """Runs a 20-trial sweep (trial 5 fails on purpose) through the CLI and adds the hostile
    study; returns (storage URL, folder)."""
    folder = tmp_path_factory.mktemp("dash-sweep")
    study = write_study(folder, data_dir)
    url = f"sqlite:///{folder / 'omega.db'}"
    result = run_cli(
        "sweep", str(study), "--storage", url, OMEGA_OPTIMIZER_FAULTS=f"{FAILED_TRIAL}:raise"
    )
    assert result.returncode == 0, result.stderr
    add_hostile_study(url)
    return url, folder


@pytest.fixture(scope="session")
def server(swept: tuple[str, Path]) -> Iterator[Dashboard]:
    """Returns a running dashboard over the swept storage."""
    url, folder = swept
    with dashboard(url, folder) as running:
        yield running
