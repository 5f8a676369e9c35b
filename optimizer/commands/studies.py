"""``studies``: every study in the storage with mode, trial counts and best score."""

from __future__ import annotations

import argparse

from optimizer.commands._base import Command, add_storage_argument
from optimizer.ranking import rank_trials
from optimizer.report import render_table
from optimizer.storage import StudyStore, resolve_storage

__all__ = ["StudiesCommand"]


class StudiesCommand(Command):
    """Lists the studies of a storage."""

    name = "studies"
    help = "list every study in the storage with mode, trial counts and best score"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds --storage."""
        add_storage_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Prints one row per study."""
        store = StudyStore(resolve_storage(args.storage), must_exist=True)
        try:
            rows = []
            for study in store.list_studies():
                trials = store.trials(study)
                ranked = rank_trials(trials, study.constraints)
                states = [t.state for t in trials]
                best = (
                    ranked[0].trial.metrics.get("score")
                    if ranked and ranked[0].trial.metrics
                    else None
                )
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
            if not rows:
                print(f"no studies in {store.url}")
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
        finally:
            store.close()
        return 0
