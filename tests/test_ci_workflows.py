"""The workflow gates catch what they are for (scripts/check_workflows.py, actionlint, zizmor).

A copy of the CI workflow with one action unpinned (``@v4``) and the top-level
``permissions`` block removed must fail the pin check and zizmor; the committed
workflows must pass all three. Also: the pre-commit check that forbids
``eval``/``exec``/``yaml.load`` in the packages.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOWS / "omega-v2-ci.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
CHECKOUT_PIN = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"
TOP_LEVEL_PERMISSIONS = "\npermissions:\n  contents: read\n"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workflows = _load("check_workflows")
unsafe = _load("check_unsafe_calls")


def _tool(name: str) -> str:
    """Returns the path of a dev tool, preferring the running venv's bin directory."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (make install brings it)")
    return found


@pytest.fixture
def broken_workflow(tmp_path: Path) -> Path:
    """The CI workflow with one action unpinned to @v4 and no top-level permissions."""
    text = CI_WORKFLOW.read_text(encoding="utf-8")
    assert CHECKOUT_PIN in text and TOP_LEVEL_PERMISSIONS in text
    text = text.replace(CHECKOUT_PIN, "actions/checkout@v4", 1)
    text = text.replace(TOP_LEVEL_PERMISSIONS, "\n", 1)
    path = tmp_path / ".github" / "workflows" / CI_WORKFLOW.name
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- scripts/check_workflows.py ---------------------------------------------------------


def test_committed_workflows_pass_the_pin_check() -> None:
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert {p.name for p in paths} >= {"omega-v2-ci.yml", "omega-v2-release.yml"}
    for path in paths:
        assert workflows.check_workflow(path) == [], path


def test_broken_copy_fails_the_pin_check(
    broken_workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = workflows.check_workflow(broken_workflow)
    assert any("actions/checkout@v4: pin third-party actions" in p for p in problems)
    assert any("no top-level permissions block" in p for p in problems)
    assert len(problems) == 2
    assert workflows.main([str(broken_workflow)]) == 1
    assert "2 problem(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "ref",
    [
        "actions/checkout@main",
        "actions/checkout@master",
        "actions/checkout@08c6903",  # short SHA
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",  # no version comment
    ],
)
def test_refs_that_are_not_pinned_releases_fail(tmp_path: Path, ref: str) -> None:
    text = CI_WORKFLOW.read_text(encoding="utf-8").replace(CHECKOUT_PIN, ref, 1)
    path = tmp_path / "wf.yml"
    path.write_text(text, encoding="utf-8")
    assert len(workflows.check_workflow(path)) == 1


def test_write_permissions_at_the_top_and_long_retention_fail(tmp_path: Path) -> None:
    text = CI_WORKFLOW.read_text(encoding="utf-8")
    text = text.replace(TOP_LEVEL_PERMISSIONS, "\npermissions:\n  contents: write\n", 1)
    text = text.replace("retention-days: 7", "retention-days: 30", 1)
    path = tmp_path / "wf.yml"
    path.write_text(text, encoding="utf-8")
    problems = workflows.check_workflow(path)
    assert any("top-level permission contents: write" in p for p in problems)
    assert any("retention-days 30 > 7" in p for p in problems)


# --- actionlint and zizmor (real binaries) ------------------------------------------------


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.integration
def test_actionlint_passes_on_the_committed_workflows() -> None:
    result = _run(_tool("actionlint"), *map(str, sorted(WORKFLOWS.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_actionlint_catches_a_broken_copy(broken_workflow: Path) -> None:
    text = broken_workflow.read_text(encoding="utf-8")
    text = text.replace(
        "    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    needs: nope\n", 1
    )
    broken_workflow.write_text(text, encoding="utf-8")
    result = _run(_tool("actionlint"), str(broken_workflow), cwd=broken_workflow.parents[2])
    assert result.returncode == 1
    assert 'needs job "nope" which does not exist' in result.stdout
    assert "actions/checkout@v4" in result.stdout  # a node20 action: outdated tag


@pytest.mark.integration
def test_zizmor_passes_on_the_committed_workflows() -> None:
    result = _run(_tool("zizmor"), "--offline", "--config", str(ZIZMOR_CONFIG), str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_zizmor_catches_the_unpinned_action_and_missing_permissions(
    broken_workflow: Path,
) -> None:
    result = _run(
        _tool("zizmor"), "--offline", "--config", str(ZIZMOR_CONFIG), str(broken_workflow)
    )
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout
    assert "excessive-permissions" in result.stdout


# --- scripts/check_unsafe_calls.py --------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "eval('1 + 1')",
        "exec(code)",
        "import builtins\nbuiltins.eval(x)",
        "import yaml\nyaml.load(text)",
        "import yaml as y\ny.unsafe_load(text)",
        "from yaml import full_load\nfull_load(text)",
    ],
)
def test_unsafe_calls_are_found(source: str) -> None:
    assert len(list(unsafe.find_unsafe_calls(source))) == 1


@pytest.mark.parametrize(
    "source",
    [
        "import yaml\nyaml.safe_load(text)",
        "frame.eval('a + b')",  # a method of another object
        "# eval(x) in a comment\ntext = 'exec(y)'",
        "json.loads(text)",
    ],
)
def test_safe_code_passes(source: str) -> None:
    assert list(unsafe.find_unsafe_calls(source)) == []


def test_the_packages_have_no_unsafe_calls(tmp_path: Path) -> None:
    files = [str(p) for pkg in ("bt", "optimizer", "omega_bt") for p in (ROOT / pkg).rglob("*.py")]
    assert files
    assert unsafe.main(files) == 0
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml\nconfig = yaml.load(open('x'))\n", encoding="utf-8")
    assert unsafe.main([str(bad)]) == 1
