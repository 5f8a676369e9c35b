//! Reading named columns out of a Parquet file with arrow-rs.
//!
//! Only the requested columns are decoded (a projection), batch by batch straight into
//! plain vectors, so a file is never held in memory twice. The SHA-256 recorded in
//! `meta.json` is computed in a separate streaming read of the bytes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::DataError;

/// What type a requested column must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// float64.
    Price,
    /// int64 epoch ns, or an Arrow timestamp with a UTC time zone (any unit).
    Timestamp,
    /// utf8, large utf8 or utf8 view, or a dictionary of one (a pandas categorical).
    Text,
}

/// A decoded column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// Prices.
    Price(Vec<f64>),
    /// Epoch nanoseconds.
    Timestamp(Vec<i64>),
    /// Strings.
    Text(Vec<String>),
}

impl Column {
    pub(crate) fn into_prices(self) -> Vec<f64> {
        match self {
            Column::Price(v) => v,
            _ => Vec::new(),
        }
    }

    pub(crate) fn into_timestamps(self) -> Vec<i64> {
        match self {
            Column::Timestamp(v) => v,
            _ => Vec::new(),
        }
    }

    pub(crate) fn into_text(self) -> Vec<String> {
        match self {
            Column::Text(v) => v,
            _ => Vec::new(),
        }
    }
}

const BATCH_ROWS: usize = 64 * 1024;

fn open(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => DataError::MissingFile { path: path.to_owned() },
        _ => DataError::Unreadable { path: path.to_owned(), message: err.to_string() },
    })
}

/// Returns the lowercase hex SHA-256 of a file's bytes.
pub(crate) fn sha256_of(path: &Path) -> Result<String, DataError> {
    let mut file = open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| DataError::Unreadable { path: path.to_owned(), message: e.to_string() })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the named columns of a Parquet file, checking each one's type and nulls.
///
/// The Parquet reader can panic on some corrupt metadata (negative column offsets, for
/// one); a damaged file is bad input, not a bug of ours, so such a panic is reported as
/// [`DataError::Unreadable`] like any other corruption.
pub(crate) fn read_columns(path: &Path, wanted: &[(&str, Kind)]) -> Result<Vec<Column>, DataError> {
    std::panic::catch_unwind(|| decode_columns(path, wanted)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader gave up".to_owned());
        Err(DataError::Unreadable { path: path.to_owned(), message: format!("corrupt file ({reason})") })
    })
}

fn decode_columns(path: &Path, wanted: &[(&str, Kind)]) -> Result<Vec<Column>, DataError> {
    let unreadable = |err: &dyn std::fmt::Display| DataError::Unreadable {
        path: path.to_owned(),
        message: err.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| unreadable(&e))?;
    let schema = builder.schema().clone();
    let mut roots = Vec::with_capacity(wanted.len());
    let mut scales = Vec::with_capacity(wanted.len());
    for &(name, kind) in wanted {
        let (index, field) = schema
            .column_with_name(name)
            .ok_or_else(|| DataError::MissingColumn { path: path.to_owned(), column: name.to_owned() })?;
        if schema.fields().iter().filter(|f| f.name() == name).count() > 1 {
            return Err(DataError::DuplicateColumn { path: path.to_owned(), column: name.to_owned() });
        }
        scales.push(check_type(path, name, kind, field.data_type())?);
        roots.push(index);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let claimed = builder.metadata().file_metadata().num_rows();
    let rows = usize::try_from(claimed)
        .map_err(|_| unreadable(&format!("corrupt file (its footer claims {claimed} rows)")))?;
    let reader =
        builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| unreadable(&e))?;
    let mut columns: Vec<Column> = wanted
        .iter()
        .map(|&(_, kind)| match kind {
            Kind::Price => Column::Price(presized(rows)),
            Kind::Timestamp => Column::Timestamp(presized(rows)),
            Kind::Text => Column::Text(presized(rows)),
        })
        .collect();
    let mut offset = 0;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(&e))?;
        for ((column, &(name, _)), scale) in columns.iter_mut().zip(wanted).zip(&scales) {
            append(column, &batch, path, name, *scale, offset)?;
        }
        offset += batch.num_rows();
    }
    if offset != rows {
        return Err(unreadable(&format!(
            "corrupt file (its footer claims {rows} rows, its row groups hold {offset})"
        )));
    }
    Ok(columns)
}

/// Most rows a column is sized for up front; a longer file grows it as it is read.
const MAX_PRESIZED_ROWS: usize = 1 << 24;

/// Returns an empty vector with room for the `rows` that the file's footer announces.
///
/// The footer is untrusted input: a damaged one may claim 10^12 rows, an allocation
/// that would abort the process. So the room is capped, and a failed reservation is
/// no error (the decoded batches then grow the vector, or the reader reports the
/// damage).
fn presized<T>(rows: usize) -> Vec<T> {
    let mut column = Vec::new();
    let _ = column.try_reserve_exact(rows.min(MAX_PRESIZED_ROWS));
    column
}

/// Checks a column's type; returns the factor that turns timestamps into ns.
fn check_type(path: &Path, name: &str, kind: Kind, found: &DataType) -> Result<i64, DataError> {
    let wrong = |expected: &str| DataError::WrongType {
        path: path.to_owned(),
        column: name.to_owned(),
        found: found.to_string(),
        expected: expected.to_owned(),
    };
    match (kind, found) {
        (Kind::Price, DataType::Float64) => Ok(1),
        (Kind::Price, _) => Err(wrong("float64")),
        (Kind::Timestamp, DataType::Int64) => Ok(1),
        (Kind::Timestamp, DataType::Timestamp(unit, Some(tz))) if is_utc(tz) => Ok(match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        }),
        (Kind::Timestamp, _) => Err(wrong("int64 epoch ns or timestamp[ns, tz=UTC]")),
        (Kind::Text, text) if is_text(text) => Ok(1),
        (Kind::Text, DataType::Dictionary(_, values)) if is_text(values) => Ok(1),
        (Kind::Text, _) => Err(wrong("string")),
    }
}

/// The unit of stored timestamps that `scale` turns into ns.
fn unit_name(scale: i64) -> &'static str {
    match scale {
        1_000_000_000 => "s",
        1_000_000 => "ms",
        1_000 => "us",
        _ => "ns",
    }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "Etc/UTC" | "+00:00" | "Z" | "GMT")
}

fn append(
    column: &mut Column,
    batch: &RecordBatch,
    path: &Path,
    name: &str,
    scale: i64,
    offset: usize,
) -> Result<(), DataError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| DataError::MissingColumn { path: path.to_owned(), column: name.to_owned() })?;
    // Logical nulls: a dictionary's key may point at a null value.
    if let Some(nulls) = array.logical_nulls().filter(|nulls| nulls.null_count() > 0) {
        let row = (0..array.len()).find(|&i| nulls.is_null(i)).unwrap_or(0);
        return Err(DataError::NullValue {
            path: path.to_owned(),
            row: offset + row,
            column: name.to_owned(),
        });
    }
    match column {
        Column::Price(out) => out.extend_from_slice(array.as_primitive::<Float64Type>().values()),
        Column::Timestamp(out) => {
            let values: &[i64] = match array.data_type() {
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    array.as_primitive::<TimestampNanosecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    array.as_primitive::<TimestampMicrosecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    array.as_primitive::<TimestampMillisecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Second, _) => {
                    array.as_primitive::<TimestampSecondType>().values()
                }
                _ => array.as_primitive::<Int64Type>().values(),
            };
            for &v in values {
                // An out-of-range timestamp is bad data, not something to wrap around.
                let ns = v.checked_mul(scale).ok_or_else(|| DataError::TimestampOutOfRange {
                    path: path.to_owned(),
                    row: offset + out.len(),
                    value: v,
                    unit: unit_name(scale),
                })?;
                out.push(ns);
            }
        }
        Column::Text(out) => match array.as_any_dictionary_opt() {
            Some(dictionary) => {
                let values = texts(dictionary.values().as_ref());
                out.extend(dictionary.normalized_keys().into_iter().map(|key| values[key].clone()));
            }
            None => out.extend(texts(array.as_ref())),
        },
    }
    Ok(())
}

/// The strings of a utf8, large utf8 or utf8 view array (its nulls as empty strings:
/// the caller has refused nulls where they are read).
fn texts(array: &dyn Array) -> Vec<String> {
    let owned = |text: Option<&str>| text.unwrap_or_default().to_owned();
    match array.data_type() {
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(owned).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(owned).collect(),
        _ => array.as_string::<i32>().iter().map(owned).collect(),
    }
}
