"""Loading backtest configs from disk.

A config file may name data and cost files relative to its own folder (ENGINE §0: the
wrapper resolves relative paths against the config file's folder first). This module
turns such a file into a config dict whose paths are absolute.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from omega_bt import ConfigError

__all__ = ["PATH_FIELDS", "load_config", "resolve_paths"]

#: Dotted paths of the config fields that name files or folders.
PATH_FIELDS: tuple[str, ...] = (
    "data.dir",
    "costs.symbol_specs",
    "costs.execution_costs",
    "news.file",
)


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a JSON config file and resolves its relative paths against its folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config file ({exc.strerror})") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{file}: expected a JSON object at the top level")
    return resolve_paths(config, file.resolve().parent)


def resolve_paths(config: dict[str, Any], base: str | os.PathLike[str]) -> dict[str, Any]:
    """Returns a copy of ``config`` whose relative path fields are made absolute from ``base``."""
    resolved = copy.deepcopy(config)
    for dotted in PATH_FIELDS:
        parent: Any = resolved
        *head, leaf = dotted.split(".")
        for key in head:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(leaf), str):
            value = parent[leaf]
            if not os.path.isabs(value):
                parent[leaf] = os.path.normpath(os.path.join(os.fspath(base), value))
    return resolved
