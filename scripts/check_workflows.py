"""Checks the GitHub workflows for the project's supply-chain rules.

actionlint checks syntax and expressions and zizmor the security audits; this check
holds the rules of this repository that neither enforces on its own:

- every third-party action is pinned to a full 40-hex commit SHA and the line says
  which release that is (``uses: owner/repo@<sha> # vX.Y.Z``); no branch or tag refs
  (``@v4``, ``@main``, ``@master``); local (``./``) actions and workflows are exempt;
- every workflow has a top-level ``permissions`` block that grants nothing beyond
  ``read`` (write access is raised per job, where needed);
- every ``actions/upload-artifact`` step sets ``retention-days`` of at most 7.

    python scripts/check_workflows.py [FILE...]    # default: .github/workflows/*.yml

Exit status: 0 when every rule holds, 1 otherwise (``path:line: message`` each).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
MAX_RETENTION_DAYS = 7

USES_LINE = re.compile(
    r"""^\s*(?:-\s+)?uses:\s*(?P<quote>['"]?)(?P<ref>[^'"\s#]+)(?P=quote)\s*(?:\#\s*(?P<comment>.*))?$"""
)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^v?\d+(?:\.\d+){0,2}\b")
READ_ONLY = {"read", "none"}


def _check_uses_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if match is None:
            continue
        ref = match["ref"]
        if ref.startswith(("./", "docker://")):
            continue
        if PINNED.match(ref) is None:
            yield number, f"{ref}: pin third-party actions to a full 40-hex commit SHA"
        elif not (match["comment"] and VERSION_COMMENT.match(match["comment"].strip())):
            yield number, f"{ref}: add the release it pins as a trailing comment (# vX.Y.Z)"


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def _check_permissions(workflow: dict[Any, Any], text: str) -> Iterator[tuple[int, str]]:
    if "permissions" not in workflow:
        yield 1, "no top-level permissions block (set `permissions: contents: read`)"
        return
    permissions = workflow["permissions"]
    if isinstance(permissions, str):
        if permissions != "read-all" and permissions not in READ_ONLY:
            line = _line_of(text, "permissions:")
            yield line, f"top-level permissions {permissions!r} grant write access"
    elif isinstance(permissions, dict):
        for scope, level in permissions.items():
            if level not in READ_ONLY:
                line = _line_of(text, f"{scope}: {level}")
                yield line, f"top-level permission {scope}: {level}; raise it per job instead"
    elif permissions is not None:
        yield _line_of(text, "permissions:"), "top-level permissions must be a mapping"


def _check_retention(workflow: dict[Any, Any], text: str) -> Iterator[tuple[int, str]]:
    for job in (workflow.get("jobs") or {}).values():
        for step in (job or {}).get("steps") or []:
            uses = str(step.get("uses", ""))
            if not uses.startswith("actions/upload-artifact@"):
                continue
            days = (step.get("with") or {}).get("retention-days")
            name = step.get("name") or uses
            if days is None:
                yield _line_of(text, uses), f"{name}: set retention-days (<= 7)"
            elif int(days) > MAX_RETENTION_DAYS:
                yield _line_of(text, uses), f"{name}: retention-days {days} > 7"


def check_workflow(path: Path) -> list[str]:
    """Returns the rule violations of one workflow file as ``path:line: message``."""
    text = path.read_text(encoding="utf-8")
    try:
        workflow = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"{path}:1: not valid YAML: {exc}"]
    if not isinstance(workflow, dict):
        return [f"{path}:1: a workflow must be a mapping"]
    problems = list(_check_uses_lines(text))
    problems += _check_permissions(workflow, text)
    problems += _check_retention(workflow, text)
    return [f"{path}:{line}: {message}" for line, message in sorted(problems)]


def main(argv: list[str] | None = None) -> int:
    """Checks the named workflow files (default: all of them) and prints violations."""
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(arg) for arg in args] or sorted(WORKFLOWS.glob("*.y*ml"))
    problems = [problem for path in paths for problem in check_workflow(path)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_workflows: {len(problems)} problem(s) in {len(paths)} workflow(s)")
        return 1
    print(f"check_workflows: {len(paths)} workflow(s) pinned and least-privileged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
