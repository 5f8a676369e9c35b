"""End-to-end benchmark of a parameter sweep: the optimizer's driver against Optuna used
the plain way.

Every case runs in a fresh Python process (fresh worker processes, cold engine cache)
and is timed around the call that does the sweep, so interpreter start-up and imports
are left out on both sides. The study is the dev study's (``studies/eurusd_mrz_dev.yaml``:
its search space, seed 7, ``batch_size`` 8, TPE with 24 start-up trials or the random
sampler) on the 10,000-bar EURUSD M5 set, and on the 100k set for the scaling check.

* ``driver``: ``optimizer.driver.run_sweep`` (what ``python -m optimizer sweep`` runs,
  its worker processes started before the imports as the command line starts them,
  see ``optimizer.prestart``); trials/s, the share of wall time inside
  ``run_backtest`` (summed engine time over wall time times workers), the share of
  the worker processes' CPU time inside ``run_backtest`` (from their first trial to
  their last), and a worker's peak RSS.
* ``plain``: ``optuna.create_study(storage="sqlite:///...")`` and
  ``study.optimize(objective, n_trials=N)``, the objective suggesting the same search
  space and calling ``omega_bt.run_backtest`` with the same config and seeds.
* ``raw``: the 100k sweep's trials (their stored engine configs) run in 1 and 2 plain
  processes with no driver and no storage, data loaded beforehand: the machine's own
  ceiling for going from 1 to 2 workers (``ceil``: the driver's 2-worker gain as a
  share of that ceiling's).
* ``ask/tell``: Optuna's own in-memory cost for the driver's TPE trials: an in-memory
  study asks the same batches with the same per-batch seeded sampler and is told the
  driver's results (no engine, no storage). The driver's overhead over it is the
  median over the turns of ``driver wall / ask-tell wall - 1``, each turn's replay
  right after its driver runs.

Both databases go to ``--db-dir`` (default: ``/dev/shm`` where it exists, so that the
plain way is not slowed down by fsync: on a disk, its commit per trial step costs an
fsync each). The plain cases are medians over ``--repeat`` runs. The 1- and 2-worker
runs of a driver case (with its ask/tell replay, and the plain processes') take turns,
``--turns`` of them, so that the machine's drift in speed between them does not bias
their ratio, and each ratio (2 workers over 1, the driver over ask/tell) is the median
of the ratios within a turn (the machine's speed can move by half between turns, and a
single turn of the 200-trial TPE case can read anywhere from +0% to +55%); the
2,000-trial cases run once with ``--quick``. Prints a table and the targets of issue 4
(met or not, with the figures) and writes JSON. From the repository root:

    python benchmarks/bench_sweep.py [--repeat 3] [--turns 5] [--quick] [--json FILE]
    python benchmarks/bench_sweep.py --report out/bench_sweep.json   # reprint a run
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from datasets import HUNDRED_K, TEN_K, Dataset
from targets import Check, print_checks

ROOT = Path(__file__).resolve().parents[1]
DEV_STUDY = ROOT / "studies" / "eurusd_mrz_dev.yaml"
SAMPLERS: dict[str, dict[str, Any]] = {
    "random": {"name": "random"},
    "tpe": {"name": "tpe", "n_startup_trials": 24},
}


# --- one case, in its own process ------------------------------------------------------


def write_study(
    folder: Path, dataset: Dataset, sampler: str, name: str, batch_size: int = 8
) -> Path:
    """Writes the dev study for ``dataset`` and ``sampler`` into ``folder``."""
    base = folder / f"base-{dataset.name}.json"
    base.write_text(json.dumps(dataset.config(), indent=2), encoding="utf-8")
    study = yaml.safe_load(DEV_STUDY.read_text(encoding="utf-8"))
    study.update(
        name=name,
        base_config=str(base.resolve()),
        sampler=SAMPLERS[sampler],
        workers=1,
        batch_size=batch_size,
    )
    study.pop("storage", None)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path


def table_digest(url: str, name: str) -> str:
    """Returns a digest of the study's result table (numbers, params, seeds, metrics)."""
    from optimizer.storage import StudyStore

    store = StudyStore(url, must_exist=True)
    try:
        rows = [
            (t.number, t.state, t.params, t.seed, t.config_hash, t.metrics)
            for t in store.trials(store.require_study(name))
        ]
    finally:
        store.close()
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:12]


def run_driver(case: dict[str, Any]) -> dict[str, Any]:
    """Runs one sweep with the optimizer's driver, as ``python -m optimizer sweep`` does:
    its worker processes start before the imports (:mod:`optimizer.prestart`)."""
    from optimizer import prestart

    prestart.start_early(
        ["sweep", case["study"], "--trials", str(case["trials"]), "--workers", str(case["workers"])]
    )
    from optimizer.driver import run_sweep
    from optimizer.progress import LineProgress
    from optimizer.study_file import load_study_file

    spec = load_study_file(case["study"])
    url = f"sqlite:///{case['db']}"
    started = time.perf_counter()
    report = run_sweep(
        spec,
        storage_url=url,
        n_trials=case["trials"],
        workers=case["workers"],
        progress=LineProgress(io.StringIO()),
    )
    wall = time.perf_counter() - started
    worker_cpu = getattr(report, "worker_cpu_s", 0.0)  # (not in older drivers)
    return {
        "wall_s": wall,
        "loop_s": report.wall_s,
        "trials": report.ran,
        "failed": report.failed,
        "engine_s": report.engine_s,
        "wall_share_engine": report.engine_s / (wall * case["workers"]),
        "worker_cpu_share_engine": (
            report.worker_engine_cpu_s / report.worker_cpu_s if worker_cpu else None
        ),
        "worker_peak_rss_mb": getattr(report, "worker_peak_rss_mb", None),
        "ask_s": report.ask_s,
        "evaluate_s": report.evaluate_s,
        "store_s": report.store_s,
        "table": table_digest(url, spec.name),
    }


def _suggest(trial: Any, spec: Any) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(spec.path, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(
            spec.path, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
        )
    return trial.suggest_float(spec.path, spec.low, spec.high, step=spec.step, log=spec.log)


def run_plain(case: dict[str, Any]) -> dict[str, Any]:
    """Runs the same sweep the plain way: Optuna's optimize loop on a SQLite storage."""
    import optuna

    import omega_bt
    from optimizer.driver import build_config
    from optimizer.seeds import derive
    from optimizer.study_file import load_study_file

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = load_study_file(case["study"])
    options = {k: v for k, v in SAMPLERS[case["sampler"]].items() if k != "name"}
    sampler: optuna.samplers.BaseSampler = (
        optuna.samplers.TPESampler(seed=spec.seed, **options)
        if case["sampler"] == "tpe"
        else optuna.samplers.RandomSampler(seed=spec.seed)
    )
    engine_s = 0.0
    seed = spec.seed
    assert seed is not None  # a dev study

    def objective(trial: optuna.Trial) -> float:
        nonlocal engine_s
        params = {p.path: _suggest(trial, p) for p in spec.search_space}
        config = json.dumps(build_config(spec, params, derive(seed, trial.number)))
        start = time.perf_counter()
        result = json.loads(omega_bt.run_backtest(config))
        engine_s += time.perf_counter() - start
        score = (result.get("metrics") or {}).get("score") if result.get("ok") else None
        return float("nan") if score is None else float(score)

    started = time.perf_counter()
    study = optuna.create_study(
        storage=f"sqlite:///{case['db']}", sampler=sampler, direction="maximize"
    )
    study.optimize(objective, n_trials=case["trials"])
    wall = time.perf_counter() - started
    return {"wall_s": wall, "trials": case["trials"], "engine_s": engine_s}


def run_ask_tell(case: dict[str, Any]) -> dict[str, Any]:
    """Replays a driver sweep's trials in an in-memory Optuna study: ask each batch with
    the batch's seeded sampler, tell the driver's results. Checks the params match."""
    import optuna
    from optuna.trial import TrialState

    from optimizer.samplers import make_sampler
    from optimizer.seeds import sampler_seed
    from optimizer.storage import StudyStore
    from optimizer.study_file import load_study_file

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = load_study_file(case["study"])
    store = StudyStore(f"sqlite:///{case['db']}", must_exist=True)
    try:
        stored = store.trials(store.require_study(spec.name))
    finally:
        store.close()
    distributions = {p.path: p.distribution() for p in spec.search_space}
    assert spec.seed is not None
    started = time.perf_counter()
    study = optuna.create_study(direction="maximize")
    same = True
    for at in range(0, len(stored), spec.batch_size):
        batch = stored[at : at + spec.batch_size]
        study.sampler = make_sampler(
            spec.sampler, sampler_seed(spec.seed, at // spec.batch_size), spec.search_space
        )
        asked = [study.ask(fixed_distributions=distributions) for _ in batch]
        for trial, row in zip(asked, batch, strict=True):
            same = same and trial.params == row.params
            value = row.objective_value
            if row.state == "COMPLETE" and value is not None and math.isfinite(value):
                study.tell(trial, value)
            else:
                study.tell(trial, state=TrialState.FAIL)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "trials": len(stored), "same_params": same}


def _run_configs(configs: list[str]) -> tuple[float, int]:
    """Runs the engine configs one after the other in this process; returns the wall
    time of all but the first (which loads the data into the process's cache) and
    their number."""
    import omega_bt

    omega_bt.run_backtest(configs[0])
    started = time.perf_counter()
    for config in configs[1:]:
        omega_bt.run_backtest(config)
    return time.perf_counter() - started, len(configs) - 1


def run_raw(case: dict[str, Any]) -> dict[str, Any]:
    """Runs a driver sweep's trials (their stored engine configs) in ``workers`` plain
    processes, split evenly, with no driver and no storage: what the machine itself
    gives for these backtests (its ceiling for the sweep's scaling)."""
    from concurrent.futures import ProcessPoolExecutor

    from optimizer.storage import StudyStore
    from optimizer.study_file import load_study_file

    spec = load_study_file(case["study"])
    store = StudyStore(f"sqlite:///{case['db']}", must_exist=True)
    try:
        configs = [json.dumps(t.config) for t in store.trials(store.require_study(spec.name))]
    finally:
        store.close()
    workers = case["workers"]
    with ProcessPoolExecutor(workers) as executor:
        timed = list(executor.map(_run_configs, [configs[i::workers] for i in range(workers)]))
    runs = sum(n for _, n in timed)
    wall = max(t for t, _ in timed)
    return {"wall_s": wall, "trials": runs}


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Runs one case in this process and returns its figures."""
    runner = {
        "driver": run_driver,
        "plain": run_plain,
        "ask_tell": run_ask_tell,
        "raw": run_raw,
    }[case["kind"]]
    return runner(case)


# --- the orchestration ---------------------------------------------------------------


def spawn(case: dict[str, Any]) -> dict[str, Any]:
    """Runs ``case`` in a fresh Python process and returns its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def fresh_db(folder: Path, label: str) -> Path:
    """Returns the path of a database file that does not exist yet."""
    path = folder / f"{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def measure(
    kind: str, repeat: int, db_dir: Path, label: str, **case: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Runs a case ``repeat`` times; returns the medians and the runs."""
    return measure_alternately(kind, repeat, db_dir, [(label, case)])[0]


def measure_alternately(
    kind: str,
    repeat: int,
    db_dir: Path,
    cases: list[tuple[str, dict[str, Any]]],
    replay: dict[str, Any] | None = None,
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Runs each of ``cases`` (label, case) ``repeat`` times, taking turns (A B A B ...,
    so that a drift of the machine's speed weighs on each case alike); returns the
    medians and the runs of each. ``replay``, a case that reads a sweep's database (the
    in-memory ask/tell), takes its turn after them on the database of the turn's first
    case; its medians and runs come last."""
    runs: list[list[dict[str, Any]]] = [[] for _ in [*cases, *([replay] if replay else [])]]
    for index in range(repeat):
        for (label, case), done in zip(cases, runs, strict=False):
            db = fresh_db(db_dir, f"{label}-{index}")
            done.append({**spawn({"kind": kind, "db": str(db), **case}), "db": str(db)})
        if replay is not None:
            runs[-1].append(spawn({**replay, "db": runs[0][-1]["db"]}))
    return [(_summary(done), done) for done in runs]


def paired(numerators: list[float], denominators: list[float]) -> float:
    """Returns the median of the ratios of runs taken in the same turn."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Returns the medians of a case's runs."""
    summary: dict[str, Any] = {
        key: median_of(runs, key)
        for key in runs[0]
        if isinstance(runs[0][key], float | int) and not isinstance(runs[0][key], bool)
    }
    summary["runs"] = len(runs)
    summary["trials_per_s"] = summary["trials"] / summary["wall_s"]
    summary["wall_s_all"] = [round(r["wall_s"], 3) for r in runs]
    if "loop_s" in runs[0]:
        summary["loop_s_all"] = [round(r["loop_s"], 3) for r in runs]
    if "table" in runs[0]:
        summary["tables"] = sorted({r["table"] for r in runs})
    if "same_params" in runs[0]:
        summary["same_params"] = all(r["same_params"] for r in runs)
    return summary


def main() -> int:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per plain Optuna case (median)")
    parser.add_argument(
        "--turns", type=int, default=5, help="turns of each driver case's paired runs (median)"
    )
    parser.add_argument("--quick", action="store_true", help="2,000-trial cases run once")
    parser.add_argument("--db-dir", type=Path, help="where the databases go")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench_sweep.json")
    parser.add_argument(
        "--report", type=Path, help="print the table and targets of an earlier run's JSON"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    if args.report:
        earlier = json.loads(args.report.read_text(encoding="utf-8"))["rows"]
        print_table(earlier)
        print_checks(sweep_checks(earlier))
        return 0

    shm = Path("/dev/shm")
    db_root = args.db_dir or (shm if shm.is_dir() and os.access(shm, os.W_OK) else None)
    db_dir = Path(tempfile.mkdtemp(prefix="omega-bench-sweep-", dir=db_root))
    studies = ROOT / "out" / "bench-sweep"
    studies.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def add(label: str, summary: dict[str, Any], **extra: Any) -> dict[str, Any]:
        row = {"case": label, **extra, **summary}
        rows.append(row)
        print(f"  {label}: {summary['trials_per_s']:.1f} trials/s", file=sys.stderr, flush=True)
        return row

    def driver_group(
        label: str,
        study: Path,
        sampler: str,
        trials: int,
        turns: int,
        plain_s: float | None,
        ask_tell: bool = False,
    ) -> tuple[list[dict[str, Any]], str]:
        """Runs the driver with 1 and 2 workers (and, with ``ask_tell``, the in-memory
        ask/tell of their trials), taking ``turns`` turns; returns the rows and a database."""
        common = {"study": str(study), "sampler": sampler, "trials": trials}
        tag = label.replace(" ", "-")
        measured = measure_alternately(
            "driver",
            turns,
            db_dir,
            [(f"{tag}-w{workers}", {**common, "workers": workers}) for workers in (1, 2)],
            replay={"kind": "ask_tell", **common} if ask_tell else None,
        )
        group = []
        for workers, (summary, _) in zip((1, 2), measured, strict=False):
            row = add(f"{label} w{workers}", summary, **common, workers=workers)
            if plain_s is not None:
                row["x_plain"] = plain_s / summary["wall_s"]
            group.append(row)
        first_db = str(measured[0][1][0]["db"])
        group[1]["vs_w1"] = paired(group[0]["wall_s_all"], group[1]["wall_s_all"])
        if ask_tell:
            told = measured[-1][0]
            add(f"optuna in-memory ask/tell {sampler} {trials}", told, **common, workers=0)
            for row in group:
                row["overhead_vs_ask_tell"] = paired(row["wall_s_all"], told["wall_s_all"]) - 1
                row["loop_overhead_vs_ask_tell"] = paired(row["loop_s_all"], told["wall_s_all"]) - 1
        return group, first_db

    for sampler in ("random", "tpe"):
        study = write_study(studies, TEN_K, sampler, f"bench-10k-{sampler}")
        for trials in (200, 2000):
            once = args.quick and trials >= 2000
            repeat, turns = (1, 1) if once else (args.repeat, args.turns)
            common = {"study": str(study), "sampler": sampler, "trials": trials}
            plain, _ = measure("plain", repeat, db_dir, f"plain-{sampler}-{trials}", **common)
            add(f"plain optuna sqlite {sampler} {trials}", plain, **common, workers=1)
            label = f"driver {sampler} {trials}"
            driver_group(
                label, study, sampler, trials, turns, plain["wall_s"], ask_tell=sampler == "tpe"
            )
            if sampler == "random" and trials == 2000:
                # The batch size only changes the bookkeeping for the random sampler.
                wide = write_study(studies, TEN_K, sampler, "bench-10k-random-b64", 64)
                driver_group(
                    "driver random 2000 b64", wide, sampler, trials, turns, plain["wall_s"]
                )
    # Scaling: the backtest dominates on 100k bars. The same trials in plain processes
    # (no driver, no storage) show what the machine itself gives from 1 to 2 processes.
    study = write_study(studies, HUNDRED_K, "random", "bench-100k-random")
    group, first_db = driver_group(
        "driver 100k random 2000", study, "random", 2000, args.turns, None
    )
    common = {"study": str(study), "sampler": "random", "trials": 2000, "db": first_db}
    ceiling = [
        add(f"plain processes 100k w{workers}", raw, **common, workers=workers)
        for workers, (raw, _) in zip(
            (1, 2),
            measure_alternately(
                "raw",
                args.turns,
                db_dir,
                [(f"raw-100k-w{workers}", {**common, "workers": workers}) for workers in (1, 2)],
            ),
            strict=True,
        )
    ]
    ceiling[1]["vs_w1"] = paired(
        [w / ceiling[0]["trials"] for w in ceiling[0]["wall_s_all"]],
        [w / ceiling[1]["trials"] for w in ceiling[1]["wall_s_all"]],
    )
    group[1]["of_ceiling"] = group[1]["vs_w1"] / ceiling[1]["vs_w1"]

    print_table(rows)
    print_checks(sweep_checks(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    import omega_bt

    report = {
        "engine_version": omega_bt.__engine_version__,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "db_dir": str(db_root or tempfile.gettempdir()),
        "repeat": args.repeat,
        "turns": args.turns,
        "rows": rows,
    }
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")
    for suffix in ("db", "db-wal", "db-shm"):
        for path in db_dir.glob(f"*.{suffix}"):
            path.unlink()
    db_dir.rmdir()
    return 0


def sweep_checks(rows: list[dict[str, Any]]) -> list[Check]:
    """Returns the sweep targets of issue 4 against the measured rows."""
    by_case = {r["case"]: r for r in rows}

    def each(cases: list[str], figure: str, spec: str, signed: bool = False) -> str:
        parts = []
        for case in cases:
            value = by_case[case][figure]
            text = _pct(value, signed) if spec == "%" else format(value, spec) + "x"
            parts.append(f"{text} ({case.rsplit(' ', 1)[-1]})")
        return ", ".join(parts)

    random = [f"driver random 2000 w{w}" for w in (1, 2)]
    checks = [
        Check(
            "random sampler >= 10x the trials/s of plain Optuna on SQLite (10k bars, 2,000 "
            "trials, batch_size 8)",
            each(random, "x_plain", ".1f"),
            all(by_case[c]["x_plain"] >= 10 for c in random),
        ),
        Check(
            ">= 90% of worker CPU inside run_backtest (the same sweeps)",
            each(random, "worker_cpu_share_engine", "%"),
            all(by_case[c]["worker_cpu_share_engine"] >= 0.9 for c in random),
        ),
    ]
    for trials in (200, 2000):
        tpe = [f"driver tpe {trials} w{w}" for w in (1, 2)]
        checks.append(
            Check(
                f"TPE: the driver adds <= 20% to Optuna's in-memory ask/tell ({trials:,} trials)",
                each(tpe, "overhead_vs_ask_tell", "%", signed=True)
                + "; batch loop only: "
                + each(tpe, "loop_overhead_vs_ask_tell", "%", signed=True),
                all(by_case[c]["overhead_vs_ask_tell"] <= 0.2 for c in tpe),
            )
        )
    scaling = by_case["driver 100k random 2000 w2"]
    ceiling = by_case["plain processes 100k w2"]
    checks.append(
        Check(
            "2 workers >= 1.8x the trials/s of 1 worker (100k bars)",
            f"{scaling['vs_w1']:.2f}x; the same trials in plain processes, no driver: "
            f"{ceiling['vs_w1']:.2f}x on this machine",
            scaling["vs_w1"] >= 1.8,
        )
    )
    return checks


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else format(value * 100, "+.0f" if signed else ".0f") + "%"


def print_table(rows: list[dict[str, Any]]) -> None:
    """Prints one line per case."""
    header = (
        f"{'case':<34} {'runs':>4} {'wall s':>7} {'trials/s':>8} {'x plain':>7} {'vs w1':>5}"
        f" {'ceil':>4} {'+ask/tell':>9} {'(loop)':>6} {'eng/wall':>8} {'eng/wCPU':>8}"
        f" {'wRSS MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<34} {r['runs']:>4} {r['wall_s']:>7.2f} {r['trials_per_s']:>8.1f}"
            f" {_fmt(r.get('x_plain'), '.1f'):>7} {_fmt(r.get('vs_w1'), '.2f'):>5}"
            f" {_pct(r.get('of_ceiling')):>4}"
            f" {_pct(r.get('overhead_vs_ask_tell'), True):>9}"
            f" {_pct(r.get('loop_overhead_vs_ask_tell'), True):>6}"
            f" {_pct(r.get('wall_share_engine')):>8} {_pct(r.get('worker_cpu_share_engine')):>8}"
            f" {_fmt(r.get('worker_peak_rss_mb'), '.1f'):>7}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
