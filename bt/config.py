"""Loading backtest configs from disk.

A config file may name data and cost files relative to its own folder (ENGINE §0: the
wrapper resolves relative paths against the config file's folder first). This module
turns such a file into a config dict whose paths are absolute.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

from bt.errors import config_error

__all__ = [
    "MAX_DEPTH",
    "PATH_FIELDS",
    "check_values",
    "load_config",
    "read_config",
    "resolve_path",
    "resolve_paths",
    "to_json",
]

#: Dotted paths of the config fields that name files or folders.
PATH_FIELDS: tuple[str, ...] = (
    "data.dir",
    "costs.symbol_specs",
    "costs.execution_costs",
    "news.file",
    "output.dir",
)


#: The deepest nesting of objects and arrays a config may have: the engine's JSON parser
#: refuses more, and Python's recursive copies would overflow the stack on much more.
MAX_DEPTH = 128


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a JSON config file and resolves its relative paths against its folder."""
    file = Path(path)
    return resolve_paths(read_config(file), file.resolve().parent)


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a JSON config file as written (paths unresolved).

    Raises :class:`bt.ConfigError` at ``$`` naming the file for an unreadable file, text
    that is not UTF-8 or not JSON, a key repeated in one object, a number of more digits
    than Python converts, nesting deeper than :data:`MAX_DEPTH`, or a top level that is
    not an object.
    """
    file = Path(path)
    too_deep = f"{file}: expected at most {MAX_DEPTH} levels of nested objects and arrays"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise config_error("$", f"{file}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise config_error(
            "$", f"{file}: expected UTF-8 text (byte {exc.start} is not: {exc.reason})"
        ) from None
    try:
        config = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise config_error("$", f"{file}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    except _RepeatedKey as exc:
        raise config_error(
            "$", f"{file}: key {exc.key!r} appears twice in one object; keep one"
        ) from None
    except ValueError:  # an integer of more digits than int() converts
        raise config_error("$", f"{file}: expected numbers of at most 4300 digits") from None
    except RecursionError:  # deeper than the parser goes
        raise config_error("$", too_deep) from None
    if _depth(config) > MAX_DEPTH:
        raise config_error("$", too_deep)
    if not isinstance(config, dict):
        raise config_error("$", f"{file}: expected a JSON object at the top level")
    return config


def _depth(value: Any) -> int:
    """Returns how deeply ``value`` nests objects and arrays (a scalar: 0), without
    recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


class _RepeatedKey(Exception):
    """An object of the config file repeats ``key`` (a plain parse keeps the last value)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Builds a JSON object, refusing a repeated key (``json`` would keep the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def check_values(value: Any, path: str = "$") -> None:
    """Raises a ConfigError naming the path of the first value JSON cannot carry: a NaN
    or infinite number, or an object that is neither a JSON value nor a path."""
    if isinstance(value, float) and not math.isfinite(value):
        raise config_error(path, f"expected a finite number, got {value}")
    if isinstance(value, dict):
        for key, item in value.items():
            check_values(item, f"{path}.{key}" if path != "$" else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_values(item, f"{path}[{index}]")
    elif not isinstance(value, str | int | float | None | os.PathLike):
        raise config_error(path, f"cannot encode {type(value).__name__} in a config")


def _encode_path(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a config")


def to_json(config: dict[str, Any]) -> str:
    """Serializes a config dict for the engine.

    Paths (``pathlib.Path``) become strings; NaN or infinite numbers, which JSON cannot
    carry, raise :class:`bt.ConfigError` naming their field; any other value JSON cannot
    hold raises ``ConfigError`` too.
    """
    check_values(config)
    try:
        return json.dumps(config, default=_encode_path, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise config_error("$", str(exc)) from None


def resolve_paths(config: dict[str, Any], base: str | os.PathLike[str]) -> dict[str, Any]:
    """Returns a copy of ``config`` whose relative path fields are made absolute from ``base``."""
    resolved = copy.deepcopy(config)
    for dotted in PATH_FIELDS:
        parent: Any = resolved
        *head, leaf = dotted.split(".")
        for key in head:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and leaf in parent:
            parent[leaf] = resolve_path(parent[leaf], base)
    return resolved


def resolve_path(value: Any, base: str | os.PathLike[str]) -> Any:
    """Returns a relative path made absolute from ``base``; anything else as it is. An
    empty path stays empty: the engine refuses it by name, where joining it to the folder
    would quietly mean the folder itself."""
    if isinstance(value, str) and value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(os.fspath(base), value))
    return value
