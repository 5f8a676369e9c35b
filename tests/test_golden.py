"""The fixture run reproduces the committed golden artifacts byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden.update_golden import GOLDEN_DIR, run_into

ARTIFACTS = ("trades.json", "equity.csv", "metrics.json", "meta.json")


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden")
    result = run_into(out)
    assert result["ok"], result
    return out


@pytest.mark.parametrize("name", ARTIFACTS)
def test_artifact_matches_golden(fixture_run: Path, name: str) -> None:
    produced = (fixture_run / name).read_bytes()
    expected = (GOLDEN_DIR / name).read_bytes()
    assert produced == expected, f"{name} differs from tests/golden; see update_golden.py"


def test_fixture_run_is_substantial(fixture_run: Path) -> None:
    trades = json.loads((fixture_run / "trades.json").read_text())
    assert len(trades) > 20
    reasons = {t["reason"] for t in trades}
    assert {"stop_loss", "take_profit"} <= reasons
    metrics = json.loads((fixture_run / "metrics.json").read_text())
    assert metrics["trades"] == len(trades)
    header, *rows = (fixture_run / "equity.csv").read_text().splitlines()
    assert header == "timestamp_ns,balance,equity"
    meta = json.loads((fixture_run / "meta.json").read_text())
    assert len(rows) == meta["bars"]
