"""``show STUDY``: the leaderboard, ranked as in OPTIMIZER §4, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import json

from optimizer.commands._base import Command, add_storage_argument, open_study
from optimizer.errors import BadInputError
from optimizer.ranking import RankedTrial, rank_trials
from optimizer.report import (
    leaderboard_csv,
    leaderboard_json,
    leaderboard_rows,
    leaderboard_table,
    render_table,
)
from optimizer.storage import StudyRecord, StudyStore, TrialRecord

__all__ = ["ShowCommand", "print_leaderboard"]


#: The columns of a failed trial, as ``show --failed`` lists it.
_FAILED_COLUMNS = ("number", "seed", "error_category", "error_message")


def _ranked(
    store: StudyStore, study: StudyRecord, top: int
) -> tuple[list[TrialRecord], list[RankedTrial]]:
    """Returns the trials of ``study`` and the top ``top`` (0: all) ranked ones."""
    trials = store.trials(study)
    ranked = rank_trials(trials, study.constraints)
    return trials, ranked[:top] if top > 0 else ranked


def print_leaderboard(store: StudyStore, study: StudyRecord, *, top: int, fmt: str) -> None:
    """Prints the top ``top`` trials of ``study`` (0: all) in format ``fmt``."""
    trials, shown = _ranked(store, study, top)
    paths = [p["path"] for p in study.search_space]
    if fmt == "json":
        print(leaderboard_json(shown))
        return
    if fmt == "csv":
        print(leaderboard_csv(shown, paths), end="")
        return
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    summary = ", ".join(f"{counts[s]} {s.lower()}" for s in sorted(counts)) or "no trials"
    print(
        f"study {study.name} ({study.run_mode}, sampler {study.sampler.get('name')}, "
        f"{len(trials)}/{study.n_trials} trials: {summary})"
    )
    if not shown:
        print("no completed trials to rank")
        return
    print(f"top {len(shown)} by score, profit_net, max_drawdown, config_hash (* infeasible):")
    print(leaderboard_table(shown, paths))


class ShowCommand(Command):
    """Prints a study's leaderboard."""

    name = "show"
    help = "print a study's leaderboard (table, csv or json)"
    description = (
        "Prints the completed trials ranked by score desc, profit_net desc, max_drawdown "
        "asc, config_hash asc; infeasible trials after feasible ones. STUDY is a study "
        "name or a study file."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds STUDY, --top, --format, --failed and --storage."""
        parser.add_argument("study", metavar="STUDY", help="study name or study file")
        parser.add_argument(
            "--top",
            type=int,
            default=10,
            metavar="N",
            help="rows to show; 0 shows all (default 10)",
        )
        parser.add_argument(
            "--format", choices=("table", "csv", "json"), default="table", help="output format"
        )
        parser.add_argument(
            "--failed", action="store_true", help="list the failed trials and their reasons"
        )
        add_storage_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Prints the leaderboard (and the failures with --failed)."""
        if args.top < 0:
            raise BadInputError(f"--top {args.top}: expected an integer >= 0")
        if args.failed and args.format == "csv":
            raise BadInputError(
                "--failed: expected --format table or json (a CSV file holds one table; "
                "the failed trials have other columns)"
            )
        store, study = open_study(args.study, args.storage)
        try:
            failed_rows = (
                [
                    [getattr(t, c) for c in _FAILED_COLUMNS]
                    for t in store.trials(study, states=["FAIL"])
                ]
                if args.failed
                else []
            )
            if args.failed and args.format == "json":
                # One JSON document: the leaderboard and the failures side by side.
                _, shown = _ranked(store, study, args.top)
                failed = [dict(zip(_FAILED_COLUMNS, row, strict=True)) for row in failed_rows]
                document = {"leaderboard": leaderboard_rows(shown), "failed": failed}
                print(json.dumps(document, indent=2))
                return 0
            print_leaderboard(store, study, top=args.top, fmt=args.format)
            if args.failed:
                print(f"\n{len(failed_rows)} failed trials:")
                if failed_rows:
                    print(render_table(["trial", "seed", "category", "message"], failed_rows))
        finally:
            store.close()
        return 0
