"""The command line ``python -m bt``: exit codes, the metrics table, artifacts, errors.

Exit codes: 0 success, 1 a run that failed (``ok: false``) or an engine bug, 2 bad input.
Errors are one ``error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bt
from bt.cli import HEADLINE_METRICS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "configs/backtest/eurusd_m5_mrz.json"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("OMEGA_BT_FAULT", "OMEGA_LOG")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bt", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_config(folder: Path, change: dict[str, Any] | None = None, **params: Any) -> Path:
    """Writes the example config (paths made absolute) with changes into ``folder``."""
    config = bt.load_config(ROOT / CONFIG)
    config.update(change or {})
    config["strategy"]["params"].update(params)
    path = folder / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def assert_one_error_line(stderr: str, prefix: str = "error: ") -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


def test_run_prints_metrics_and_writes_artifacts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("run", CONFIG, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["metric", "value"]
    table = dict(line.split(maxsplit=1) for line in lines[2 : 2 + len(HEADLINE_METRICS)])
    assert list(table) == list(HEADLINE_METRICS)
    assert int(table["trades"]) == metrics["trades"]
    assert float(table["profit_net"]) == pytest.approx(metrics["profit_net"])
    assert f"artifacts written to {out}" in proc.stdout

    assert sorted(p.name for p in out.iterdir()) == sorted(bt.ARTIFACTS)
    trades = json.loads((out / "trades.json").read_text(encoding="utf-8"))
    assert len(trades) > 20
    assert metrics["trades"] == len(trades)
    with (out / "equity.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) > 1000
    assert all(len(row) == len(rows[0]) for row in rows)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert len(meta["config_hash"]) == 64
    assert {i["file"] for i in meta["inputs"]} >= {
        "EURUSD_M5_BID.parquet",
        "EURUSD_M5_ASK.parquet",
        "EURUSD_D1_BID.parquet",
        "EURUSD_D1_ASK.parquet",
    }


def test_run_without_out_prints_only_the_table() -> None:
    proc = run_cli("run", CONFIG)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split() == ["metric", "value"]
    assert "artifacts written" not in proc.stdout


def test_omega_log_info_prints_the_engines_phases(tmp_path: Path) -> None:
    proc = run_cli("run", CONFIG, "--out", str(tmp_path / "out"), env={"OMEGA_LOG": "info"})
    assert proc.returncode == 0, proc.stderr
    closed = [line for line in proc.stderr.splitlines() if " close time.busy=" in line]
    phases = {line.split(" INFO ", 1)[1].split("{", 1)[0].split(":", 1)[0] for line in closed}
    assert {"load", "indicators", "loop", "metrics", "output"} <= phases, proc.stderr
    assert run_cli("run", CONFIG).stderr == ""  # the default level is warn


@pytest.mark.parametrize(
    ("change", "params", "expected"),
    [
        (None, {"z_window": 1}, "strategy.params.z_window: expected an integer >= 2, got 1"),
        (None, {"z_entyr": 2.0}, "strategy.params.z_entyr: unknown key"),
        ({"execution_variant": "v1_parity"}, {}, "execution_variant:"),
        ({"colour": "blue"}, {}, "colour: unknown key"),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, change: dict[str, Any] | None, params: dict[str, Any], expected: str
) -> None:
    path = write_config(tmp_path, change, **params)
    proc = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    line = assert_one_error_line(proc.stderr)
    assert line.startswith(f"error: {path}: "), line
    assert expected in line, line
    assert proc.stdout == ""


def test_unreadable_config_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    proc = run_cli("run", str(missing))
    assert proc.returncode == 2
    line = assert_one_error_line(proc.stderr)
    assert line.startswith(f"error: {missing}: cannot read config file")

    broken = tmp_path / "broken.json"
    broken.write_text("{\n  'single': 'quotes'\n}\n", encoding="utf-8")
    proc = run_cli("run", str(broken))
    assert proc.returncode == 2
    line = assert_one_error_line(proc.stderr)
    assert line.startswith(f"error: {broken}: not valid JSON at line 2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Both were tracebacks: int() refuses 5000 digits; copying 900 levels overflowed.
        ('{"rng_seed": ' + "1" * 5000 + "}", "expected numbers of at most 4300 digits"),
        ('{"news": ' + "[" * 900 + "]" * 900 + "}", "expected at most 128 levels of nested"),
        ("[" * 100_000 + "]" * 100_000, "expected at most 128 levels of nested"),
    ],
)
def test_configs_json_cannot_carry_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    proc = run_cli("run", str(path))
    assert proc.returncode == 2
    line = assert_one_error_line(proc.stderr)
    assert line.startswith(f"error: {path}: {expected}"), line


def test_market_data_failure_exits_1(tmp_path: Path) -> None:
    config = bt.load_config(ROOT / CONFIG)
    config["data"]["dir"] = str(tmp_path / "no_data")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    proc = run_cli("run", str(path))
    assert proc.returncode == 1
    line = assert_one_error_line(proc.stderr, "error [market_data]: ")
    assert str(tmp_path / "no_data" / "EURUSD_M5_BID.parquet") in line
    assert proc.stdout == ""


def test_engine_panic_exits_1_without_traceback() -> None:
    proc = run_cli("run", CONFIG, env={"OMEGA_BT_FAULT": "panic"})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "PanicException" not in proc.stderr
    # Rust's panic hook may print its own lines first; ours is the last one.
    assert proc.stderr.strip().splitlines()[-1].startswith("error: the engine hit a bug")


def test_help() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: python -m bt")
    assert "run" in proc.stdout
    proc = run_cli("run", "--help")
    assert proc.returncode == 0
    assert "--out DIR" in proc.stdout
    assert "CONFIG" in proc.stdout


def test_missing_command_is_a_usage_error() -> None:
    proc = run_cli()
    assert proc.returncode == 2
    assert "usage: python -m bt" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_relative_output_dir_resolves_against_the_config_folder(tmp_path: Path) -> None:
    # Like data.dir and the cost files (ENGINE §0): not against the working directory.
    folder = tmp_path / "configs"
    folder.mkdir()
    config = write_config(folder, {"output": {"dir": "artifacts", "trades": False}})
    proc = run_cli("run", str(config))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (folder / "artifacts").iterdir()) == sorted(bt.ARTIFACTS)
    assert not (ROOT / "artifacts").exists()


def test_an_empty_output_folder_is_a_config_error(tmp_path: Path) -> None:
    # An empty path would mean the working directory: refused by name instead.
    empty = write_config(tmp_path, {"output": {"dir": ""}})
    line = assert_one_error_line(run_cli("run", str(empty)).stderr)
    assert "output.dir: expected a folder path" in line
    line = assert_one_error_line(run_cli("run", CONFIG, "--out", "").stderr)
    assert "output.dir: expected a folder path" in line
    with pytest.raises(bt.ConfigError, match=r"output\.dir: expected a folder path"):
        bt.run_backtest(ROOT / CONFIG, out_dir="")
