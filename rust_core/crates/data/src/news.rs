//! The news calendar: `timestamp`, `currency`, `impact` (ENGINE §4).

use std::path::Path;
use std::sync::Arc;

use crate::DataError;
use crate::cache::{FileCache, FileKey};
use crate::parquet_file::{Kind, read_columns, sha256_of};

/// How much an event is expected to move markets; ordered `Low < Medium < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    /// Low impact.
    Low,
    /// Medium impact.
    Medium,
    /// High impact.
    High,
}

impl Impact {
    /// Parses `low`, `medium` or `high`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(Impact::Low),
            "medium" => Some(Impact::Medium),
            "high" => Some(Impact::High),
            _ => None,
        }
    }
}

/// One scheduled event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsEvent {
    /// Event time (epoch ns, UTC).
    pub timestamp: i64,
    /// Three-letter currency code.
    pub currency: String,
    /// Expected impact.
    pub impact: Impact,
}

/// A calendar of events sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewsCalendar {
    /// The events, sorted by timestamp.
    pub events: Vec<NewsEvent>,
    /// Number of rows in the file.
    pub rows: usize,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

static NEWS_CACHE: FileCache<(), NewsCalendar> = FileCache::new();

/// Loads a news calendar Parquet file.
///
/// # Errors
/// Returns a [`DataError`] for a missing or unreadable file, a missing column, or a
/// currency that is not three uppercase letters or an impact outside low|medium|high.
pub fn load_news(path: &Path) -> Result<Arc<NewsCalendar>, DataError> {
    NEWS_CACHE.get_or_load((), FileKey::of(path).map(|k| vec![k]), || {
        let mut columns = read_columns(
            path,
            &[("timestamp", Kind::Timestamp), ("currency", Kind::Text), ("impact", Kind::Text)],
        )?
        .into_iter();
        let mut next = || columns.next().expect("read_columns returns one column per request");
        let (timestamps, currencies, impacts) =
            (next().into_timestamps(), next().into_text(), next().into_text());
        let bad = |row: usize, column: &str, value: &str, expected: &str| DataError::BadNewsValue {
            path: path.to_owned(),
            row,
            column: column.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        };
        let mut events = Vec::with_capacity(timestamps.len());
        for (row, ((&timestamp, currency), impact)) in
            timestamps.iter().zip(&currencies).zip(&impacts).enumerate()
        {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(bad(row, "currency", currency, "three uppercase letters"));
            }
            let impact =
                Impact::parse(impact).ok_or_else(|| bad(row, "impact", impact, "low, medium or high"))?;
            events.push(NewsEvent { timestamp, currency: currency.clone(), impact });
        }
        events.sort_by_key(|e| e.timestamp);
        Ok(NewsCalendar { events, rows: timestamps.len(), sha256: sha256_of(path)? })
    })
}
