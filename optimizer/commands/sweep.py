"""``sweep STUDY.yaml``: runs (or resumes) a study and prints the ranked top N."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from optimizer.commands._base import Command, add_storage_argument, study_exists
from optimizer.commands.show import print_leaderboard
from optimizer.driver import run_sweep
from optimizer.errors import BadInputError, Interrupted
from optimizer.progress import make_progress
from optimizer.storage import StudyStore, display_url, resolve_storage
from optimizer.study_file import MAX_TRIALS, MAX_WORKERS, is_scheduler_address, load_study_file

__all__ = ["SweepCommand"]


def _count_up_to(high: int) -> Callable[[str], int]:
    """Returns an argparse type for an integer from 1 to ``high`` (as the study file's
    ``n_trials`` and ``workers`` are bounded)."""

    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer from 1 to {high:,}, got {text!r}"
            )
        return value

    return count


class _StopFlag:
    """The first Ctrl-C asks the driver to stop at a safe point; the second one aborts."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self) -> bool:
        return self.stopping

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            raise KeyboardInterrupt
        self.stopping = True
        print("\nstopping: finishing nothing more, marking the batch WAITING ...", file=sys.stderr)


class SweepCommand(Command):
    """Runs or resumes a study."""

    name = "sweep"
    help = "run (or resume) a study and print its ranked top trials"
    description = (
        "Runs the study file's trials in parallel worker processes, stores every trial, "
        "and prints the leaderboard. Ctrl-C stops within seconds; --resume continues."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds STUDY.yaml, --trials, --workers, --storage, --scheduler, --resume and --top."""
        parser.add_argument("study_file", metavar="STUDY.yaml", help="the study file")
        parser.add_argument(
            "--trials",
            type=_count_up_to(MAX_TRIALS),
            metavar="N",
            help="trial budget (default: n_trials)",
        )
        parser.add_argument(
            "--workers",
            type=_count_up_to(MAX_WORKERS),
            metavar="N",
            help="worker processes (default: workers)",
        )
        add_storage_argument(parser)
        parser.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="run the trials on the Dask cluster whose scheduler listens at ADDRESS, "
            "e.g. tcp://host:8786 (backend dask; overrides the study file's backend and "
            "scheduler; see docs/scaling.md)",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue the study if the storage holds it, else start it (also: join "
            "the drivers already running it on a PostgreSQL storage)",
        )
        parser.add_argument(
            "--top", type=int, default=10, metavar="N", help="rows of the final table (default 10)"
        )

    def run(self, args: argparse.Namespace) -> int:
        """Validates the study file, runs the sweep and prints the top N."""
        if args.top < 0:
            raise BadInputError(f"--top {args.top}: expected an integer >= 0")
        spec = load_study_file(args.study_file)
        if args.scheduler is not None:
            if not is_scheduler_address(args.scheduler):
                raise BadInputError(
                    f"--scheduler {args.scheduler}: expected a Dask scheduler address such as "
                    "tcp://host:8786"
                )
            spec = dataclasses.replace(spec, backend="dask", scheduler=args.scheduler)
        elif spec.backend == "dask" and spec.scheduler is None:
            raise BadInputError(
                f"{args.study_file}: scheduler: expected a Dask scheduler address such as "
                "tcp://host:8786 for backend dask (the scheduler key or --scheduler)"
            )
        text = Path(args.study_file).read_text(encoding="utf-8")
        url = resolve_storage(args.storage, spec.storage)
        # --resume starts a study that is not there (docs/optimizer.md): said once it ran,
        # so that an error stays the one line on stderr.
        note = None
        if args.resume and not study_exists(url, spec.name):
            note = (
                f"note: no study named {spec.name!r} was in {display_url(url)}: --resume started it"
            )
        flag = _StopFlag()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, flag.handle)
        try:
            report = run_sweep(
                spec,
                storage_url=url,
                study_text=text,
                n_trials=args.trials,
                workers=args.workers,
                resume=args.resume,
                progress=make_progress(),
                stop=flag,
            )
        except Interrupted:
            if note:
                print(note, file=sys.stderr)
            # The command repeats the options given: the budget (without it, --resume
            # would extend the study to the file's n_trials), the workers, the storage
            # and the cluster (a password in the URL shown masked, never printed).
            again = [args.study_file, "--resume"]
            if args.trials is not None:
                again += ["--trials", str(args.trials)]
            if args.workers is not None:
                again += ["--workers", str(args.workers)]
            if args.storage:
                again += ["--storage", display_url(args.storage)]
            if args.scheduler:
                again += ["--scheduler", args.scheduler]
            print(
                "interrupted: the unfinished batch is WAITING; resume with: "
                f"python -m optimizer sweep {shlex.join(again)}",
                file=sys.stderr,
            )
            return 130
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if note:
            print(note, file=sys.stderr)
        store = StudyStore(url, must_exist=True)
        try:
            study = store.require_study(spec.name)
            print_leaderboard(store, study, top=args.top, fmt="table")
        finally:
            store.close()
        print(
            f"{report.ran} trials run ({report.failed} failed) in {report.wall_s:.1f} s with "
            f"{report.workers} worker{'' if report.workers == 1 else 's'}: "
            f"{report.trials_per_s:.2f} trials/s; time inside "
            f"run_backtest {report.engine_s:.1f} s = {report.engine_share:.0%} of worker time"
        )
        if report.wall_s > 0:
            shares = (report.ask_s, report.evaluate_s, report.store_s)
            ask, evaluate, store_ = (f"{x / report.wall_s:.0%}" for x in shares)
            print(
                f"wall time: asking {ask} (sampler, hand-over, claims), evaluating {evaluate} "
                f"(workers, Optuna mirror), storing {store_} (results)"
            )
        return 0
