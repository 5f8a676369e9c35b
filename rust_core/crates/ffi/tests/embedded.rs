//! The module as Python sees it, in an embedded interpreter: `run_backtest` returns
//! JSON and config errors raise `ConfigError` (an `Exception`) with `field_path`. The
//! panic path is covered in-module and, through the real wheel, by tests/test_errors.py.

use pyo3::prelude::*;
use pyo3::types::PyModule;

fn with_module<T>(f: impl FnOnce(Python<'_>, &Bound<'_, PyModule>) -> T) -> T {
    Python::initialize();
    Python::attach(|py| {
        let module = PyModule::new(py, "omega_bt").expect("module");
        omega_bt::init_module(&module).expect("init");
        f(py, &module)
    })
}

fn fixture_config() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    serde_like_config(&root)
}

fn serde_like_config(root: &std::path::Path) -> String {
    format!(
        r#"{{"schema_version": 2, "rng_seed": 1, "symbol": "EURUSD",
            "data": {{"dir": "{data}", "primary_tf": "M5", "end": "2024-01-10"}},
            "costs": {{"symbol_specs": "{specs}", "execution_costs": "{costs}"}},
            "account": {{"initial_balance": 100000.0}},
            "strategy": {{"name": "mean_reversion_z_score", "params": {{"z_window": 20, "z_entry": 2.0,
              "atr_length": 14, "sl_atr": 1.5, "tp_atr": 2.0, "sizing": {{"mode": "fixed_lots", "lots": 1.0}}}}}},
            "output": {{"trades": false, "equity": false}}}}"#,
        data = root.join("fixtures/data").display(),
        specs = root.join("configs/symbol_specs.yaml").display(),
        costs = root.join("configs/execution_costs.yaml").display(),
    )
}

#[test]
fn the_module_runs_backtests_and_raises_its_own_errors() {
    with_module(|py, module| {
        let run = module.getattr("run_backtest").expect("run_backtest");
        let text: String = run.call1((fixture_config(),)).expect("ran").extract().expect("str");
        assert!(text.starts_with("{\"meta\"") || text.contains("\"ok\":true"), "{text}");

        let err = run.call1(("{\"schema_version\": 2}",)).expect_err("config error");
        let config_error = module.getattr("ConfigError").expect("class");
        assert!(err.is_instance(py, &config_error));
        let field: String = err.value(py).getattr("field_path").expect("attr").extract().expect("str");
        assert_eq!(field, "rng_seed");
        assert!(err.is_instance_of::<pyo3::exceptions::PyException>(py));

        let version: String = module.getattr("__engine_version__").expect("v").extract().expect("str");
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
    });
}

#[test]
fn arguments_that_are_no_utf8_text_raise_config_errors_at_the_root() {
    with_module(|py, module| {
        let run = module.getattr("run_backtest").expect("run_backtest");
        let config_error = module.getattr("ConfigError").expect("class");
        // A str with a lone surrogate (bytes decoded with surrogateescape), bytes, a dict.
        let surrogate = py.eval(c"'{\\udcff}'", None, None).expect("str");
        let bytes = pyo3::types::PyBytes::new(py, b"{}").into_any();
        let dict = pyo3::types::PyDict::new(py).into_any();
        for (argument, expected) in [
            (surrogate, "lone surrogate"),
            (bytes, "expected the config as JSON text (a str), got a bytes"),
            (dict, "got a dict"),
        ] {
            let err = run.call1((argument,)).expect_err("config error");
            assert!(err.is_instance(py, &config_error));
            let field: String = err.value(py).getattr("field_path").expect("attr").extract().expect("str");
            assert_eq!(field, "$");
            assert!(err.to_string().contains(expected), "{err}");
        }
    });
}
