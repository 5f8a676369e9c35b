//! The market data of one run: loaded files, the clipped range and the news mask.

use std::sync::Arc;

use omega_data::{BidAskSeries, DataError, FileInfo, NewsCalendar, count_gaps, load_bid_ask, load_news};
use omega_types::{NANOS_PER_MINUTE, OhlcView, Timeframe};
use serde_json::{Value, json};

use crate::RunError;
use crate::config::RunConfig;

/// The loaded inputs of a run and the primary range `[first, end)` inside them.
pub struct Market {
    /// The primary series (whole files).
    pub primary: Arc<BidAskSeries>,
    /// Index of the first primary bar in range.
    pub first: usize,
    /// Index after the last primary bar in range.
    pub end: usize,
    /// The D1 series when the strategy needs it.
    pub htf: Option<Arc<BidAskSeries>>,
    /// The news calendar when configured.
    pub news: Option<Arc<NewsCalendar>>,
}

impl Market {
    /// Loads every file the config needs and clips the primary range (ENGINE §10 "Range").
    ///
    /// # Errors
    /// A `market_data` [`RunError`] for any data problem, an empty range included.
    pub fn load(config: &RunConfig) -> Result<Self, RunError> {
        let primary = load_bid_ask(&config.data_dir, &config.symbol, config.primary_tf)?;
        let htf = if config.strategy.needs_htf() {
            let htf = load_bid_ask(&config.data_dir, &config.symbol, Timeframe::D1)?;
            if htf.timestamps.is_empty() {
                // The trend filter would block every entry: a run of 0 trades that looks fine.
                let bid_path = omega_data::side_path(&config.data_dir, &config.symbol, Timeframe::D1, "BID");
                return Err(RunError::market_data(
                    format!("{}: no bars, and htf_filter \"trend\" needs D1 bars", bid_path.display()),
                    json!({"file": bid_path}),
                ));
            }
            Some(htf)
        } else {
            None
        };
        let news = config.news.as_ref().map(|n| load_news(&n.file)).transpose()?;
        let times = &primary.timestamps;
        let first = config.start_ns.map_or(0, |s| times.partition_point(|&t| t < s));
        let end = config.end_ns.map_or(times.len(), |e| times.partition_point(|&t| t < e));
        if first >= end {
            let bid_path = omega_data::side_path(&config.data_dir, &config.symbol, config.primary_tf, "BID");
            return Err(RunError::market_data(
                format!(
                    "{}: no bars in the range [{}, {}) ({} bars in the file, {} to {})",
                    bid_path.display(),
                    config.resolved["data"]["start"].as_str().unwrap_or("start of data"),
                    config.resolved["data"]["end"].as_str().unwrap_or("end of data"),
                    times.len(),
                    times.first().map_or("-".to_owned(), i64::to_string),
                    times.last().map_or("-".to_owned(), i64::to_string),
                ),
                json!({"file": bid_path, "rows": times.len(), "column": "timestamp",
                       "value": config.resolved["data"]["start"]}),
            ));
        }
        Ok(Self { primary, first, end, htf, news })
    }

    /// Returns the number of primary bars in range.
    #[must_use]
    pub fn bars(&self) -> usize {
        self.end - self.first
    }

    /// Returns the number of gaps in range: consecutive bars in range more than one bar
    /// duration apart (weekends, holidays), as `bars` counts the bars in range.
    #[must_use]
    pub fn gaps(&self) -> usize {
        count_gaps(self.timestamps(), self.primary.timeframe)
    }

    /// Returns the primary bar open times in range.
    #[must_use]
    pub fn timestamps(&self) -> &[i64] {
        &self.primary.timestamps[self.first..self.end]
    }

    /// Returns the BID and ASK columns in range.
    #[must_use]
    pub fn quotes(&self) -> (OhlcView<'_>, OhlcView<'_>) {
        (self.primary.bid.view(self.first..self.end), self.primary.ask.view(self.first..self.end))
    }

    /// Returns the D1 bars (whole files: the completeness rule keeps the future out).
    #[must_use]
    pub fn htf_view(&self) -> Option<(&[i64], OhlcView<'_>, OhlcView<'_>)> {
        self.htf.as_ref().map(|s| {
            let all = 0..s.timestamps.len();
            (s.timestamps.as_slice(), s.bid.view(all.clone()), s.ask.view(all))
        })
    }

    /// Returns, per bar in range, true when a news blackout forbids entries (ENGINE §4).
    #[must_use]
    pub fn news_blocked(&self, config: &RunConfig) -> Vec<bool> {
        let (Some(calendar), Some(news)) = (&self.news, &config.news) else { return Vec::new() };
        let times = self.timestamps();
        let duration = config.primary_tf.duration_ns();
        let mut blocked = vec![false; times.len()];
        let currencies = [&config.spec.base_currency, &config.spec.quote_currency];
        for event in calendar
            .events
            .iter()
            .filter(|e| e.impact >= news.min_impact && currencies.contains(&&e.currency))
        {
            // Decision time of bar k is t_k + duration; blocked when it lies in
            // [event - before, event + after].
            let from = event.timestamp - news.minutes_before * NANOS_PER_MINUTE - duration;
            let to = event.timestamp + news.minutes_after * NANOS_PER_MINUTE - duration;
            let lo = times.partition_point(|&t| t < from);
            let hi = times.partition_point(|&t| t <= to);
            blocked[lo..hi.max(lo)].iter_mut().for_each(|b| *b = true);
        }
        blocked
    }

    /// Returns the `inputs` and range facts recorded in `meta.json`.
    #[must_use]
    pub fn meta(&self, config: &RunConfig) -> Value {
        let file = |role: &str, f: &FileInfo| {
            json!({"role": role, "file": f.name, "rows": f.rows, "first_ns": f.first_ns,
                   "last_ns": f.last_ns, "sha256": f.sha256})
        };
        let mut inputs =
            vec![file("primary_bid", &self.primary.bid_file), file("primary_ask", &self.primary.ask_file)];
        if let Some(htf) = &self.htf {
            inputs.push(file("htf_bid", &htf.bid_file));
            inputs.push(file("htf_ask", &htf.ask_file));
        }
        if let (Some(calendar), Some(news)) = (&self.news, &config.news) {
            let name = news.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            inputs.push(json!({"role": "news", "file": name, "rows": calendar.rows,
                "first_ns": calendar.events.first().map(|e| e.timestamp),
                "last_ns": calendar.events.last().map(|e| e.timestamp), "sha256": calendar.sha256}));
        }
        let times = self.timestamps();
        json!({
            "inputs": inputs,
            "gaps": self.gaps(),
            "bars": times.len(),
            "range": {"first_ns": times.first(), "last_ns": times.last()},
        })
    }
}

impl From<DataError> for RunError {
    fn from(err: DataError) -> Self {
        RunError::market_data(err.to_string(), err.details())
    }
}
