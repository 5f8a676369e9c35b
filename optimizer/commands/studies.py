"""``studies``: every study in the storage with mode, trial counts and best score."""

from __future__ import annotations

import argparse

from optimizer.commands._base import Command, add_storage_argument, open_study_store
from optimizer.ranking import rank_trials
from optimizer.report import infeasible_mark, render_table
from optimizer.storage import StudyStore, display_url, resolve_storage

__all__ = ["StudiesCommand"]


class StudiesCommand(Command):
    """Lists the studies of a storage."""

    name = "studies"
    help = "list every study in the storage with mode, trial counts and best score"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds --storage."""
        add_storage_argument(parser, study_file=False)

    def run(self, args: argparse.Namespace) -> int:
        """Prints one row per study."""
        url = resolve_storage(args.storage)
        store = open_study_store(url)
        rows: list[list[object]] = []
        none_feasible = False
        if store is not None:
            rows, none_feasible = _study_rows(store)
        if not rows:
            print(f"no studies in {display_url(url)}")
            return 0
        headers = [
            "study",
            "mode",
            "sampler",
            "done",
            "complete",
            "failed",
            "pending",
            "best_score",
            "created",
        ]
        print(render_table(headers, rows))
        if none_feasible:
            print("* infeasible: no trial of the study meets its constraints")
        return 0


def _study_rows(store: StudyStore) -> tuple[list[list[object]], bool]:
    """Returns the table row of every study in ``store`` and whether a best score shown
    is an infeasible one, then closes the store."""
    try:
        rows: list[list[object]] = []
        none_feasible = False
        for study in store.list_studies():
            trials = store.trials(study)
            ranked = rank_trials(trials, study.constraints)
            states = [t.state for t in trials]
            best: object = None
            if ranked and ranked[0].trial.metrics:
                # Rank 1 is infeasible only when no trial is feasible: marked as in `show`.
                best = infeasible_mark(ranked[0].trial.metrics.get("score"), ranked[0].feasible)
                none_feasible = none_feasible or not ranked[0].feasible
            rows.append(
                [
                    study.name,
                    study.run_mode,
                    str(study.sampler.get("name")),
                    f"{states.count('COMPLETE') + states.count('FAIL')}/{study.n_trials}",
                    states.count("COMPLETE"),
                    states.count("FAIL"),
                    states.count("RUNNING") + states.count("WAITING"),
                    best,
                    study.created_at.strftime("%Y-%m-%d %H:%M"),
                ]
            )
        return rows, none_feasible
    finally:
        store.close()
