//! Config text in (duplicate keys refused), canonical JSON and hashing out.

use std::cell::RefCell;
use std::fmt;

use omega_types::config::ConfigError;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Parses config JSON text, refusing an object that repeats a key: a plain parse keeps
/// the last value and silently drops the first, which may be the one the user meant.
///
/// # Errors
/// A [`ConfigError`] at `$` for text that is not JSON, or at the repeated key's path.
pub fn parse_config_text(text: &str) -> Result<Value, ConfigError> {
    let repeated = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_str(text);
    let parsed = UniqueKeys { path: "$".to_owned(), repeated: &repeated }
        .deserialize(&mut reader)
        .and_then(|value| reader.end().map(|()| value));
    parsed.map_err(|e| match repeated.take() {
        Some(path) => ConfigError::new(path, "this key appears twice in one object; keep one"),
        None => ConfigError::new("$", format!("not valid JSON: {e}")),
    })
}

/// Builds a [`Value`] like serde_json does, recording the path of the first repeated
/// key in `repeated` (and failing there).
struct UniqueKeys<'r> {
    path: String,
    repeated: &'r RefCell<Option<String>>,
}

impl UniqueKeys<'_> {
    fn child(&self, path: String) -> Self {
        UniqueKeys { path, repeated: self.repeated }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path == "$" { key.clone() } else { format!("{}.{key}", self.path) };
            if out.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(path);
                return Err(A::Error::custom("repeated key"));
            }
            let value = map.next_value_seed(self.child(path))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Returns `value` as canonical JSON: object keys sorted, no insignificant whitespace,
/// numbers as serde_json writes them (shortest round-trip form), UTF-8 unescaped.
///
/// Keys are sorted here explicitly, so the result does not depend on whether some
/// dependency turned on serde_json's `preserve_order`.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Returns `value` with every object's keys in sorted order (for pretty artifacts).
#[must_use]
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        scalar => scalar.clone(),
    }
}

/// Returns the lowercase hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_text_parses_like_serde_json_and_refuses_repeated_keys() {
        let text = r#"{"a": [1, -2, 2.5, 1e300, 18446744073709551615, "x", null, true, {"b": {}}], "c": {"d": 0.1}}"#;
        let plain: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(parse_config_text(text), Ok(plain));
        for (text, path) in [
            (r#"{"account": {"initial_balance": -5, "initial_balance": 100000}}"#, "account.initial_balance"),
            (r#"{"symbol": "EURUSD", "symbol": "GBPUSD"}"#, "symbol"),
            (r#"{"sessions": [{"start": "07:00"}, {"end": "1", "end": "2"}]}"#, "sessions[1].end"),
        ] {
            let err = parse_config_text(text).expect_err("repeated key");
            assert_eq!(err.to_string(), format!("{path}: this key appears twice in one object; keep one"));
        }
        for text in ["{", "[1,]", "{} {}", "nul"] {
            let err = parse_config_text(text).expect_err("not JSON");
            assert!(err.to_string().starts_with("$: not valid JSON: "), "{err}");
        }
    }
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, 2.5, {"z": null, "a": "é"}], "a": true});
        assert_eq!(canonical_json(&v), r#"{"a":true,"b":[1,2.5,{"a":"é","z":null}]}"#);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
