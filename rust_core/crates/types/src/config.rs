//! A JSON object reader that names the field path in every error.
//!
//! Config errors say where and what: `strategy.params.z_window: expected an integer
//! >= 2, got 1`. [`Fields`] wraps one JSON object and its dotted path; each read removes
//! the key, and [`Fields::finish`] rejects whatever is left as unknown keys.

use serde_json::{Map, Value};

/// A config error: the dotted path of the offending field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Dotted field path, e.g. `strategy.params.z_window` (`$` for the top level).
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl ConfigError {
    /// Builds an error for `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Describes a JSON value briefly for messages (`"abc"`, `1.5`, `an object`).
#[must_use]
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}...", s.chars().take(40).collect::<String>())
        }
        other => other.to_string(),
    }
}

/// Returns a key as an error's path shows it: at most 40 characters, then `...`, so an
/// unknown key of megabytes makes a one-line error.
fn shown_key(key: &str) -> String {
    if key.chars().count() > 40 {
        format!("{}...", key.chars().take(40).collect::<String>())
    } else {
        key.to_owned()
    }
}

/// The fields of one JSON object under a dotted path.
#[derive(Debug)]
pub struct Fields {
    path: String,
    map: Map<String, Value>,
}

impl Fields {
    /// Wraps `value`, which must be an object, found at `path`.
    ///
    /// # Errors
    /// When `value` is not an object.
    pub fn new(path: &str, value: Value) -> Result<Self, ConfigError> {
        match value {
            Value::Object(map) => Ok(Self { path: path.to_owned(), map }),
            other => Err(ConfigError::new(path, format!("expected an object, got {}", describe(&other)))),
        }
    }

    /// Returns the dotted path of `key` inside this object.
    #[must_use]
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() || self.path == "$" { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// Removes and returns `key`; `None` when absent (a JSON `null` counts as present).
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    /// Removes and returns `key`, treating `null` as absent.
    pub fn take_non_null(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// Removes `key` and errors when it is absent or null.
    ///
    /// # Errors
    /// When the key is missing.
    pub fn required(&mut self, key: &str, expected: &str) -> Result<Value, ConfigError> {
        self.take_non_null(key)
            .ok_or_else(|| ConfigError::new(self.path_of(key), format!("required: expected {expected}")))
    }

    /// Reads a required sub-object.
    ///
    /// # Errors
    /// When missing or not an object.
    pub fn object(&mut self, key: &str) -> Result<Fields, ConfigError> {
        let value = self.required(key, "an object")?;
        Fields::new(&self.path_of(key), value)
    }

    /// Reads a required integer within `[min, max]`.
    ///
    /// # Errors
    /// When missing, not an integer, or out of range.
    pub fn int(&mut self, key: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
        let value = self.required(key, &int_expectation(min, max))?;
        self.check_int(key, &value, min, max)
    }

    /// Reads an optional integer within `[min, max]`, `default` when absent or null.
    ///
    /// # Errors
    /// When present but not an integer in range.
    pub fn int_or(&mut self, key: &str, min: i64, max: i64, default: i64) -> Result<i64, ConfigError> {
        match self.take_non_null(key) {
            None => Ok(default),
            Some(value) => self.check_int(key, &value, min, max),
        }
    }

    fn check_int(&self, key: &str, value: &Value, min: i64, max: i64) -> Result<i64, ConfigError> {
        let number = value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64));
        match number {
            Some(n) if (min..=max).contains(&n) && !value.is_string() => Ok(n),
            _ => Err(self.expected(key, &int_expectation(min, max), value)),
        }
    }

    /// Reads a required finite number accepted by `check`, described by `expected`.
    ///
    /// # Errors
    /// When missing, not a number, or rejected by `check`.
    pub fn number(
        &mut self,
        key: &str,
        expected: &str,
        check: impl Fn(f64) -> bool,
    ) -> Result<f64, ConfigError> {
        let value = self.required(key, expected)?;
        self.check_number(key, &value, expected, check)
    }

    /// Reads an optional number (`None` when absent or null).
    ///
    /// # Errors
    /// When present but not a number accepted by `check`.
    pub fn number_opt(
        &mut self,
        key: &str,
        expected: &str,
        check: impl Fn(f64) -> bool,
    ) -> Result<Option<f64>, ConfigError> {
        match self.take_non_null(key) {
            None => Ok(None),
            Some(value) => self.check_number(key, &value, expected, check).map(Some),
        }
    }

    fn check_number(
        &self,
        key: &str,
        value: &Value,
        expected: &str,
        check: impl Fn(f64) -> bool,
    ) -> Result<f64, ConfigError> {
        match value.as_f64() {
            Some(x) if x.is_finite() && check(x) => Ok(x),
            _ => Err(self.expected(key, expected, value)),
        }
    }

    /// Reads a required string.
    ///
    /// # Errors
    /// When missing or not a string.
    pub fn string(&mut self, key: &str) -> Result<String, ConfigError> {
        let value = self.required(key, "a string")?;
        self.check_string(key, value)
    }

    /// Reads a required file or folder path: a string that is not blank (an empty path
    /// would quietly mean the working directory).
    ///
    /// # Errors
    /// When missing, not a string, or blank.
    pub fn path(&mut self, key: &str, what: &str) -> Result<String, ConfigError> {
        let value = self.required(key, "a string")?;
        match value {
            Value::String(s) if !s.trim().is_empty() => Ok(s),
            other => Err(self.expected(key, what, &other)),
        }
    }

    /// Reads an optional string (`None` when absent or null).
    ///
    /// # Errors
    /// When present but not a string.
    pub fn string_opt(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        self.take_non_null(key).map(|v| self.check_string(key, v)).transpose()
    }

    fn check_string(&self, key: &str, value: Value) -> Result<String, ConfigError> {
        match value {
            Value::String(s) => Ok(s),
            other => Err(self.expected(key, "a string", &other)),
        }
    }

    /// Reads an optional string that must be one of `choices`, `default` when absent.
    ///
    /// # Errors
    /// When present but not one of the choices.
    pub fn choice<'c>(
        &mut self,
        key: &str,
        choices: &[&'c str],
        default: Option<&'c str>,
    ) -> Result<&'c str, ConfigError> {
        let expected =
            format!("one of {}", choices.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", "));
        let value = match (self.take_non_null(key), default) {
            (Some(v), _) => v,
            (None, Some(d)) => return Ok(d),
            (None, None) => {
                return Err(ConfigError::new(self.path_of(key), format!("required: expected {expected}")));
            }
        };
        value
            .as_str()
            .and_then(|s| choices.iter().find(|c| **c == s).copied())
            .ok_or_else(|| self.expected(key, &expected, &value))
    }

    /// Reads an optional boolean, `default` when absent or null.
    ///
    /// # Errors
    /// When present but not a boolean.
    pub fn boolean_or(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take_non_null(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(self.expected(key, "true or false", &other)),
        }
    }

    /// Builds the error "`path.key`: expected X, got Y".
    #[must_use]
    pub fn expected(&self, key: &str, expected: &str, got: &Value) -> ConfigError {
        ConfigError::new(self.path_of(key), format!("expected {expected}, got {}", describe(got)))
    }

    /// Rejects any key not read so far.
    ///
    /// # Errors
    /// Naming the first unknown key in sorted order.
    pub fn finish(self) -> Result<(), ConfigError> {
        let mut left: Vec<&String> = self.map.keys().collect();
        left.sort();
        match left.first() {
            None => Ok(()),
            Some(key) => Err(ConfigError::new(self.path_of(&shown_key(key)), "unknown key")),
        }
    }
}

fn int_expectation(min: i64, max: i64) -> String {
    if max == i64::MAX { format!("an integer >= {min}") } else { format!("an integer in [{min}, {max}]") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path_and_expectation() {
        let mut f = Fields::new("strategy.params", json!({"z_window": 1, "x": true})).expect("object");
        let err = f.int("z_window", 2, i64::MAX).expect_err("too small");
        assert_eq!(err.to_string(), "strategy.params.z_window: expected an integer >= 2, got 1");
        let err = f.finish().expect_err("unknown");
        assert_eq!(err.to_string(), "strategy.params.x: unknown key");
        let long = Fields::new("$", json!({"k".repeat(100_000): 1})).expect("object").finish();
        assert_eq!(long.expect_err("unknown").path, format!("{}...", "k".repeat(40)));
    }

    #[test]
    fn reads_defaults_and_rejects_wrong_types() {
        let mut f = Fields::new("$", json!({"a": "3", "b": 2.5, "c": null})).expect("object");
        assert!(f.int("a", 0, 10).is_err());
        assert_eq!(f.number("b", "a number", |x| x > 0.0), Ok(2.5));
        assert_eq!(f.int_or("c", 0, 10, 7), Ok(7));
        assert_eq!(f.choice("d", &["x", "y"], Some("y")), Ok("y"));
        assert_eq!(f.path_of("k"), "k");
        f.finish().expect("all read");
    }

    #[test]
    fn paths_must_not_be_blank() {
        let mut f =
            Fields::new("data", json!({"dir": "/d", "empty": "", "blank": " \t", "n": 3})).expect("object");
        assert_eq!(f.path("dir", "a folder path"), Ok("/d".to_owned()));
        for key in ["empty", "blank", "n"] {
            let err = f.path(key, "a folder path").expect_err("refused");
            assert!(
                err.to_string().starts_with(&format!("data.{key}: expected a folder path, got ")),
                "{err}"
            );
        }
        assert!(f.path("missing", "a folder path").is_err());
    }
}
