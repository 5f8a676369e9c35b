"""Study files (OPTIMIZER §2): read with a safe loader, validated completely before a trial.

:func:`load_study_file` returns a :class:`StudySpec` or raises
:class:`~optimizer.errors.StudyFileError` whose one-line message names the file, the
key and what was expected. Nothing in the file is ever evaluated as code.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from optimizer.errors import StudyFileError, shown
from optimizer.limits import DEFAULT_WORKERS, MAX_WORKERS
from optimizer.metrics import METRIC_KEYS
from optimizer.search_space import (
    ParamSpec,
    apply_params,
    get_path,
    grid_size,
    is_finite_number,
    is_int,
)
from optimizer.seeds import MAX_SEED
from optimizer.study_yaml import load_yaml

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TRIAL_TIMEOUT_S",
    "FILE_FIELDS",
    "MAX_TRIALS",
    "MAX_WORKERS",
    "RESERVED_PATHS",
    "SAMPLER_OPTIONS",
    "SamplerSpec",
    "StudySpec",
    "data_files",
    "is_scheduler_address",
    "is_study_name",
    "load_study_file",
    "read_study_header",
    "trial_config",
]

#: Trials asked per round when ``batch_size`` is absent (never derived from ``workers``,
#: so that the worker count cannot change a dev study's results).
DEFAULT_BATCH_SIZE = 8

#: The largest trial budget (``n_trials``, ``sweep --trials``) and ``batch_size``: weeks
#: of sweeping at the fastest rates measured, and far below what a database integer
#: holds, so that a typo (``n_trials: 1e22`` written out) is an error before anything is
#: stored.
MAX_TRIALS = 10_000_000

#: Config paths that the optimizer sets for every trial (:func:`trial_config`), so a
#: search over them would record parameters that never took effect.
RESERVED_PATHS = ("run_mode", "rng_seed", "output")


#: The config fields that name a file or folder (``bt.config.PATH_FIELDS`` but
#: ``output.dir``, which the optimizer sets): a searched value that is a relative path
#: means the same as in the base config, relative to the base config's folder.
FILE_FIELDS = frozenset({"data.dir", "costs.symbol_specs", "costs.execution_costs", "news.file"})


def trial_config(
    base: dict[str, Any],
    params: dict[str, Any],
    run_mode: str,
    seed: int,
    root: Path | None = None,
) -> dict[str, Any]:
    """Returns the engine config of one trial: ``base`` with ``params`` set, and the
    :data:`RESERVED_PATHS` the optimizer sets itself (run mode, seed, metrics only).

    ``root`` is the base config's folder: relative values of searched :data:`FILE_FIELDS`
    are resolved against it, as the base config's own paths were.
    """
    config = apply_params(base, _paths_resolved(params, root))
    config.update(run_mode=run_mode, rng_seed=seed, output={"trades": False, "equity": False})
    return config


def _paths_resolved(params: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """Returns ``params`` with each :data:`FILE_FIELDS` entry resolved against ``root``
    by the wrapper's own rule (``bt.config.resolve_path``)."""
    files = [path for path in params if path in FILE_FIELDS]
    if root is None or not files:
        return params
    from bt.config import resolve_path  # loaded with the base config already

    return {**params, **{path: resolve_path(params[path], root) for path in files}}


#: Seconds after which a running trial is killed when ``trial_timeout_s`` is absent.
DEFAULT_TRIAL_TIMEOUT_S = 600.0

_TOP_KEYS = (
    "name",
    "storage",
    "run_mode",
    "seed",
    "base_config",
    "sampler",
    "n_trials",
    "workers",
    "batch_size",
    "objective",
    "direction",
    "constraints",
    "search_space",
    "backend",
    "scheduler",
    "trial_timeout_s",
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: A Dask scheduler address: ``[tcp|tls|ws|wss|ucx://]host:port`` (IPv6 in brackets).
_SCHEDULER_RE = re.compile(
    r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$"
)


def is_study_name(value: object) -> bool:
    """Tells whether ``value`` can be a study's ``name`` (so it holds no path separator)."""
    return isinstance(value, str) and bool(_NAME_RE.match(value))


def is_scheduler_address(value: object) -> bool:
    """Tells whether ``value`` is a Dask scheduler address such as ``tcp://host:8786``."""
    return isinstance(value, str) and bool(_SCHEDULER_RE.match(value))


#: The most candidates or individuals a sampler may draw per trial: Optuna's defaults are
#: tens, and a sampler asked for 10^12 allocates terabytes or never returns.
MAX_SAMPLER_DRAWS = 10_000

# Each sampler's accepted options: name -> kind. Kinds: "int:LOW:HIGH" (an integer in
# [LOW, HIGH]), "prob" (a float in [0, 1]), "prob|null", "pos" (a float > 0), "bool".
SAMPLER_OPTIONS: dict[str, dict[str, str]] = {
    "tpe": {
        "n_startup_trials": f"int:0:{MAX_TRIALS}",
        "n_ei_candidates": f"int:1:{MAX_SAMPLER_DRAWS}",
        "multivariate": "bool",
        "consider_endpoints": "bool",
        "prior_weight": "pos",
        "constant_liar": "bool",
    },
    "random": {},
    "grid": {},
    "cmaes": {
        "n_startup_trials": f"int:0:{MAX_TRIALS}",
        "sigma0": "pos",
        "popsize": f"int:2:{MAX_SAMPLER_DRAWS}",
    },
    "nsga2": {
        "population_size": f"int:2:{MAX_SAMPLER_DRAWS}",
        "mutation_prob": "prob|null",
        "crossover_prob": "prob",
        "swapping_prob": "prob",
    },
}


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler's name (``tpe``, ``random``, ``grid``, ``cmaes``, ``nsga2``) and options."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Returns the sampler as the mapping of the study file (``{name: ..., **options}``)."""
        return {"name": self.name, **dict(sorted(self.options.items()))}


@dataclass(frozen=True)
class StudySpec:
    """A validated study file."""

    name: str
    file: Path
    storage: str | None
    run_mode: Literal["dev", "prod"]
    seed: int | None
    base_config_path: Path
    base_config: dict[str, Any]
    sampler: SamplerSpec
    n_trials: int
    workers: int
    batch_size: int
    objective: str
    direction: Literal["maximize", "minimize"]
    constraints: Mapping[str, float]
    search_space: tuple[ParamSpec, ...]
    backend: Literal["loky", "dask"]
    scheduler: str | None
    trial_timeout_s: float | None
    raw_base_config: dict[str, Any]

    def fingerprint(self) -> dict[str, Any]:
        """Returns every setting that decides a dev study's trials, as plain JSON data.

        ``n_trials``, ``workers``, ``storage``, ``backend`` and ``trial_timeout_s`` are not
        part of it: a study may be resumed with other values for them.
        """
        return {
            "run_mode": self.run_mode,
            "seed": self.seed,
            "base_config": self.raw_base_config,
            "sampler": self.sampler.to_dict(),
            "batch_size": self.batch_size,
            "objective": self.objective,
            "direction": self.direction,
            "constraints": dict(sorted(self.constraints.items())),
            "search_space": [p.to_dict() for p in self.search_space],
        }


def read_study_header(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """Returns a study file's ``name`` and ``storage`` without validating the rest."""
    data = _read_yaml(Path(path))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise StudyFileError(str(path), "name", "a non-empty string", name)
    storage = data.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise StudyFileError(str(path), "storage", "a SQLAlchemy URL string", storage)
    return name, storage


def load_study_file(path: str | os.PathLike[str]) -> StudySpec:
    """Reads and validates a study file, including the base config and its data files."""
    file = Path(path)
    fname = str(path)
    data = _read_yaml(file)
    unknown = sorted(set(data) - set(_TOP_KEYS), key=str)
    if unknown:
        raise StudyFileError(
            fname, str(unknown[0]), "one of the keys " + ", ".join(_TOP_KEYS) + " (unknown key)"
        )

    def need(key: str) -> Any:
        if key not in data or data[key] is None:
            raise StudyFileError(fname, key, "a value (the key is required)")
        return data[key]

    def optional(key: str, default: Any) -> Any:
        # A null (or empty) optional key means its default, like an absent one.
        value = data.get(key)
        return default if value is None else value

    name = need("name")
    if not is_study_name(name):
        raise StudyFileError(
            fname,
            "name",
            "a name of at most 128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit",
            name,
        )
    storage = data.get("storage")
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        raise StudyFileError(fname, "storage", "a SQLAlchemy URL such as sqlite:///x.db", storage)

    run_mode = optional("run_mode", "dev")
    if run_mode not in ("dev", "prod"):
        raise StudyFileError(fname, "run_mode", "dev or prod", run_mode)
    seed = data.get("seed")
    if seed is None and run_mode == "dev":
        raise StudyFileError(fname, "seed", "an integer in [0, 2**63) (required in dev mode)")
    if seed is not None and (not is_int(seed) or not 0 <= seed < MAX_SEED):
        raise StudyFileError(fname, "seed", "an integer in [0, 2**63)", seed)

    base_ref = need("base_config")
    if not isinstance(base_ref, str):
        raise StudyFileError(fname, "base_config", "a path relative to the study file", base_ref)
    base_path = (file.resolve().parent / base_ref).resolve()
    raw_base, base = _load_base_config(fname, base_path)

    n_trials = _int_from_1(fname, "n_trials", need("n_trials"), MAX_TRIALS)
    workers = _int_from_1(fname, "workers", optional("workers", DEFAULT_WORKERS), MAX_WORKERS)
    batch_size = _int_from_1(
        fname, "batch_size", optional("batch_size", DEFAULT_BATCH_SIZE), MAX_TRIALS
    )

    objective = optional("objective", "score")
    if objective not in METRIC_KEYS:
        raise StudyFileError(
            fname, "objective", "a metric key: " + ", ".join(METRIC_KEYS), objective
        )
    direction = optional("direction", "maximize")
    if direction not in ("maximize", "minimize"):
        raise StudyFileError(fname, "direction", "maximize or minimize", direction)

    constraints = _constraints(fname, optional("constraints", {}))
    search_space = _search_space(fname, data.get("search_space"), base)
    sampler = _sampler(fname, optional("sampler", {"name": "tpe"}), search_space, n_trials)

    backend = optional("backend", "loky")
    if backend not in ("loky", "dask"):
        raise StudyFileError(fname, "backend", "loky or dask", backend)
    scheduler = data.get("scheduler")
    if backend == "dask":
        # Without a scheduler key, `sweep --scheduler ADDRESS` names it (checked there).
        if scheduler is not None and not is_scheduler_address(scheduler):
            raise StudyFileError(
                fname, "scheduler", "a Dask scheduler address such as tcp://host:8786", scheduler
            )
        if importlib.util.find_spec("distributed") is None:
            raise StudyFileError(fname, "backend", "loky (dask needs the 'distributed' package)")
    elif scheduler is not None:
        raise StudyFileError(fname, "scheduler", "no scheduler unless backend is dask", scheduler)

    timeout = data.get("trial_timeout_s", DEFAULT_TRIAL_TIMEOUT_S)
    if timeout is not None and (not is_finite_number(timeout) or not 0 < timeout < 86400):
        raise StudyFileError(
            fname, "trial_timeout_s", "a number of seconds in (0, 86400) or null", timeout
        )

    # The engine names a wrong field (a missing symbol, a timeframe it does not know)
    # better than the data files it would make the optimizer look for.
    _check_with_engine(fname, base, search_space, base_path.parent)
    _check_data_files(fname, base, search_space, base_path.parent)

    return StudySpec(
        name=name,
        file=file,
        storage=storage,
        run_mode=run_mode,
        seed=seed,
        base_config_path=base_path,
        base_config=base,
        sampler=sampler,
        n_trials=n_trials,
        workers=workers,
        batch_size=batch_size,
        objective=objective,
        direction=direction,
        constraints=constraints,
        search_space=search_space,
        backend=backend,
        scheduler=scheduler,
        trial_timeout_s=None if timeout is None else float(timeout),
        raw_base_config=raw_base,
    )


def _read_yaml(file: Path) -> dict[str, Any]:
    fname = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyFileError(fname, "", "an existing study file (no such file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(fname, "", f"a readable UTF-8 file ({exc})") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise StudyFileError(fname, "", f"valid YAML ({problem}{where})") from None
    except RecursionError:  # PyYAML builds nested collections recursively
        raise StudyFileError(fname, "", "valid YAML (nested too deeply)") from None
    except ValueError:  # an integer of more digits than int() converts
        raise StudyFileError(fname, "", "valid YAML (numbers of at most 4300 digits)") from None
    if data is None:
        raise StudyFileError(
            fname, "", "a YAML mapping at the top level (the file is empty or only comments)"
        )
    if not isinstance(data, dict):
        raise StudyFileError(fname, "", "a YAML mapping at the top level", type(data).__name__)
    return data


def _load_base_config(fname: str, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns the base config as written and with its paths resolved, read and checked
    by ``bt``'s rules: UTF-8 JSON, no key repeated in one object (the engine refuses
    one), no NaN or infinite number, paths resolved as ENGINE §0 says."""
    from bt import ConfigError
    from bt.config import check_values, read_config, resolve_paths

    if not path.is_file():
        raise StudyFileError(fname, "base_config", "an existing JSON config file", str(path))
    try:
        raw = read_config(path)
        check_values(raw)
    except ConfigError as exc:
        # An error at "$" names the file itself; one at a field does not.
        field = getattr(exc, "field_path", "$")
        reason = str(exc).removeprefix("$: ") if field == "$" else f"{path}: {exc}"
        raise StudyFileError(
            fname, "base_config", f"a config the engine accepts ({reason})"
        ) from None
    return raw, resolve_paths(raw, path.parent)


def _int_from_1(fname: str, key: str, value: object, high: int) -> int:
    if not is_int(value) or not 1 <= value <= high:
        raise StudyFileError(fname, key, f"an integer from 1 to {high:,}", value)
    return value


def _constraints(fname: str, data: object) -> dict[str, float]:
    if not isinstance(data, dict):
        raise StudyFileError(fname, "constraints", "a mapping such as {min_trades: 20}", data)
    out: dict[str, float] = {}
    for key, value in data.items():
        metric = str(key)[4:] if str(key)[:4] in ("min_", "max_") else None
        if metric not in METRIC_KEYS:
            raise StudyFileError(
                fname, f"constraints.{key}", "min_<metric> or max_<metric> with a metric key"
            )
        if not is_finite_number(value):
            raise StudyFileError(fname, f"constraints.{key}", "a number", value)
        out[str(key)] = float(value)
    return out


def _search_space(fname: str, data: object, base: dict[str, Any]) -> tuple[ParamSpec, ...]:
    if not isinstance(data, dict) or not data:
        raise StudyFileError(fname, "search_space", "a non-empty mapping of config paths", data)
    specs = []
    for path, spec in data.items():
        key = f"search_space.{path}"
        if not isinstance(path, str) or not path:
            raise StudyFileError(fname, "search_space", "dotted config paths as keys", path)
        if path.split(".")[0] in RESERVED_PATHS:
            raise StudyFileError(
                fname,
                key,
                "a path the optimizer does not set itself (it sets run_mode, rng_seed and "
                "output for every trial)",
            )
        found, current = get_path(base, path)
        if not found:
            raise StudyFileError(fname, key, "a path that exists in the base config")
        if isinstance(current, dict | list):
            raise StudyFileError(fname, key, "a path to a single value in the base config")
        specs.append(ParamSpec.from_mapping(fname, path, spec, current))
    return tuple(specs)


def _sampler(fname: str, data: object, space: Iterable[ParamSpec], n_trials: int) -> SamplerSpec:
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict):
        raise StudyFileError(fname, "sampler", "a mapping such as {name: tpe}", data)
    name = data.get("name")
    if not isinstance(name, str) or name not in SAMPLER_OPTIONS:
        raise StudyFileError(fname, "sampler.name", "one of " + ", ".join(SAMPLER_OPTIONS), name)
    allowed = SAMPLER_OPTIONS[name]
    options: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            continue
        kind = allowed.get(key)
        where = f"sampler.{key}"
        if kind is None:
            expected = ", ".join(allowed) if allowed else "no options"
            raise StudyFileError(fname, where, f"an option of sampler {name}: {expected}")
        if value is None and kind != "prob|null":
            continue  # null: the sampler's default, as when the option is absent
        if kind.startswith("int:"):
            low, high = (int(bound) for bound in kind.split(":")[1:])
            ok = is_int(value) and low <= value <= high
            expected = f"an integer from {low} to {high:,}"
        else:
            ok, expected = {
                "bool": (isinstance(value, bool), "true or false"),
                "pos": (is_finite_number(value) and value > 0, "a number > 0"),
                "prob": (is_finite_number(value) and 0 <= value <= 1, "a number in [0, 1]"),
                "prob|null": (
                    value is None or (is_finite_number(value) and 0 <= value <= 1),
                    "a number in [0, 1] or null",
                ),
            }[kind]
        if not ok:
            raise StudyFileError(fname, where, expected, value)
        options[key] = value
    if name == "grid":
        size = grid_size(fname, space)
        if n_trials > size:
            raise StudyFileError(
                fname,
                "n_trials",
                f"at most {size} (the size of the grid) for sampler grid",
                n_trials,
            )
    if name == "cmaes" and importlib.util.find_spec("cmaes") is None:
        raise StudyFileError(
            fname,
            "sampler.name",
            "tpe, random, grid or nsga2 (cmaes needs the 'cmaes' package)",
            name,
        )
    return SamplerSpec(name=name, options=copy.deepcopy(options))


def _possible_values(
    base: dict[str, Any], space: Iterable[ParamSpec], path: str, root: Path | None = None
) -> list[Any]:
    """Returns the values ``path`` may take in a trial: the choices of a categorical
    entry (file fields resolved against ``root``), else the base config's value."""
    for spec in space:
        if spec.path == path and spec.type == "categorical":
            return [_paths_resolved({path: value}, root)[path] for value in spec.choices or ()]
    return [get_path(base, path)[1]]


def data_files(
    base: dict[str, Any], space: Iterable[ParamSpec], root: Path | None = None
) -> list[tuple[str, str]]:
    """Returns ``(key, path)`` for every file a trial may read, ``key`` as messages name it.

    The bid/ask Parquet files of every possible data folder, symbol and primary
    timeframe (plus D1 when the trend filter may be on), then the cost and news files;
    ``root`` is the base config's folder, against which searched relative paths are
    resolved. ``backend: dask`` checks the same list on every worker (docs/scaling.md).
    """
    space = tuple(space)
    files: list[tuple[str, str]] = []
    base_dir = get_path(base, "data.dir")[1]
    if isinstance(base.get("data"), dict) and isinstance(base_dir, str):
        folders = _possible_values(base, space, "data.dir", root)
        # Anything but strings is refused by the engine check, which names the field.
        symbols = [s for s in _possible_values(base, space, "symbol") if isinstance(s, str)]
        tfs = {tf for tf in _possible_values(base, space, "data.primary_tf") if isinstance(tf, str)}
        if "trend" in _possible_values(base, space, "strategy.params.htf_filter"):
            tfs.add("D1")
        base_symbol = get_path(base, "symbol")[1]
        for folder in folders:
            if not isinstance(folder, str):
                continue  # refused by _check_data_files
            for symbol in symbols:
                for tf in sorted(tfs, key=str):
                    key = _data_file_key(base, folder != base_dir, symbol != base_symbol, tf)
                    for side in ("BID", "ASK"):
                        file = Path(folder) / f"{symbol}_{tf}_{side}.parquet"
                        files.append((key, str(file)))
    searched = {spec.path for spec in space}
    for dotted in ("costs.symbol_specs", "costs.execution_costs", "news.file"):
        key = f"search_space.{dotted}" if dotted in searched else f"base_config: {dotted}"
        for value in _possible_values(base, space, dotted, root):
            if isinstance(value, str):
                files.append((key, value))
    return files


def _data_file_key(base: dict[str, Any], other_folder: bool, other_symbol: bool, tf: str) -> str:
    """Names what asks for a data file: a searched folder, symbol or timeframe (or a
    searched trend filter, for D1), else the base config's data.dir."""
    base_tf = get_path(base, "data.primary_tf")[1]
    if other_folder:
        return "search_space.data.dir"
    if other_symbol:
        return "search_space.symbol"
    if tf != base_tf and tf != "D1":
        return "search_space.data.primary_tf"
    if tf == "D1" and tf != base_tf and get_path(base, "strategy.params.htf_filter")[1] != "trend":
        return "search_space.strategy.params.htf_filter"
    return "base_config: data.dir"


def _check_data_files(
    fname: str, base: dict[str, Any], space: tuple[ParamSpec, ...], root: Path
) -> None:
    """Checks that every file a trial may read exists: bid/ask Parquet, D1 for trend, costs."""
    data = base.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("dir"), str):
        raise StudyFileError(fname, "base_config", "a config with data.dir (ENGINE §0)")
    for value in _possible_values(base, space, "data.dir"):
        if not isinstance(value, str) or not value:
            raise StudyFileError(fname, "search_space.data.dir", "folder paths", value)
    for key, path in data_files(base, space, root):
        if not Path(path).is_file():
            data_file = key.endswith("data.dir") or key.startswith("search_space.")
            expected = "an existing data file" if data_file else "an existing file"
            raise StudyFileError(fname, key, expected, path)


def _engine_probes(
    space: tuple[ParamSpec, ...],
) -> Iterable[tuple[ParamSpec | None, dict[str, Any]]]:
    """Yields the parameter sets whose configs the engine checks before a sweep: every
    entry at its first probe value, then each probe value of each entry with the others
    at their first (paired with the entry that moved; None for the first set)."""
    first = {p.path: p.probe_values()[0] for p in space}
    yield None, first
    for spec in space:
        for value in spec.probe_values()[1:]:
            yield spec, {**first, spec.path: value}


def _check_with_engine(
    fname: str, base: dict[str, Any], space: tuple[ParamSpec, ...], root: Path
) -> None:
    """Has the engine validate trial configs at the probe values of the search space, so
    that a config it refuses (a wrong type, a value out of its range, an unknown
    strategy) stops the sweep before the first trial instead of failing every trial.

    A refusal that names another searched entry than the one moved is a rule between
    entries (``data.end`` after ``data.start``): other combinations run, so it does not
    stop the sweep. Each config is run with ``data.dir`` set to an empty folder: the
    engine checks the whole config first and then stops at its first data file, so
    nothing is loaded (the data files themselves are checked by
    :func:`_check_data_files`).
    """
    import tempfile

    import omega_bt

    searched = {p.path for p in space}
    with tempfile.TemporaryDirectory(prefix="omega-config-check-") as empty:
        for moved, params in _engine_probes(space):
            config = trial_config(base, params, "dev", 0, root)
            if isinstance(config.get("data"), dict):
                config["data"] = {**config["data"], "dir": empty}
            try:
                omega_bt.run_backtest(json.dumps(config))
            except omega_bt.ConfigError as exc:
                field = str(getattr(exc, "field_path", ""))
                if moved is not None and field in searched and field != moved.path:
                    # A rule between two searched entries (data.end after data.start):
                    # other combinations run, so the trials that break it fail alone.
                    continue
                if moved is None and field not in searched:
                    raise StudyFileError(
                        fname, "base_config", f"a config the engine accepts (it says: {exc})"
                    ) from None
                entry = moved.path if moved is not None else field
                raise StudyFileError(
                    fname,
                    f"search_space.{entry}",
                    f"values the engine accepts ({entry} = {shown(params[entry])}: {exc})",
                ) from None
