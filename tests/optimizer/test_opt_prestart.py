"""The worker processes that ``python -m optimizer sweep`` starts before its imports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opt_support import StudyWriter, marked_processes, marker_env, run_cli

from optimizer import prestart
from optimizer.pool import LokyPool, make_pool


@pytest.fixture(autouse=True)
def no_early_pool() -> Iterator[None]:
    """Ends whatever pool a test left started early."""
    yield
    prestart.close()


@pytest.mark.parametrize(
    ("study", "args", "expected"),
    [
        ({}, [], 2),  # the study file's workers
        ({"workers": None}, [], 1),  # absent: the default
        ({}, ["--workers", "3"], 3),
        ({}, ["--workers=4", "--trials", "8"], 4),
        ({}, ["--storage", "sqlite:///x.db", "--resume"], 2),
        ({}, ["--help"], None),
        ({}, ["--scheduler", "tcp://127.0.0.1:8786"], None),
        ({"backend": "dask"}, [], None),
        ({"workers": 0}, [], None),
        ({"workers": 257}, [], None),
        ({"workers": "two"}, [], None),
        ({}, ["--workers", "many"], None),
        ({}, ["--workers", "8", "--trials", "3"], 3),  # no more processes than trials
        ({"n_trials": 1}, [], 1),
    ],
)
def test_the_worker_count_is_read_from_the_arguments_and_the_file(
    write_study: StudyWriter, study: dict[str, object], args: list[str], expected: int | None
) -> None:
    path = write_study(**study)
    assert prestart.sweep_workers(["sweep", str(path), *args]) == expected


def test_anything_but_a_readable_sweep_starts_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    listed = tmp_path / "listed.yaml"
    listed.write_text("- a list\n", encoding="utf-8")
    # Read with the study file's own loader: a merge bomb (2^20 keys once expanded, which
    # the plain safe loader builds, for minutes at 25 lines) and a 5000-digit number.
    bomb = tmp_path / "bomb.yaml"
    lines = ["workers: 2", "bomb:", "  m0: &m0 {a: 1, b: 2}"]
    lines += [f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 21)]
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    digits = tmp_path / "digits.yaml"
    digits.write_text("workers: 2\nn_trials: " + "1" * 5000 + "\n", encoding="utf-8")
    for argv in (
        [],
        ["sweep", str(bomb)],
        ["sweep", str(digits)],
        ["show", str(listed)],
        ["sweep"],
        ["sweep", str(tmp_path / "missing.yaml")],
        ["sweep", str(broken)],
        ["sweep", str(listed)],
        ["sweep", str(broken), str(listed)],
    ):
        assert prestart.sweep_workers(argv) is None, argv


def test_the_sweep_takes_the_pool_started_early(write_study: StudyWriter) -> None:
    path = write_study(workers=1)
    prestart.start_early(["sweep", str(path)])
    early = prestart._early
    assert isinstance(early, LokyPool) and early.workers == 1
    pool = make_pool("loky", 1, None)
    try:
        assert pool is early
        assert prestart.take(1) is None, "make_pool took it"
    finally:
        pool.close()


def test_a_pool_of_another_size_is_ended(write_study: StudyWriter) -> None:
    path = write_study(workers=2)
    prestart.start_early(["sweep", str(path)])
    pool = make_pool("loky", 1, None)
    try:
        assert isinstance(pool, LokyPool) and pool.workers == 1
    finally:
        pool.close()
    assert prestart.take(2) is None, "the early pool of 2 was ended, not kept"


def test_a_study_file_that_fails_validation_leaves_no_workers(
    write_study: StudyWriter, marker: str
) -> None:
    """The early pool starts from a readable file; validation refuses it afterwards."""
    path = write_study(colour="blue")
    assert prestart.sweep_workers(["sweep", str(path)]) == 2
    proc = run_cli("sweep", str(path), **marker_env(marker))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: colour: "), proc.stderr
    assert marked_processes(marker) == []
