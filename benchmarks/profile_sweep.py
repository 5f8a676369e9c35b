"""Where a sweep's driver process spends its time, part by part.

Runs one sweep in this process with each driver step wrapped in a timer: wall time and
CPU time of the thread that ran it (the Optuna mirror runs in its own thread, so its CPU
time is apart from the main thread's). Prints one line per part and the driver process's
CPU time (all threads: main, mirror, loky's feeder and result threads). From the
repository root, after ``python benchmarks/bench_sweep.py`` wrote the study files:

    python benchmarks/profile_sweep.py out/bench-sweep/bench-10k-random.yaml \\
        --trials 2000 --workers 1 [--db /dev/shm/profile.db]
"""

from __future__ import annotations

import argparse
import functools
import io
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optimizer import driver
from optimizer.pool import LokyPool
from optimizer.progress import LineProgress
from optimizer.sampling import BatchAsker
from optimizer.storage import StudyStore
from optimizer.study_file import load_study_file

#: The timed parts: (owner, attribute name).
PARTS: list[tuple[Any, str]] = [
    (StudyStore, "__init__"),
    (StudyStore, "next_batch"),
    (StudyStore, "claim_batches"),
    (StudyStore, "finish_batches"),
    (StudyStore, "sync_optuna"),
    (BatchAsker, "ask"),
    (BatchAsker, "tell"),
    (LokyPool, "start"),
    (LokyPool, "finish"),
    (LokyPool, "run"),
    (driver, "_open_study"),
    (driver, "_ask_round"),
]


class Timers:
    """Wall and thread CPU seconds and calls per part."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str) -> None:
        """Replaces ``owner.name`` by a timed version of itself."""
        function: Callable[..., Any] = getattr(owner, name)
        label = f"{getattr(owner, '__name__', str(owner)).split('.')[-1]}.{name}"

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall[label] += time.perf_counter() - wall
                self.cpu[label] += time.thread_time() - cpu
                self.calls[label] += 1

        setattr(owner, name, timed)


def main() -> int:
    """Runs the sweep and prints the parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", type=Path, help="a new database file (default: a temporary one)")
    args = parser.parse_args()
    timers = Timers()
    for owner, name in PARTS:
        timers.wrap(owner, name)
    shm = Path("/dev/shm")
    folder = tempfile.mkdtemp(prefix="omega-profile-", dir=shm if shm.is_dir() else None)
    db = args.db or Path(folder) / "profile.db"
    spec = load_study_file(args.study)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = driver.run_sweep(
            spec,
            storage_url=f"sqlite:///{db}",
            n_trials=args.trials,
            workers=args.workers,
            progress=LineProgress(io.StringIO()),
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{report.ran} trials in {wall:.3f} s ({report.ran / wall:.1f} trials/s; batch loop "
        f"{report.wall_s:.3f} s); driver process CPU {cpu:.3f} s = "
        f"{cpu / report.ran * 1e3:.3f} ms per trial"
    )
    share = report.worker_engine_cpu_s / report.worker_cpu_s if report.worker_cpu_s else 0.0
    print(f"worker CPU inside run_backtest: {share:.1%}")
    print(f"{'part':<28} {'calls':>6} {'wall ms':>9} {'CPU ms':>9} {'CPU ms/trial':>12}")
    for label in sorted(timers.wall, key=lambda k: -timers.cpu[k]):
        print(
            f"{label:<28} {timers.calls[label]:>6} {timers.wall[label] * 1e3:>9.1f}"
            f" {timers.cpu[label] * 1e3:>9.1f} {timers.cpu[label] / report.ran * 1e3:>12.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
