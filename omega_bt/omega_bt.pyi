"""Type stubs for the compiled Omega V2 engine module."""

__engine_version__: str

class OmegaError(Exception):
    """Root of every error raised by the Omega V2 engine and its wrappers."""

class ConfigError(OmegaError):
    """A config that cannot run: the message starts with the offending field path."""

    field_path: str

class InternalError(OmegaError):
    """A bug inside the engine (a caught Rust panic); the run produced nothing."""

def run_backtest(config_json: str) -> str:
    """Runs one backtest and returns its result as JSON text.

    The GIL is released while the engine runs. Run-time failures come back as
    ``{"ok": false, "error": {...}}``; setup failures raise ConfigError.
    """
