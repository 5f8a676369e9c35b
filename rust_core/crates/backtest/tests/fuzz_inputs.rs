//! Fuzzing the inputs users hand us: mutated configs and corrupted Parquet files must
//! come back as a config error or a `market_data` result, never as a panic.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A JSON value that might land anywhere in a config.
fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        prop_oneof![Just(0.0), Just(-1.0), Just(1e300), Just(-1e-300), (-1e6f64..1e6)].prop_map(|f| json!(f)),
        "[a-zA-Z0-9:_\\-. ]{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"start": "25:00", "end": "x"}])),
    ]
}

/// Every path to a leaf or object in `value`.
fn paths(value: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let mut path = prefix.clone();
            path.push(key.clone());
            out.push(path.clone());
            paths(child, path, out);
        }
    }
}

fn set(value: &mut Value, path: &[String], new: Option<Value>) {
    let Some((last, head)) = path.split_last() else { return };
    let mut node = value;
    for key in head {
        node = &mut node[key.as_str()];
    }
    if let Value::Object(map) = node {
        match new {
            Some(v) => {
                map.insert(last.clone(), v);
            }
            None => {
                map.remove(last);
            }
        }
    }
}

fn run_without_panic(text: &str) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| omega_backtest::run_backtest_json(text))) {
        Err(_) => Err(format!("panicked on {text}")),
        Ok(Err(_config_error)) => Ok(()),
        Ok(Ok(result)) => {
            let v: Value = serde_json::from_str(&result).map_err(|e| e.to_string())?;
            let category = v["error"]["category"].as_str();
            if v["ok"] == true || category.is_some() { Ok(()) } else { Err(format!("bad result {v}")) }
        }
    }
}

fn lab_with_data() -> (Lab, Value) {
    let lab = Lab::new();
    lab.primary(T0, &[setup_bars(), vec![Bar(1.0991, 1.0995, 1.0988, 1.0994); 3]].concat());
    let config = lab.config(json!({}));
    (lab, config)
}

/// The shrunk case that once made the Parquet reader panic ("column start and length
/// should not be negative"): it must come back as a `market_data` error.
#[test]
fn a_reader_panic_on_corrupt_metadata_is_a_market_data_error() {
    let (lab, config) = lab_with_data();
    let path = lab.dir.path().join("EURUSD_M5_ASK.parquet");
    let mut bytes = std::fs::read(&path).expect("read");
    // proptest's `Index(raw).index(len)` is `(raw * len) >> 64`.
    let i = ((9_556_610_830_592_945_908_u128 * bytes.len() as u128) >> 64) as usize;
    bytes[i] ^= 1;
    std::fs::write(&path, bytes).expect("write");
    assert_eq!(run_without_panic(&config.to_string()), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_never_panic(choices in proptest::collection::vec((any::<prop::sample::Index>(), prop::option::of(any_json())), 1..4)) {
        let (_lab, mut config) = lab_with_data();
        for (index, new) in choices {
            let mut all = Vec::new();
            paths(&config, Vec::new(), &mut all);
            let path = index.get(&all).clone();
            set(&mut config, &path, new);
        }
        prop_assert_eq!(run_without_panic(&config.to_string()), Ok(()));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        prop_assert_eq!(run_without_panic(&text), Ok(()));
    }

    #[test]
    fn corrupted_parquet_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in prop::option::of(any::<prop::sample::Index>())) {
        let (lab, config) = lab_with_data();
        let path = lab.dir.path().join("EURUSD_M5_ASK.parquet");
        let mut bytes = std::fs::read(&path).expect("read");
        for (index, byte) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= byte | 1;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        std::fs::write(&path, bytes).expect("write");
        prop_assert_eq!(run_without_panic(&config.to_string()), Ok(()));
    }
}
