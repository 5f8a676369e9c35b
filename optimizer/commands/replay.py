"""``replay STUDY``: re-runs one trial from its stored config and seed, writes artifacts,
and fails loudly when the metrics differ from the stored ones."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from optimizer.commands._base import Command, add_storage_argument, open_study
from optimizer.errors import BadInputError, ReplayMismatch
from optimizer.metrics import METRIC_KEYS
from optimizer.ranking import rank_trials
from optimizer.storage import StudyRecord, TrialRecord

__all__ = ["ReplayCommand", "replay_trial", "select_trial"]


def select_trial(
    study: StudyRecord,
    trials: list[TrialRecord],
    *,
    rank: int | None = None,
    number: int | None = None,
    seed: int | None = None,
) -> TrialRecord:
    """Returns the trial named by exactly one of rank (§4 order), number or seed."""
    if rank is not None:
        ranked = rank_trials(trials, study.constraints)
        if not ranked:
            raise BadInputError(
                f"--rank {rank}: expected a ranked trial, study {study.name!r} has no ranked "
                "trials (none completed)"
            )
        if not 1 <= rank <= len(ranked):
            raise BadInputError(
                f"--rank {rank}: expected a rank from 1 to {len(ranked)} in study {study.name!r}"
            )
        return ranked[rank - 1].trial
    matches = [t for t in trials if (t.number == number if number is not None else t.seed == seed)]
    what = f"--trial {number}" if number is not None else f"--seed {seed}"
    if not matches:
        raise BadInputError(f"{what}: expected a trial of study {study.name!r} (none matches)")
    trial = matches[0]
    if trial.state != "COMPLETE":
        reason = f": {trial.error_category}: {trial.error_message}" if trial.state == "FAIL" else ""
        raise BadInputError(
            f"{what}: expected a completed trial, trial {trial.number} is {trial.state}{reason}"
        )
    return trial


def _same(stored: Any, replayed: Any) -> bool:
    if stored is None or replayed is None:
        return stored is None and replayed is None
    return float(stored) == float(replayed)


def replay_trial(trial: TrialRecord, out_dir: Path) -> dict[str, Any]:
    """Re-runs ``trial`` with trades and equity on, writes the four artifacts into
    ``out_dir`` and returns the engine result; raises :class:`ReplayMismatch` when a
    metric, the config hash or the seed differs from the stored ones."""
    import bt

    config = dict(trial.resolved_config or trial.config)
    config["output"] = {"trades": True, "equity": True}
    try:
        result = bt.run_backtest(config, out_dir=out_dir)
    except (bt.ConfigError, bt.InternalError) as exc:
        # The stored config ran once: a cost or data file changed or moved since.
        category = "config" if isinstance(exc, bt.ConfigError) else "internal"
        raise ReplayMismatch(
            f"trial {trial.number}: replay failed ({category}: {exc}) but the stored trial "
            "completed"
        ) from None
    if not result.get("ok"):
        error = result.get("error") or {}
        raise ReplayMismatch(
            f"trial {trial.number}: replay failed ({error.get('category')}: "
            f"{error.get('message')}) but the stored trial completed"
        )
    metrics = result.get("metrics") or {}
    stored = trial.metrics or {}
    diffs = [
        f"{key} stored {stored.get(key)!r} replayed {metrics.get(key)!r}"
        for key in METRIC_KEYS
        if not _same(stored.get(key), metrics.get(key))
    ]
    replay_hash = (result.get("meta") or {}).get("config_hash")
    if trial.config_hash and replay_hash != trial.config_hash:
        diffs.append(f"config_hash stored {trial.config_hash} replayed {replay_hash}")
    replay_seed = config.get("rng_seed")
    if trial.seed is not None and replay_seed != trial.seed:
        diffs.append(f"seed stored {trial.seed} replayed {replay_seed} (the config's rng_seed)")
    if diffs:
        raise ReplayMismatch(
            f"trial {trial.number}: replay differs from the stored trial: " + "; ".join(diffs)
        )
    return result


class ReplayCommand(Command):
    """Re-runs one stored trial and checks its metrics."""

    name = "replay"
    help = "re-run one trial, write trades.json, equity.csv, metrics.json, meta.json, check metrics"
    description = (
        "Re-runs one trial from its stored resolved config and seed, writes the four "
        "artifacts, and exits 1 naming every metric that differs from the stored one."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds STUDY, one of --rank/--trial/--seed, --out and --storage."""
        parser.add_argument("study", metavar="STUDY", help="study name or study file")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--rank", type=int, metavar="R", help="the trial at leaderboard rank R")
        which.add_argument("--trial", type=int, metavar="N", help="trial number N")
        which.add_argument("--seed", type=int, metavar="S", help="the trial with seed S")
        parser.add_argument(
            "--out", metavar="DIR", help="artifact folder (default out/STUDY/trial-N)"
        )
        add_storage_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Selects the trial, replays it and reports."""
        if args.out is not None and not args.out.strip():
            # As bt run refuses it: an empty folder name must not mean the default one.
            raise BadInputError("--out '': expected a folder path")
        store, study = open_study(args.study, args.storage)
        try:
            trial = select_trial(
                study, store.trials(study), rank=args.rank, number=args.trial, seed=args.seed
            )
        finally:
            store.close()
        default = Path("out") / study.name / f"trial-{trial.number}"
        out = default if args.out is None else Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, no write access: before the engine runs
            option = "the default artifact folder" if args.out is None else "--out"
            raise BadInputError(
                f"{option} {out}: expected a folder that can be created and written "
                f"({exc.strerror})"
            ) from None
        result = replay_trial(trial, out)
        metrics = result.get("metrics") or {}
        print(
            f"trial {trial.number} of {study.name} (seed {trial.seed}, config_hash "
            f"{trial.config_hash}) replayed: all {len(METRIC_KEYS)} metrics match"
        )
        print(json.dumps({k: metrics.get(k) for k in METRIC_KEYS}, sort_keys=True))
        print(f"artifacts: {out}/trades.json, equity.csv, metrics.json, meta.json")
        return 0
