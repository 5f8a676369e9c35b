//! The errors of loading market data; all map to the `market_data` category.

use std::path::PathBuf;

use serde_json::{Value, json};

/// A market-data file that is missing, unreadable or breaks a rule of ENGINE §1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// The file does not exist.
    #[error("{path}: file not found")]
    MissingFile {
        /// The path looked for.
        path: PathBuf,
    },
    /// The file exists but is not a readable Parquet file (corrupt or truncated).
    #[error("{path}: cannot read Parquet: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// Two or more columns have a requested column's name.
    #[error("{path}: column {column:?} appears more than once")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
    },
    /// A timestamp (or its bar's close) does not fit int64 epoch nanoseconds.
    #[error(
        "{path}: row {row}: timestamp {value} ({unit}) is outside the int64 epoch-ns range \
         (1677-09-21 to 2262-04-11, bar close included)"
    )]
    TimestampOutOfRange {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The stored value.
        value: i64,
        /// Its unit as stored (`s`, `ms`, `us` or `ns`).
        unit: &'static str,
    },
    /// A required column is absent.
    #[error("{path}: missing column {column:?}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
    },
    /// A column has the wrong Arrow type.
    #[error("{path}: column {column:?} has type {found}, expected {expected}")]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
        /// The type found.
        found: String,
        /// The type expected.
        expected: String,
    },
    /// A cell holds null.
    #[error("{path}: row {row}: column {column:?} is null")]
    NullValue {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The column name.
        column: String,
    },
    /// A timestamp is not after the previous one.
    #[error("{path}: row {row}: timestamp {timestamp} is {kind} the previous one ({previous})")]
    Unsorted {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The row's timestamp (epoch ns).
        timestamp: i64,
        /// The previous row's timestamp.
        previous: i64,
        /// `"equal to"` (a duplicate) or `"before"` (out of order).
        kind: &'static str,
    },
    /// A timestamp is not a multiple of the timeframe's duration.
    #[error("{path}: row {row}: timestamp {timestamp} is not on the {timeframe} grid")]
    OffGrid {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The timestamp (epoch ns).
        timestamp: i64,
        /// The timeframe name.
        timeframe: String,
    },
    /// A price is NaN, infinite or not positive.
    #[error("{path}: row {row}: {column} = {value} is not a finite positive price")]
    BadPrice {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The column name.
        column: String,
        /// The value found.
        value: f64,
    },
    /// `high < max(open, close)` or `low > min(open, close)`.
    #[error("{path}: row {row}: {column} = {value} is inconsistent with open {open} and close {close}")]
    InconsistentBar {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// `"high"` or `"low"`.
        column: String,
        /// The offending high or low.
        value: f64,
        /// The bar's open.
        open: f64,
        /// The bar's close.
        close: f64,
    },
    /// The BID and ASK files do not have the same timestamps.
    #[error("{bid_path} and {ask_path} are misaligned at row {row}: bid {bid}, ask {ask}")]
    Misaligned {
        /// The BID file.
        bid_path: PathBuf,
        /// The ASK file.
        ask_path: PathBuf,
        /// The first row that differs.
        row: usize,
        /// The BID timestamp there (or the row count when lengths differ).
        bid: String,
        /// The ASK timestamp there (or the row count when lengths differ).
        ask: String,
    },
    /// An ask price is below the bid price.
    #[error("{ask_path}: row {row}: negative spread, ask_{column} {ask} < bid_{column} {bid}")]
    NegativeSpread {
        /// The ASK file.
        ask_path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// `open`, `high`, `low` or `close`.
        column: String,
        /// The bid price.
        bid: f64,
        /// The ask price.
        ask: f64,
    },
    /// A news calendar cell is not a valid currency or impact.
    #[error("{path}: row {row}: {column} = {value:?}, expected {expected}")]
    BadNewsValue {
        /// The file.
        path: PathBuf,
        /// The 0-based row.
        row: usize,
        /// The column name.
        column: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
}

impl DataError {
    /// Returns the machine-readable details for the JSON error contract (ENGINE §9).
    #[must_use]
    pub fn details(&self) -> Value {
        match self {
            DataError::MissingFile { path } => json!({"file": path}),
            DataError::Unreadable { path, .. } => json!({"file": path}),
            DataError::MissingColumn { path, column } | DataError::DuplicateColumn { path, column } => {
                json!({"file": path, "column": column})
            }
            DataError::TimestampOutOfRange { path, row, value, .. } => {
                json!({"file": path, "row": row, "column": "timestamp", "value": value})
            }
            DataError::WrongType { path, column, found, .. } => {
                json!({"file": path, "column": column, "value": found})
            }
            DataError::NullValue { path, row, column } => {
                json!({"file": path, "row": row, "column": column})
            }
            DataError::Unsorted { path, row, timestamp, .. }
            | DataError::OffGrid { path, row, timestamp, .. } => {
                json!({"file": path, "row": row, "column": "timestamp", "value": timestamp})
            }
            DataError::BadPrice { path, row, column, value }
            | DataError::InconsistentBar { path, row, column, value, .. } => {
                json!({"file": path, "row": row, "column": column, "value": value.to_string()})
            }
            DataError::Misaligned { bid_path, ask_path, row, bid, ask } => {
                json!({"file": ask_path, "other_file": bid_path, "row": row, "value": ask, "bid": bid})
            }
            DataError::NegativeSpread { ask_path, row, column, bid, ask } => {
                json!({"file": ask_path, "row": row, "column": column, "value": ask, "bid": bid})
            }
            DataError::BadNewsValue { path, row, column, value, .. } => {
                json!({"file": path, "row": row, "column": column, "value": value})
            }
        }
    }
}
