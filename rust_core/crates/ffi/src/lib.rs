//! The `omega_bt` Python extension module: the one door into the Omega V2 engine.
//!
//! It exposes exactly one entry point, `run_backtest(config_json: str) -> str`, and
//! the exception classes it raises. The call releases the GIL while the engine runs,
//! makes no callback into Python, and catches every Rust panic so that only our own
//! exception classes reach the user (PyO3's `PanicException` is a `BaseException`,
//! which `except Exception` would miss). This is the only crate that knows Python exists.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(omega_bt, OmegaError, PyException, "Root of every error raised by Omega V2.");
create_exception!(
    omega_bt,
    ConfigError,
    OmegaError,
    "A config that cannot run; the message starts with the offending field path."
);
create_exception!(
    omega_bt,
    InternalError,
    OmegaError,
    "A bug inside the engine (a caught Rust panic); the run produced nothing."
);

/// Environment variable that makes the next call panic inside the engine. It exists so
/// that tests can prove a panic never crosses the boundary; it is not for users.
const FAULT_ENV: &str = "OMEGA_BT_FAULT";

/// Outcome of one engine call, computed without the GIL.
enum Outcome {
    Done(String),
    Config(omega_types::ConfigError),
    Panicked(String),
}

/// Runs the engine with every panic caught; `fault` is the value of [`FAULT_ENV`].
fn run_guarded(config_json: &str, fault: Option<&str>) -> Outcome {
    let result = catch_unwind(AssertUnwindSafe(|| {
        if fault == Some("panic") {
            panic!("fault injected through {FAULT_ENV}=panic");
        }
        omega_backtest::run_backtest_json(config_json)
    }));
    match result {
        Ok(Ok(text)) => Outcome::Done(text),
        Ok(Err(err)) => Outcome::Config(err),
        Err(payload) => Outcome::Panicked(
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned()),
        ),
    }
}

/// Runs one backtest: config JSON text in, result JSON text out (ENGINE §9).
///
/// Raises `ConfigError` for a config that cannot run and `InternalError` for a caught
/// engine panic; run-time failures come back as `{"ok": false, "error": {...}}`.
#[pyfunction]
#[pyo3(signature = (config_json), text_signature = "(config_json)")]
fn run_backtest(py: Python<'_>, config_json: &Bound<'_, PyAny>) -> PyResult<String> {
    let owned = match config_text(config_json) {
        Ok(text) => text,
        Err(err) => return Err(config_error(py, err)?),
    };
    let fault = std::env::var(FAULT_ENV).ok();
    match py.detach(move || run_guarded(&owned, fault.as_deref())) {
        Outcome::Done(text) => Ok(text),
        Outcome::Config(err) => Err(config_error(py, err)?),
        Outcome::Panicked(message) => Err(InternalError::new_err(format!(
            "the engine hit a bug and stopped (caught panic: {message}); please report it with the config"
        ))),
    }
}

/// Returns the config text passed in, or the config error that says why it is none: a
/// `str` is required, and it must be encodable as UTF-8 (a lone surrogate, left by
/// decoding bytes with `surrogateescape`, is not).
fn config_text(arg: &Bound<'_, PyAny>) -> Result<String, omega_types::ConfigError> {
    let Ok(text) = arg.cast::<pyo3::types::PyString>() else {
        let kind = arg.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
        return Err(omega_types::ConfigError::new(
            "$",
            format!("expected the config as JSON text (a str), got a {kind}"),
        ));
    };
    text.to_str().map(str::to_owned).map_err(|_| {
        omega_types::ConfigError::new(
            "$",
            "expected text that UTF-8 can encode; it holds a lone surrogate (bytes decoded \
             with errors=\"surrogateescape\"?)",
        )
    })
}

/// Returns the Python `ConfigError` for `err`, with its `field_path` attribute set.
fn config_error(py: Python<'_>, err: omega_types::ConfigError) -> PyResult<PyErr> {
    let exc = ConfigError::new_err(err.to_string());
    exc.value(py).setattr("field_path", err.path)?;
    Ok(exc)
}

/// Sends panic reports to `tracing` at debug level instead of stderr: every panic is
/// caught and reported to the caller (a damaged Parquet file that panics the reader as
/// a `market_data` error, anything else as `InternalError` with the message), so users
/// see no Rust backtrace noise unless they ask for debug logs.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        tracing::debug!(panic = %info, "panic caught; the caller gets it as an error");
    }));
}

/// The `omega_bt` module.
#[pymodule]
fn omega_bt(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_module(m)
}

/// Fills `m` with the module's function, exception classes and version (also used by
/// the embedded-interpreter tests).
///
/// # Errors
/// When Python refuses an attribute.
pub fn init_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    omega_backtest::init_tracing();
    install_panic_hook();
    m.add_function(wrap_pyfunction!(run_backtest, m)?)?;
    let py = m.py();
    m.add("OmegaError", py.get_type::<OmegaError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("__engine_version__", omega_backtest::ENGINE_VERSION)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_caught_with_their_message() {
        match run_guarded("{}", Some("panic")) {
            Outcome::Panicked(message) => assert!(message.contains("fault injected"), "{message}"),
            _ => panic!("expected a caught panic"),
        }
    }

    #[test]
    fn config_errors_and_results_pass_through() {
        assert!(matches!(run_guarded("", None), Outcome::Config(e) if e.path == "$"));
        assert!(matches!(run_guarded("{}", Some("other")), Outcome::Config(_)));
    }
}
