"""The Python face of the engine: config in, parsed result and artifacts out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import omega_bt
from bt.config import config_error, load_config, to_json

__all__ = ["ARTIFACTS", "run_backtest"]

#: The files that a run with an output folder writes (ENGINE §8).
ARTIFACTS: tuple[str, ...] = ("trades.json", "equity.csv", "metrics.json", "meta.json")


def run_backtest(
    config: dict[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Runs one backtest and returns the engine's parsed result.

    ``config`` is a config dict (relative paths resolve against the working directory)
    or the path of a JSON config file (relative paths resolve against its folder).
    When ``out_dir`` is given, the engine writes the four artifacts there.

    Setup problems raise :class:`bt.ConfigError`; a run that fails returns
    ``{"ok": False, "error": {...}}`` (see :func:`bt.raise_for_result`).
    """
    resolved = dict(config) if isinstance(config, dict) else load_config(config)
    if out_dir is not None:
        if not os.fspath(out_dir).strip():
            raise config_error("output.dir", "expected a folder path, got an empty string")
        # The engine creates the folder; a failure comes back as a `runtime` error result.
        output = dict(resolved.get("output") or {})
        output["dir"] = os.fspath(Path(out_dir).resolve())
        resolved["output"] = output
    result: dict[str, Any] = json.loads(omega_bt.run_backtest(to_json(resolved)))
    return result
