"""A killed or interrupted driver: nothing completed is lost, ``--resume`` ends with exactly
the table of an uninterrupted run, and no worker process is left behind."""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from opt_support import (
    StudyWriter,
    count_states,
    marked_processes,
    marker_env,
    result_table,
    run_cli,
    start_cli,
    storage_of,
    wait_until,
)

from optimizer.driver import run_sweep
from optimizer.progress import LineProgress
from optimizer.storage import StudyStore
from optimizer.study_file import load_study_file
from optimizer.worker import FAULTS_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Slows every trial down so that a kill lands in the middle of the sweep.
SLOW = {FAULTS_ENV: "*:sleep=0.25"}


def reference(study: Path, tmp_path: Path, n_trials: int | None = None) -> list[tuple[object, ...]]:
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    spec = load_study_file(study)
    run_sweep(spec, storage_url=url, n_trials=n_trials, progress=LineProgress(io.StringIO()))
    return result_table(url, "test-study")


def test_sigkill_of_the_driver_then_resume(
    write_study: StudyWriter, tmp_path: Path, marker: str
) -> None:
    study = write_study()
    url = storage_of(study)
    proc = start_cli("sweep", str(study), **SLOW, **marker_env(marker))

    def mid_batch() -> bool:
        states = count_states(url)
        return states.get("COMPLETE", 0) >= 9 and states.get("RUNNING", 0) > 0

    wait_until(mid_batch, 120, "9 completed trials and a running batch")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.communicate()
    before = {row[0]: row for row in result_table(url, "test-study") if row[1] == "COMPLETE"}
    wait_until(lambda: marked_processes(marker) == [], 10, "the orphaned workers to exit")
    states = count_states(url)
    assert states.get("RUNNING", 0) > 0 and states.get("COMPLETE", 0) < 24

    resumed = run_cli("sweep", str(study), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = result_table(url, "test-study")
    assert after == reference(study, tmp_path)
    mirrored = optuna.load_study(study_name="test-study", storage=url).trials
    assert [(t.number, t.params) for t in mirrored] == [
        (row[0], json.loads(row[2])) for row in after
    ]
    # Nothing that had completed before the kill changed or was renumbered.
    for number, row in before.items():
        assert after[number][:7] == row[:7]


def test_trials_that_finished_beside_a_slow_one_survive_a_kill(
    write_study: StudyWriter, tmp_path: Path, marker: str
) -> None:
    """Trials 0-6 finish in milliseconds, trial 7 of the same batch takes 60 s: a kill -9
    while it runs keeps 0-6 (stored as they came back), and --resume runs only trial 7."""
    study = write_study(n_trials=8, batch_size=8, workers=2)
    url = storage_of(study)
    slow = {FAULTS_ENV: "7:sleep=60"}
    proc = start_cli("sweep", str(study), **slow, **marker_env(marker))
    wait_until(lambda: count_states(url).get("COMPLETE", 0) == 7, 120, "7 stored trials")
    time.sleep(0.5)  # nothing more is stored while trial 7 runs
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.communicate()
    assert count_states(url) == {"COMPLETE": 7, "RUNNING": 1}
    before = result_table(url, "test-study")
    wait_until(lambda: marked_processes(marker) == [], 10, "the orphaned workers to exit")
    resumed = run_cli("sweep", str(study), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "1 trials run" in resumed.stdout or "1 trial run" in resumed.stdout, resumed.stdout
    after = result_table(url, "test-study")
    assert after == reference(study, tmp_path)
    for row in before[:7]:  # unchanged (ranks aside: trial 7 joins them)
        assert after[row[0]][:7] == row[:7]


def test_a_budget_must_hold_trials_that_finished_above_a_killed_one(
    write_study: StudyWriter, tmp_path: Path, marker: str
) -> None:
    """Trial 3 runs for 60 s while 0-2 and 4-7 finish; after a kill -9, 7 trials are
    finished but a budget of 7 (trials 0-6) would leave trial 7 outside it (ranked, not
    mirrored) and trial 3 running for ever: it is refused."""
    study = write_study(n_trials=8, batch_size=8, workers=2)
    url = storage_of(study)
    proc = start_cli("sweep", str(study), **{FAULTS_ENV: "3:sleep=60"}, **marker_env(marker))
    wait_until(lambda: count_states(url).get("COMPLETE", 0) == 7, 120, "7 stored trials")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.communicate()
    assert count_states(url) == {"COMPLETE": 7, "RUNNING": 1}
    wait_until(lambda: marked_processes(marker) == [], 10, "the orphaned workers to exit")
    lowered = run_cli("sweep", str(study), "--resume", "--trials", "7")
    assert lowered.returncode == 2
    assert lowered.stderr == (
        f"error: --trials 7: expected at least 8 (study 'test-study' in {url} has finished "
        "7 trials already, up to trial 7)\n"
    )
    resumed = run_cli("sweep", str(study), "--resume", "--trials", "8")
    assert resumed.returncode == 0, resumed.stderr
    assert result_table(url, "test-study") == reference(study, tmp_path)


def test_ctrl_c_stops_quickly_and_resumes(
    write_study: StudyWriter, tmp_path: Path, marker: str
) -> None:
    study = write_study()
    url = storage_of(study)
    given = ["--trials", "20", "--workers", "2", "--storage", url]
    proc = start_cli("sweep", str(study), *given, **SLOW, **marker_env(marker))
    wait_until(lambda: count_states(url).get("COMPLETE", 0) >= 5, 120, "5 completed trials")
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    states = count_states(url)
    assert "RUNNING" not in states
    assert states.get("WAITING", 0) > 0
    assert marked_processes(marker) == []

    # The printed command repeats the options given (a budget of 20 stays 20, not the
    # file's 24), and it is what resumes here.
    hint = err.strip().splitlines()[-1]
    command = f"python -m optimizer sweep {shlex.join([str(study), '--resume', *given])}"
    assert hint.endswith(f"resume with: {command}"), hint
    resumed = run_cli(*shlex.split(command)[3:])
    assert resumed.returncode == 0, resumed.stderr
    assert result_table(url, "test-study") == reference(study, tmp_path, 20)


def test_ctrl_c_with_chunks_still_queued_prints_no_thread_traceback(
    write_study: StudyWriter, marker: str
) -> None:
    # One worker and slow trials of a history-free sampler: a round goes out as one-trial
    # chunks with the next round behind it, most of them queued when Ctrl-C comes. Loky's
    # manager thread used to die of a KeyError in the shutdown (in most runs), printing a
    # thread traceback before the one-line message.
    study = write_study(workers=1, sampler={"name": "random"}, batch_size=8, n_trials=40)
    for attempt in range(3):
        url = storage_of(study).replace(".db", f"-{attempt}.db")
        proc = start_cli("sweep", str(study), "--storage", url, **SLOW, **marker_env(marker))
        wait_until(lambda: count_states(url).get("COMPLETE", 0) >= 4, 120, "4 trials")  # noqa: B023
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "Exception in thread" not in err, err
        assert err.strip().splitlines()[-1].startswith("interrupted: "), err


def test_prod_seeds_are_recorded_before_the_run_and_replay_exactly(
    write_study: StudyWriter, tmp_path: Path, marker: str
) -> None:
    study = write_study(run_mode="prod", seed=None, sampler={"name": "random"}, n_trials=6)
    url = storage_of(study)
    proc = start_cli("sweep", str(study), **SLOW, **marker_env(marker))
    wait_until(lambda: count_states(url).get("RUNNING", 0) > 0, 60, "a RUNNING trial")
    store = StudyStore(url, must_exist=True)
    try:
        running = store.trials(store.require_study("test-study"), states=["RUNNING"])
    finally:
        store.close()
    assert running and all(t.seed >= 0 and t.config["rng_seed"] == t.seed for t in running)
    assert all(t.config["run_mode"] == "prod" for t in running)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err

    store = StudyStore(url, must_exist=True)
    try:
        trials = store.trials(store.require_study("test-study"))
    finally:
        store.close()
    assert [t.number for t in trials] == list(range(6))
    assert {t.seed for t in running} <= {t.seed for t in trials}
    assert len({t.seed for t in trials}) == 6
    out = str(tmp_path / "replays")
    by_trial = run_cli("replay", str(study), "--trial", str(trials[3].number), "--out", out)
    assert by_trial.returncode == 0, by_trial.stderr
    by_seed = run_cli("replay", str(study), "--seed", str(trials[4].seed), "--out", out)
    assert by_seed.returncode == 0, by_seed.stderr
    assert f"trial {trials[4].number} of test-study" in by_seed.stdout


def _ignores_sigint(pid: int) -> bool:
    """Tells whether process ``pid`` ignores SIGINT (Linux: /proc/PID/status SigIgn)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise AssertionError(f"no SigIgn line for pid {pid}")


def test_workers_ignore_ctrl_c_from_their_first_instruction() -> None:
    # A Ctrl-C reaches the whole process group; workers still importing (the first
    # second of a sweep) printed KeyboardInterrupt tracebacks. They are spawned with
    # SIGINT ignored, which Python keeps: read right after the spawn, long before the
    # workers' own initializer runs.
    from optimizer.pool import LokyPool

    before = signal.getsignal(signal.SIGINT)
    pool = LokyPool(2)
    try:
        # The executor's own worker processes (this test process has other children).
        workers = list(pool._last._processes)
        assert len(workers) == 2, "the pool spawned its processes"
        assert all(_ignores_sigint(pid) for pid in workers)
        assert signal.getsignal(signal.SIGINT) is before  # the driver's handler is back
    finally:
        pool.close()


#: Run in a fresh process, whose first pool starts loky's resource tracker: every child
#: process started with the pool must carry the warning filter, the driver must not.
_TRACKER_CHECK = """
import os
from pathlib import Path
from optimizer.pool import _TRACKER_WARNINGS, LokyPool

pool = LokyPool(1)
children = []
for entry in Path("/proc").iterdir():
    try:
        parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        environ = (entry / "environ").read_bytes().split(bytes(1))
    except (OSError, ValueError):
        continue
    if parent == os.getpid():
        children.append((entry.name, f"PYTHONWARNINGS={_TRACKER_WARNINGS}".encode() in environ))
assert len(children) >= 2 and all(quiet for _, quiet in children), children
assert "PYTHONWARNINGS" not in os.environ
pool.close()
"""


def test_loky_processes_keep_the_resource_trackers_exit_warnings_quiet() -> None:
    # At the driver's exit loky's resource tracker could warn about semaphores it then
    # removes itself, adding lines after a one-line error. The processes loky starts
    # with the pool (the tracker, the workers) ignore those warnings.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-c", _TRACKER_CHECK], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
