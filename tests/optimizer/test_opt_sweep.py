"""End-to-end sweeps on the real engine: determinism, storage, ranking and replay."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path

import optuna
import pytest
from opt_support import (
    StudyWriter,
    count_states,
    result_table,
    run_cli,
    start_cli,
    storage_of,
)

from optimizer import driver
from optimizer.cli import main
from optimizer.driver import run_sweep
from optimizer.errors import Interrupted
from optimizer.metrics import METRIC_KEYS
from optimizer.progress import LineProgress
from optimizer.ranking import rank_trials
from optimizer.storage import StudyStore
from optimizer.storage._mirror import add_trials
from optimizer.study_file import load_study_file
from optimizer.worker import FAULTS_ENV

pytestmark = pytest.mark.integration


def sweep(study_file: Path, url: str, **kwargs: object) -> None:
    spec = load_study_file(study_file)
    run_sweep(spec, storage_url=url, progress=LineProgress(io.StringIO()), **kwargs)  # type: ignore[arg-type]


def test_no_more_worker_processes_than_trials(write_study: StudyWriter) -> None:
    path = write_study(n_trials=2, batch_size=2, workers=4)
    report = run_sweep(
        load_study_file(path), storage_url=storage_of(path), progress=LineProgress(io.StringIO())
    )
    assert report.workers == 2 and report.ran == 2


def test_workers_do_not_change_the_results(write_study: StudyWriter, tmp_path: Path) -> None:
    study = write_study()
    one, two = f"sqlite:///{tmp_path / 'w1.db'}", f"sqlite:///{tmp_path / 'w2.db'}"
    sweep(study, one, workers=1)
    sweep(study, two, workers=2)
    first, second = result_table(one, "test-study"), result_table(two, "test-study")
    assert len(first) == 24
    assert first == second
    assert all(row[1] == "COMPLETE" for row in first)
    assert len({row[2] for row in first}) > 12  # the sampler really explored


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sampler", ["tpe", "random"])
@pytest.mark.parametrize("first", [10, 4, 3], ids=["short-last-batch", "batch-0", "short-batch-0"])
def test_extending_the_budget_equals_one_run(
    write_study: StudyWriter, tmp_path: Path, first: int, sampler: str
) -> None:
    # `first` trials (batches of 4), then --trials 24 with --resume. Only batch 0 recorded
    # is the case where the highest batch number is 0.
    study = write_study(workers=1, sampler={"name": sampler})
    whole, parts = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'parts.db'}"
    sweep(study, whole)
    sweep(study, parts, n_trials=first)
    assert count_states(parts) == {"COMPLETE": first}
    sweep(study, parts, n_trials=24, resume=True)
    assert result_table(whole, "test-study") == result_table(parts, "test-study")


def test_storage_holds_optuna_and_project_tables(write_study: StudyWriter) -> None:
    path = write_study(workers=2, n_trials=8)
    url = storage_of(path)
    sweep(path, url)
    db = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert {"studies", "trials", "alembic_version", "omega_studies", "omega_trials"} <= tables
    assert mode == "wal"

    loaded = optuna.load_study(study_name="test-study", storage=url)
    store = StudyStore(url, must_exist=True)
    try:
        study = store.require_study("test-study")
        ours = store.trials(study)
    finally:
        store.close()
    assert [t.number for t in loaded.trials] == [t.number for t in ours] == list(range(8))
    for theirs, mine in zip(loaded.trials, ours, strict=True):
        assert theirs.params == mine.params
        assert theirs.user_attrs["seed"] == mine.seed
        assert theirs.user_attrs["config_hash"] == mine.config_hash
        assert mine.metrics is not None
        for key in METRIC_KEYS:
            assert theirs.user_attrs[key] == mine.metrics[key]
        assert theirs.value == mine.metrics["score"]
        # Every trial row carries what OPTIMIZER §3 lists.
        assert mine.state == "COMPLETE" and mine.config_hash and len(mine.config_hash) == 64
        assert mine.resolved_config is not None and mine.resolved_config["rng_seed"] == mine.seed
        assert mine.config["output"] == {"trades": False, "equity": False}
        assert mine.duration_s is not None and mine.engine_s is not None
        assert mine.duration_s >= mine.engine_s > 0
    # Long-lived workers: 8 trials ran in at most 2 worker processes.
    assert len({t.worker_pid for t in ours}) <= 2


def test_a_forked_child_gets_its_own_connections(write_study: StudyWriter) -> None:
    url = storage_of(write_study())
    store = StudyStore(url)
    assert store.list_studies() == []
    pid = os.fork()
    if pid == 0:  # the child: a fresh pool, never the parent's connection
        code = 0
        try:
            store.list_studies()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.list_studies() == []
    store.close()


def test_show_replay_and_exports_share_one_order(write_study: StudyWriter, tmp_path: Path) -> None:
    path = write_study(n_trials=12)
    url = storage_of(path)
    swept = run_cli("sweep", str(path))
    assert swept.returncode == 0, swept.stderr
    assert "top 10 by score" in swept.stdout and "trials/s" in swept.stdout
    assert "[test-study] 12/12 done" in swept.stderr  # plain lines when not a terminal

    store = StudyStore(url, must_exist=True)
    try:
        study = store.require_study("test-study")
        expected = [r.trial.number for r in rank_trials(store.trials(study), study.constraints)]
    finally:
        store.close()
    shown = run_cli("show", "test-study", "--storage", url, "--format", "json", "--top", "0")
    assert shown.returncode == 0, shown.stderr
    assert [row["number"] for row in json.loads(shown.stdout)] == expected
    as_csv = run_cli("show", str(path), "--format", "csv", "--top", "0")
    lines = as_csv.stdout.splitlines()
    assert [int(line.split(",")[1]) for line in lines[1:]] == expected
    table = run_cli("show", str(path), "--top", "3")
    assert table.returncode == 0 and "rank" in table.stdout

    out = tmp_path / "replay"
    replayed = run_cli("replay", str(path), "--rank", "1", "--out", str(out))
    assert replayed.returncode == 0, replayed.stderr
    assert f"trial {expected[0]} of test-study" in replayed.stdout
    for name in ("trades.json", "equity.csv", "metrics.json", "meta.json"):
        assert (out / name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["score"] == json.loads(shown.stdout)[0]["metrics"]["score"]

    listed = run_cli("studies", "--storage", url)
    assert listed.returncode == 0 and "test-study" in listed.stdout and "12/12" in listed.stdout

    # A reader that goes away (`show | head`): no traceback, the shell's code for SIGPIPE.
    replay = ["replay", str(path), "--rank", "1", "--out", str(out)]
    for command in (["show", str(path), "--top", "0"], replay):
        proc = start_cli(*command, "--storage", url)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 141, err
        assert "Traceback" not in err, err


def test_replay_of_a_config_the_engine_now_refuses_is_one_line(
    write_study: StudyWriter, tmp_path: Path
) -> None:
    # A cost file that changed or moved since the sweep: the stored config ran once, so
    # this is a replay that differs (exit 1), in one line, not a traceback.
    path = write_study(n_trials=2, workers=1)
    url = storage_of(path)
    sweep(path, url)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    with conn:
        for column in ("config", "resolved_config"):
            conn.execute(
                f"UPDATE omega_trials SET {column} = json_set({column}, '$.costs.symbol_specs', ?)",
                (str(tmp_path / "gone.yaml"),),
            )
    conn.close()
    replayed = run_cli("replay", str(path), "--trial", "1", "--out", str(tmp_path / "r"))
    assert replayed.returncode == 1
    assert replayed.stderr.startswith("replay mismatch: trial 1: replay failed (config: ")
    assert replayed.stderr.count("\n") == 1 and "Traceback" not in replayed.stderr


def test_studies_marks_a_best_score_that_no_feasible_trial_has(
    write_study: StudyWriter,
) -> None:
    path = write_study(n_trials=3, workers=1, constraints={"min_trades": 1_000_000})
    url = storage_of(path)
    swept = run_cli("sweep", str(path), "--storage", url)
    assert swept.returncode == 0, swept.stderr
    assert "3 trials run (0 failed)" in swept.stdout and " with 1 worker: " in swept.stdout
    listed = run_cli("studies", "--storage", url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("test-study"))
    assert row.split()[7].endswith("*"), listed.stdout
    assert "* infeasible: no trial of the study meets its constraints" in listed.stdout


def test_replay_fails_loudly_on_a_metric_mismatch(write_study: StudyWriter, tmp_path: Path) -> None:
    path = write_study(n_trials=4, workers=1)
    url = storage_of(path)
    sweep(path, url)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    with conn:
        conn.execute("UPDATE omega_trials SET profit_net = profit_net + 1 WHERE number = 2")
        conn.execute("UPDATE omega_trials SET seed = seed + 1 WHERE number = 3")
    conn.close()
    out = str(tmp_path / "replays")
    bad = run_cli("replay", str(path), "--trial", "2", "--out", out)
    assert bad.returncode == 1
    assert "trial 2: replay differs" in bad.stderr and "profit_net stored" in bad.stderr
    # The seed column is checked too: the replay runs the config's rng_seed.
    reseeded = run_cli("replay", str(path), "--trial", "3", "--out", out)
    assert reseeded.returncode == 1 and "seed stored" in reseeded.stderr, reseeded.stderr
    good = run_cli("replay", str(path), "--trial", "1", "--out", out)
    assert good.returncode == 0, good.stderr
    missing = run_cli("replay", str(path), "--trial", "99")
    assert missing.returncode == 2 and "--trial 99" in missing.stderr
    # An --out that cannot be a folder is bad input (2), not a replay that differs (1).
    (tmp_path / "a-file").write_text("")
    blocked = run_cli("replay", str(path), "--trial", "1", "--out", str(tmp_path / "a-file" / "x"))
    assert blocked.returncode == 2, blocked.stderr
    assert "--out" in blocked.stderr and "expected a folder" in blocked.stderr


def test_an_existing_study_needs_resume_and_the_same_settings(
    write_study: StudyWriter,
) -> None:
    path = write_study(n_trials=4, workers=1)
    url = storage_of(path)
    sweep(path, url)
    again = run_cli("sweep", str(path))
    assert again.returncode == 2 and "already exists" in again.stderr and "--resume" in again.stderr
    changed = write_study(n_trials=4, workers=1, seed=12)
    resumed = run_cli("sweep", str(changed), "--resume")
    assert resumed.returncode == 2 and "seed: expected the value stored" in resumed.stderr
    unknown = run_cli("show", "nope", "--storage", url)
    assert unknown.returncode == 2 and "no study named 'nope'" in unknown.stderr


def test_resume_starts_a_missing_study_and_says_so(
    write_study: StudyWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    # `make run` and several drivers on PostgreSQL (docs/scaling.md) start studies with
    # --resume: it still does, and says so.
    path = write_study(n_trials=4, workers=1)
    url = storage_of(path)
    assert main(["sweep", str(path), "--resume"]) == 0
    note = f"note: no study named 'test-study' was in {url}: --resume started it"
    assert note in capsys.readouterr().err
    assert main(["sweep", str(path), "--resume", "--trials", "8"]) == 0
    assert "note:" not in capsys.readouterr().err
    assert count_states(url) == {"COMPLETE": 8}


def test_resume_refuses_a_budget_below_the_finished_trials(
    write_study: StudyWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_study(n_trials=6, workers=1)
    url = storage_of(path)
    sweep(path, url)
    assert main(["sweep", str(path), "--resume", "--trials", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --trials 2: expected at least 6 (study 'test-study' in {url} has finished "
        "6 trials already)\n"
    )
    lowered = write_study("lowered.yaml", n_trials=3, workers=1)
    assert main(["sweep", str(lowered), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"error: {lowered}: n_trials: expected at least 6 (" in err and "got 3" in err
    # The stored budget is unchanged, and a budget down to the finished trials is fine.
    assert main(["studies", "--storage", url]) == 0
    assert " 6/6 " in capsys.readouterr().out
    assert main(["sweep", str(path), "--resume", "--trials", "6"]) == 0
    # Another driver (several drivers on a server) stored a budget of 2 meanwhile: a
    # larger one that is still below the finished trials is refused too.
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    with conn:
        conn.execute("UPDATE omega_studies SET n_trials = 2")
    conn.close()
    assert main(["sweep", str(path), "--resume", "--trials", "4"]) == 2
    assert "--trials 4: expected at least 6 (" in capsys.readouterr().err


def test_replay_rank_names_a_study_without_ranked_trials(
    write_study: StudyWriter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(FAULTS_ENV, "*:raise")
    path = write_study(n_trials=2, workers=1)
    sweep(path, storage_of(path))
    assert main(["replay", str(path), "--rank", "1"]) == 2
    assert capsys.readouterr().err == (
        "error: --rank 1: expected a ranked trial, study 'test-study' has no ranked trials "
        "(none completed)\n"
    )


@pytest.mark.parametrize("sampler", ["random", "grid", "cmaes", "nsga2"])
def test_every_sampler_is_deterministic_across_workers(
    write_study: StudyWriter, tmp_path: Path, sampler: str
) -> None:
    options = {"cmaes": {"popsize": 4}, "nsga2": {"population_size": 4}}.get(sampler, {})
    study = write_study(sampler={"name": sampler, **options}, n_trials=12)
    one, two = f"sqlite:///{tmp_path / 'w1.db'}", f"sqlite:///{tmp_path / 'w2.db'}"
    sweep(study, one, workers=1)
    sweep(study, two, workers=2)
    assert result_table(one, "test-study") == result_table(two, "test-study")


def test_bulk_and_public_optuna_mirrors_are_identical(
    write_study: StudyWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A grid with failures so that FAIL trials and system attributes are mirrored too.
    monkeypatch.setenv("OMEGA_OPTIMIZER_FAULTS", "2:raise")
    path = write_study(
        sampler={"name": "grid"},
        n_trials=6,
        search_space={
            "strategy.params.z_window": {"type": "int", "low": 20, "high": 70, "step": 10}
        },
    )
    url = storage_of(path)
    sweep(path, url)
    store = StudyStore(url, must_exist=True)
    try:
        study = store.require_study("test-study")
        templates = [t for _, t in sorted(store.told_trials(study).items())]
    finally:
        store.close()
    loaded = []
    for bulk in (True, False):
        other = f"sqlite:///{tmp_path / f'mirror-{bulk}.db'}"
        storage = optuna.storages.RDBStorage(other)
        study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "m")
        add_trials(storage.engine, study_id, templates, lambda: storage, bulk=bulk)  # noqa: B023
        loaded.append(optuna.load_study(study_name="m", storage=other).trials)
        storage.engine.dispose()
    original = optuna.load_study(study_name="test-study", storage=url).trials
    assert [t.state for t in original].count(optuna.trial.TrialState.FAIL) == 1
    for bulk_trial, public_trial, first in zip(*loaded, original, strict=True):
        for trial in (bulk_trial, public_trial):
            assert trial.number == first.number and trial.state == first.state
            assert trial.params == first.params and trial.values == first.values
            assert trial.distributions == first.distributions
            assert trial.user_attrs == first.user_attrs
            assert trial.system_attrs == first.system_attrs
            assert trial.datetime_start == first.datetime_start


def _batch_rows(url: str) -> list[tuple[int, str]]:
    """Returns (batch, history) of every recorded batch, in batch order."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return conn.execute("SELECT batch, history FROM omega_batches ORDER BY batch").fetchall()
    finally:
        conn.close()


def test_rounds_of_several_batches_store_what_single_batches_do(
    write_study: StudyWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A history-free sampler on one driver groups fresh batches into rounds (one claim and
    # one store transaction each); every batch must still be asked, seeded and recorded
    # as it is alone.
    study = write_study(sampler={"name": "random"}, n_trials=40, workers=1)
    tables, batches, lines = [], [], []
    for label, round_s in (("single", 0.0), ("grouped", 1e9)):
        monkeypatch.setattr(driver, "ROUND_S", round_s)
        url = f"sqlite:///{tmp_path / f'{label}.db'}"
        out = io.StringIO()
        run_sweep(load_study_file(study), storage_url=url, progress=LineProgress(out))
        tables.append(result_table(url, "test-study"))
        batches.append(_batch_rows(url))
        lines.append(len(out.getvalue().splitlines()))
    assert tables[0] == tables[1] and len(tables[0]) == 40
    assert batches[0] == batches[1] and [b for b, _ in batches[0]] == list(range(10))
    # One progress line per round: 10 rounds of one batch, then 1 + 1 + 8 batches (the
    # second round was asked ahead while the first, sized before any timing, ran).
    assert lines[0] == 1 + 10 and lines[1] == 1 + 3


def test_an_interrupted_round_resumes_to_the_same_table(
    write_study: StudyWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = write_study(sampler={"name": "random"}, n_trials=40, workers=1)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    sweep(study, reference)
    monkeypatch.setattr(driver, "ROUND_S", 1e9)
    monkeypatch.setenv(FAULTS_ENV, "*:sleep=0.02")  # a round of 8 batches takes ~0.6 s
    url = storage_of(study)
    with pytest.raises(Interrupted):
        # Rounds [0], [1], then [2..9]: stopped in the third.
        sweep(study, url, stop=lambda: count_states(url).get("COMPLETE", 0) >= 8)
    states = count_states(url)
    assert states == {"COMPLETE": 8, "WAITING": 32}, states
    monkeypatch.delenv(FAULTS_ENV)
    sweep(study, url, resume=True)
    assert result_table(url, "test-study") == result_table(reference, "test-study")
    assert _batch_rows(url) == _batch_rows(reference)
