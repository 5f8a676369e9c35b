"""``backend: dask`` on a real ``distributed.LocalCluster`` (2 worker processes, loopback).

The driver sends each trial to the cluster as one task and stays the only writer; the
results equal the loky backend's, a worker killed mid-batch loses no trial, a trial that
kills its worker (or hangs) fails alone, and a cluster that cannot run the study (a
worker that cannot see a data file, a worker with several threads) stops the sweep
before anything is written, with exit code 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opt_support import (
    StudyWriter,
    cli_env,
    count_states,
    result_table,
    run_cli,
    start_cli,
    trials_of,
    wait_until,
)

from optimizer.driver import SweepReport, run_sweep
from optimizer.errors import BadInputError
from optimizer.progress import LineProgress
from optimizer.study_file import load_study_file
from optimizer.worker import FAULTS_ENV

pytestmark = [pytest.mark.integration]


def sweep(study: Path, url: str, **kwargs: Any) -> SweepReport:
    spec = load_study_file(study)
    return run_sweep(spec, storage_url=url, progress=LineProgress(io.StringIO()), **kwargs)


def dask_sweep(study: Path, url: str, address: str, **kwargs: Any) -> SweepReport:
    spec = dataclasses.replace(load_study_file(study), backend="dask", scheduler=address)
    return run_sweep(spec, storage_url=url, progress=LineProgress(io.StringIO()), **kwargs)


@pytest.fixture
def client(dask_cluster: Any) -> Iterator[Any]:
    """A client of the session's cluster, once both workers are up (a test may kill some)."""
    from distributed import Client

    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def test_dask_gives_the_loky_table(
    write_study: StudyWriter, tmp_path: Path, dask_cluster: Any, client: Any
) -> None:
    study = write_study()
    loky, dask = f"sqlite:///{tmp_path / 'loky.db'}", f"sqlite:///{tmp_path / 'dask.db'}"
    sweep(study, loky, workers=2)
    address = dask_cluster.scheduler_address
    done = run_cli("sweep", str(study), "--storage", dask, "--scheduler", address)
    assert done.returncode == 0, done.stderr
    assert "24 trials run (0 failed)" in done.stdout and "with 2 workers" in done.stdout
    expected = result_table(loky, "test-study")
    assert result_table(dask, "test-study") == expected
    assert len(expected) == 24 and all(row[1] == "COMPLETE" for row in expected)
    # The trials really ran in the cluster's worker processes.
    worker_pids = set(client.run(os.getpid).values())
    assert {t.worker_pid for t in trials_of(dask).values()} <= worker_pids


def test_a_killed_worker_loses_no_trial(
    write_study: StudyWriter,
    tmp_path: Path,
    dask_cluster: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = write_study(n_trials=16, batch_size=8)
    clean, url = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'dask.db'}"
    sweep(study, clean, workers=2)
    monkeypatch.setenv(FAULTS_ENV, "*:sleep=0.4")  # before the engine call: same results
    outcome: dict[str, Any] = {}

    def drive() -> None:
        try:
            outcome["report"] = dask_sweep(study, url, dask_cluster.scheduler_address)
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc

    driver = threading.Thread(target=drive)
    driver.start()
    pids = client.run(os.getpid)

    def trial_running() -> bool:
        busy = client.processing()
        return any(
            any(str(key).startswith("omega-trial-") for key in busy.get(addr, ())) for addr in pids
        )

    wait_until(trial_running, 60, "a trial running on a worker")
    time.sleep(0.2)  # inside the 0.4 s trial
    victim = next(a for a in pids if client.processing().get(a))
    os.kill(pids[victim], signal.SIGKILL)
    driver.join(120)
    assert not driver.is_alive()
    assert "error" not in outcome, outcome.get("error")
    report: SweepReport = outcome["report"]
    assert report.ran == 16 and report.failed == 0
    # Every trial once, under its number, with the results of a clean run.
    assert result_table(url, "test-study") == result_table(clean, "test-study")


def test_a_trial_that_kills_its_worker_or_hangs_fails_alone(
    write_study: StudyWriter,
    tmp_path: Path,
    dask_cluster: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The random sampler does not learn from results: every other trial equals the same
    # trial of a clean run.
    study = write_study(sampler={"name": "random"}, n_trials=8, batch_size=8, trial_timeout_s=3)
    clean, url = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'dask.db'}"
    sweep(study, clean, workers=2)
    monkeypatch.setenv(FAULTS_ENV, "2:kill,5:hang")
    report = dask_sweep(study, url, dask_cluster.scheduler_address)
    got = trials_of(url)
    failures = {n: (t.error_category, t.error_message) for n, t in got.items() if t.state == "FAIL"}
    assert report.ran == 8 and sorted(failures) == [2, 5], failures
    assert got[2].state == "FAIL" and got[2].error_category == "crash"
    assert "worker process died (Dask worker tcp://127.0.0.1:" in (got[2].error_message or "")
    assert "ran on 2 workers that all died" in (got[2].error_message or "")
    assert got[5].state == "FAIL" and got[5].error_category == "timeout"
    assert "trial_timeout_s=3" in (got[5].error_message or "")
    reference = {row[0]: row for row in result_table(clean, "test-study")}
    for row in result_table(url, "test-study"):
        if row[0] not in (2, 5):
            assert row[:6] == reference[row[0]][:6]


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    if proc.stderr is not None:
        proc.stderr.close()


def test_a_cluster_that_cannot_run_the_study_stops_it_at_the_start(
    write_study: StudyWriter, tmp_path: Path, small_data: Path, base_config: Path
) -> None:
    # The driver sees the data through /proc/self/cwd/data: its working directory holds
    # the data folder, the worker's does not. So the worker really cannot see the file,
    # as a worker without the shared filesystem could not.
    here, elsewhere = tmp_path / "driver", tmp_path / "worker"
    here.mkdir()
    elsewhere.mkdir()
    (here / "data").symlink_to(small_data)
    config = json.loads(base_config.read_text(encoding="utf-8"))
    config["data"]["dir"] = "/proc/self/cwd/data"
    hidden = tmp_path / "hidden.json"
    hidden.write_text(json.dumps(config), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'omega.db'}"
    study = write_study(base_config=str(hidden), storage=url)

    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            elsewhere,
        )
    ]
    try:
        wait_until(scheduler_file.exists, 60, "the scheduler file")
        wait_until(lambda: scheduler_file.read_text().strip() != "", 10, "the scheduler address")
        address = json.loads(scheduler_file.read_text())["address"]
        worker = [
            "distributed.cli.dask_worker",
            address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        ]
        procs.append(_start(worker, elsewhere))

        def sweep_from_here() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "optimizer", "sweep", str(study), "--scheduler", address],
                cwd=here,
                env=cli_env(),
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )

        stopped = sweep_from_here()
        assert stopped.returncode == 2, stopped.stderr
        line = stopped.stderr.strip()
        assert line.startswith("error: dask worker tcp://127.0.0.1:"), line
        assert "cannot read data file /proc/self/cwd/data/EURUSD_" in line
        assert "shared filesystem" in line and "Traceback" not in stopped.stderr
        assert not (tmp_path / "omega.db").exists()  # nothing was written, not even a schema

        # A worker with two threads would run two trials in one process: refused too.
        _stop(procs.pop())
        procs.append(_start([*worker[:5], "2", *worker[6:]], here))
        from distributed import Client

        with Client(address, set_as_default=False) as watcher:
            wait_until(
                lambda: (
                    [w["nthreads"] for w in watcher.scheduler_info()["workers"].values()] == [2]
                ),
                60,
                "the two-thread worker alone in the cluster",
            )
        refused = sweep_from_here()
        assert refused.returncode == 2, refused.stderr
        assert "expected 1 thread per worker process, it has 2" in refused.stderr
    finally:
        for proc in procs:
            _stop(proc)


def test_a_lost_scheduler_stops_the_sweep_and_stores_no_failure(
    write_study: StudyWriter, tmp_path: Path
) -> None:
    # The cluster going away says nothing about the trials it held: they used to be
    # stored as crashes (told to the sampler: the dev table changed for good) and the
    # driver died with a traceback. Now: one line, exit 2, those trials WAITING, and
    # --resume (here on loky) ends with the table of an uninterrupted run.
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = _start(
        [
            "distributed.cli.dask_scheduler",
            *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
            *("--scheduler-file", str(scheduler_file)),
        ],
        tmp_path,
    )
    procs = [scheduler]
    try:
        wait_until(
            lambda: scheduler_file.is_file() and scheduler_file.read_text() != "", 60, "a scheduler"
        )
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(
            _start(
                [
                    "distributed.cli.dask_worker",
                    address,
                    *("--nworkers", "2", "--nthreads", "1", "--no-dashboard"),
                    *("--host", "127.0.0.1"),
                ],
                tmp_path,
            )
        )
        url = f"sqlite:///{tmp_path / 'omega.db'}"
        study = write_study(n_trials=16, batch_size=4, storage=url)
        sweep_proc = start_cli(
            "sweep", str(study), "--scheduler", address, **{FAULTS_ENV: "*:sleep=0.4"}
        )
        wait_until(lambda: count_states(url).get("COMPLETE", 0) >= 4, 120, "4 trials")
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, err = sweep_proc.communicate(timeout=120)
        assert sweep_proc.returncode == 2, err
        line = err.strip().splitlines()[-1]
        # The cancelled task or the lost connection, whichever the driver meets first.
        assert line.startswith(f"error: scheduler {address}: expected "), line
        assert line.endswith(
            "the unfinished trials are WAITING: run the sweep again with "
            "--resume once the cluster can run them"
        ), line
        assert "Traceback" not in err, err
        states = count_states(url)
        assert "FAIL" not in states and "RUNNING" not in states, states
    finally:
        for proc in reversed(procs):
            _stop(proc)
    resumed = run_cli("sweep", str(study), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    sweep(study, reference)
    assert result_table(url, "test-study") == result_table(reference, "test-study")


def test_a_batch_whose_workers_all_died_stops_with_one_line(
    write_study: StudyWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every worker dies mid-batch and none comes back: the batch used to wait for ever.
    from optimizer import dask_pool
    from optimizer.driver import build_config
    from optimizer.worker import TrialTask

    monkeypatch.setattr(dask_pool, "WORKER_WAIT_S", 2.0)
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            [
                "distributed.cli.dask_scheduler",
                *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                *("--scheduler-file", str(scheduler_file)),
            ],
            tmp_path,
        )
    ]
    try:
        wait_until(
            lambda: scheduler_file.is_file() and scheduler_file.read_text() != "", 60, "a scheduler"
        )
        address = json.loads(scheduler_file.read_text())["address"]
        worker = [
            "distributed.cli.dask_worker",
            address,
            *("--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"),
        ]
        procs.append(_start(worker, tmp_path))
        spec = load_study_file(write_study(n_trials=2))
        pool = dask_pool.DaskPool(address, [])
        params = {p.path: p.probe_values()[0] for p in spec.search_space}
        tasks = [
            TrialTask(
                number=n,
                config=build_config(spec, params, n),
                timeout_s=None,
                crash_dir="",
                faults="*:sleep=30",
            )
            for n in range(2)
        ]
        threading.Timer(2.0, _stop, [procs.pop()]).start()  # the worker and its nanny
        started = time.monotonic()
        try:
            with pytest.raises(BadInputError, match="the cluster has had none for 2 s"):
                pool.run(tasks, lambda: False, lambda _: None)
        finally:
            pool.close()
        assert time.monotonic() - started < 25
    finally:
        for proc in procs:
            _stop(proc)


def test_a_worker_that_joined_unchecked_stops_the_batch_unstored(
    write_study: StudyWriter, dask_cluster: Any, client: Any
) -> None:
    # A worker that joins in the middle of a batch gets its tasks before the next
    # batch's check. Were a data file missing there, its trials would be stored as
    # market_data failures: told to the sampler, and the dev table changed for good.
    # Each task checks the files itself: the batch stops with exit 2, nothing stored.
    from optimizer.dask_pool import DaskPool
    from optimizer.driver import build_config
    from optimizer.worker import TrialTask

    spec = load_study_file(write_study(n_trials=4))
    pool = DaskPool(dask_cluster.scheduler_address, [])  # every worker checked: fine
    try:
        pool._files = ["/no/such/omega/EURUSD_M5_BID.parquet"]  # what a late joiner lacks
        params = {p.path: p.probe_values()[0] for p in spec.search_space}
        tasks = [
            TrialTask(
                number=n,
                config=build_config(spec, params, n),
                timeout_s=60.0,
                crash_dir="",
                faults=None,
            )
            for n in range(2)
        ]
        with pytest.raises(
            BadInputError,
            match=r"dask worker tcp://127\.0\.0\.1:\d+ .*cannot read "
            r"data file /no/such/omega/EURUSD_M5_BID\.parquet",
        ):
            pool.run(tasks, lambda: False, lambda _: None)
    finally:
        pool.close()


def test_a_server_that_is_no_scheduler_is_bad_input(write_study: StudyWriter) -> None:
    # It answers with a banner that a Dask client would read as a message length.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def banner() -> None:
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                with conn:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" * 4)
                    conn.recv(1024)

        threading.Thread(target=banner, daemon=True).start()
        from optimizer.dask_pool import DaskPool

        started = time.monotonic()
        with pytest.raises(BadInputError, match=r"expected a reachable Dask .*not a Dask"):
            DaskPool(f"tcp://127.0.0.1:{port}")
        assert time.monotonic() - started < 15


def test_a_server_that_never_answers_is_bad_input(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It accepts the connection and says nothing (a frozen scheduler): used to hang for
    # ever in the first read.
    from optimizer import dask_pool

    monkeypatch.setattr(dask_pool, "CONNECT_TIMEOUT_S", 2.0)
    started = time.monotonic()
    with pytest.raises(BadInputError, match="expected a reachable Dask scheduler"):
        dask_pool.DaskPool(f"tcp://127.0.0.1:{silent_port}")
    assert time.monotonic() - started < 30


def test_scheduler_settings_are_checked(write_study: StudyWriter) -> None:
    study = write_study()
    bad = run_cli("sweep", str(study), "--scheduler", "http://nowhere")
    assert bad.returncode == 2 and "--scheduler http://nowhere: expected a Dask" in bad.stderr
    missing = write_study("dask.yaml", backend="dask")
    unset = run_cli("sweep", str(missing))
    assert unset.returncode == 2
    assert "dask.yaml: scheduler: expected a Dask scheduler address" in unset.stderr
    assert "--scheduler" in unset.stderr
    wrong = write_study("wrong.yaml", backend="dask", scheduler="tcp://host")
    invalid = run_cli("sweep", str(wrong))
    assert invalid.returncode == 2 and "wrong.yaml: scheduler: expected" in invalid.stderr
