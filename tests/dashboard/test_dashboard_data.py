"""The dashboard's reads against a sweep that is writing: incremental snapshots stay exact."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dash_support import cli_env, write_study

from optimizer.dashboard._data import DashboardData
from optimizer.ranking import rank_trials
from optimizer.storage import StudyStore
from optimizer.storage._readonly import make_readonly_engine, readonly_url

pytestmark = pytest.mark.integration


def test_snapshots_follow_a_running_sweep_exactly(data_dir: Path, tmp_path: Path) -> None:
    study = write_study(tmp_path, data_dir, name="data-study", n_trials=24)
    db = tmp_path / "data.db"
    db.touch()
    url = f"sqlite:///{db}"
    data = DashboardData(make_readonly_engine(readonly_url(url)))
    seen_running = False
    versions = set()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "optimizer", "sweep", str(study), "--storage", url],
            cwd=tmp_path,
            env=cli_env(OMEGA_OPTIMIZER_FAULTS="*:sleep=0.1,7:raise"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as sweep:
            deadline = time.monotonic() + 120
            while sweep.poll() is None and time.monotonic() < deadline:
                status = data.status("data-study")
                if status is not None:
                    snapshot = data.snapshot(status)  # incremental after the first
                    versions.add(snapshot.version)
                    seen_running = seen_running or status.running
                    assert [t.number for t in snapshot.trials] == list(range(len(snapshot.trials)))
                time.sleep(0.05)
            assert sweep.wait(timeout=60) == 0
        status = data.status("data-study")
        assert status is not None
        final = data.snapshot(status)
    finally:
        data.close()

    assert seen_running
    assert len(versions) > 3  # the snapshots really followed the sweep
    store = StudyStore(url, must_exist=True)
    try:
        record = store.require_study("data-study")
        stored = store.trials(record)
    finally:
        store.close()
    assert [(t.number, t.state, t.metrics, t.config_hash) for t in final.trials] == [
        (t.number, t.state, t.metrics, t.config_hash) for t in stored
    ]
    expected = [r.trial.number for r in rank_trials(stored, record.constraints)]
    assert [r.trial.number for r in final.ranked] == expected
    assert final.trials[7].state == "FAIL"
    assert status.phase == "finished"
