"""Helpers shared by the optimizer tests: paths, the CLI runner, result tables, polling."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from optimizer.ranking import rank_trials
from optimizer.storage import StudyStore, TrialRecord
from optimizer.worker import FAULTS_ENV

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "data"
BASE_CONFIG = REPO / "configs" / "backtest" / "eurusd_m5_mrz.json"

#: The sliced M5 data ends here (two weeks of bars keep one trial in the milliseconds).
SLICE_END_NS = 1_705_276_800_000_000_000  # 2024-01-15T00:00:00Z

#: A search space that every test study starts from.
SEARCH_SPACE: dict[str, Any] = {
    "strategy.params.z_window": {"type": "int", "low": 20, "high": 120, "step": 10},
    "strategy.params.z_entry": {"type": "float", "low": 1.5, "high": 3.0, "step": 0.1},
    "strategy.params.sl_atr": {"type": "float", "low": 0.5, "high": 3.0, "step": 0.25},
    "strategy.params.entry_order": {"type": "categorical", "choices": ["market", "limit", "stop"]},
}


StudyWriter = Callable[..., Path]


def write_sliced_data(folder: Path) -> Path:
    """Writes the first two weeks of the M5 files and the whole D1 files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for side in ("BID", "ASK"):
        table = pq.read_table(FIXTURES / f"EURUSD_M5_{side}.parquet")
        table = table.filter(pc.less(table["timestamp"], SLICE_END_NS))
        pq.write_table(table, folder / f"EURUSD_M5_{side}.parquet")
        shutil.copy(FIXTURES / f"EURUSD_D1_{side}.parquet", folder / f"EURUSD_D1_{side}.parquet")
    return folder


def write_base_config(folder: Path, data: Path) -> Path:
    """Writes ``folder/base.json``: the fixture backtest config reading ``data``, with
    absolute paths; returns its path."""
    config = json.loads(BASE_CONFIG.read_text(encoding="utf-8"))
    config["data"]["dir"] = str(data)
    config["costs"]["symbol_specs"] = str(REPO / "configs" / "symbol_specs.yaml")
    config["costs"]["execution_costs"] = str(REPO / "configs" / "execution_costs.yaml")
    path = folder / "base.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def storage_of(study_file: Path) -> str:
    """Returns the storage URL written in a study file."""
    return str(yaml.safe_load(study_file.read_text(encoding="utf-8"))["storage"])


def result_table(url: str, name: str) -> list[tuple[Any, ...]]:
    """Returns (number, state, params, seed, config_hash, metrics, error, rank) per trial."""
    store = StudyStore(url, must_exist=True)
    try:
        study = store.require_study(name)
        trials = store.trials(study)
        ranks = {r.trial.number: r.rank for r in rank_trials(trials, study.constraints)}
        return [
            (
                t.number,
                t.state,
                json.dumps(t.params, sort_keys=True),
                t.seed,
                t.config_hash,
                json.dumps(t.metrics, sort_keys=True),
                t.error_category,
                ranks.get(t.number),
            )
            for t in trials
        ]
    finally:
        store.close()


def trials_of(url: str, name: str = "test-study") -> dict[int, TrialRecord]:
    """Returns the stored trials of study ``name``, by number."""
    store = StudyStore(url, must_exist=True)
    try:
        return {t.number: t for t in store.trials(store.require_study(name))}
    finally:
        store.close()


def cli_env(**extra: str) -> dict[str, str]:
    """Returns an environment in which ``python -m optimizer`` imports this checkout; the
    test-only fault hook reaches it only when passed in ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.pop(FAULTS_ENV, None)
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m optimizer ARGS`` in a subprocess and returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        cwd=tempfile.gettempdir(),  # never write into the checkout, whatever the defaults
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, **env: str) -> subprocess.Popen[str]:
    """Starts ``python -m optimizer ARGS`` in its own session; returns the process."""
    return subprocess.Popen(
        [sys.executable, "-m", "optimizer", *args],
        cwd=tempfile.gettempdir(),
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def count_states(url: str) -> dict[str, int]:
    """Returns the number of trials per state, read with plain sqlite3 (0 if no table yet)."""
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():
        return {}
    conn = sqlite3.connect(path, timeout=30)
    try:
        rows = conn.execute("SELECT state, count(*) FROM omega_trials GROUP BY state").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    return dict(rows)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls ``predicate`` every 50 ms until it holds; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def marked_processes(marker: str) -> list[int]:
    """Returns the live (non-zombie) processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def marker_env(marker: str) -> dict[str, str]:
    """Returns the marker as a keyword environment entry."""
    key, value = marker.split("=", 1)
    return {key: value}
