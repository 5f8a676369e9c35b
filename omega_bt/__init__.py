"""The Omega V2 backtest engine, compiled from Rust.

One entry point, :func:`run_backtest`, takes a config as JSON text and returns the
result as JSON text (see ENGINE.md). Setup errors raise :class:`ConfigError`; a bug
caught inside the engine raises :class:`InternalError`; both derive from
:class:`OmegaError`.
"""

from omega_bt.omega_bt import (
    ConfigError,
    InternalError,
    OmegaError,
    __engine_version__,
    run_backtest,
)

__all__ = ["ConfigError", "InternalError", "OmegaError", "__engine_version__", "run_backtest"]
