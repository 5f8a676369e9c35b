"""The golden gates: contract-level comparison and the manifest (scripts/golden_*.py).

The comparison must fail when one trade's exit price moves by one tick, pass on
identical files and tolerate differences below the contract's output rounding
(ENGINE §7, §10). The manifest check must catch a changed file and an old manifest.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_ROOT = ROOT / "tests" / "golden"
GOLDEN_DIR = GOLDEN_ROOT / "eurusd_m5_mrz"
TICK = 0.00001  # EURUSD tick_size in configs/symbol_specs.yaml


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


compare = _load("golden_compare")
check = _load("golden_check")


@pytest.fixture
def produced(tmp_path: Path) -> Path:
    """A copy of the golden artifacts, to be altered by a test."""
    out = tmp_path / "produced"
    shutil.copytree(GOLDEN_DIR, out)
    return out


def _edit_trades(directory: Path, index: int, field: str, delta: float) -> tuple[float, float]:
    path = directory / "trades.json"
    trades = json.loads(path.read_text(encoding="utf-8"))
    before = trades[index][field]
    trades[index][field] = before + delta
    path.write_text(json.dumps(trades, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return before, trades[index][field]


# --- golden_compare ---------------------------------------------------------------------


def test_identical_artifacts_match(produced: Path) -> None:
    assert compare.compare_dirs(produced, GOLDEN_DIR) == []
    assert compare.main(["--produced", str(produced)]) == 0


def test_tick_size_comes_from_the_symbol_spec() -> None:
    assert compare.resolve_tick_size(GOLDEN_DIR) == TICK
    assert compare.tick_decimals(TICK) == 5
    assert compare.tick_decimals(0.001) == 3


def test_one_tick_on_one_exit_price_fails(produced: Path, capsys: pytest.CaptureFixture) -> None:
    before, after = _edit_trades(produced, 17, "exit_price", TICK)
    differences = compare.compare_dirs(produced, GOLDEN_DIR)
    assert [d.path for d in differences] == ["trades.json[17].exit_price"]
    assert differences[0].produced == after and differences[0].golden == before
    assert compare.main(["--produced", str(produced)]) == 1
    assert "trades.json[17].exit_price" in capsys.readouterr().out


def test_one_tick_down_fails_too(produced: Path) -> None:
    _edit_trades(produced, 0, "exit_price", -TICK)
    assert [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)] == [
        "trades.json[0].exit_price"
    ]


@pytest.mark.parametrize(
    ("field", "delta"),
    [
        ("exit_price", 0.4 * TICK),  # below half a tick
        ("entry_price", 1e-12),  # float noise
        ("pnl_gross", 0.004),  # below half a cent
        ("r_multiple", 0.00004),  # below half of 0.0001
    ],
)
def test_differences_below_the_rounding_are_tolerated(
    produced: Path, field: str, delta: float
) -> None:
    _edit_trades(produced, 3, field, delta)
    assert compare.compare_dirs(produced, GOLDEN_DIR) == []


@pytest.mark.parametrize(
    ("field", "delta"), [("fees", 0.01), ("lots", 0.01), ("r_multiple", 0.0001)]
)
def test_one_unit_of_the_last_decimal_fails(produced: Path, field: str, delta: float) -> None:
    _edit_trades(produced, 5, field, delta)
    assert [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)] == [
        f"trades.json[5].{field}"
    ]


def test_a_changed_reason_or_a_missing_trade_fails(produced: Path) -> None:
    path = produced / "trades.json"
    trades = json.loads(path.read_text(encoding="utf-8"))
    trades[2]["reason"] = "signal" if trades[2]["reason"] != "signal" else "stop_loss"
    path.write_text(json.dumps(trades[:-1]), encoding="utf-8")
    paths = [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)]
    assert "trades.json[2].reason" in paths
    assert "trades.json.length" in paths


def test_metrics_use_their_own_rounding(produced: Path) -> None:
    path = produced / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    metrics["sharpe"] += 0.00004  # ratio: 4 decimals, tolerated
    metrics["profit_net"] += 0.004  # money: 2 decimals, tolerated
    path.write_text(json.dumps(metrics), encoding="utf-8")
    assert compare.compare_dirs(produced, GOLDEN_DIR) == []
    metrics["max_drawdown_pct"] += 0.01  # percent: one unit, reported
    metrics["trades"] += 1  # counts are exact
    path.write_text(json.dumps(metrics), encoding="utf-8")
    paths = [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)]
    assert paths == ["metrics.json.max_drawdown_pct", "metrics.json.trades"]


def test_equity_money_to_the_cent(produced: Path) -> None:
    path = produced / "equity.csv"
    header, first, *rest = path.read_text(encoding="utf-8").splitlines()
    timestamp, balance, equity = first.split(",")
    tolerated = f"{timestamp},{float(balance) + 0.004:.3f},{equity}"
    path.write_text("\n".join([header, tolerated, *rest]) + "\n", encoding="utf-8")
    assert compare.compare_dirs(produced, GOLDEN_DIR) == []
    changed = f"{timestamp},{balance},{float(equity) + 0.01:.2f}"
    path.write_text("\n".join([header, changed, *rest]) + "\n", encoding="utf-8")
    assert [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)] == ["equity.csv:2.equity"]


def test_meta_is_compared_exactly(produced: Path) -> None:
    path = produced / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["config_hash"] = "0" * 64
    path.write_text(json.dumps(meta), encoding="utf-8")
    assert [d.path for d in compare.compare_dirs(produced, GOLDEN_DIR)] == ["meta.json.config_hash"]


def test_a_missing_artifact_is_an_error(produced: Path) -> None:
    (produced / "equity.csv").unlink()
    assert compare.main(["--produced", str(produced)]) == 2


def test_the_fixture_run_matches_the_golden_files(tmp_path: Path) -> None:
    assert compare.main(["--out", str(tmp_path / "run")]) == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(compare.ARTIFACTS)


# --- golden_check (MANIFEST.json) -------------------------------------------------------


@pytest.fixture
def golden_copy(tmp_path: Path) -> Path:
    """A copy of tests/golden (artifacts and manifest)."""
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN_DIR, root / GOLDEN_DIR.name)
    shutil.copy2(GOLDEN_ROOT / "MANIFEST.json", root / "MANIFEST.json")
    return root


def _manifest_date(root: Path) -> dt.date:
    return dt.date.fromisoformat(json.loads((root / "MANIFEST.json").read_text())["last_updated"])


def test_committed_manifest_matches_the_golden_files() -> None:
    manifest = json.loads((GOLDEN_ROOT / "MANIFEST.json").read_text(encoding="utf-8"))
    assert set(manifest) == {"engine_version", "files", "last_updated"}
    assert sorted(manifest["files"]) == [
        f"eurusd_m5_mrz/{name}" for name in sorted(compare.ARTIFACTS)
    ]
    updated = dt.date.fromisoformat(manifest["last_updated"])
    assert check.check_manifest(GOLDEN_ROOT, today=updated) == []


def test_manifest_records_the_built_engine_version() -> None:
    import omega_bt

    manifest = json.loads((GOLDEN_ROOT / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["engine_version"] == omega_bt.__engine_version__


def test_a_changed_golden_file_fails_the_checksum(golden_copy: Path) -> None:
    trades = golden_copy / "eurusd_m5_mrz" / "trades.json"
    trades.write_bytes(trades.read_bytes().replace(b"\n", b"\r\n", 1))
    problems = check.check_manifest(golden_copy, today=_manifest_date(golden_copy))
    assert len(problems) == 1 and problems[0].startswith("eurusd_m5_mrz/trades.json: sha256")


def test_an_unlisted_or_missing_golden_file_fails(golden_copy: Path) -> None:
    (golden_copy / "eurusd_m5_mrz" / "extra.json").write_text("{}\n")
    (golden_copy / "eurusd_m5_mrz" / "equity.csv").unlink()
    problems = check.check_manifest(golden_copy, today=_manifest_date(golden_copy))
    assert any("extra.json: golden file not listed" in p for p in problems)
    assert any("equity.csv: listed in MANIFEST.json but missing" in p for p in problems)


def test_engine_version_mismatch_fails(golden_copy: Path) -> None:
    today = _manifest_date(golden_copy)
    problems = check.check_manifest(golden_copy, today=today, engine_version="9.9.9")
    assert len(problems) == 1 and "built engine is '9.9.9'" in problems[0]


def test_manifest_older_than_90_days_fails(golden_copy: Path) -> None:
    updated = _manifest_date(golden_copy)
    assert check.check_manifest(golden_copy, today=updated + dt.timedelta(days=90)) == []
    problems = check.check_manifest(golden_copy, today=updated + dt.timedelta(days=91))
    assert len(problems) == 1 and "91 days old (limit 90)" in problems[0]
    assert (
        check.check_manifest(golden_copy, today=updated + dt.timedelta(days=91), max_age_days=None)
        == []
    )
    later = (updated + dt.timedelta(days=91)).isoformat()
    args = ["--golden-root", str(golden_copy), "--today", later]
    assert check.main(args) == 1
    assert check.main([*args, "--skip-age"]) == 0


def test_build_manifest_round_trips(golden_copy: Path) -> None:
    today = dt.date(2030, 1, 2)
    meta = json.loads((golden_copy / "eurusd_m5_mrz" / "meta.json").read_text(encoding="utf-8"))
    version = meta["engine_version"]
    manifest = check.build_manifest(version, today, golden_copy)
    check.write_manifest(manifest, golden_copy / "MANIFEST.json")
    text = (golden_copy / "MANIFEST.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and json.loads(text)["last_updated"] == "2030-01-02"
    assert check.check_manifest(golden_copy, today=today, engine_version=version) == []
