"""``bt``: the thin Python wrapper around the Omega V2 Rust engine.

>>> import bt
>>> result = bt.run_backtest("configs/backtest/eurusd_m5_mrz.json", out_dir="out")  # doctest: +SKIP
>>> result["metrics"]["trades"]  # doctest: +SKIP
"""

from bt.api import ARTIFACTS, run_backtest
from bt.config import load_config, resolve_paths, to_json
from bt.errors import (
    BacktestFailed,
    ConfigError,
    ExecutionFailed,
    InternalError,
    MarketDataError,
    OmegaError,
    RuntimeFailed,
    StrategyFailed,
    config_error,
    raise_for_result,
)
from omega_bt import __engine_version__

__all__ = [
    "ARTIFACTS",
    "BacktestFailed",
    "ConfigError",
    "ExecutionFailed",
    "InternalError",
    "MarketDataError",
    "OmegaError",
    "RuntimeFailed",
    "StrategyFailed",
    "__engine_version__",
    "config_error",
    "load_config",
    "raise_for_result",
    "resolve_paths",
    "run_backtest",
    "to_json",
]
