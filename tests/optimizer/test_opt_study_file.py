"""OPTIMIZER §2: the study file is validated completely before the first trial."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from opt_support import REPO, SEARCH_SPACE, StudyWriter, run_cli

from bt.config import PATH_FIELDS
from optimizer.cli import main
from optimizer.driver import build_config
from optimizer.errors import StudyFileError
from optimizer.search_space import apply_params
from optimizer.study_file import FILE_FIELDS, load_study_file


def space(**entries: Any) -> dict[str, Any]:
    return {**SEARCH_SPACE, **entries}


def test_committed_studies_validate() -> None:
    dev = load_study_file(REPO / "studies" / "eurusd_mrz_dev.yaml")
    assert dev.run_mode == "dev" and dev.seed is not None and dev.workers == 2
    prod = load_study_file(REPO / "studies" / "eurusd_mrz_prod.yaml")
    assert prod.run_mode == "prod"


def test_a_valid_study_loads(write_study: StudyWriter) -> None:
    spec = load_study_file(write_study())
    assert [p.path for p in spec.search_space] == list(SEARCH_SPACE)
    assert spec.base_config["data"]["dir"].startswith("/")
    assert spec.batch_size == 4 and spec.constraints == {"min_trades": 3.0}


def test_trial_configs_set_their_params_and_leave_the_base_alone() -> None:
    base = {
        "strategy": {"params": {"z_window": 48, "sizing": {"mode": "risk_pct"}}, "name": "m"},
        "sessions": [{"start": "07:00"}],
        "data": {"dir": "d"},
    }
    before = json.dumps(base, sort_keys=True)
    one = apply_params(base, {"strategy.params.z_window": 60, "strategy.name": "n"})
    two = apply_params(base, {"strategy.params.z_window": 90})
    assert json.dumps(base, sort_keys=True) == before
    assert one["strategy"] == {
        "params": {"z_window": 60, "sizing": {"mode": "risk_pct"}},
        "name": "n",
    }
    assert two["strategy"]["params"]["z_window"] == 90 and two["strategy"]["name"] == "m"
    # Setting a top-level key of one trial's config touches neither the base nor another.
    one["data"] = {"dir": "elsewhere"}
    assert base["data"] == {"dir": "d"} == two["data"]


Case = tuple[dict[str, Any], str, str]

BAD_CASES: list[Case] = [
    ({"colour": "red"}, "colour", "unknown key"),
    ({"name": "bad name!"}, "name", "letters, digits"),
    ({"run_mode": "live"}, "run_mode", "dev or prod"),
    ({"seed": None}, "seed", "required in dev mode"),
    ({"seed": -1}, "seed", "[0, 2**63)"),
    ({"seed": 2**63}, "seed", "[0, 2**63)"),
    ({"seed": "7"}, "seed", "an integer"),
    ({"n_trials": 0}, "n_trials", "an integer from 1 to 10,000,000"),
    ({"n_trials": 2.5}, "n_trials", "an integer from 1 to 10,000,000"),
    # Past the bound SQLite overflowed after the study's rows were written.
    (
        {"n_trials": 10**22},
        "n_trials",
        "an integer from 1 to 10,000,000, got 10000000000000000000000",
    ),
    ({"workers": True}, "workers", "an integer from 1 to 256"),
    ({"batch_size": 0}, "batch_size", "an integer from 1 to 10,000,000"),
    ({"batch_size": 10**22}, "batch_size", "an integer from 1 to 10,000,000"),
    ({"objective": "money"}, "objective", "a metric key"),
    ({"direction": "up"}, "direction", "maximize or minimize"),
    ({"constraints": {"min_money": 1}}, "constraints.min_money", "min_<metric>"),
    ({"constraints": {"min_trades": "x"}}, "constraints.min_trades", "a number"),
    ({"constraints": 0}, "constraints", "a mapping such as {min_trades: 20}, got 0"),
    ({"constraints": False}, "constraints", "a mapping such as {min_trades: 20}, got False"),
    ({"constraints": ""}, "constraints", "a mapping such as {min_trades: 20}, got ''"),
    ({"constraints": []}, "constraints", "a mapping such as {min_trades: 20}, got []"),
    ({"sampler": {"name": "bayes"}}, "sampler.name", "one of tpe, random, grid, cmaes, nsga2"),
    (
        {"sampler": {"name": "random", "n_startup_trials": 3}},
        "sampler.n_startup_trials",
        "no options",
    ),
    (
        {"sampler": {"name": "tpe", "n_startup_trials": -1}},
        "sampler.n_startup_trials",
        "an integer from 0 to 10,000,000",
    ),
    # Validated, 10^12 candidates allocated terabytes mid-sweep (CMA-ES: never returned).
    (
        {"sampler": {"name": "tpe", "n_ei_candidates": 10**12}},
        "sampler.n_ei_candidates",
        "an integer from 1 to 10,000, got 1000000000000",
    ),
    (
        {"sampler": {"name": "cmaes", "popsize": 10**12}},
        "sampler.popsize",
        "an integer from 2 to 10,000",
    ),
    # Unhashable or huge values gave a TypeError or OverflowError traceback.
    ({"sampler": {"name": ["tpe"]}}, "sampler.name", "one of tpe, random, grid, cmaes, nsga2"),
    (
        {"constraints": {"min_trades": 10**400}},
        "constraints.min_trades",
        "a number, got <an integer of about 401 digits>",
    ),
    ({"trial_timeout_s": 10**400}, "trial_timeout_s", "a number of seconds in (0, 86400)"),
    ({"name": "_private"}, "name", "starting with a letter or digit, got '_private'"),
    ({"sampler": {"name": "tpe", "multivariate": "yes"}}, "sampler.multivariate", "true or false"),
    ({"sampler": {"name": "nsga2", "crossover_prob": 1.5}}, "sampler.crossover_prob", "[0, 1]"),
    ({"sampler": {"name": "cmaes", "sigma0": 0}}, "sampler.sigma0", "a number > 0"),
    ({"backend": "ray"}, "backend", "loky or dask"),
    ({"scheduler": "tcp://x:1"}, "scheduler", "no scheduler unless backend is dask"),
    ({"trial_timeout_s": 0}, "trial_timeout_s", "a number of seconds"),
    ({"storage": "omega.db"}, "storage", "a SQLAlchemy URL"),
    ({"search_space": {}}, "search_space", "a non-empty mapping"),
    (
        {
            "search_space": space(
                **{"strategy.params.zz_window": {"type": "int", "low": 2, "high": 9}}
            )
        },
        "search_space.strategy.params.zz_window",
        "a path that exists in the base config",
    ),
    (
        {"search_space": {"strategy.params.sizing": {"type": "int", "low": 2, "high": 9}}},
        "search_space.strategy.params.sizing",
        "a path to a single value",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": "int", "low": 90, "high": 20}}},
        "search_space.strategy.params.z_window",
        "low < high",
    ),
    (
        {"search_space": {"strategy.params.z_entry": {"type": "float", "low": 2.0, "high": 2.0}}},
        "search_space.strategy.params.z_entry",
        "low < high",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": "int", "low": "a", "high": 9}}},
        "search_space.strategy.params.z_window.low",
        "an integer",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": "int", "low": 2.5, "high": 9}}},
        "search_space.strategy.params.z_window.low",
        "an integer",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": "int", "low": 2}}},
        "search_space.strategy.params.z_window.high",
        "required",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": "integer", "low": 2, "high": 9}}},
        "search_space.strategy.params.z_window.type",
        "int, float or categorical",
    ),
    (
        {"search_space": {"strategy.params.z_window": {"type": ["int"], "low": 2, "high": 9}}},
        "search_space.strategy.params.z_window.type",
        "int, float or categorical, got ['int']",
    ),
    (
        {"search_space": {"strategy.params.z_entry": {"type": "float", "low": 1, "high": 10**400}}},
        "search_space.strategy.params.z_entry.high",
        "a number, got <an integer of about 401 digits>",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_window": {"type": "categorical", "choices": [20, 10**400]}
            }
        },
        "search_space.strategy.params.z_window.choices",
        "a number float64 holds",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_entry": {"type": "categorical", "choices": [1.5, float("nan")]}
            }
        },
        "search_space.strategy.params.z_entry.choices",
        "a number float64 holds, string), got nan",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_window": {"type": "int", "low": 2, "high": 9, "q": 1}
            }
        },
        "search_space.strategy.params.z_window.q",
        "unknown key",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_entry": {"type": "float", "low": 1, "high": 2, "step": 0.3}
            }
        },
        "search_space.strategy.params.z_entry.step",
        "a step that divides",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_entry": {"type": "float", "low": 0, "high": 2, "log": True}
            }
        },
        "search_space.strategy.params.z_entry.low",
        "> 0 with log",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_entry": {"type": "float", "low": 1, "high": 2, "step": -1}
            }
        },
        "search_space.strategy.params.z_entry.step",
        "a number > 0",
    ),
    (
        {"search_space": {"strategy.params.entry_order": {"type": "categorical", "choices": []}}},
        "search_space.strategy.params.entry_order.choices",
        "a non-empty list",
    ),
    (
        {
            "search_space": {
                "strategy.params.entry_order": {"type": "categorical", "choices": ["a", "a"]}
            }
        },
        "search_space.strategy.params.entry_order.choices",
        "distinct values",
    ),
    (
        {"search_space": {"strategy.params.entry_order": {"type": "int", "low": 1, "high": 3}}},
        "search_space.strategy.params.entry_order",
        "a numeric field in the base config",
    ),
    (
        # 20 and 20.0 are one value: the engine would see the same window twice (or
        # refuse the float on an integer field).
        {
            "search_space": {
                "strategy.params.z_window": {"type": "categorical", "choices": [20, 20.0]}
            }
        },
        "search_space.strategy.params.z_window.choices",
        "distinct values, got 20.0",
    ),
    (
        {"search_space": {"run_mode": {"type": "categorical", "choices": ["dev", "prod"]}}},
        "search_space.run_mode",
        "a path the optimizer does not set itself",
    ),
    (
        {"search_space": {"rng_seed": {"type": "int", "low": 1, "high": 9}}},
        "search_space.rng_seed",
        "a path the optimizer does not set itself",
    ),
    (
        {"search_space": {"output.trades": {"type": "categorical", "choices": [True, False]}}},
        "search_space.output.trades",
        "it sets run_mode, rng_seed and output for every trial",
    ),
    ({"workers": 1_000_000}, "workers", "an integer from 1 to 256, got 1000000"),
    (
        # The engine takes whole floats for integer fields, so the sweep would fail only
        # on the first fraction: the check probes one right above low.
        {"search_space": {"strategy.params.z_window": {"type": "float", "low": 20, "high": 200}}},
        "search_space.strategy.params.z_window",
        "values the engine accepts (strategy.params.z_window = 20.000000000000004: "
        "strategy.params.z_window: expected an integer >= 2",
    ),
    (
        {
            "search_space": {
                "strategy.params.atr_length": {"type": "categorical", "choices": ["14", "20"]}
            }
        },
        "search_space.strategy.params.atr_length",
        "values the engine accepts (strategy.params.atr_length = '14'",
    ),
    (
        {
            "search_space": {
                "strategy.params.z_entry": {"type": "float", "low": 1.5, "high": 3.5},
                "strategy.params.z_window": {"type": "int", "low": 20, "high": 10**20},
            }
        },
        "search_space.strategy.params.z_window",
        "= 100000000000000000000",
    ),
    (
        {
            "sampler": {"name": "grid"},
            "search_space": {"strategy.params.z_entry": {"type": "float", "low": 1, "high": 2}},
        },
        "search_space.strategy.params.z_entry",
        "sampler grid needs discrete values",
    ),
    (
        {
            "sampler": {"name": "grid"},
            "n_trials": 7,
            "search_space": {
                "strategy.params.z_window": {"type": "int", "low": 20, "high": 30, "step": 5}
            },
        },
        "n_trials",
        "at most 3 (the size of the grid)",
    ),
    # Grids are counted, never listed, and capped: these listed billions of values
    # (MemoryError), or passed and then made Optuna's grid sampler list every point.
    (
        {
            "sampler": {"name": "grid"},
            "search_space": {
                "strategy.params.z_entry": {"type": "float", "low": 1.5, "high": 3.5, "step": 1e-6}
            },
        },
        "search_space.strategy.params.z_entry",
        "at most 1,000,000 values for sampler grid (this entry has 2,000,001;",
    ),
    (
        {
            "sampler": {"name": "grid"},
            "search_space": {"strategy.params.z_window": {"type": "int", "low": 2, "high": 10**14}},
        },
        "search_space.strategy.params.z_window",
        "at most 1,000,000 values for sampler grid (this entry has 99,999,999,999,999;",
    ),
    (
        {
            "sampler": {"name": "grid"},
            "search_space": {
                "strategy.params.z_entry": {
                    "type": "float",
                    "low": 0,
                    "high": 1e300,
                    "step": 1e-300,
                }
            },
        },
        "search_space.strategy.params.z_entry",
        "(this entry has about 10^600;",
    ),
    (
        {
            "sampler": {"name": "grid"},
            "search_space": {
                "strategy.params.z_window": {"type": "int", "low": 20, "high": 2000},
                "strategy.params.z_entry": {
                    "type": "float",
                    "low": 1.5,
                    "high": 3.5,
                    "step": 0.001,
                },
                "strategy.params.entry_order": {
                    "type": "categorical",
                    "choices": ["market", "limit", "stop"],
                },
            },
        },
        "sampler",
        "a grid of at most 1,000,000 points for sampler grid (the search space has 11,891,943;",
    ),
]


@pytest.mark.parametrize(("overrides", "key", "expected"), BAD_CASES)
def test_bad_study_files_name_file_key_and_expectation(
    write_study: StudyWriter, overrides: dict[str, Any], key: str, expected: str
) -> None:
    path = write_study(**overrides)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: expected"), message
    assert expected in message
    assert "\n" not in message


def test_missing_base_config(write_study: StudyWriter, tmp_path: Path) -> None:
    path = write_study(base_config=str(tmp_path / "nope.json"))
    with pytest.raises(StudyFileError, match=r"base_config: expected an existing JSON config"):
        load_study_file(path)


def test_a_rule_between_two_searched_entries_does_not_stop_the_sweep(
    write_study: StudyWriter,
) -> None:
    # A start of 01-10 with an end of 01-05 is refused by the engine, but the other
    # combinations run: those trials fail alone, as in any sweep.
    spec = load_study_file(
        write_study(
            search_space={
                "data.start": {"type": "categorical", "choices": ["2024-01-01", "2024-01-10"]},
                "data.end": {"type": "categorical", "choices": ["2024-01-05", None]},
            }
        )
    )
    assert [p.path for p in spec.search_space] == ["data.start", "data.end"]


def test_a_base_config_the_engine_refuses_stops_before_the_first_trial(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    config = json.loads(base_config.read_text())
    config["strategy"]["name"] = "nope"
    (tmp_path / "bad.json").write_text(json.dumps(config))
    with pytest.raises(StudyFileError) as info:
        load_study_file(write_study(base_config=str(tmp_path / "bad.json")))
    assert "base_config: expected a config the engine accepts (it says: strategy.name:" in str(
        info.value
    )


def test_base_config_is_relative_to_the_study_file(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    (tmp_path / "cfg").mkdir()
    shutil.copy(base_config, tmp_path / "cfg" / "b.json")
    spec = load_study_file(write_study(base_config="cfg/b.json"))
    assert spec.base_config_path == (tmp_path / "cfg" / "b.json").resolve()


def _config_with_data(tmp_path: Path, base_config: Path, files: list[str], htf: str) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    source = Path(json.loads(base_config.read_text())["data"]["dir"])
    for name in files:
        shutil.copy(source / name, data / name)
    config = json.loads(base_config.read_text())
    config["data"]["dir"] = str(data)
    config["strategy"]["params"]["htf_filter"] = htf
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    return path


def test_missing_primary_data_file(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    config = _config_with_data(tmp_path, base_config, ["EURUSD_M5_BID.parquet"], "none")
    with pytest.raises(StudyFileError, match=r"EURUSD_M5_ASK.parquet"):
        load_study_file(write_study(base_config=str(config)))


def test_d1_files_are_needed_only_for_the_trend_filter(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    files = ["EURUSD_M5_BID.parquet", "EURUSD_M5_ASK.parquet"]
    config = _config_with_data(tmp_path, base_config, files, "none")
    load_study_file(write_study(base_config=str(config)))
    with pytest.raises(
        StudyFileError,
        match=r"search_space.strategy.params.htf_filter: expected an existing data file.*D1_BID",
    ):
        load_study_file(
            write_study(
                base_config=str(config),
                search_space=space(
                    **{
                        "strategy.params.htf_filter": {
                            "type": "categorical",
                            "choices": ["none", "trend"],
                        }
                    }
                ),
            )
        )


@pytest.mark.parametrize(
    ("path", "choices", "missing"),
    [
        ("symbol", ["EURUSD", "GBPUSD"], "GBPUSD_M5_BID"),
        ("data.primary_tf", ["M5", "H1"], "EURUSD_H1_BID"),
    ],
)
def test_a_missing_file_that_a_searched_value_asks_for_names_that_entry(
    write_study: StudyWriter,
    base_config: Path,
    tmp_path: Path,
    path: str,
    choices: list[str],
    missing: str,
) -> None:
    config = _config_with_data(
        tmp_path, base_config, ["EURUSD_M5_BID.parquet", "EURUSD_M5_ASK.parquet"], "none"
    )
    entry = {path: {"type": "categorical", "choices": choices}}
    with pytest.raises(
        StudyFileError, match=rf"search_space.{path}: expected an existing data file.*{missing}"
    ):
        load_study_file(write_study(base_config=str(config), search_space=space(**entry)))


def test_a_searched_data_folder_is_checked_and_read_like_the_base_configs(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    files = ["EURUSD_M5_BID.parquet", "EURUSD_M5_ASK.parquet"]
    config = _config_with_data(tmp_path, base_config, files, "none")  # tmp_path/data
    searched = {"data.dir": {"type": "categorical", "choices": ["data", "nowhere"]}}
    with pytest.raises(
        StudyFileError, match=r"search_space.data.dir: expected an existing data file.*nowhere"
    ):
        load_study_file(write_study(base_config=str(config), search_space=space(**searched)))
    searched = {"data.dir": {"type": "categorical", "choices": ["data", 5]}}
    with pytest.raises(StudyFileError, match=r"search_space.data.dir: expected folder paths"):
        load_study_file(write_study(base_config=str(config), search_space=space(**searched)))

    # Relative choices mean what they mean in the base config: its folder, wherever the
    # sweep is started (run_cli starts it in the temporary directory).
    choices = ["data", "./data/", f"../{tmp_path.name}/data"]
    searched = {"data.dir": {"type": "categorical", "choices": choices}}
    study = write_study(base_config=str(config), search_space=space(**searched))
    spec = load_study_file(study)
    configs = [build_config(spec, {"data.dir": choice}, 1) for choice in choices]
    assert {c["data"]["dir"] for c in configs} == {str(tmp_path / "data")}
    url = f"sqlite:///{tmp_path / 'dirs.db'}"
    swept = run_cli("sweep", str(study), "--storage", url, "--trials", "4", "--workers", "1")
    assert swept.returncode == 0, swept.stderr
    shown = run_cli("show", str(study), "--storage", url, "--failed", "--format", "json")
    assert json.loads(shown.stdout)["failed"] == []


def test_file_fields_are_the_wrappers_path_fields_but_output() -> None:
    assert FILE_FIELDS | {"output.dir"} == set(PATH_FIELDS)


def test_yaml_is_never_evaluated(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = tmp_path / "evil.yaml"
    path.write_text(f'name: !!python/object/apply:os.system ["touch {canary}"]\n')
    with pytest.raises(StudyFileError, match="valid YAML"):
        load_study_file(path)
    assert not canary.exists()


def test_broken_yaml_and_non_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(StudyFileError, match=r"expected valid YAML .*line"):
        load_study_file(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(StudyFileError, match="a YAML mapping at the top level"):
        load_study_file(listing)
    with pytest.raises(StudyFileError, match="no such file"):
        load_study_file(tmp_path / "missing.yaml")


def test_an_empty_or_comment_only_file_says_it_is_empty(tmp_path: Path) -> None:
    for text in ("", "# nothing but a comment\n"):
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        with pytest.raises(StudyFileError) as info:
            load_study_file(path)
        assert str(info.value) == (
            f"{path}: expected a YAML mapping at the top level (the file is empty or only comments)"
        )


def test_deeply_nested_yaml_and_json_are_one_line_errors(
    write_study: StudyWriter, tmp_path: Path
) -> None:
    # PyYAML and the json module build nested values recursively: a RecursionError.
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 600 + "]" * 600 + "\n")
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    assert str(info.value) == f"{path}: expected valid YAML (nested too deeply)"
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StudyFileError, match=r"base_config: .* at most 128 levels of nested"):
        load_study_file(write_study(base_config=str(tmp_path / "deep.json")))


def test_null_means_the_default_for_every_optional_key(write_study: StudyWriter) -> None:
    # trial_timeout_s is the one key where null is a value of its own (no timeout).
    path = write_study(sampler={"name": "tpe"}, constraints={})
    data = yaml.safe_load(path.read_text())
    plain = load_study_file(path)
    for key in ("storage", "run_mode", "workers", "batch_size", "objective", "direction"):
        data[key] = None
    data.update(sampler=None, constraints=None, backend=None, scheduler=None)
    data["search_space"]["strategy.params.z_entry"]["log"] = None
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    spec = load_study_file(path)
    assert (spec.storage, spec.run_mode, spec.workers, spec.batch_size) == (None, "dev", 1, 8)
    assert (spec.objective, spec.direction, spec.backend) == ("score", "maximize", "loky")
    assert spec.sampler.to_dict() == {"name": "tpe"} and spec.constraints == {}
    assert spec.fingerprint() == {**plain.fingerprint(), "batch_size": 8}
    # A sampler option that is null is the sampler's default, as when it is absent.
    data["sampler"] = {"name": "tpe", "n_startup_trials": None}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_study_file(path).sampler.to_dict() == {"name": "tpe"}


def test_merged_mappings_can_be_merged_again(write_study: StudyWriter) -> None:
    # Reading a mapping expands its merge keys in place: merging it again later was
    # taken for a mapping that repeats its merged keys.
    path = write_study(search_space={})
    path.write_text(
        path.read_text().replace("search_space: {}", "search_space:")
        + "  strategy.params.sl_atr: &sl {type: float, low: 0.5, high: 4.0}\n"
        + "  strategy.params.tp_atr: &tp {<<: *sl, low: 1.0}\n"
        + "  strategy.params.z_entry: {<<: [*tp, *sl], high: 3.5}\n"
    )
    bounds = [(p.path, p.low, p.high) for p in load_study_file(path).search_space]
    assert bounds == [
        ("strategy.params.sl_atr", 0.5, 4.0),
        ("strategy.params.tp_atr", 1.0, 4.0),
        ("strategy.params.z_entry", 1.0, 3.5),
    ]


def test_a_merge_bomb_is_refused_before_it_grows(write_study: StudyWriter) -> None:
    # Each line merges the one above twice: 2^20 keys once expanded, which PyYAML builds
    # (minutes and gigabytes at 25 lines) unless the loader stops it.
    path = write_study()
    lines = ["bomb:", "  m0: &m0 {a: 1, b: 2}"]
    lines += [f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 21)]
    path.write_text(path.read_text() + "\n".join(lines) + "\n")
    with pytest.raises(StudyFileError, match=r"more than 10,000 keys once its merge keys are"):
        load_study_file(path)


def test_values_too_big_to_show_are_cut_short(write_study: StudyWriter) -> None:
    # A seed of aliases nested 9 deep is 9^9 strings once written out (a 2 GB message).
    bomb: Any = "x"
    for _ in range(9):
        bomb = [bomb] * 9
    with pytest.raises(StudyFileError) as info:
        load_study_file(write_study(seed=bomb))
    message = str(info.value)
    assert "seed: expected an integer in [0, 2**63), got [[[...]" in message
    assert len(message) < len(str(info.value.file)) + 300
    # An integer Python will not even write past 4300 digits.
    path = write_study()
    path.write_text(path.read_text().replace("n_trials: 24", "n_trials: " + "1" * 5000))
    with pytest.raises(StudyFileError, match=r"valid YAML \(numbers of at most 4300 digits\)"):
        load_study_file(path)


def test_a_base_config_is_read_by_the_wrappers_rules(
    write_study: StudyWriter, base_config: Path, tmp_path: Path
) -> None:
    # The engine refuses a key given twice, so the optimizer must not keep the last one;
    # a NaN, a 5000-digit number and 900 levels of nesting are one-line errors too.
    text = base_config.read_text()
    config = json.loads(text)
    deep = json.dumps({**config, "news": "NEWS"}).replace('"NEWS"', "[" * 900 + "]" * 900)
    cases = {
        "repeated": (text.replace('"symbol":', '"symbol": "GBPUSD", "symbol":', 1),
                     "key 'symbol' appears twice in one object"),
        "nan": (text.replace('"z_entry": 2.0', '"z_entry": NaN', 1),
                "strategy.params.z_entry: expected a finite number, got nan"),
        "digits": (text.replace('"z_window": 48', '"z_window": ' + "1" * 5000, 1),
                   "expected numbers of at most 4300 digits"),
        "deep": (deep, "expected at most 128 levels of nested objects and arrays"),
        "no symbol": (json.dumps({k: v for k, v in config.items() if k != "symbol"}),
                      "(it says: symbol: required: expected a string)"),
    }  # fmt: skip
    for name, (content, expected) in cases.items():
        assert content != text, name
        (tmp_path / f"{name}.json").write_text(content)
        with pytest.raises(StudyFileError) as info:
            load_study_file(write_study(base_config=str(tmp_path / f"{name}.json")))
        message = str(info.value)
        assert "base_config: expected a config the engine accepts (" in message, (name, message)
        assert expected in message, (name, message)


def test_yaml_merge_keys_are_read_and_duplicates_still_refused(write_study: StudyWriter) -> None:
    path = write_study(search_space={})
    lines = path.read_text().replace("search_space: {}", "search_space:")
    merged = (
        "  strategy.params.z_entry: &entry {type: float, low: 1.5, high: 3.0, step: 0.1}\n"
        "  strategy.params.sl_atr: {<<: *entry, low: 0.5, step: 0.25}\n"
    )
    path.write_text(lines + merged)
    spec = load_study_file(path)
    assert [p.to_dict() for p in spec.search_space][1] == {
        "path": "strategy.params.sl_atr",
        "type": "float",
        "low": 0.5,
        "high": 3.0,
        "step": 0.25,
        "log": False,
    }
    path.write_text(lines + merged.replace("step: 0.25}", "step: 0.25, low: 0.75}"))
    with pytest.raises(StudyFileError, match=r"expected valid YAML \(duplicate key 'low' at line"):
        load_study_file(path)


def test_a_key_given_twice_is_refused(write_study: StudyWriter) -> None:
    # The safe loader would keep the last one: the study would silently run seed 8.
    path = write_study()
    path.write_text(path.read_text() + "seed: 8\n")
    with pytest.raises(StudyFileError, match=r"expected valid YAML \(duplicate key 'seed' at line"):
        load_study_file(path)


def test_cli_bad_study_exits_2_with_one_line(
    write_study: StudyWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_study(
        search_space={"strategy.params.z_window": {"type": "int", "low": 90, "high": 20}}
    )
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{path}: search_space.strategy.params.z_window: expected low < high" in err


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "STUDY.yaml" in err
    with pytest.raises(SystemExit) as info:
        main(["sweep", "x.yaml", "--workers", "zero"])
    assert info.value.code == 2
    assert "--workers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sweep", "x.yaml", "--workers", "100000"])
    assert info.value.code == 2
    assert "expected an integer from 1 to 256" in capsys.readouterr().err
    # An empty folder name is refused before the storage is opened, as bt run refuses it.
    assert main(["replay", "x.yaml", "--rank", "1", "--out", ""]) == 2
    assert capsys.readouterr().err == "error: --out '': expected a folder path\n"


def test_cli_refuses_oversized_input_before_anything_is_stored(
    write_study: StudyWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "omega.db"
    grid = write_study(
        sampler={"name": "grid"},
        search_space={
            "strategy.params.z_window": {"type": "int", "low": 20, "high": 2000},
            "strategy.params.z_entry": {"type": "float", "low": 1.5, "high": 3.5, "step": 0.001},
        },
    )
    assert main(["sweep", str(grid)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{grid}: sampler: expected a grid of at most" in err
    assert main(["sweep", str(write_study(n_trials=10**22))]) == 2
    assert "n_trials: expected an integer from 1 to 10,000,000" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(write_study()), "--trials", str(10**22)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "argument --trials: expected an integer from 1 to 10,000,000, got '1000" in err
    assert not db.exists()


def test_cli_names_an_empty_storage_and_a_missing_study_file(
    write_study: StudyWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(write_study())
    for command in (["sweep", path], ["show", path], ["studies"], ["dashboard"]):
        with pytest.raises(SystemExit) as info:
            main([*command, "--storage", ""])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "argument --storage: expected a database URL such as sqlite:///" in err
    storage = ["--storage", f"sqlite:///{Path(path).parent / 'omega.db'}"]
    for command in (["show", "/x/nope.yaml"], ["replay", "/x/nope.yml", "--rank", "1"]):
        assert main([*command, *storage]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {command[1]}: expected an existing study file (no such file)\n"


@pytest.mark.integration
def test_cli_bad_input_has_no_traceback(write_study: StudyWriter) -> None:
    path = write_study(colour="red")
    proc = run_cli("sweep", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {path}: colour: expected one of the keys " + (
        "name, storage, run_mode, seed, base_config, sampler, n_trials, workers, batch_size, "
        "objective, direction, constraints, search_space, backend, scheduler, trial_timeout_s "
        "(unknown key)"
    )
    for command in ("sweep", "show", "studies", "replay"):
        helped = run_cli(command, "--help")
        assert helped.returncode == 0 and "usage:" in helped.stdout


@pytest.mark.integration
def test_unusable_storage_urls_are_one_line_errors(write_study: StudyWriter) -> None:
    path = write_study()
    folder = path.parent
    (folder / "garbage.db").write_bytes(b"not a database " * 100)
    (folder / "a-folder").mkdir()
    cases = {
        f"sqlite:///{folder / 'garbage.db'}": "(file is not a database)",
        f"sqlite:///{path}": "(file is not a database)",  # the study file itself
        f"sqlite:///{folder / 'a-folder'}": "(unable to open database file)",
        "sqlite://": "not an in-memory database",
        "mysql://user@127.0.0.1:1/x": "expected an installed database driver",
        f"sqlite:///{folder / 'x%00.db'}": "without a NUL character (%00)",  # was a traceback
        # Was a file named "q.db?mode=ro&uri=true" that the next command could not read.
        f"sqlite:///{folder / 'q.db'}?mode=ro&uri=true": "without query parameters (?mode&uri)",
        f"sqlite:///file:{folder / 'u.db'}": "not a file: URI",
    }
    for url, expected in cases.items():
        for command in (["sweep", str(path)], ["studies"]):
            proc = run_cli(*command, "--storage", url)
            assert proc.returncode == 2, (url, command, proc.stderr)
            assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
            # `studies` does not create a database: a folder is "no such file" there.
            if command[0] == "sweep" or "a-folder" not in url:
                assert expected in proc.stderr, (url, proc.stderr)
    assert not list(folder.glob("q.db*")) and not (folder / "file:").exists()
