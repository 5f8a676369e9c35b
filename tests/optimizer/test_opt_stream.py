"""Streamed runs: each trial handed to a worker process as soon as it is asked.

``LokyPool.stream`` and ``LokyPool.send`` hand trials over one by one on a socket per
worker (``optimizer.worker.serve_stream``); ``finish`` collects them. The workers,
loky, the sockets and the engine are all real; faults come through the test-only hook.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from optimizer import pool as pool_module
from optimizer.errors import Interrupted
from optimizer.pool import LokyPool, StartedRun
from optimizer.worker import TrialOutcome, TrialTask

pytestmark = pytest.mark.integration


def _tasks(
    base_config: Path,
    crash_dir: Path,
    count: int,
    faults: str | None = None,
    timeout_s: float | None = None,
) -> list[TrialTask]:
    """Returns ``count`` trials of the base config, each with its own z window."""
    base: dict[str, Any] = json.loads(base_config.read_text(encoding="utf-8"))
    tasks = []
    for number in range(count):
        config = json.loads(json.dumps(base))
        config["strategy"]["params"]["z_window"] = 20 + 10 * number
        tasks.append(
            TrialTask(
                number=number,
                config=config,
                timeout_s=timeout_s,
                crash_dir=str(crash_dir),
                faults=faults,
            )
        )
    return tasks


def _streamed(pool: LokyPool, tasks: list[TrialTask]) -> StartedRun:
    started = pool.stream()
    for task in tasks:
        pool.send(started, task)
    return started


def _metrics(outcomes: dict[int, TrialOutcome]) -> dict[int, Any]:
    return {number: outcome.metrics for number, outcome in outcomes.items()}


def test_streamed_trials_come_back_as_a_batch_run_gives_them(
    base_config: Path, tmp_path: Path
) -> None:
    tasks = _tasks(base_config, tmp_path, 6)
    pool = LokyPool(2)
    try:
        started = _streamed(pool, tasks)
        calls: list[list[TrialOutcome]] = []
        streamed = pool.finish(started, lambda: False, calls.append)
        assert started.streamed == 6  # every trial went to a session
        # The sessions stay open for the next streamed run.
        again = pool.finish(_streamed(pool, tasks), lambda: False, lambda arrived: None)
        batch = pool.run(tasks, lambda: False, lambda arrived: None)
    finally:
        pool.close()
    assert sorted(streamed) == list(range(6))
    assert all(o.ok for o in streamed.values())
    assert sorted(o.number for call in calls for o in call) == list(range(6))
    assert _metrics(streamed) == _metrics(again) == _metrics(batch)
    assert len({o.metrics["trades"] for o in streamed.values() if o.metrics}) > 1
    assert {o.worker_pid for o in streamed.values()} <= set(pool.worker_rss_kb)


@pytest.mark.slow
def test_a_worker_that_dies_mid_stream_fails_only_its_trial(
    base_config: Path, tmp_path: Path
) -> None:
    clean = _tasks(base_config, tmp_path, 8)
    faulty = _tasks(base_config, tmp_path, 8, faults="2:exit,4:segv,6:hang", timeout_s=3)
    pool = LokyPool(2)
    try:
        expected = pool.run(clean, lambda: False, lambda arrived: None)
        got = pool.finish(_streamed(pool, faulty), lambda: False, lambda arrived: None)
        # The next streamed run opens new sessions on the new worker processes.
        after = pool.finish(_streamed(pool, clean), lambda: False, lambda arrived: None)
    finally:
        pool.close()
    assert sorted(got) == list(range(8))
    assert got[2].error_category == "crash" and "worker process died" in str(got[2].error_message)
    assert got[4].error_category == "crash" and "Segmentation fault" in str(got[4].error_message)
    assert got[6].error_category == "timeout" and "trial_timeout_s=3" in str(got[6].error_message)
    innocent = {n: o for n, o in got.items() if n not in (2, 4, 6)}
    assert all(o.ok for o in innocent.values())
    assert _metrics(innocent) == {n: m for n, m in _metrics(expected).items() if n in innocent}
    assert _metrics(after) == _metrics(expected)


def test_a_slow_trial_holds_up_no_other(base_config: Path, tmp_path: Path) -> None:
    # A worker holds one trial at a time: the trials sent after the slow one go to the
    # other worker and come back while it still runs.
    pool = LokyPool(2)
    arrived: dict[int, float] = {}
    try:
        started = _streamed(pool, _tasks(base_config, tmp_path, 6, faults="0:sleep=8"))
        began = time.monotonic()
        pool.finish(
            started,
            lambda: False,
            lambda outcomes: arrived.update((o.number, time.monotonic() - began) for o in outcomes),
        )
    finally:
        pool.close()
    assert sorted(arrived) == list(range(6))
    assert arrived[0] >= 7
    assert max(arrived[n] for n in range(1, 6)) < 4


def test_a_stop_ends_a_streamed_run_at_once(base_config: Path, tmp_path: Path) -> None:
    pool = LokyPool(1)
    try:
        started = _streamed(pool, _tasks(base_config, tmp_path, 2, faults="*:sleep=30"))
        began = time.monotonic()
        with pytest.raises(Interrupted):
            pool.finish(started, lambda: True, lambda arrived: None)
        assert time.monotonic() - began < 10
    finally:
        pool.close()


def test_results_are_handed_on_together_when_quiet_or_after_hand_on_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "HAND_ON_S", 0.5)
    handed: list[list[TrialOutcome]] = []
    outcomes: dict[int, TrialOutcome] = {}
    hand_on = pool_module._HandOn(handed.append, outcomes)
    first, second, third = (TrialOutcome(number=n, ok=True) for n in range(3))

    # Results keep coming: held (but known at once), then handed on together.
    hand_on.add([first])
    hand_on.tick(quiet=False)
    hand_on.add([second])
    hand_on.tick(quiet=False)
    assert handed == [] and set(outcomes) == {0, 1}
    time.sleep(0.55)
    hand_on.tick(quiet=False)
    assert handed == [[first, second]]

    # Nothing more came for a poll's wait: handed on at once; nothing held: no call.
    hand_on.add([third])
    hand_on.tick(quiet=True)
    hand_on.flush()
    hand_on.tick(quiet=True)
    assert handed == [[first, second], [third]]
