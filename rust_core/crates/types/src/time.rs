//! Timeframes and UTC nanosecond time (ENGINE §1, §2, §10).

use std::fmt;
use std::str::FromStr;

/// Nanoseconds in one minute.
pub const NANOS_PER_MINUTE: i64 = 60_000_000_000;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: i64 = 1_440 * NANOS_PER_MINUTE;

/// A bar timeframe; bars open on the epoch-aligned grid of their duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timeframe {
    /// One minute.
    M1,
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// Thirty minutes.
    M30,
    /// One hour.
    H1,
    /// Four hours.
    H4,
    /// One day; bars open at 00:00 UTC.
    D1,
}

/// The error for a timeframe name outside `M1 M5 M15 M30 H1 H4 D1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of M1, M5, M15, M30, H1, H4, D1, got {0:?}")]
pub struct TimeframeParseError(pub String);

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 7] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
    ];

    /// Returns the bar duration in nanoseconds.
    #[must_use]
    pub fn duration_ns(self) -> i64 {
        let minutes = match self {
            Timeframe::M1 => 1,
            Timeframe::M5 => 5,
            Timeframe::M15 => 15,
            Timeframe::M30 => 30,
            Timeframe::H1 => 60,
            Timeframe::H4 => 240,
            Timeframe::D1 => 1_440,
        };
        minutes * NANOS_PER_MINUTE
    }

    /// Returns the name used in configs and file names (`"M5"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::M1 => "M1",
            Timeframe::M5 => "M5",
            Timeframe::M15 => "M15",
            Timeframe::M30 => "M30",
            Timeframe::H1 => "H1",
            Timeframe::H4 => "H4",
            Timeframe::D1 => "D1",
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::ALL
            .into_iter()
            .find(|tf| tf.as_str() == s)
            .ok_or_else(|| TimeframeParseError(s.to_owned()))
    }
}

/// Returns the minute of the UTC day (0..1440) of an epoch-ns timestamp.
#[must_use]
pub fn minute_of_day(ts_ns: i64) -> u32 {
    (ts_ns.rem_euclid(NANOS_PER_DAY) / NANOS_PER_MINUTE) as u32
}

/// Returns the UTC day number (days since 1970-01-01) of an epoch-ns timestamp.
#[must_use]
pub fn day_index(ts_ns: i64) -> i64 {
    ts_ns.div_euclid(NANOS_PER_DAY)
}

/// Days from 1970-01-01 to a proleptic Gregorian civil date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a UTC ISO-8601 date or date-time into epoch nanoseconds.
///
/// Accepts `YYYY-MM-DD` (00:00 UTC) and `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by
/// `Z` or `+00:00`. Other offsets are refused: every time in Omega V2 is UTC.
/// Returns `None` for anything else, and for a time that int64 epoch nanoseconds cannot
/// hold (before 1677-09-21T00:12:43.145224192Z or after 2262-04-11T23:47:16.854775807Z).
#[must_use]
pub fn parse_iso_utc(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (year, month, day) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    if parts.next().is_some()
        || date.len() != 10
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut seconds_of_day = 0;
    let mut fraction_nanos = 0;
    if let Some(time) = time {
        let clock = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00"))?;
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (clock, None),
        };
        let fields: Vec<&str> = hms.split(':').collect();
        if !(2..=3).contains(&fields.len()) || fields.iter().any(|f| f.len() != 2) {
            return None;
        }
        let hour = number(fields[0])?;
        let minute = number(fields[1])?;
        let second = fields.get(2).map_or(Some(0), |s| number(s))?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds_of_day = hour * 3_600 + minute * 60 + second;
        if let Some(fraction) = fraction {
            if fraction.is_empty() || fraction.len() > 9 || fields.len() != 3 {
                return None;
            }
            let padded = format!("{fraction:0<9}");
            fraction_nanos = number(&padded)?;
        }
    }
    // i128: a four-digit year overflows i64 nanoseconds past 2262, which must be refused,
    // never wrapped.
    let nanos = i128::from(days_from_civil(year, month, day)) * i128::from(NANOS_PER_DAY)
        + i128::from(seconds_of_day) * 1_000_000_000
        + i128::from(fraction_nanos);
    i64::try_from(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_date_times() {
        assert_eq!(parse_iso_utc("1970-01-01"), Some(0));
        assert_eq!(parse_iso_utc("2024-01-01"), Some(1_704_067_200_000_000_000));
        assert_eq!(parse_iso_utc("2024-01-01T00:00:00Z"), Some(1_704_067_200_000_000_000));
        assert_eq!(
            parse_iso_utc("2024-01-01T07:30+00:00"),
            Some(1_704_067_200_000_000_000 + 450 * NANOS_PER_MINUTE)
        );
        assert_eq!(parse_iso_utc("2024-02-29T00:00:00.5Z"), Some(1_709_164_800_500_000_000));
    }

    #[test]
    fn refuses_what_is_not_utc_iso() {
        for bad in [
            "2024-13-01",
            "2023-02-29",
            "2024-01-01T25:00Z",
            "2024-01-01T10:00:00+02:00",
            "2024-01-01T10:00:00",
            "01/02/2024",
            "",
            "2024-1-1",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.+00:00",
        ] {
            assert_eq!(parse_iso_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_times_that_int64_nanoseconds_cannot_hold() {
        assert_eq!(parse_iso_utc("2262-04-11T23:47:16.854775807Z"), Some(i64::MAX));
        assert_eq!(parse_iso_utc("1677-09-21T00:12:43.145224192Z"), Some(i64::MIN));
        for bad in [
            "2262-04-11T23:47:16.854775808Z",
            "2262-04-12",
            "2300-01-01",
            "9999-12-31T23:59:59Z",
            "1677-09-21",
            "1600-01-01",
            "0000-01-01",
        ] {
            assert_eq!(parse_iso_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn timeframes_round_trip_and_know_their_length() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.as_str().parse::<Timeframe>(), Ok(tf));
        }
        assert_eq!(Timeframe::M5.duration_ns(), 300_000_000_000);
        assert_eq!(Timeframe::D1.duration_ns(), NANOS_PER_DAY);
        assert!("M2".parse::<Timeframe>().is_err());
    }

    #[test]
    fn clock_helpers_use_utc_days() {
        let t = parse_iso_utc("2024-03-05T23:55:00Z").unwrap_or_default();
        assert_eq!(minute_of_day(t), 23 * 60 + 55);
        assert_eq!(day_index(t), day_index(parse_iso_utc("2024-03-05").unwrap_or_default()));
        assert_eq!(minute_of_day(-NANOS_PER_MINUTE), 1_439);
    }
}
