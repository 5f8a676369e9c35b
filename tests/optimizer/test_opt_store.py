"""The study store's batch transactions: several batches are claimed, stored or released
all together or not at all."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from opt_support import StudyWriter, storage_of
from optuna.study import StudyDirection

from optimizer.cli import main
from optimizer.driver import SweepReport, _Arrivals, _fresh_plans, _open_study, _RoundStores
from optimizer.errors import OptimizerError
from optimizer.progress import LineProgress
from optimizer.storage import BatchClaim, NewTrial, StudyExists, StudyRecord, StudyStore
from optimizer.storage._optuna_schema import open_optuna_tables
from optimizer.storage._store import DriverLease
from optimizer.study_file import load_study_file
from optimizer.worker import failed_outcome


def _held(url: str) -> dict[int, int | None]:
    """Returns each recorded batch's holder (driver id), by batch."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return dict(conn.execute("SELECT batch, driver_id FROM omega_batches").fetchall())
    finally:
        conn.close()


def _fresh_claims(count: int, size: int, total: int) -> list[BatchClaim]:
    """Returns the claims of the first ``count`` fresh batches, every trial new."""
    return [
        BatchClaim(
            plan=plan,
            new=[
                NewTrial(number=n, batch=plan.batch, params={}, sampler_attrs={}, seed=n, config={})
                for n in plan.numbers
            ],
            restart=[],
        )
        for plan in _fresh_plans(0, count, size, total)
    ]


@contextlib.contextmanager
def _driving(
    write_study: StudyWriter, n_trials: int
) -> Iterator[tuple[str, StudyStore, StudyRecord, DriverLease]]:
    """Yields a new study's storage URL, its store, the study and a driver's lease."""
    path = write_study(n_trials=n_trials)
    url = storage_of(path)
    store = StudyStore(url)
    try:
        study = _open_study(store, load_study_file(path), n_trials, False, "")
        lease = store.register_driver(study)
        yield url, store, study, lease
        store.release_driver(lease)
    finally:
        store.close()


def test_several_batches_are_claimed_and_stored_atomically(write_study: StudyWriter) -> None:
    with _driving(write_study, 8) as (url, store, study, lease):
        first, second = _fresh_claims(2, 4, 8)
        assert store.claim_batches(study, [second], lease)
        # Batch 1 is taken: claiming 0 and 1 together changes nothing, not even batch 0.
        assert not store.claim_batches(study, [first, second], lease)
        assert _held(url) == {1: lease.id}
        assert [t.number for t in store.trials(study)] == [4, 5, 6, 7]

        # Storing batches 0 and 1 needs both held: batch 0 is not, so nothing is stored.
        outcomes = [failed_outcome(n, "exception", "x") for n in (4, 5, 6, 7)]
        assert not store.finish_batches(study, outcomes, lease, [0, 1])
        assert {t.state for t in store.trials(study)} == {"RUNNING"}
        assert _held(url) == {1: lease.id}

        assert store.claim_batches(study, [first], lease)
        outcomes += [failed_outcome(n, "exception", "x") for n in (0, 1, 2, 3)]
        assert store.finish_batches(study, outcomes, lease, [0, 1])
        assert {t.state for t in store.trials(study)} == {"FAIL"}
        assert _held(url) == {0: None, 1: None}


def test_a_batch_is_claimed_in_the_transaction_that_stores_its_first_results(
    write_study: StudyWriter,
) -> None:
    with _driving(write_study, 8) as (url, store, study, lease):
        claims = _fresh_claims(2, 4, 8)
        assert store.claim_batches(study, [claims[1]], lease)
        # Batch 1 is taken: neither batch is claimed, and nothing is stored.
        early = [failed_outcome(n, "exception", f"trial {n}") for n in (0, 1)]
        assert not store.finish_batches(study, early, lease, [0, 1], release=False, claims=claims)
        assert _held(url) == {1: lease.id}
        assert [t.number for t in store.trials(study)] == [4, 5, 6, 7]

        # Batch 0 alone: claimed, its trials 0 and 1 added finished, 2 and 3 RUNNING.
        assert store.finish_batches(study, early, lease, [0], release=False, claims=claims[:1])
        trials = {t.number: t for t in store.trials(study)}
        assert {n: t.state for n, t in trials.items() if n < 4} == {
            0: "FAIL",
            1: "FAIL",
            2: "RUNNING",
            3: "RUNNING",
        }
        assert trials[1].error_message == "trial 1" and trials[3].seed == 3
        assert _held(url) == {0: lease.id, 1: lease.id}

        # The rest of batch 0 is stored and the batch released, as for a claimed batch.
        rest = [failed_outcome(n, "exception", f"trial {n}") for n in (2, 3)]
        assert store.finish_batches(study, rest, lease, [0])
        assert [t.state for t in store.trials(study)][:4] == ["FAIL"] * 4
        assert _held(url) == {0: None, 1: lease.id}


def test_unasked_from_is_past_every_recorded_batch(write_study: StudyWriter) -> None:
    path = write_study(n_trials=12)
    store = StudyStore(storage_of(path))
    try:
        study = _open_study(store, load_study_file(path), 12, False, "")
        assert store.unasked_from(study) == 0
        lease = store.register_driver(study)
        batch_0 = _fresh_plans(0, 1, 4, 12)[0]
        assert store.claim_batches(study, [BatchClaim(plan=batch_0, new=[], restart=[])], lease)
        assert store.unasked_from(study) == 1  # batch 0 is the highest: not "none"
        plan = _fresh_plans(2, 1, 4, 12)[0]
        assert store.claim_batches(study, [BatchClaim(plan=plan, new=[], restart=[])], lease)
        assert store.unasked_from(study) == 3
        store.release_driver(lease)
    finally:
        store.close()


def test_a_driver_joins_the_study_another_driver_is_still_creating(
    write_study: StudyWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other driver has written the Optuna study, not yet the study's own row: this
    # one waits for that row rather than failing with "no study named".
    path = write_study(n_trials=8)
    url, spec = storage_of(path), load_study_file(path)
    store, other = StudyStore(url), StudyStore(url)
    try:
        monkeypatch.setattr(store, "create_study", _raise_study_exists)
        creating = threading.Timer(0.3, lambda: _open_study(other, spec, 8, False, ""))
        creating.start()
        joined = _open_study(store, spec, 8, True, "")
        creating.join()
        assert joined.name == spec.name and joined.n_trials == 8
    finally:
        store.close()
        other.close()


def test_an_optuna_study_left_by_a_killed_driver_is_taken_over(write_study: StudyWriter) -> None:
    # A driver killed between writing the Optuna study and its own row leaves the first.
    path = write_study(n_trials=8)
    url, spec = storage_of(path), load_study_file(path)
    store = StudyStore(url)
    try:
        tables = open_optuna_tables(store.engine)
        assert tables is not None
        study_id = tables.create_study(spec.name, StudyDirection.MAXIMIZE)
        tables.set_study_user_attr(study_id, "omega_run_mode", "prod")
        study = _open_study(store, spec, 8, False, "")
        assert study.name == spec.name
    finally:
        store.close()
    loaded = optuna.load_study(study_name=spec.name, storage=url)
    assert loaded.user_attrs == {"omega_run_mode": "dev"}


def _raise_study_exists(**_: object) -> None:
    raise StudyExists("test-study was just created by another driver")


def test_read_only_commands_leave_a_foreign_database_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # show, studies and replay used to create the schema (and switch to WAL) in any
    # SQLite file they were pointed at.
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE prices (day TEXT, close REAL)")
        conn.execute("INSERT INTO prices VALUES ('2024-01-02', 1.1)")
    conn.close()
    before = path.read_bytes()
    url = f"sqlite:///{path}"
    assert main(["studies", "--storage", url]) == 0
    assert capsys.readouterr().out == f"no studies in {url}\n"
    for command in (["show", "x"], ["replay", "x", "--rank", "1"]):
        assert main([*command, "--storage", url]) == 2
        assert capsys.readouterr().err == (
            f"error: storage {url}: no study named 'x' (studies: none)\n"
        )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_read_only_commands_leave_a_storage_with_pending_commits_unchanged(
    write_study: StudyWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A writer killed with commits still in the -wal file: a reading command's closing
    # connection used to fold them into the main file (a write, and a failure on a
    # read-only copy). A read-only connection never checkpoints.
    path = write_study(n_trials=4, workers=1)
    url = storage_of(path)
    assert main(["sweep", str(path), "--storage", url]) == 0
    database = Path(url.removeprefix("sqlite:///"))
    writer = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "with conn:\n"
        "    conn.execute('CREATE TABLE scratch (x INTEGER)')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(database)], check=True)
    wal = Path(f"{database}-wal")
    before = database.read_bytes(), wal.read_bytes()
    assert before[1], "the killed writer's commit is in the -wal file"
    capsys.readouterr()
    for command in (
        ["studies"],
        ["show", "test-study", "--top", "1"],
        ["replay", "test-study", "--rank", "1", "--out", str(tmp_path / "replayed")],
    ):
        assert main([*command, "--storage", url]) == 0, capsys.readouterr().err
        assert (database.read_bytes(), wal.read_bytes()) == before, command


def test_a_streamed_round_is_stored_one_step_late_and_stops_the_sweep_if_lost(
    write_study: StudyWriter,
) -> None:
    with _driving(write_study, 8) as (_, store, study, lease):
        first, second = _fresh_claims(2, 4, 8)
        report = SweepReport(study=study)
        progress = LineProgress(io.StringIO())
        stores = _RoundStores(report, progress, late=True)

        def arrivals(claim: BatchClaim) -> _Arrivals:
            return _Arrivals(store, study, lease, [claim.plan.batch], [], [claim], progress, None)

        # Kept until the next flush (or the next round's add), then claimed and stored.
        assert stores.add(arrivals(first), [failed_outcome(n, "exception", "x") for n in range(4)])
        assert store.trials(study) == [] and report.ran == 0
        stores.flush()
        assert [t.state for t in store.trials(study)] == ["FAIL"] * 4 and report.ran == 4

        # A round whose batch is someone else's by then: the sweep stops, nothing stored.
        assert store.claim_batches(study, [second], lease)
        outcomes = [failed_outcome(n, "exception", "x") for n in range(4, 8)]
        assert stores.add(arrivals(second), outcomes)
        with pytest.raises(OptimizerError, match="another driver took over"):
            stores.flush()
        assert [t.state for t in store.trials(study)][4:] == ["RUNNING"] * 4
        assert report.ran == 4
