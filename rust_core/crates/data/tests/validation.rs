//! Integration tests of `load_bid_ask` and `load_news`: every `DataError` variant with
//! the row and value it names, the accepted timestamp types, file facts and the cache.
//!
//! Each test writes small Parquet files into its own temporary folder (so the
//! process-wide cache never mixes tests up) with the `stub` helpers below.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int8Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int8Array, Int64Array, StringArray, TimestampMillisecondArray,
    TimestampNanosecondArray,
};
use omega_data::{DataError, Impact, count_gaps, load_bid_ask, load_news, side_path};
use omega_types::Timeframe;
use sha2::{Digest, Sha256};

/// Builders for candle and calendar files.
mod stub {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    use arrow_schema::{Field, Schema};
    use omega_data::side_path;
    use omega_types::Timeframe;
    use parquet::arrow::ArrowWriter;

    /// 2024-01-01 00:00 UTC in epoch ns.
    pub const T0: i64 = 1_704_067_200_000_000_000;
    /// One M5 bar in ns.
    pub const M5: i64 = 5 * 60_000_000_000;
    /// One day in ns.
    pub const D1: i64 = 24 * 60 * 60_000_000_000;
    /// The spread of generated ASK bars (2 pips).
    pub const SPREAD: f64 = 0.0002;

    /// The columns of one candle file.
    #[derive(Debug, Clone)]
    pub struct Bars {
        pub ts: Vec<i64>,
        pub open: Vec<f64>,
        pub high: Vec<f64>,
        pub low: Vec<f64>,
        pub close: Vec<f64>,
    }

    impl Bars {
        /// Valid BID bars on consecutive grid slots of `step` from `start`.
        pub fn bid(n: usize, start: i64, step: i64) -> Self {
            let ts = (0..n).map(|i| start + i as i64 * step).collect();
            Self::bid_at(ts)
        }

        /// Valid BID bars at the given open times.
        pub fn bid_at(ts: Vec<i64>) -> Self {
            let n = ts.len();
            let base = |i: usize| 1.1 + (i % 7) as f64 * 0.0001;
            Self {
                ts,
                open: (0..n).map(base).collect(),
                high: (0..n).map(|i| base(i) + 0.0010).collect(),
                low: (0..n).map(|i| base(i) - 0.0010).collect(),
                close: (0..n).map(|i| base(i) + 0.0005).collect(),
            }
        }

        /// The matching ASK bars: every price plus `SPREAD`.
        pub fn ask(&self) -> Self {
            let up = |v: &[f64]| v.iter().map(|x| x + SPREAD).collect();
            Self {
                ts: self.ts.clone(),
                open: up(&self.open),
                high: up(&self.high),
                low: up(&self.low),
                close: up(&self.close),
            }
        }

        /// Mutable access to a price column by name.
        pub fn column_mut(&mut self, name: &str) -> &mut Vec<f64> {
            match name {
                "open" => &mut self.open,
                "high" => &mut self.high,
                "low" => &mut self.low,
                "close" => &mut self.close,
                other => panic!("no price column {other}"),
            }
        }

        /// The columns as named Arrow arrays (int64 timestamps).
        pub fn columns(&self) -> Vec<(&'static str, ArrayRef)> {
            let f = |v: &[f64]| Arc::new(Float64Array::from(v.to_vec())) as ArrayRef;
            vec![
                ("timestamp", Arc::new(Int64Array::from(self.ts.clone())) as ArrayRef),
                ("open", f(&self.open)),
                ("high", f(&self.high)),
                ("low", f(&self.low)),
                ("close", f(&self.close)),
                ("volume", f(&vec![10.0; self.ts.len()])),
            ]
        }
    }

    /// Writes named columns as one Parquet file (every field nullable).
    pub fn write_columns(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let fields: Vec<Field> =
            columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), true)).collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns.into_iter().map(|(_, a)| a).collect())
            .expect("record batch");
        let file = std::fs::File::create(path).expect("create parquet file");
        let mut writer = ArrowWriter::try_new(file, schema, None).expect("parquet writer");
        writer.write(&batch).expect("write batch");
        writer.close().expect("close parquet file");
    }

    /// Writes one candle file.
    pub fn write_bars(path: &Path, bars: &Bars) {
        write_columns(path, bars.columns());
    }

    /// Writes the BID and ASK files of EURUSD at `tf` into `dir`; returns their paths.
    pub fn write_pair(dir: &Path, tf: Timeframe, bid: &Bars, ask: &Bars) -> (PathBuf, PathBuf) {
        let (bid_path, ask_path) = paths(dir, tf);
        write_bars(&bid_path, bid);
        write_bars(&ask_path, ask);
        (bid_path, ask_path)
    }

    /// Writes a valid M5 pair of `n` bars from `T0`.
    pub fn write_valid_m5(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
        let bid = Bars::bid(n, T0, M5);
        write_pair(dir, Timeframe::M5, &bid, &bid.ask())
    }

    /// The BID and ASK paths of EURUSD at `tf` in `dir`.
    pub fn paths(dir: &Path, tf: Timeframe) -> (PathBuf, PathBuf) {
        (side_path(dir, "EURUSD", tf, "BID"), side_path(dir, "EURUSD", tf, "ASK"))
    }
}

use stub::{Bars, D1, M5, SPREAD, T0};

const SYMBOL: &str = "EURUSD";

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Loads the M5 pair from `dir` and returns the error it must produce.
fn m5_error(dir: &Path) -> DataError {
    load_bid_ask(dir, SYMBOL, Timeframe::M5).expect_err("the files must be rejected")
}

/// Writes a BID file with `bid` and a valid ASK counterpart of the unbroken bars.
fn write_broken_bid(dir: &Path, bid: &Bars, valid: &Bars) -> (PathBuf, PathBuf) {
    stub::write_pair(dir, Timeframe::M5, bid, &valid.ask())
}

// ---------------------------------------------------------------- files

#[test]
fn valid_pair_loads_with_file_facts() {
    let dir = tempdir();
    let (bid_path, ask_path) = stub::write_valid_m5(dir.path(), 12);
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("valid files load");
    assert_eq!(series.timeframe, Timeframe::M5);
    assert_eq!(series.timestamps.len(), 12);
    assert_eq!(series.timestamps[0], T0);
    assert_eq!(series.bid.len(), 12);
    assert_eq!(series.ask.len(), 12);
    assert!((series.ask.close[3] - series.bid.close[3] - SPREAD).abs() < 1e-12);
    assert_eq!(count_gaps(&series.timestamps, series.timeframe), 0);
    for (info, path, name) in [
        (&series.bid_file, &bid_path, "EURUSD_M5_BID.parquet"),
        (&series.ask_file, &ask_path, "EURUSD_M5_ASK.parquet"),
    ] {
        assert_eq!(info.name, name);
        assert_eq!(info.rows, 12);
        assert_eq!(info.first_ns, Some(T0));
        assert_eq!(info.last_ns, Some(T0 + 11 * M5));
        assert_eq!(info.sha256.len(), 64);
        assert!(info.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let bytes = std::fs::read(path).expect("read back");
        let expected: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(info.sha256, expected, "sha256 of {}", path.display());
    }
    assert_ne!(series.bid_file.sha256, series.ask_file.sha256);
}

#[test]
fn side_path_follows_the_naming_rule() {
    let path = side_path(Path::new("data"), "GBPUSD", Timeframe::H4, "ASK");
    assert_eq!(path, Path::new("data").join("GBPUSD_H4_ASK.parquet"));
}

#[test]
fn empty_files_load_with_no_rows() {
    let dir = tempdir();
    stub::write_valid_m5(dir.path(), 0);
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("empty files are valid");
    assert!(series.timestamps.is_empty());
    assert_eq!(series.bid_file.rows, 0);
    assert_eq!(series.bid_file.first_ns, None);
    assert_eq!(series.bid_file.last_ns, None);
    assert_eq!(count_gaps(&series.timestamps, series.timeframe), 0);
}

#[test]
fn missing_bid_file_is_named() {
    let dir = tempdir();
    let (bid_path, ask_path) = stub::write_valid_m5(dir.path(), 5);
    std::fs::remove_file(&bid_path).expect("remove bid");
    assert_eq!(m5_error(dir.path()), DataError::MissingFile { path: bid_path.clone() });
    let message = m5_error(dir.path()).to_string();
    assert!(message.contains("EURUSD_M5_BID.parquet") && message.contains("not found"), "{message}");
    assert!(ask_path.exists());
}

#[test]
fn missing_ask_file_is_named() {
    let dir = tempdir();
    let (_, ask_path) = stub::write_valid_m5(dir.path(), 5);
    std::fs::remove_file(&ask_path).expect("remove ask");
    assert_eq!(m5_error(dir.path()), DataError::MissingFile { path: ask_path });
}

#[test]
fn missing_folder_reports_the_bid_file() {
    let dir = tempdir();
    let nowhere = dir.path().join("no_such_dir");
    let err = load_bid_ask(&nowhere, SYMBOL, Timeframe::M5).expect_err("no folder");
    assert_eq!(err, DataError::MissingFile { path: nowhere.join("EURUSD_M5_BID.parquet") });
    assert_eq!(err.details()["file"], nowhere.join("EURUSD_M5_BID.parquet").to_string_lossy().as_ref());
}

#[test]
fn corrupt_bytes_are_unreadable() {
    let dir = tempdir();
    let (bid_path, _) = stub::write_valid_m5(dir.path(), 5);
    std::fs::write(&bid_path, b"timestamp,open,high,low,close\n1,2,3,4,5\n").expect("overwrite");
    match m5_error(dir.path()) {
        DataError::Unreadable { path, message } => {
            assert_eq!(path, bid_path);
            assert!(!message.is_empty());
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    let message = m5_error(dir.path()).to_string();
    assert!(message.starts_with(&bid_path.display().to_string()), "{message}");
    assert!(message.contains("cannot read Parquet"), "{message}");
}

#[test]
fn empty_byte_file_is_unreadable() {
    let dir = tempdir();
    let (_, ask_path) = stub::write_valid_m5(dir.path(), 5);
    std::fs::write(&ask_path, b"").expect("truncate to zero");
    assert!(matches!(m5_error(dir.path()), DataError::Unreadable { path, .. } if path == ask_path));
}

/// A damaged footer whose row group claims 10^12 rows (or 2^61, one too many, a
/// negative count) is reported as unreadable: the loader never sizes its columns from
/// the claim (an allocation of 8 TB would abort the process, not fail).
#[test]
fn footer_with_a_false_row_count_is_unreadable() {
    use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter};

    for claimed in [1_000_000_000_000_i64, 1 << 61, 21, -5] {
        let dir = tempdir();
        let (bid_path, _) = stub::write_valid_m5(dir.path(), 20);
        let bytes = std::fs::read(&bid_path).expect("read the file");
        let tail = bytes.len() - 8;
        let footer_len = u32::from_le_bytes(bytes[tail..tail + 4].try_into().expect("4 bytes")) as usize;
        let body = tail - footer_len;
        let metadata = ParquetMetaDataReader::decode_metadata(&bytes[body..tail]).expect("footer");
        let row_groups = metadata
            .row_groups()
            .iter()
            .map(|group| group.clone().into_builder().set_num_rows(claimed).build());
        let damaged = ParquetMetaData::new(
            metadata.file_metadata().clone(),
            row_groups.collect::<Result<_, _>>().expect("row groups"),
        );
        let mut out = bytes[..body].to_vec();
        ParquetMetaDataWriter::new(&mut out, &damaged).finish().expect("write the footer");
        std::fs::write(&bid_path, out).expect("write the file");
        match m5_error(dir.path()) {
            DataError::Unreadable { path, .. } => assert_eq!(path, bid_path),
            other => panic!("claimed {claimed}: {other:?}"),
        }
    }
}

#[test]
fn truncated_parquet_is_unreadable() {
    let dir = tempdir();
    let (_, ask_path) = stub::write_valid_m5(dir.path(), 200);
    let bytes = std::fs::read(&ask_path).expect("read");
    assert!(bytes.len() > 100);
    std::fs::write(&ask_path, &bytes[..bytes.len() / 2]).expect("cut in half");
    match m5_error(dir.path()) {
        DataError::Unreadable { path, message } => {
            assert_eq!(path, ask_path);
            assert!(!message.is_empty());
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

#[test]
fn parquet_with_a_cut_off_tail_is_unreadable() {
    // Only the footer's last bytes are missing: the magic number check must catch it.
    let dir = tempdir();
    let (bid_path, _) = stub::write_valid_m5(dir.path(), 50);
    let bytes = std::fs::read(&bid_path).expect("read");
    std::fs::write(&bid_path, &bytes[..bytes.len() - 3]).expect("cut tail");
    assert!(matches!(m5_error(dir.path()), DataError::Unreadable { path, .. } if path == bid_path));
}

// ---------------------------------------------------------------- columns

#[test]
fn missing_column_is_named() {
    let dir = tempdir();
    let bars = Bars::bid(5, T0, M5);
    let (bid_path, _) = stub::paths(dir.path(), Timeframe::M5);
    let columns = bars.columns().into_iter().filter(|(name, _)| *name != "low").collect();
    stub::write_columns(&bid_path, columns);
    stub::write_bars(&stub::paths(dir.path(), Timeframe::M5).1, &bars.ask());
    let err = m5_error(dir.path());
    assert_eq!(err, DataError::MissingColumn { path: bid_path.clone(), column: "low".into() });
    assert_eq!(err.to_string(), format!("{}: missing column \"low\"", bid_path.display()));
    assert_eq!(err.details()["column"], "low");
}

#[test]
fn missing_timestamp_column_is_named() {
    let dir = tempdir();
    let bars = Bars::bid(5, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    stub::write_bars(&bid_path, &bars);
    let columns = bars.ask().columns().into_iter().filter(|(name, _)| *name != "timestamp").collect();
    stub::write_columns(&ask_path, columns);
    assert_eq!(m5_error(dir.path()), DataError::MissingColumn { path: ask_path, column: "timestamp".into() });
}

#[test]
fn volume_is_optional() {
    let dir = tempdir();
    let bars = Bars::bid(5, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    for (path, bars) in [(&bid_path, bars.clone()), (&ask_path, bars.ask())] {
        let columns = bars.columns().into_iter().filter(|(name, _)| *name != "volume").collect();
        stub::write_columns(path, columns);
    }
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("volume is optional");
    assert_eq!(series.timestamps.len(), 5);
}

fn with_column(bars: &Bars, name: &str, array: ArrayRef) -> Vec<(&'static str, ArrayRef)> {
    bars.columns()
        .into_iter()
        .map(|(n, a)| if n == name { (n, Arc::clone(&array)) } else { (n, a) })
        .collect()
}

#[test]
fn close_as_utf8_is_a_wrong_type() {
    let dir = tempdir();
    let bars = Bars::bid(4, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let text: Vec<String> = bars.close.iter().map(|c| format!("{c:.5}")).collect();
    stub::write_columns(&bid_path, with_column(&bars, "close", Arc::new(StringArray::from(text))));
    stub::write_bars(&ask_path, &bars.ask());
    match m5_error(dir.path()) {
        DataError::WrongType { path, column, found, expected } => {
            assert_eq!(path, bid_path);
            assert_eq!(column, "close");
            assert_eq!(found, "Utf8");
            assert_eq!(expected, "float64");
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    let message = m5_error(dir.path()).to_string();
    assert!(message.contains("\"close\"") && message.contains("Utf8") && message.contains("float64"));
}

#[test]
fn close_as_int64_is_a_wrong_type() {
    let dir = tempdir();
    let bars = Bars::bid(4, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    stub::write_bars(&bid_path, &bars);
    let ask = bars.ask();
    let ticks: Vec<i64> = ask.close.iter().map(|c| (c * 100_000.0).round() as i64).collect();
    stub::write_columns(&ask_path, with_column(&ask, "close", Arc::new(Int64Array::from(ticks))));
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::WrongType {
            path: ask_path,
            column: "close".into(),
            found: "Int64".into(),
            expected: "float64".into()
        }
    );
    assert_eq!(err.details()["value"], "Int64");
}

#[test]
fn float_timestamps_are_a_wrong_type() {
    let dir = tempdir();
    let bars = Bars::bid(4, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let ts: Vec<f64> = bars.ts.iter().map(|&t| t as f64).collect();
    stub::write_columns(&bid_path, with_column(&bars, "timestamp", Arc::new(Float64Array::from(ts))));
    stub::write_bars(&ask_path, &bars.ask());
    assert!(matches!(
        m5_error(dir.path()),
        DataError::WrongType { path, column, found, .. }
            if path == bid_path && column == "timestamp" && found == "Float64"
    ));
}

#[test]
fn utc_arrow_timestamps_are_accepted() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    for (path, bars) in [(&bid_path, bars.clone()), (&ask_path, bars.ask())] {
        let ts = TimestampNanosecondArray::from(bars.ts.clone()).with_timezone("UTC");
        stub::write_columns(path, with_column(&bars, "timestamp", Arc::new(ts)));
    }
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("Timestamp(ns, UTC) is accepted");
    assert_eq!(series.timestamps, bars.ts);
}

#[test]
fn utc_millisecond_timestamps_are_scaled_to_ns() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    for (path, bars) in [(&bid_path, bars.clone()), (&ask_path, bars.ask())] {
        let ms: Vec<i64> = bars.ts.iter().map(|t| t / 1_000_000).collect();
        let ts = TimestampMillisecondArray::from(ms).with_timezone_utc();
        stub::write_columns(path, with_column(&bars, "timestamp", Arc::new(ts)));
    }
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("Timestamp(ms, +00:00) is accepted");
    assert_eq!(series.timestamps, bars.ts);
}

/// Seconds beyond what int64 nanoseconds can hold are named as such, in their own unit.
#[test]
fn timestamps_beyond_the_ns_range_are_named() {
    use arrow_array::TimestampSecondArray;

    let dir = tempdir();
    let bars = Bars::bid(3, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let mut seconds: Vec<i64> = bars.ts.iter().map(|t| t / 1_000_000_000).collect();
    seconds[2] = 99_999_999_900;
    let ts = TimestampSecondArray::from(seconds).with_timezone_utc();
    stub::write_columns(&bid_path, with_column(&bars, "timestamp", Arc::new(ts)));
    stub::write_bars(&ask_path, &bars.ask());
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::TimestampOutOfRange { path: bid_path.clone(), row: 2, value: 99_999_999_900, unit: "s" }
    );
    assert!(
        err.to_string().contains("timestamp 99999999900 (s) is outside the int64 epoch-ns range"),
        "{err}"
    );
}

/// A last bar whose close does not fit int64 ns (its D1 bar would count as complete all
/// day once the sum wrapped around) is refused.
#[test]
fn a_bar_closing_beyond_the_ns_range_is_refused() {
    let dir = tempdir();
    let last_day = i64::MAX - i64::MAX.rem_euclid(D1);
    let bid = Bars::bid(2, last_day - D1, D1);
    let (bid_path, _) = stub::write_pair(dir.path(), Timeframe::D1, &bid, &bid.ask());
    let err = load_bid_ask(dir.path(), SYMBOL, Timeframe::D1).expect_err("its close overflows");
    assert_eq!(err, DataError::TimestampOutOfRange { path: bid_path, row: 1, value: last_day, unit: "ns" });
}

/// Two columns named `close`: which one holds the prices is anybody's guess.
#[test]
fn a_duplicated_column_name_is_refused() {
    let dir = tempdir();
    let bars = Bars::bid(5, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let mut columns = bars.columns();
    columns.push(("close", Arc::new(Float64Array::from(bars.open.clone())) as ArrayRef));
    stub::write_columns(&bid_path, columns);
    stub::write_bars(&ask_path, &bars.ask());
    let err = m5_error(dir.path());
    assert_eq!(err, DataError::DuplicateColumn { path: bid_path.clone(), column: "close".into() });
    assert_eq!(err.details()["column"], "close");
}

#[test]
fn naive_arrow_timestamps_are_rejected() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let ts = TimestampNanosecondArray::from(bars.ts.clone());
    stub::write_columns(&bid_path, with_column(&bars, "timestamp", Arc::new(ts)));
    stub::write_bars(&ask_path, &bars.ask());
    match m5_error(dir.path()) {
        DataError::WrongType { path, column, found, expected } => {
            assert_eq!(path, bid_path);
            assert_eq!(column, "timestamp");
            assert!(found.starts_with("Timestamp(ns"), "{found}");
            assert!(!found.contains("UTC"), "{found}");
            assert!(expected.contains("UTC"), "{expected}");
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
}

#[test]
fn non_utc_arrow_timestamps_are_rejected() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let ts = TimestampNanosecondArray::from(bars.ts.clone()).with_timezone("America/New_York");
    stub::write_columns(&bid_path, with_column(&bars, "timestamp", Arc::new(ts)));
    stub::write_bars(&ask_path, &bars.ask());
    assert!(matches!(
        m5_error(dir.path()),
        DataError::WrongType { column, found, .. } if column == "timestamp" && found.contains("New_York")
    ));
}

#[test]
fn null_price_names_the_row() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    let mut close: Vec<Option<f64>> = bars.close.iter().copied().map(Some).collect();
    close[4] = None;
    stub::write_columns(&bid_path, with_column(&bars, "close", Arc::new(Float64Array::from(close))));
    stub::write_bars(&ask_path, &bars.ask());
    let err = m5_error(dir.path());
    assert_eq!(err, DataError::NullValue { path: bid_path.clone(), row: 4, column: "close".into() });
    assert_eq!(err.to_string(), format!("{}: row 4: column \"close\" is null", bid_path.display()));
    assert_eq!(err.details()["row"], 4);
}

#[test]
fn null_timestamp_names_the_row() {
    let dir = tempdir();
    let bars = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    stub::write_bars(&bid_path, &bars);
    let ask = bars.ask();
    let mut ts: Vec<Option<i64>> = ask.ts.iter().copied().map(Some).collect();
    ts[0] = None;
    stub::write_columns(&ask_path, with_column(&ask, "timestamp", Arc::new(Int64Array::from(ts))));
    assert_eq!(
        m5_error(dir.path()),
        DataError::NullValue { path: ask_path, row: 0, column: "timestamp".into() }
    );
}

// ---------------------------------------------------------------- timestamps

#[test]
fn unsorted_timestamps_name_the_row() {
    let dir = tempdir();
    let valid = Bars::bid(8, T0, M5);
    let mut bid = valid.clone();
    bid.ts.swap(4, 5);
    let (bid_path, _) = write_broken_bid(dir.path(), &bid, &valid);
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::Unsorted {
            path: bid_path.clone(),
            row: 5,
            timestamp: T0 + 4 * M5,
            previous: T0 + 5 * M5,
            kind: "before",
        }
    );
    let message = err.to_string();
    assert!(message.contains("row 5") && message.contains(&(T0 + 4 * M5).to_string()), "{message}");
    assert_eq!(err.details()["value"], T0 + 4 * M5);
}

#[test]
fn duplicate_timestamp_names_the_row() {
    let dir = tempdir();
    let valid = Bars::bid(8, T0, M5);
    let ask = {
        let mut a = valid.ask();
        a.ts[3] = a.ts[2];
        a
    };
    let (_, ask_path) = stub::paths(dir.path(), Timeframe::M5);
    stub::write_pair(dir.path(), Timeframe::M5, &valid, &ask);
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::Unsorted {
            path: ask_path,
            row: 3,
            timestamp: T0 + 2 * M5,
            previous: T0 + 2 * M5,
            kind: "equal to"
        }
    );
    assert!(err.to_string().contains("is equal to the previous one"), "{err}");
}

#[test]
fn off_grid_timestamp_names_the_row_and_timeframe() {
    let dir = tempdir();
    let valid = Bars::bid(8, T0, M5);
    let mut bid = valid.clone();
    bid.ts[6] += 60_000_000_000;
    let (bid_path, _) = write_broken_bid(dir.path(), &bid, &valid);
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::OffGrid {
            path: bid_path,
            row: 6,
            timestamp: T0 + 6 * M5 + 60_000_000_000,
            timeframe: "M5".into()
        }
    );
    assert!(err.to_string().contains("not on the M5 grid"), "{err}");
}

#[test]
fn d1_bars_must_open_at_midnight_utc() {
    let dir = tempdir();
    let valid = Bars::bid(5, T0 - 10 * D1, D1);
    stub::write_pair(dir.path(), Timeframe::D1, &valid, &valid.ask());
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::D1).expect("midnight D1 bars are valid");
    assert_eq!(series.timestamps.len(), 5);

    let dir = tempdir();
    let mut bid = valid.clone();
    bid.ts[2] += 3_600_000_000_000;
    let (bid_path, _) = stub::write_pair(dir.path(), Timeframe::D1, &bid, &valid.ask());
    let err = load_bid_ask(dir.path(), SYMBOL, Timeframe::D1).expect_err("01:00 is off the D1 grid");
    assert!(
        matches!(&err, DataError::OffGrid { path, row: 2, timeframe, .. } if *path == bid_path && timeframe == "D1"),
        "{err:?}"
    );
}

#[test]
fn m5_files_loaded_as_h1_are_off_grid() {
    let dir = tempdir();
    let bid = Bars::bid(5, T0, M5);
    let (bid_path, _) = stub::paths(dir.path(), Timeframe::H1);
    stub::write_pair(dir.path(), Timeframe::H1, &bid, &bid.ask());
    let err = load_bid_ask(dir.path(), SYMBOL, Timeframe::H1).expect_err("05:00 past the hour");
    assert_eq!(
        err,
        DataError::OffGrid { path: bid_path, row: 1, timestamp: T0 + M5, timeframe: "H1".into() }
    );
}

#[test]
fn gaps_are_counted_not_rejected() {
    let dir = tempdir();
    // 3 bars, a 2-bar hole, 2 bars, a weekend-sized hole, 2 bars.
    let ts = vec![T0, T0 + M5, T0 + 2 * M5, T0 + 5 * M5, T0 + 6 * M5, T0 + 2 * D1, T0 + 2 * D1 + M5];
    let bid = Bars::bid_at(ts.clone());
    stub::write_pair(dir.path(), Timeframe::M5, &bid, &bid.ask());
    let series = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("gaps are allowed");
    assert_eq!(count_gaps(&series.timestamps, series.timeframe), 2);
    assert_eq!(series.timestamps, ts);
    assert_eq!(series.bid_file.last_ns, Some(T0 + 2 * D1 + M5));
}

// ---------------------------------------------------------------- prices

fn bad_price_case(column: &str, row: usize, value: f64) -> (PathBuf, DataError) {
    let dir = tempdir();
    let valid = Bars::bid(8, T0, M5);
    let mut bid = valid.clone();
    bid.column_mut(column)[row] = value;
    let (bid_path, _) = write_broken_bid(dir.path(), &bid, &valid);
    (bid_path, m5_error(dir.path()))
}

#[test]
fn nan_price_names_row_column_and_value() {
    let (bid_path, err) = bad_price_case("open", 3, f64::NAN);
    match &err {
        DataError::BadPrice { path, row, column, value } => {
            assert_eq!(*path, bid_path);
            assert_eq!(*row, 3);
            assert_eq!(column, "open");
            assert!(value.is_nan());
        }
        other => panic!("expected BadPrice, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("{}: row 3: open = NaN is not a finite positive price", bid_path.display())
    );
    assert_eq!(err.details()["value"], "NaN");
}

#[test]
fn infinite_price_is_rejected() {
    let (bid_path, err) = bad_price_case("high", 5, f64::INFINITY);
    assert_eq!(
        err,
        DataError::BadPrice { path: bid_path, row: 5, column: "high".into(), value: f64::INFINITY }
    );
    assert!(err.to_string().contains("high = inf"), "{err}");
    let (bid_path, err) = bad_price_case("high", 6, f64::NEG_INFINITY);
    assert_eq!(
        err,
        DataError::BadPrice { path: bid_path, row: 6, column: "high".into(), value: f64::NEG_INFINITY }
    );
}

#[test]
fn zero_price_is_rejected() {
    let (bid_path, err) = bad_price_case("low", 2, 0.0);
    assert_eq!(err, DataError::BadPrice { path: bid_path, row: 2, column: "low".into(), value: 0.0 });
    assert!(err.to_string().contains("row 2: low = 0 "), "{err}");
}

#[test]
fn negative_price_is_rejected() {
    let (bid_path, err) = bad_price_case("close", 7, -1.1);
    assert_eq!(err, DataError::BadPrice { path: bid_path, row: 7, column: "close".into(), value: -1.1 });
    assert_eq!(err.details()["value"], "-1.1");
    assert_eq!(err.details()["row"], 7);
    assert_eq!(err.details()["column"], "close");
}

#[test]
fn high_below_open_or_close_is_inconsistent() {
    let valid = Bars::bid(8, T0, M5);
    // high below close (close > open in the stub bars)
    let bad_high = valid.close[4] - 0.0001;
    let (bid_path, err) = bad_price_case("high", 4, bad_high);
    assert_eq!(
        err,
        DataError::InconsistentBar {
            path: bid_path,
            row: 4,
            column: "high".into(),
            value: bad_high,
            open: valid.open[4],
            close: valid.close[4],
        }
    );
    assert!(err.to_string().contains(&format!("high = {bad_high}")), "{err}");
    // high equal to max(open, close) is fine
    let dir = tempdir();
    let mut bid = valid.clone();
    bid.high[4] = bid.close[4];
    write_broken_bid(dir.path(), &bid, &valid);
    load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("high == close is consistent");
}

#[test]
fn low_above_open_or_close_is_inconsistent() {
    let valid = Bars::bid(8, T0, M5);
    // low above open (open < close in the stub bars)
    let bad_low = valid.open[1] + 0.00001;
    let (bid_path, err) = bad_price_case("low", 1, bad_low);
    assert_eq!(
        err,
        DataError::InconsistentBar {
            path: bid_path,
            row: 1,
            column: "low".into(),
            value: bad_low,
            open: valid.open[1],
            close: valid.close[1],
        }
    );
    assert_eq!(err.details()["column"], "low");
}

#[test]
fn inconsistent_ask_bar_names_the_ask_file() {
    let dir = tempdir();
    let bid = Bars::bid(8, T0, M5);
    let mut ask = bid.ask();
    ask.open[6] = ask.high[6] + 0.0001;
    ask.high[6] += 0.00005; // still below the new open
    let (_, ask_path) = stub::write_pair(dir.path(), Timeframe::M5, &bid, &ask);
    assert!(matches!(
        m5_error(dir.path()),
        DataError::InconsistentBar { path, row: 6, column, .. } if path == ask_path && column == "high"
    ));
}

// ---------------------------------------------------------------- bid vs ask

#[test]
fn misaligned_timestamp_names_the_row() {
    let dir = tempdir();
    let bid = Bars::bid(8, T0, M5);
    let mut ask = bid.ask();
    for t in &mut ask.ts[3..] {
        *t += M5; // a hole at row 3 in the ASK file only
    }
    let (bid_path, ask_path) = stub::write_pair(dir.path(), Timeframe::M5, &bid, &ask);
    let err = m5_error(dir.path());
    assert_eq!(
        err,
        DataError::Misaligned {
            bid_path: bid_path.clone(),
            ask_path: ask_path.clone(),
            row: 3,
            bid: (T0 + 3 * M5).to_string(),
            ask: (T0 + 4 * M5).to_string(),
        }
    );
    let message = err.to_string();
    assert!(message.contains(&bid_path.display().to_string()), "{message}");
    assert!(message.contains(&ask_path.display().to_string()), "{message}");
    assert!(message.contains("row 3"), "{message}");
    assert_eq!(err.details()["row"], 3);
}

#[test]
fn different_lengths_are_misaligned() {
    let dir = tempdir();
    let bid = Bars::bid(8, T0, M5);
    let short = Bars::bid(6, T0, M5);
    let (bid_path, ask_path) = stub::write_pair(dir.path(), Timeframe::M5, &bid, &short.ask());
    assert_eq!(
        m5_error(dir.path()),
        DataError::Misaligned { bid_path, ask_path, row: 6, bid: "8 rows".into(), ask: "6 rows".into() }
    );
}

#[test]
fn longer_ask_file_is_misaligned() {
    let dir = tempdir();
    let bid = Bars::bid(5, T0, M5);
    let long = Bars::bid(9, T0, M5);
    stub::write_pair(dir.path(), Timeframe::M5, &bid, &long.ask());
    assert!(matches!(
        m5_error(dir.path()),
        DataError::Misaligned { row: 5, bid, ask, .. } if bid == "5 rows" && ask == "9 rows"
    ));
}

#[test]
fn negative_spread_in_each_price_names_column_and_row() {
    for (column, row) in [("open", 2), ("high", 4), ("low", 5), ("close", 7)] {
        let dir = tempdir();
        let bid = Bars::bid(8, T0, M5);
        let mut ask = bid.ask();
        let bid_value = match column {
            "open" => bid.open[row],
            "high" => bid.high[row],
            "low" => bid.low[row],
            _ => bid.close[row],
        };
        let ask_value = bid_value - 0.00001;
        ask.column_mut(column)[row] = ask_value;
        let (_, ask_path) = stub::write_pair(dir.path(), Timeframe::M5, &bid, &ask);
        let err = m5_error(dir.path());
        assert_eq!(
            err,
            DataError::NegativeSpread {
                ask_path: ask_path.clone(),
                row,
                column: column.into(),
                bid: bid_value,
                ask: ask_value,
            },
            "column {column}"
        );
        let message = err.to_string();
        assert!(message.starts_with(&ask_path.display().to_string()), "{message}");
        assert!(message.contains(&format!("row {row}: negative spread, ask_{column}")), "{message}");
    }
}

#[test]
fn zero_spread_is_allowed() {
    let dir = tempdir();
    let bid = Bars::bid(8, T0, M5);
    stub::write_pair(dir.path(), Timeframe::M5, &bid, &bid);
    load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("ask == bid is not negative");
}

#[test]
fn every_error_maps_to_details_with_the_file() {
    let dir = tempdir();
    let err = m5_error(dir.path());
    let details = err.details();
    assert!(details["file"].as_str().is_some_and(|f| f.ends_with("EURUSD_M5_BID.parquet")), "{details}");
}

// ---------------------------------------------------------------- cache

#[test]
fn cache_hit_returns_the_same_arc() {
    let dir = tempdir();
    stub::write_valid_m5(dir.path(), 10);
    let first = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("load");
    let second = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("load again");
    assert!(Arc::ptr_eq(&first, &second), "an unchanged pair is decoded once");
}

/// The same files read as another timeframe (links named `*_H1_*` to M5 files) are
/// validated against that timeframe's grid, cached or not.
#[cfg(unix)]
#[test]
fn cached_files_read_as_another_timeframe_are_validated_again() {
    let dir = tempdir();
    let (m5_bid, m5_ask) = stub::write_valid_m5(dir.path(), 10);
    let (h1_bid, h1_ask) = stub::paths(dir.path(), Timeframe::H1);
    std::os::unix::fs::symlink(&m5_bid, &h1_bid).expect("link BID");
    std::os::unix::fs::symlink(&m5_ask, &h1_ask).expect("link ASK");
    load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("the M5 pair loads (and is cached)");
    let err = load_bid_ask(dir.path(), SYMBOL, Timeframe::H1).expect_err("M5 bars are off the H1 grid");
    assert!(matches!(err, DataError::OffGrid { row: 1, .. }), "{err:?}");
}

#[test]
fn rewritten_file_is_reloaded() {
    let dir = tempdir();
    stub::write_valid_m5(dir.path(), 10);
    let first = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("load");
    assert_eq!(first.timestamps.len(), 10);
    // A different row count changes the size, so the key changes whatever the mtime resolution.
    stub::write_valid_m5(dir.path(), 14);
    let second = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("reload");
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.timestamps.len(), 14);
    assert_eq!(second.bid_file.rows, 14);
    assert_ne!(first.bid_file.sha256, second.bid_file.sha256);
}

#[test]
#[allow(clippy::disallowed_methods)] // sets a file's mtime relative to now; no artifact sees it
fn same_size_rewrite_with_a_new_mtime_is_reloaded() {
    let dir = tempdir();
    let (bid_path, ask_path) = stub::write_valid_m5(dir.path(), 10);
    let size = |p: &Path| std::fs::metadata(p).expect("stat").len();
    let sizes = (size(&bid_path), size(&ask_path));
    let first = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("load");
    // Same sizes, new content: shift every timestamp by one day, then move the mtime on.
    let bid = Bars::bid(10, T0 + D1, M5);
    stub::write_pair(dir.path(), Timeframe::M5, &bid, &bid.ask());
    assert_eq!((size(&bid_path), size(&ask_path)), sizes, "the rewrite keeps the sizes");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for path in [&bid_path, &ask_path] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(later)
            .expect("set mtime");
    }
    let second = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("reload");
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.timestamps[0], T0 + D1);
}

#[test]
fn same_size_rewrite_that_restores_the_mtime_is_reloaded() {
    let dir = tempdir();
    let (bid_path, ask_path) = stub::write_valid_m5(dir.path(), 10);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime");
    let mtimes = (mtime(&bid_path), mtime(&ask_path));
    let first = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("load");
    // The kernel stamps change times with a coarse clock (a few ms): let it tick.
    std::thread::sleep(std::time::Duration::from_millis(50));
    // Same sizes, new content, old mtimes back (what `cp -p` or `rsync -t` leave).
    let bid = Bars::bid(10, T0 + D1, M5);
    stub::write_pair(dir.path(), Timeframe::M5, &bid, &bid.ask());
    for (path, time) in [(&bid_path, mtimes.0), (&ask_path, mtimes.1)] {
        std::fs::File::options().write(true).open(path).expect("open").set_modified(time).expect("set mtime");
    }
    assert_eq!((mtime(&bid_path), mtime(&ask_path)), mtimes);
    let second = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("reload");
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.timestamps[0], T0 + D1);
    assert_ne!(first.bid_file.sha256, second.bid_file.sha256);
}

#[test]
fn errors_are_not_cached() {
    let dir = tempdir();
    let (bid_path, _) = stub::write_valid_m5(dir.path(), 6);
    let valid = std::fs::read(&bid_path).expect("read");
    std::fs::write(&bid_path, b"garbage").expect("corrupt");
    assert!(matches!(m5_error(dir.path()), DataError::Unreadable { .. }));
    std::fs::write(&bid_path, valid).expect("restore");
    load_bid_ask(dir.path(), SYMBOL, Timeframe::M5).expect("a fixed file loads");
}

// ---------------------------------------------------------------- news

fn write_news(path: &Path, ts: Vec<i64>, currency: Vec<&str>, impact: Vec<&str>) {
    stub::write_columns(
        path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(ts)) as ArrayRef),
            ("currency", Arc::new(StringArray::from(currency)) as ArrayRef),
            ("impact", Arc::new(StringArray::from(impact)) as ArrayRef),
        ],
    );
}

#[test]
fn valid_news_calendar_loads_sorted() {
    let dir = tempdir();
    let path = dir.path().join("news.parquet");
    let h = 3_600_000_000_000;
    write_news(&path, vec![T0 + 2 * h, T0, T0 + h], vec!["USD", "EUR", "JPY"], vec!["high", "low", "medium"]);
    let calendar = load_news(&path).expect("valid calendar");
    assert_eq!(calendar.rows, 3);
    assert_eq!(calendar.sha256.len(), 64);
    let got: Vec<(i64, &str, Impact)> =
        calendar.events.iter().map(|e| (e.timestamp, e.currency.as_str(), e.impact)).collect();
    assert_eq!(
        got,
        vec![(T0, "EUR", Impact::Low), (T0 + h, "JPY", Impact::Medium), (T0 + 2 * h, "USD", Impact::High)]
    );
    assert!(Impact::Low < Impact::Medium && Impact::Medium < Impact::High);
    let again = load_news(&path).expect("cached");
    assert!(Arc::ptr_eq(&calendar, &again));
}

#[test]
fn news_with_utc_timestamps_loads() {
    let dir = tempdir();
    let path = dir.path().join("news.parquet");
    stub::write_columns(
        &path,
        vec![
            (
                "timestamp",
                Arc::new(TimestampNanosecondArray::from(vec![T0]).with_timezone("UTC")) as ArrayRef,
            ),
            ("currency", Arc::new(StringArray::from(vec!["GBP"])) as ArrayRef),
            ("impact", Arc::new(StringArray::from(vec!["high"])) as ArrayRef),
        ],
    );
    assert_eq!(load_news(&path).expect("UTC timestamps").events[0].timestamp, T0);
}

#[test]
fn news_with_dictionary_encoded_strings_loads() {
    // pandas writes a categorical column as dictionary<int8, string>.
    let dir = tempdir();
    let path = dir.path().join("news.parquet");
    let dictionary = |values: Vec<&str>| Arc::new(DictionaryArray::<Int8Type>::from_iter(values)) as ArrayRef;
    stub::write_columns(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![T0, T0 + M5, T0 + 2 * M5])) as ArrayRef),
            ("currency", dictionary(vec!["USD", "EUR", "USD"])),
            ("impact", dictionary(vec!["high", "low", "high"])),
        ],
    );
    let got: Vec<(String, Impact)> = load_news(&path)
        .expect("categorical calendar")
        .events
        .iter()
        .map(|e| (e.currency.clone(), e.impact))
        .collect();
    assert_eq!(
        got,
        vec![("USD".into(), Impact::High), ("EUR".into(), Impact::Low), ("USD".into(), Impact::High)]
    );

    // A key that points at a null value is a null, named like any other.
    let values = StringArray::from(vec![Some("USD"), None]);
    let keys = Int8Array::from(vec![0, 0, 1]);
    let nulls = DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).expect("dictionary");
    let path = dir.path().join("news-null.parquet");
    stub::write_columns(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![T0, T0 + M5, T0 + 2 * M5])) as ArrayRef),
            ("currency", Arc::new(nulls) as ArrayRef),
            ("impact", dictionary(vec!["high", "low", "high"])),
        ],
    );
    assert_eq!(
        load_news(&path).expect_err("null currency"),
        DataError::NullValue { path: path.clone(), row: 2, column: "currency".into() }
    );
}

#[test]
fn news_bad_currency_names_row_and_value() {
    for bad in ["usd", "US", "EURO", "U5D"] {
        let dir = tempdir();
        let path = dir.path().join("news.parquet");
        write_news(&path, vec![T0, T0 + M5, T0 + 2 * M5], vec!["USD", "EUR", bad], vec!["low"; 3]);
        let err = load_news(&path).expect_err("bad currency");
        assert_eq!(
            err,
            DataError::BadNewsValue {
                path: path.clone(),
                row: 2,
                column: "currency".into(),
                value: bad.into(),
                expected: "three uppercase letters".into(),
            }
        );
        assert!(err.to_string().contains(&format!("row 2: currency = \"{bad}\"")), "{err}");
        assert_eq!(err.details()["value"], bad);
    }
}

#[test]
fn news_bad_impact_names_row_and_value() {
    for bad in ["extreme", "High", ""] {
        let dir = tempdir();
        let path = dir.path().join("news.parquet");
        write_news(&path, vec![T0, T0 + M5], vec!["USD", "EUR"], vec![bad, "low"]);
        let err = load_news(&path).expect_err("bad impact");
        assert_eq!(
            err,
            DataError::BadNewsValue {
                path: path.clone(),
                row: 0,
                column: "impact".into(),
                value: bad.into(),
                expected: "low, medium or high".into(),
            }
        );
        assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    }
}

#[test]
fn news_file_problems_are_data_errors() {
    let dir = tempdir();
    let path = dir.path().join("news.parquet");
    assert_eq!(load_news(&path).expect_err("missing"), DataError::MissingFile { path: path.clone() });

    std::fs::write(&path, b"PAR1 not really").expect("write");
    assert!(matches!(load_news(&path).expect_err("corrupt"), DataError::Unreadable { .. }));

    stub::write_columns(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![T0])) as ArrayRef),
            ("currency", Arc::new(StringArray::from(vec!["USD"])) as ArrayRef),
        ],
    );
    assert_eq!(
        load_news(&path).expect_err("no impact column"),
        DataError::MissingColumn { path: path.clone(), column: "impact".into() }
    );

    stub::write_columns(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![T0, T0 + M5])) as ArrayRef),
            ("currency", Arc::new(StringArray::from(vec![Some("USD"), None])) as ArrayRef),
            ("impact", Arc::new(StringArray::from(vec!["low", "low"])) as ArrayRef),
        ],
    );
    assert_eq!(
        load_news(&path).expect_err("null currency"),
        DataError::NullValue { path: path.clone(), row: 1, column: "currency".into() }
    );

    stub::write_columns(
        &path,
        vec![
            ("timestamp", Arc::new(Int64Array::from(vec![T0])) as ArrayRef),
            ("currency", Arc::new(StringArray::from(vec!["USD"])) as ArrayRef),
            ("impact", Arc::new(Int64Array::from(vec![3])) as ArrayRef),
        ],
    );
    assert!(matches!(
        load_news(&path).expect_err("numeric impact"),
        DataError::WrongType { column, expected, .. } if column == "impact" && expected == "string"
    ));
}

// ---------------------------------------------------------------- properties

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// A single bad price anywhere is reported at its own row and column.
        #[test]
        fn a_bad_price_is_reported_where_it_is(
            row in 0usize..20,
            column in prop::sample::select(vec!["open", "high", "low", "close"]),
            value in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -1.1]),
            ask_side in any::<bool>(),
        ) {
            let dir = tempdir();
            let bid = Bars::bid(20, T0, M5);
            let mut ask = bid.ask();
            let mut broken_bid = bid.clone();
            let target = if ask_side { &mut ask } else { &mut broken_bid };
            target.column_mut(column)[row] = value;
            let (bid_path, ask_path) = stub::write_pair(dir.path(), Timeframe::M5, &broken_bid, &ask);
            let err = m5_error(dir.path());
            let expected_path = if ask_side { ask_path } else { bid_path };
            match err {
                DataError::BadPrice { path, row: r, column: c, value: v } => {
                    prop_assert_eq!(path, expected_path);
                    prop_assert_eq!(r, row);
                    prop_assert_eq!(c, column);
                    prop_assert!(v.to_bits() == value.to_bits());
                }
                other => prop_assert!(false, "expected BadPrice, got {:?}", other),
            }
        }

        /// Any order of grid timestamps loads when strictly increasing, and otherwise is
        /// rejected at the first row that is not after its predecessor.
        #[test]
        fn unsorted_timestamps_are_caught_at_the_first_bad_row(
            slots in prop::collection::vec(0i64..40, 2..16),
        ) {
            let dir = tempdir();
            let ts: Vec<i64> = slots.iter().map(|s| T0 + s * M5).collect();
            let bid = Bars::bid_at(ts.clone());
            let (bid_path, _) = stub::write_pair(dir.path(), Timeframe::M5, &bid, &bid.ask());
            let first_bad = (1..ts.len()).find(|&r| ts[r] <= ts[r - 1]);
            let loaded = load_bid_ask(dir.path(), SYMBOL, Timeframe::M5);
            match (first_bad, loaded) {
                (None, Ok(series)) => prop_assert_eq!(&series.timestamps, &ts),
                (Some(row), Err(DataError::Unsorted { path, row: r, timestamp, previous, kind })) => {
                    prop_assert_eq!(path, bid_path);
                    prop_assert_eq!(r, row);
                    prop_assert_eq!(timestamp, ts[row]);
                    prop_assert_eq!(previous, ts[row - 1]);
                    prop_assert_eq!(kind, if ts[row] == ts[row - 1] { "equal to" } else { "before" });
                }
                (expected, got) => prop_assert!(false, "expected first bad row {:?}, got {:?}", expected, got),
            }
        }
    }
}
