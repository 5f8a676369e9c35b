"""OPTIMIZER §5 failures, with real crashes: the failed trial is recorded, the sweep goes on.

Faults are injected through the documented test-only hook ``OMEGA_OPTIMIZER_FAULTS``;
the driver, the worker processes, loky and SQLite are all real.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import wait
from pathlib import Path

import pytest
from opt_support import (
    StudyWriter,
    marked_processes,
    marker_env,
    result_table,
    run_cli,
    storage_of,
    trials_of,
)

from optimizer import driver
from optimizer.driver import run_sweep
from optimizer.pool import LokyPool
from optimizer.progress import LineProgress
from optimizer.study_file import load_study_file
from optimizer.worker import FAULTS_ENV, TrialOutcome, TrialTask

pytestmark = pytest.mark.integration


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_trials", "batch_size", "round_s", "faulty_trials"),
    [
        (16, 8, driver.ROUND_S, (1, 4, 9, 12)),
        # Rounds [0], [1], [2..9] of 4-trial batches: three deaths in one 32-trial round.
        (40, 4, 1e9, (1, 13, 22, 30)),
    ],
    ids=["batches", "rounds"],
)
def test_crashing_workers_fail_only_their_trial(
    write_study: StudyWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    n_trials: int,
    batch_size: int,
    round_s: float,
    faulty_trials: tuple[int, int, int, int],
) -> None:
    # The random sampler does not learn from results, so every trial that did not crash
    # must equal the same trial of a clean run, including the innocent ones that loky
    # failed when their neighbour's worker died.
    monkeypatch.setattr(driver, "ROUND_S", round_s)
    study = write_study(
        sampler={"name": "random"}, n_trials=n_trials, batch_size=batch_size, workers=2
    )
    clean, faulty = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'faulty.db'}"
    spec = load_study_file(study)
    run_sweep(spec, storage_url=clean, progress=LineProgress(io.StringIO()))
    exits, kills, segv, raises = faulty_trials
    monkeypatch.setenv(FAULTS_ENV, f"{exits}:exit,{kills}:kill,{segv}:segv,{raises}:raise")
    report = run_sweep(spec, storage_url=faulty, progress=LineProgress(io.StringIO()))
    assert report.ran == n_trials and report.failed == 4

    got = trials_of(faulty)
    messages = {n: t.error_message or "" for n, t in got.items()}
    assert got[exits].error_category == "crash" and "worker process died" in messages[exits]
    assert got[kills].error_category == "crash" and "SIGKILL" in messages[kills]
    assert got[segv].error_category == "crash" and "Segmentation fault" in messages[segv]
    assert got[raises].error_category == "exception"
    assert f"injected fault in trial {raises}" in messages[raises]
    for number in faulty_trials:
        assert got[number].state == "FAIL" and got[number].seed and got[number].config
    expected = {row[0]: row for row in result_table(clean, "test-study")}
    for row in result_table(faulty, "test-study"):
        if row[0] not in faulty_trials:
            assert row[:6] == expected[row[0]][:6]


@pytest.mark.slow
def test_a_runaway_trial_is_killed_without_orphans(write_study: StudyWriter, marker: str) -> None:
    path = write_study(n_trials=6, batch_size=3, workers=2, trial_timeout_s=2)
    proc = run_cli("sweep", str(path), **{FAULTS_ENV: "2:hang"}, **marker_env(marker))
    assert proc.returncode == 0, proc.stderr
    got = trials_of(storage_of(path))
    assert got[2].state == "FAIL" and got[2].error_category == "timeout"
    assert "trial_timeout_s=2" in (got[2].error_message or "")
    assert got[2].duration_s is not None and got[2].duration_s >= 1.9  # how long it ran
    assert all(got[n].state == "COMPLETE" for n in (0, 1, 3, 4, 5))
    assert marked_processes(marker) == []


def test_engine_errors_are_recorded(write_study: StudyWriter) -> None:
    # Real engine failures that the check before the sweep cannot see, since each value
    # is fine on its own: a start in 2031 runs into an empty range (a run-time
    # market_data error, {"ok": false}); that start with an end in 2030 is a config
    # error (the end is before the start).
    path = write_study(
        sampler={"name": "grid"},
        n_trials=4,
        batch_size=4,
        search_space={
            "data.start": {
                "type": "categorical",
                "choices": ["2024-01-01T00:00:00Z", "2031-01-01T00:00:00Z"],
            },
            "data.end": {"type": "categorical", "choices": [None, "2030-01-01T00:00:00Z"]},
        },
    )
    url = storage_of(path)
    run_sweep(load_study_file(path), storage_url=url, progress=LineProgress(io.StringIO()))
    by_params = {
        (t.params["data.start"][:4], (t.params["data.end"] or "none")[:4]): t
        for t in trials_of(url).values()
    }
    assert by_params[("2024", "none")].state == "COMPLETE"
    assert by_params[("2024", "2030")].state == "COMPLETE"
    assert by_params[("2031", "2030")].error_category == "config"
    assert "data.end" in (by_params[("2031", "2030")].error_message or "")
    assert by_params[("2031", "none")].state == "FAIL"
    assert by_params[("2031", "none")].error_category == "market_data"
    shown = run_cli("show", str(path), "--failed")
    assert shown.returncode == 0 and "market_data" in shown.stdout
    document = json.loads(run_cli("show", str(path), "--failed", "--format", "json").stdout)
    assert {f["error_category"] for f in document["failed"]} == {"config", "market_data"}
    assert [row["number"] for row in document["leaderboard"]] == [
        row["number"] for row in json.loads(run_cli("show", str(path), "--format", "json").stdout)
    ]
    refused = run_cli("show", str(path), "--failed", "--format", "csv")
    assert refused.returncode == 2 and "--failed: expected --format table or json" in refused.stderr


def test_chunks_that_finish_together_arrive_in_one_call(tmp_path: Path) -> None:
    # The driver stores what arrives while others of a round still run: chunks that
    # finished together are then one transaction, not one each.
    pool = LokyPool(2)
    try:
        tasks = [
            TrialTask(number=n, config={}, timeout_s=None, crash_dir=str(tmp_path))
            for n in range(4)
        ]
        started = pool.start(tasks)
        assert len(started.pending) >= 2
        wait(list(started.pending))
        calls: list[list[TrialOutcome]] = []
        outcomes = pool.finish(started, lambda: False, calls.append)
        assert [sorted(o.number for o in call) for call in calls] == [[0, 1, 2, 3]]
        assert sorted(outcomes) == [0, 1, 2, 3]
        assert {o.error_category for o in outcomes.values()} == {"config"}
    finally:
        pool.close()


def test_a_round_with_no_trial_left_to_run_returns_at_once() -> None:
    # With several drivers, a claimed batch can turn out fully told by another driver
    # (between the scan's reads): the driver then evaluates an empty list of tasks.
    pool = LokyPool(2)
    try:
        assert pool.run([], lambda: False, lambda outcome: None) == {}
    finally:
        pool.close()
