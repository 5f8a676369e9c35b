"""Studies on a real PostgreSQL server: everything that works on SQLite, and several
drivers sharing one study (docs/scaling.md).

One driver on PostgreSQL gives exactly the table of one driver on SQLite. Two drivers on
one study finish its budget together: every number once, no lost row, each trial's seed
``derive(seed, n)``, the Optuna mirror complete, and every batch re-asked from its
recorded history gives its stored parameters. A driver presumed dead cannot store a batch
that another driver took over.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from opt_support import (
    StudyWriter,
    marked_processes,
    marker_env,
    result_table,
    run_cli,
    start_cli,
    wait_until,
)

from optimizer.driver import _asker, _open_study, _prepare_round, run_sweep
from optimizer.errors import BadInputError
from optimizer.progress import LineProgress
from optimizer.ranking import rank_trials
from optimizer.sampling import BatchAsker, ask_batch
from optimizer.seeds import derive
from optimizer.storage import BatchPlan, NewTrial, StudyStore
from optimizer.study_file import load_study_file
from optimizer.worker import FAULTS_ENV, evaluate, failed_outcome

pytestmark = pytest.mark.integration


def sweep(study: Path, url: str, **kwargs: Any) -> None:
    run_sweep(
        load_study_file(study), storage_url=url, progress=LineProgress(io.StringIO()), **kwargs
    )


def optuna_trials(url: str) -> list[optuna.trial.FrozenTrial]:
    """Returns the Optuna study's trials, read as optuna users do (connections closed)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name="test-study", storage=storage).trials
    finally:
        storage.engine.dispose()


def states(url: str) -> dict[str, int]:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sqlalchemy.inspect(conn).has_table("omega_trials"):
                return {}
            rows = conn.execute(
                sqlalchemy.text("SELECT state, count(*) FROM omega_trials GROUP BY state")
            ).all()
    finally:
        engine.dispose()
    return {state: count for state, count in rows}


def test_everything_that_works_on_sqlite_works_on_postgres(
    write_study: StudyWriter, tmp_path: Path, pg_url: str
) -> None:
    study = write_study(n_trials=12)
    sqlite = f"sqlite:///{tmp_path / 'reference.db'}"
    sweep(study, sqlite, n_trials=16)
    reference = result_table(sqlite, "test-study")

    done = run_cli("sweep", str(study), "--storage", pg_url)
    assert done.returncode == 0, done.stderr
    # The first 12 trials of a 16-trial run (ranks aside: they rank among 16 there).
    assert [row[:7] for row in result_table(pg_url, "test-study")] == [
        row[:7] for row in reference[:12]
    ]
    resumed = run_cli("sweep", str(study), "--storage", pg_url, "--resume", "--trials", "16")
    assert resumed.returncode == 0, resumed.stderr
    assert result_table(pg_url, "test-study") == reference

    shown = run_cli("show", "test-study", "--storage", pg_url, "--format", "json", "--top", "0")
    assert shown.returncode == 0, shown.stderr
    store = StudyStore(sqlite, must_exist=True)
    try:
        study_row = store.require_study("test-study")
        expected = [r.trial.number for r in rank_trials(store.trials(study_row), {"min_trades": 3})]
    finally:
        store.close()
    assert [row["number"] for row in json.loads(shown.stdout)] == expected
    listed = run_cli("studies", "--storage", pg_url)
    assert listed.returncode == 0 and "16/16" in listed.stdout
    replayed = run_cli(
        "replay", "test-study", "--storage", pg_url, "--rank", "1", "--out", str(tmp_path / "r")
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"trial {expected[0]} of test-study" in replayed.stdout

    # Optuna's own tables, as optuna and optuna-dashboard read them; set up without
    # Alembic, they pass Optuna's own schema check.
    storage = optuna.storages.RDBStorage(pg_url)
    try:
        manager = storage._version_manager
        assert manager.get_current_version() == manager.get_head_version()
    finally:
        storage.engine.dispose()
    mirrored = optuna_trials(pg_url)
    assert [(t.number, t.params) for t in mirrored] == [
        (row[0], json.loads(row[2])) for row in reference
    ]

    # The dashboard's read-only access (default_transaction_read_only on PostgreSQL).
    from optimizer.dashboard._app import DashboardApp

    app = DashboardApp(pg_url)
    try:
        assert "test-study" in json.dumps(app.studies())
        assert app.trial("test-study", expected[0])
        assert app.points("test-study")
    finally:
        app.close()


def test_a_killed_driver_resumes_on_postgres(
    write_study: StudyWriter, tmp_path: Path, pg_url: str, marker: str
) -> None:
    study = write_study(n_trials=16)
    sqlite = f"sqlite:///{tmp_path / 'reference.db'}"
    sweep(study, sqlite)
    env = {FAULTS_ENV: "*:sleep=0.2", **marker_env(marker)}
    proc = start_cli("sweep", str(study), "--storage", pg_url, **env)
    wait_until(
        lambda: states(pg_url).get("COMPLETE", 0) >= 4 and states(pg_url).get("RUNNING", 0) > 0,
        120,
        "4 completed trials and a running batch",
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    wait_until(lambda: marked_processes(marker) == [], 10, "the orphaned workers to exit")
    assert states(pg_url).get("RUNNING", 0) > 0
    # The killed driver ran on this host: its pid is gone, so its batch is taken over at
    # once (no lease to wait for).
    resumed = run_cli("sweep", str(study), "--storage", pg_url, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert result_table(pg_url, "test-study") == result_table(sqlite, "test-study")


def test_two_drivers_share_one_study(write_study: StudyWriter, pg_url: str, marker: str) -> None:
    study = write_study(n_trials=40, batch_size=4, workers=1)
    # 4 s of trials for one driver alone: ample time for the other to start and join.
    env = {FAULTS_ENV: "*:sleep=0.1", **marker_env(marker)}
    # Both start at once with --resume on a study that does not exist yet: one creates
    # it, the other joins it.
    drivers = [start_cli("sweep", str(study), "--storage", pg_url, "--resume", **env) for _ in "ab"]
    errors = [proc.communicate(timeout=240)[1] for proc in drivers]  # both ended, then checked
    assert [proc.returncode for proc in drivers] == [0, 0], errors
    store = StudyStore(pg_url, must_exist=True)
    try:
        record = store.require_study("test-study")
        trials = store.trials(record)
        history = store.batch_history(record)
        told = store.told_trials(record)
        with store.engine.connect() as conn:
            asked_by = dict(
                conn.execute(sqlalchemy.text("SELECT batch, asked_by FROM omega_batches")).all()
            )
            holders = conn.execute(
                sqlalchemy.text("SELECT count(*) FROM omega_batches WHERE driver_id IS NOT NULL")
            ).scalar()
            stopped = conn.execute(sqlalchemy.text("SELECT stopped FROM omega_drivers")).all()
    finally:
        store.close()
    # The budget, together: every number once, all complete, seeds derived from numbers.
    assert [t.number for t in trials] == list(range(40))
    assert all(t.state == "COMPLETE" for t in trials)
    assert all(t.seed == derive(11, t.number) == t.config["rng_seed"] for t in trials)
    assert sorted(asked_by) == list(range(10)) and holders == 0
    assert len(set(asked_by.values())) == 2, asked_by  # both drivers asked batches
    assert [row[0] for row in stopped] == [True, True]
    # The Optuna mirror holds every trial once, under our numbers.
    mirrored = optuna_trials(pg_url)
    assert [(t.number, t.params) for t in mirrored] == [(t.number, t.params) for t in trials]
    # Each batch is a function of (study seed, batch, its recorded history).
    spec = load_study_file(study)
    for batch, numbers in sorted(history.items()):
        asked = ask_batch(
            sampler=spec.sampler,
            space=spec.search_space,
            direction=spec.direction,
            history=[told[n] for n in numbers],
            study_seed=spec.seed,
            batch=batch,
            size=4,
        )
        assert [a.params for a in asked] == [t.params for t in trials[batch * 4 : batch * 4 + 4]]


def test_a_presumed_dead_driver_cannot_count_twice(
    write_study: StudyWriter, pg_url: str, tmp_path: Path
) -> None:
    spec = load_study_file(write_study(n_trials=8))
    first, second = StudyStore(pg_url), StudyStore(pg_url)
    crash_dir = str(tmp_path / "crash")
    try:
        study = _open_study(first, spec, 8, False, "")

        def asker(store: StudyStore) -> BatchAsker:
            return _asker(spec, store, study)

        a, b = first.register_driver(study), second.register_driver(study)
        # Both plan batch 0; exactly one claim wins, the other asks for the next batch.
        plan_a = first.next_batch(study, 8, a).plan
        plan_b = second.next_batch(study, 8, b).plan
        assert plan_a is not None and plan_b is not None and plan_a.batch == plan_b.batch == 0
        tasks_a = _prepare_round(
            first, spec, study, [plan_a], asker(first), a, crash_dir, None, None
        )[0]
        assert tasks_a is not None
        lost, _, _ = _prepare_round(
            second, spec, study, [plan_b], asker(second), b, crash_dir, None, None
        )
        assert lost is None
        assert second.next_batch(study, 8, b).plan.batch == 1  # type: ignore[union-attr]

        # Driver a stops beating and looks like a driver on another host: presumed dead.
        with first.engine.begin() as conn:
            conn.execute(
                sqlalchemy.text(
                    "UPDATE omega_drivers SET host = 'elsewhere', heartbeat_s = heartbeat_s - 3600"
                    " WHERE id = :id"
                ),
                {"id": a.id},
            )
        takeover = second.next_batch(study, 8, b).plan
        assert takeover is not None and takeover.batch == 0 and takeover.owner == a.id
        tasks_b = _prepare_round(
            second, spec, study, [takeover], asker(second), b, crash_dir, None, None
        )[0]
        assert tasks_b is not None and [t.number for t in tasks_b] == [0, 1, 2, 3]

        outcomes_a = [evaluate(t) for t in tasks_a]
        assert not first.finish_batches(study, outcomes_a, a, [0])  # fenced off: nothing stored
        first.mark_waiting(study, [0, 1, 2, 3], a, [0])  # neither this
        assert {t.state for t in second.trials(study)} == {"RUNNING"}
        assert second.finish_batches(study, [evaluate(t) for t in tasks_b], b, [0])
        assert [t.state for t in second.trials(study)] == ["COMPLETE"] * 4
        first.release_driver(a)
        second.release_driver(b)
    finally:
        first.close()
        second.close()


def test_a_scan_sees_a_claim_whole_or_not_at_all(write_study: StudyWriter, pg_url: str) -> None:
    # Another driver's claim commits a batch row and its trial rows together; a scan
    # that reads them in separate statements must not see the trial rows without the
    # batch row (it would plan that batch with the wrong history and, in dev mode,
    # stop the sweep as not deterministic).
    spec = load_study_file(write_study(n_trials=12))
    scanner, claimer = StudyStore(pg_url), StudyStore(pg_url)
    try:
        study = _open_study(scanner, spec, 12, False, "")
        a, b = scanner.register_driver(study), claimer.register_driver(study)
        asker = _asker(spec, claimer, study)

        def claim(batch: int) -> None:
            numbers = list(range(batch * 4, batch * 4 + 4))
            # Asked after nothing told: the batches below it still run.
            plan = BatchPlan(batch, numbers, [None] * 4, [], has_row=False, owner=None)
            assert (
                _prepare_round(claimer, spec, study, [plan], asker, b, "", None, None)[0]
                is not None
            )

        claim(0)  # batch 0 runs on the other driver
        claimed: list[int] = []

        def claim_mid_scan(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            # Between the scan's read of the batch rows and of the trial rows.
            if "FROM omega_drivers" in statement and not claimed:
                claimed.append(1)
                claim(1)

        sqlalchemy.event.listen(scanner.engine, "before_cursor_execute", claim_mid_scan)
        plan = scanner.next_batch(study, 12, a).plan
        sqlalchemy.event.remove(scanner.engine, "before_cursor_execute", claim_mid_scan)
        assert claimed and plan is not None and plan.batch == 1
        # The scan saw batch 1 as it was when it began: fresh, never asked.
        assert plan.rows == [None] * 4 and not plan.has_row and plan.history == []
        assert _prepare_round(scanner, spec, study, [plan], asker, a, "", None, None)[0] is None
        plan = scanner.next_batch(study, 12, a).plan
        assert plan is not None and plan.batch == 2
        scanner.release_driver(a)
        claimer.release_driver(b)
    finally:
        scanner.close()
        claimer.close()


def test_a_budget_stored_by_another_driver_never_stays_below_stored_trials(
    write_study: StudyWriter, pg_url: str
) -> None:
    # Driver A runs --trials 8 while driver B opened the study with --trials 4 (the last
    # to open it, so its budget is the stored one): each trial A stores raises the
    # budget to cover it, so `studies` never shows 8/4.
    study = write_study(n_trials=8)
    sweep(study, pg_url, n_trials=4)
    store = StudyStore(pg_url, must_exist=True)
    try:
        record = store.require_study("test-study")
        assert record.n_trials == 4  # B's budget
        trial = NewTrial(number=7, batch=1, params={}, sampler_attrs={}, seed=7, config={})
        store.begin_batch(record, [trial], [])
        store.finish_batches(record, [failed_outcome(7, "exception", "A's trial 7")])
        assert store.require_study("test-study").n_trials == 8
    finally:
        store.close()


def test_a_second_driver_on_sqlite_is_refused(write_study: StudyWriter, marker: str) -> None:
    study = write_study(n_trials=16)
    url = f"sqlite:///{study.parent / 'omega.db'}"
    # 8 s of trials: the second driver starts (about 2 s on a busy machine) long before.
    proc = start_cli("sweep", str(study), **{FAULTS_ENV: "*:sleep=1.0"}, **marker_env(marker))
    wait_until(
        lambda: Path(url.removeprefix("sqlite:///")).exists() and states(url).get("RUNNING", 0) > 0,
        120,
        "a running batch",
    )
    second = run_cli("sweep", str(study), "--resume")
    assert second.returncode == 2
    assert "is being run by another driver (pid" in second.stderr
    assert "several drivers need a PostgreSQL storage" in second.stderr
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert states(url) == {"COMPLETE": 16}


def test_storage_errors_are_one_line(pg_server: Any) -> None:
    # A database that does not exist, with a password in the URL: never printed.
    missing = pg_server.url("no_such_database").replace("omega@", "omega:secret@")
    shown = run_cli("studies", "--storage", missing)
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert "expected a reachable database" in shown.stderr and "secret" not in shown.stderr
    driver = run_cli("studies", "--storage", "postgresql+nosuchdriver://x@127.0.0.1/db")
    assert driver.returncode == 2 and "Traceback" not in driver.stderr, driver.stderr
    assert "expected an installed database driver" in driver.stderr


def test_a_server_that_never_answers_is_bad_input(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It accepts the connection and says nothing (a frozen server): used to hang for ever.
    from optimizer.storage import _engine

    monkeypatch.setattr(_engine, "PG_CONNECT_TIMEOUT_S", 2)
    started = time.monotonic()
    with pytest.raises(BadInputError, match="expected a reachable database"):
        StudyStore(f"postgresql+psycopg://omega@127.0.0.1:{silent_port}/omega")
    assert time.monotonic() - started < 30
