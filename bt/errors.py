"""The exception tree of Omega V2.

Every error that Omega V2 raises on purpose derives from :class:`OmegaError`, so one
``except OmegaError`` catches them all. The engine's own classes are re-exported here;
the run-time failure classes wrap the JSON error contract of ENGINE §9.
"""

from __future__ import annotations

from typing import Any

from omega_bt import ConfigError, InternalError, OmegaError

__all__ = [
    "BacktestFailed",
    "ConfigError",
    "ExecutionFailed",
    "InternalError",
    "MarketDataError",
    "OmegaError",
    "RuntimeFailed",
    "StrategyFailed",
    "config_error",
    "raise_for_result",
]


def config_error(field_path: str, message: str) -> ConfigError:
    """Builds a :class:`ConfigError` the way the engine does: ``"path: message"``.

    The error carries ``field_path`` like the engine's own, so callers can rely on it.
    """
    error = ConfigError(f"{field_path}: {message}")
    error.field_path = field_path
    return error


class BacktestFailed(OmegaError):
    """A run that started but failed; carries the engine's error object."""

    category = "runtime"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class MarketDataError(BacktestFailed):
    """The market data could not be loaded or failed validation (category ``market_data``)."""

    category = "market_data"


class ExecutionFailed(BacktestFailed):
    """The execution model could not proceed (category ``execution``)."""

    category = "execution"


class StrategyFailed(BacktestFailed):
    """The strategy could not proceed (category ``strategy``)."""

    category = "strategy"


class RuntimeFailed(BacktestFailed):
    """Any other failure during the run (category ``runtime``)."""

    category = "runtime"


_BY_CATEGORY: dict[str, type[BacktestFailed]] = {
    cls.category: cls for cls in (MarketDataError, ExecutionFailed, StrategyFailed, RuntimeFailed)
}


def raise_for_result(result: dict[str, Any]) -> dict[str, Any]:
    """Returns ``result`` when it is a success, else raises the matching BacktestFailed."""
    if result.get("ok"):
        return result
    error = result.get("error") or {}
    cls = _BY_CATEGORY.get(str(error.get("category")), RuntimeFailed)
    raise cls(str(error.get("message", "unknown error")), error.get("details"))
