//! Entries over time, by severity: the timeline above the Audit table. One definition
//! for the store that counts and the page that draws.

use crate::entry::Severity;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

pub const HOUR_SECS: i64 = 3600;
pub const DAY_SECS: i64 = 86_400;
/// Up to this span the timeline counts by hour; beyond it, by day.
const HOURLY_UP_TO: i64 = 3 * DAY_SECS;
/// At most this many bars: a longer span counts several days to a bucket.
pub const MAX_BUCKETS: i64 = 400;

/// Counts of one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub info: u64,
    pub warning: u64,
    pub error: u64,
}

impl Bucket {
    pub fn total(&self) -> u64 {
        self.info + self.warning + self.error
    }

    /// Counts `n` more entries of a severity.
    pub fn add(&mut self, severity: Severity, n: u64) {
        match severity {
            Severity::Info => self.info += n,
            Severity::Warning => self.warning += n,
            Severity::Error => self.error += n,
        }
    }
}

/// Contiguous buckets of `bucket_secs` from `start` (a bucket boundary, UTC) to `end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    pub bucket_secs: i64,
    pub buckets: Vec<Bucket>,
}

impl Histogram {
    /// An empty histogram over a planned span.
    pub fn empty(span: Span) -> Self {
        let n = span.buckets();
        Histogram {
            start: span.start,
            end: span.end,
            bucket_secs: span.bucket_secs,
            buckets: vec![Bucket::default(); n],
        }
    }

    /// Where bucket `i` starts and ends (the last one ends at `end`).
    pub fn bounds(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let step = Duration::seconds(self.bucket_secs);
        let from = self.start + step * i32::try_from(i).unwrap_or(i32::MAX);
        (from, (from + step).min(self.end))
    }

    pub fn total(&self) -> u64 {
        self.buckets.iter().map(Bucket::total).sum()
    }

    /// Counts `n` more entries at `at` (nothing if `at` lies outside the span).
    pub fn add(&mut self, at: DateTime<Utc>, severity: Severity, n: u64) {
        if at < self.start || at >= self.end {
            return;
        }
        let index = usize::try_from((at - self.start).num_seconds() / self.bucket_secs.max(1)).ok();
        if let Some(bucket) = index.and_then(|i| self.buckets.get_mut(i)) {
            bucket.add(severity, n);
        }
    }
}

/// The span a timeline covers and its bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bucket_secs: i64,
}

impl Span {
    /// The filter's range, or from the earliest entry to now where it is open; hourly
    /// buckets up to three days, daily beyond; the start rounded down to a bucket.
    pub fn plan(
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        earliest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Span {
        let end = end.unwrap_or(now);
        let start = start.or(earliest).unwrap_or_else(|| end - Duration::days(1)).min(end);
        let span = (end - start).num_seconds();
        let bucket_secs = if span <= HOURLY_UP_TO {
            HOUR_SECS
        } else {
            // Whole days, as many to a bucket as keep the bars within MAX_BUCKETS.
            let days = ((span / DAY_SECS + 1) + MAX_BUCKETS - 1) / MAX_BUCKETS;
            days * DAY_SECS
        };
        let start = start.duration_trunc(Duration::seconds(bucket_secs)).unwrap_or(start);
        Span { start, end: end.max(start + Duration::seconds(1)), bucket_secs }
    }

    /// Buckets enough to hold every instant before `end`, to the microsecond: an end
    /// given as a time includes that time, so the range may end just past a bucket's start.
    pub fn buckets(&self) -> usize {
        let micros = (self.end - self.start).num_microseconds().unwrap_or(i64::MAX).max(1);
        let bucket = self.bucket_secs.saturating_mul(1_000_000).max(1);
        usize::try_from((micros - 1) / bucket + 1).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn short_ranges_by_hour_long_ones_by_day() {
        let now = t("2025-03-10T12:34:56Z");
        let day = Span::plan(Some(t("2025-03-09T12:34:56Z")), None, None, now);
        assert_eq!((day.start, day.bucket_secs, day.buckets()), (t("2025-03-09T12:00:00Z"), HOUR_SECS, 25));
        let month = Span::plan(None, Some(now), Some(t("2025-02-08T08:00:00Z")), now);
        assert_eq!((month.start, month.bucket_secs, month.buckets()), (t("2025-02-08T00:00:00Z"), DAY_SECS, 31));
        // No entries and no range: the last day.
        let empty = Span::plan(None, None, None, now);
        assert_eq!(empty.bucket_secs, HOUR_SECS);
        assert_eq!(empty.end, now);
    }

    #[test]
    fn long_ranges_keep_to_a_few_hundred_bars() {
        let now = t("2025-03-10T00:00:00Z");
        let decade = Span::plan(Some(t("2015-03-10T00:00:00Z")), None, None, now);
        assert_eq!(decade.bucket_secs % DAY_SECS, 0);
        assert!(decade.buckets() as i64 <= MAX_BUCKETS, "{} buckets", decade.buckets());
        assert!(decade.buckets() > 300);
        let year = Span::plan(Some(t("2024-03-10T00:00:00Z")), None, None, now);
        assert_eq!((year.bucket_secs, year.buckets()), (DAY_SECS, 365));
    }

    #[test]
    fn bucket_bounds_end_at_the_span_end() {
        let now = t("2025-03-10T12:30:00Z");
        let h = Histogram::empty(Span::plan(Some(t("2025-03-10T10:15:00Z")), None, None, now));
        assert_eq!(h.buckets.len(), 3);
        assert_eq!(h.bounds(0), (t("2025-03-10T10:00:00Z"), t("2025-03-10T11:00:00Z")));
        assert_eq!(h.bounds(2), (t("2025-03-10T12:00:00Z"), now));
    }

    #[test]
    fn an_end_just_past_a_bucket_start_has_that_bucket() {
        // `end_date=2025-03-08T00:00:00Z` includes that instant: the filter ends 1 µs later.
        let end = t("2025-03-08T00:00:00Z") + Duration::microseconds(1);
        let span = Span::plan(Some(t("2025-02-26T00:00:00Z")), Some(end), None, end);
        assert_eq!((span.bucket_secs, span.buckets()), (DAY_SECS, 11));
        let mut h = Histogram::empty(span);
        h.add(t("2025-03-08T00:00:00Z"), Severity::Error, 1);
        assert_eq!((h.total(), h.buckets[10].error), (1, 1));
    }
}
