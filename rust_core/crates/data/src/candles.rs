//! Bid/ask candle series: loading, validation (ENGINE §1) and file facts for `meta.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use omega_types::{Ohlc, Timeframe};

use crate::DataError;
use crate::cache::{FileCache, FileKey};

/// What `meta.json` records about one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file name (without folder, so dev artifacts do not depend on the machine).
    pub name: String,
    /// Number of rows.
    pub rows: usize,
    /// First timestamp (epoch ns), if any row.
    pub first_ns: Option<i64>,
    /// Last timestamp (epoch ns), if any row.
    pub last_ns: Option<i64>,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// A validated, aligned pair of BID and ASK candle files.
#[derive(Debug, Clone, PartialEq)]
pub struct BidAskSeries {
    /// The timeframe of both files.
    pub timeframe: Timeframe,
    /// Bar open times (epoch ns), strictly increasing, shared by both sides.
    pub timestamps: Vec<i64>,
    /// BID prices.
    pub bid: Ohlc,
    /// ASK prices.
    pub ask: Ohlc,
    /// The BID file's facts.
    pub bid_file: FileInfo,
    /// The ASK file's facts.
    pub ask_file: FileInfo,
}

/// Returns the number of gaps in `timestamps` (bar open times at `timeframe`):
/// consecutive bars more than one bar duration apart (weekends, holidays).
#[must_use]
pub fn count_gaps(timestamps: &[i64], timeframe: Timeframe) -> usize {
    let duration = timeframe.duration_ns();
    timestamps.windows(2).filter(|w| w[1] - w[0] > duration).count()
}

/// Returns `{dir}/{SYMBOL}_{TF}_{SIDE}.parquet`.
#[must_use]
pub fn side_path(dir: &Path, symbol: &str, timeframe: Timeframe, side: &str) -> PathBuf {
    dir.join(format!("{symbol}_{timeframe}_{side}.parquet"))
}

static SERIES_CACHE: FileCache<Timeframe, BidAskSeries> = FileCache::new();

/// Loads and validates the BID and ASK files of `symbol` at `timeframe` from `dir`.
///
/// The result is cached per process, per timeframe, while both files keep their size,
/// mtime, inode and change time.
///
/// # Errors
/// Returns a [`DataError`] naming the file, row and value of the first broken rule.
pub fn load_bid_ask(dir: &Path, symbol: &str, timeframe: Timeframe) -> Result<Arc<BidAskSeries>, DataError> {
    let bid_path = side_path(dir, symbol, timeframe, "BID");
    let ask_path = side_path(dir, symbol, timeframe, "ASK");
    let keys = FileKey::of(&bid_path).zip(FileKey::of(&ask_path)).map(|(b, a)| vec![b, a]);
    SERIES_CACHE.get_or_load(timeframe, keys, || read_pair(dir, symbol, timeframe))
}

/// Loads and validates like [`load_bid_ask`] but always reads the files, bypassing
/// and leaving alone the per-process cache (for benchmarks of the cold path).
///
/// # Errors
/// As [`load_bid_ask`].
pub fn load_bid_ask_uncached(
    dir: &Path,
    symbol: &str,
    timeframe: Timeframe,
) -> Result<BidAskSeries, DataError> {
    read_pair(dir, symbol, timeframe)
}

fn read_pair(dir: &Path, symbol: &str, timeframe: Timeframe) -> Result<BidAskSeries, DataError> {
    let bid_path = side_path(dir, symbol, timeframe, "BID");
    let ask_path = side_path(dir, symbol, timeframe, "ASK");
    let _span = tracing::info_span!("load", symbol, timeframe = %timeframe).entered();
    let (bid_ts, bid, bid_file) = load_side(&bid_path, timeframe)?;
    let (ask_ts, ask, ask_file) = load_side(&ask_path, timeframe)?;
    check_alignment(&bid_path, &ask_path, &bid_ts, &ask_ts)?;
    check_spread(&ask_path, &bid, &ask)?;
    Ok(BidAskSeries { timeframe, timestamps: bid_ts, bid, ask, bid_file, ask_file })
}

fn load_side(path: &Path, timeframe: Timeframe) -> Result<(Vec<i64>, Ohlc, FileInfo), DataError> {
    use crate::parquet_file::{Kind, read_columns, sha256_of};
    let columns = read_columns(
        path,
        &[
            ("timestamp", Kind::Timestamp),
            ("open", Kind::Price),
            ("high", Kind::Price),
            ("low", Kind::Price),
            ("close", Kind::Price),
        ],
    )?;
    let mut columns = columns.into_iter();
    let mut next = || columns.next().expect("read_columns returns one column per request");
    let timestamps = next().into_timestamps();
    let ohlc = Ohlc {
        open: next().into_prices(),
        high: next().into_prices(),
        low: next().into_prices(),
        close: next().into_prices(),
    };
    check_timestamps(path, timeframe, &timestamps)?;
    check_prices(path, &ohlc)?;
    let info = FileInfo {
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        rows: timestamps.len(),
        first_ns: timestamps.first().copied(),
        last_ns: timestamps.last().copied(),
        sha256: sha256_of(path)?,
    };
    Ok((timestamps, ohlc, info))
}

fn check_timestamps(path: &Path, timeframe: Timeframe, timestamps: &[i64]) -> Result<(), DataError> {
    let duration = timeframe.duration_ns();
    for (row, &ts) in timestamps.iter().enumerate() {
        if ts.checked_add(duration).is_none() {
            // Its close, the bar's decision time, would wrap around (ENGINE §2).
            return Err(DataError::TimestampOutOfRange { path: path.to_owned(), row, value: ts, unit: "ns" });
        }
        if ts.rem_euclid(duration) != 0 {
            return Err(DataError::OffGrid {
                path: path.to_owned(),
                row,
                timestamp: ts,
                timeframe: timeframe.to_string(),
            });
        }
        if row > 0 && ts <= timestamps[row - 1] {
            let previous = timestamps[row - 1];
            let kind = if ts == previous { "equal to" } else { "before" };
            return Err(DataError::Unsorted { path: path.to_owned(), row, timestamp: ts, previous, kind });
        }
    }
    Ok(())
}

fn check_prices(path: &Path, ohlc: &Ohlc) -> Result<(), DataError> {
    for (column, values) in ohlc.columns() {
        if let Some((row, &value)) = values.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
            return Err(DataError::BadPrice { path: path.to_owned(), row, column: column.to_owned(), value });
        }
    }
    for row in 0..ohlc.open.len() {
        let (open, close) = (ohlc.open[row], ohlc.close[row]);
        let inconsistent = |column: &str, value: f64| DataError::InconsistentBar {
            path: path.to_owned(),
            row,
            column: column.to_owned(),
            value,
            open,
            close,
        };
        if ohlc.high[row] < open.max(close) {
            return Err(inconsistent("high", ohlc.high[row]));
        }
        if ohlc.low[row] > open.min(close) {
            return Err(inconsistent("low", ohlc.low[row]));
        }
    }
    Ok(())
}

fn check_alignment(bid_path: &Path, ask_path: &Path, bid: &[i64], ask: &[i64]) -> Result<(), DataError> {
    let misaligned = |row: usize, bid: String, ask: String| DataError::Misaligned {
        bid_path: bid_path.to_owned(),
        ask_path: ask_path.to_owned(),
        row,
        bid,
        ask,
    };
    if let Some(row) = bid.iter().zip(ask).position(|(b, a)| b != a) {
        return Err(misaligned(row, bid[row].to_string(), ask[row].to_string()));
    }
    if bid.len() != ask.len() {
        let row = bid.len().min(ask.len());
        return Err(misaligned(row, format!("{} rows", bid.len()), format!("{} rows", ask.len())));
    }
    Ok(())
}

fn check_spread(ask_path: &Path, bid: &Ohlc, ask: &Ohlc) -> Result<(), DataError> {
    for ((column, bids), (_, asks)) in bid.columns().into_iter().zip(ask.columns()) {
        if let Some(row) = bids.iter().zip(asks).position(|(b, a)| a < b) {
            return Err(DataError::NegativeSpread {
                ask_path: ask_path.to_owned(),
                row,
                column: column.to_owned(),
                bid: bids[row],
                ask: asks[row],
            });
        }
    }
    Ok(())
}
