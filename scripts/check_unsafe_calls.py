"""Forbids calls that execute or deserialize arbitrary code in the Python packages.

A pre-commit hook (see ``.pre-commit-config.yaml``) runs it on ``bt/``, ``optimizer/``
and ``omega_bt/``: study files and configs come from users, so they are parsed with
``yaml.safe_load`` (or a ``yaml.SafeLoader`` subclass) and never evaluated. Flagged, by
the syntax tree (comments, strings and methods of other objects such as
``frame.eval(...)`` are not calls of these):

- ``eval(...)``, ``exec(...)`` and ``builtins.eval/exec(...)``;
- ``yaml.load(...)``, ``yaml.load_all(...)``, ``yaml.unsafe_load(...)``,
  ``yaml.full_load(...)`` (and ``from yaml import load`` style imports of them).

    python scripts/check_unsafe_calls.py FILE...

Exit status: 0 when none is found, 1 otherwise (``path:line:col: message`` per call).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

BUILTINS = {"eval", "exec"}
YAML_LOADERS = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}


def _unsafe_imports(tree: ast.AST) -> dict[str, str]:
    """Maps local names bound by ``from yaml import load`` (etc.) to ``yaml.load``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "yaml":
            for alias in node.names:
                if alias.name in YAML_LOADERS:
                    names[alias.asname or alias.name] = f"yaml.{alias.name}"
    return names


def _yaml_aliases(tree: ast.AST) -> set[str]:
    """Returns the local names of the ``yaml`` module (``import yaml as y`` -> ``y``)."""
    aliases = {"yaml"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname for a in node.names if a.name == "yaml" and a.asname)
    return aliases


def find_unsafe_calls(source: str, filename: str = "<string>") -> Iterator[tuple[int, int, str]]:
    """Yields ``(line, column, name)`` for each forbidden call in `source`."""
    tree = ast.parse(source, filename=filename)
    imported = _unsafe_imports(tree)
    yaml_names = _yaml_aliases(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name: str | None = None
        if isinstance(func, ast.Name):
            if func.id in BUILTINS:
                name = func.id
            elif func.id in imported:
                name = imported[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner == "builtins" and func.attr in BUILTINS:
                name = f"builtins.{func.attr}"
            elif owner in yaml_names and func.attr in YAML_LOADERS:
                name = f"yaml.{func.attr}"
        if name is not None:
            yield node.lineno, node.col_offset + 1, name


def main(argv: list[str] | None = None) -> int:
    """Checks the files named on the command line and reports each forbidden call."""
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    found = 0
    for path in paths:
        try:
            calls = list(find_unsafe_calls(path.read_text(encoding="utf-8"), str(path)))
        except SyntaxError as exc:
            print(f"{path}:{exc.lineno}: cannot parse: {exc.msg}")
            found += 1
            continue
        for line, column, name in calls:
            hint = "use yaml.safe_load" if name.startswith("yaml.") else "never evaluate input"
            print(f"{path}:{line}:{column}: forbidden call {name}(...) ({hint})")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
