//! Reading named columns out of a Parquet file with arrow-rs.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::DataError;

/// The decoded batches of one Parquet file, with its SHA-256.
pub(crate) struct ParquetFile {
    schema: arrow_schema::SchemaRef,
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) sha256: String,
}

const BATCH_ROWS: usize = 64 * 1024;

/// Reads a whole Parquet file into record batches.
pub(crate) fn read(path: &Path) -> Result<ParquetFile, DataError> {
    let raw = std::fs::read(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => DataError::MissingFile { path: path.to_owned() },
        _ => DataError::Unreadable { path: path.to_owned(), message: err.to_string() },
    })?;
    let sha256 = hex(&Sha256::digest(&raw));
    let unreadable = |err: &dyn std::fmt::Display| DataError::Unreadable {
        path: path.to_owned(),
        message: err.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(raw)).map_err(|e| unreadable(&e))?;
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| unreadable(&e))?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| unreadable(&e))?;
    Ok(ParquetFile { schema, batches, sha256 })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ParquetFile {
    fn column_type(&self, path: &Path, name: &str) -> Result<Option<DataType>, DataError> {
        // Typed as Option so that callers share one shape; a present schema always answers.
        match self.schema.column_with_name(name) {
            Some((_, field)) => Ok(Some(field.data_type().clone())),
            None => Err(DataError::MissingColumn { path: path.to_owned(), column: name.to_owned() }),
        }
    }

    fn check_nulls(array: &dyn Array, offset: usize, path: &Path, name: &str) -> Result<(), DataError> {
        if array.null_count() == 0 {
            return Ok(());
        }
        let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
        Err(DataError::NullValue { path: path.to_owned(), row: offset + row, column: name.to_owned() })
    }

    /// Returns a float64 column; any other type is an error.
    pub(crate) fn f64_column(&self, path: &Path, name: &str) -> Result<Vec<f64>, DataError> {
        match self.column_type(path, name)? {
            None => return Ok(Vec::new()),
            Some(DataType::Float64) => {}
            Some(other) => return Err(wrong_type(path, name, &other, "float64")),
        }
        let mut out = Vec::with_capacity(self.rows());
        for batch in &self.batches {
            let array = column(batch, path, name)?;
            Self::check_nulls(array.as_ref(), out.len(), path, name)?;
            out.extend_from_slice(array.as_primitive::<Float64Type>().values());
        }
        Ok(out)
    }

    /// Returns a timestamp column as epoch ns: int64 ns, or an Arrow timestamp in UTC.
    pub(crate) fn timestamp_column(&self, path: &Path, name: &str) -> Result<Vec<i64>, DataError> {
        const EXPECTED: &str = "int64 epoch ns or timestamp[ns, tz=UTC]";
        let data_type = match self.column_type(path, name)? {
            None => return Ok(Vec::new()),
            Some(t) => t,
        };
        let scale: i64 = match &data_type {
            DataType::Int64 => 1,
            DataType::Timestamp(unit, Some(tz)) if is_utc(tz) => match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            },
            other => return Err(wrong_type(path, name, other, EXPECTED)),
        };
        let mut out = Vec::with_capacity(self.rows());
        for batch in &self.batches {
            let array = column(batch, path, name)?;
            Self::check_nulls(array.as_ref(), out.len(), path, name)?;
            let values: &[i64] = match &data_type {
                DataType::Int64 => array.as_primitive::<Int64Type>().values(),
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    array.as_primitive::<TimestampNanosecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    array.as_primitive::<TimestampMicrosecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    array.as_primitive::<TimestampMillisecondType>().values()
                }
                _ => array.as_primitive::<TimestampSecondType>().values(),
            };
            out.extend(values.iter().map(|v| v.saturating_mul(scale)));
        }
        Ok(out)
    }

    /// Returns a string column (utf8, large utf8 or utf8 view).
    pub(crate) fn string_column(&self, path: &Path, name: &str) -> Result<Vec<String>, DataError> {
        let data_type = match self.column_type(path, name)? {
            None => return Ok(Vec::new()),
            Some(t) => t,
        };
        let mut out = Vec::with_capacity(self.rows());
        for batch in &self.batches {
            let array = column(batch, path, name)?;
            Self::check_nulls(array.as_ref(), out.len(), path, name)?;
            match &data_type {
                DataType::Utf8 => out.extend(array.as_string::<i32>().iter().flatten().map(str::to_owned)),
                DataType::LargeUtf8 => {
                    out.extend(array.as_string::<i64>().iter().flatten().map(str::to_owned));
                }
                DataType::Utf8View => {
                    out.extend(array.as_string_view().iter().flatten().map(str::to_owned));
                }
                other => return Err(wrong_type(path, name, other, "string")),
            }
        }
        Ok(out)
    }

    /// Returns the total number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "Etc/UTC" | "+00:00" | "Z" | "GMT")
}

fn column<'a>(
    batch: &'a RecordBatch,
    path: &Path,
    name: &str,
) -> Result<&'a std::sync::Arc<dyn Array>, DataError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DataError::MissingColumn { path: path.to_owned(), column: name.to_owned() })
}

fn wrong_type(path: &Path, name: &str, found: &DataType, expected: &str) -> DataError {
    DataError::WrongType {
        path: path.to_owned(),
        column: name.to_owned(),
        found: found.to_string(),
        expected: expected.to_owned(),
    }
}
