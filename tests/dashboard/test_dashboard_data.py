"""The dashboard's reads against a sweep that is writing: incremental snapshots stay exact."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dash_support import cli_env, write_study

from optimizer.dashboard import _data
from optimizer.dashboard._data import DashboardData
from optimizer.ranking import rank_trials
from optimizer.storage import StudyStore, TrialRecord
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


def test_the_studies_list_ranks_a_study_once_per_change(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More studies than cached snapshots: listing them used to push each other's
    # snapshots out, so every poll read and ranked every trial of every study again.
    monkeypatch.setattr(_data, "_SNAPSHOTS_KEPT", 2)
    url = f"sqlite:///{tmp_path / 'many.db'}"
    for name in ("one", "two", "three"):
        study = write_study(tmp_path, data_dir, name=name, n_trials=2)
        swept = subprocess.run(
            [sys.executable, "-m", "optimizer", "sweep", str(study), "--storage", url],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            check=False,
        )
        assert swept.returncode == 0, swept.stderr
    data = DashboardData(make_readonly_engine(readonly_url(url)))
    loads: list[int] = []
    load = data._load

    def counted(study_id: int, base: _data.Snapshot | None) -> tuple[TrialRecord, ...]:
        loads.append(study_id)
        return load(study_id, base)

    monkeypatch.setattr(data, "_load", counted)
    try:
        leaders = {s.study.name: data.leader(s) for s in data.statuses()}
        assert len(loads) == 3
        assert {s.study.name: data.leader(s) for s in data.statuses()} == leaders
        assert len(loads) == 3  # nothing changed: nothing read or ranked again
        status = data.status("two")
        assert status is not None
        assert leaders["two"] == data.snapshot(status).ranked[0]
    finally:
        data.close()
