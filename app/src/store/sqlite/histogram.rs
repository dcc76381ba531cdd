//! The timeline's counts: whole days from the per-day count tables where the filter
//! allows (as totals do), everything else grouped from the entries themselves.

use super::search::{resolve_search, Search};
use crate::entry::Severity;
use crate::filter::EntryFilter;
use crate::histogram::{Histogram, Span, DAY_SECS};
use crate::store::sql::{ceil_day, counts_table, floor_day, push_where, Target, DAY_MICROS};
use crate::store::StoreError;
use chrono::DateTime;
use sqlx::{QueryBuilder, SqlitePool};

const MICROS: i64 = 1_000_000;

pub async fn histogram(pool: &SqlitePool, filter: &EntryFilter, span: Span) -> Result<Histogram, StoreError> {
    let mut out = Histogram::empty(span);
    let search = resolve_search(pool, &filter.search).await?;
    if matches!(search, Search::Nothing) {
        return Ok(out);
    }
    let origin = span.start.timestamp_micros();
    let bucket = span.bucket_secs * MICROS;
    // The span is the filter's range rounded out to whole buckets: count only inside both.
    let lo = filter.start.map_or(origin, |s| s.timestamp_micros().max(origin));
    let hi = filter.end.map_or(span.end.timestamp_micros(), |e| e.timestamp_micros().min(span.end.timestamp_micros()));
    if lo >= hi {
        return Ok(out);
    }
    // `at` is in microseconds; bucket starts and day starts are exact instants.
    let mut add = |at: i64, severity: i64, n: i64| {
        if let (Some(at), Some(severity), Ok(n)) =
            (DateTime::from_timestamp_micros(at), Severity::from_code(severity), u64::try_from(n))
        {
            out.add(at, severity, n);
        }
    };

    let table = counts_table(filter).filter(|_| span.bucket_secs % DAY_SECS == 0);
    let (first_day, end_day) = (ceil_day(lo), floor_day(hi));
    let mut edges = vec![(lo, hi)];
    if let (Some(table), true) = (table, first_day < end_day) {
        let mut qb = QueryBuilder::new(format!("SELECT day, severity, SUM(n) FROM {table}"));
        push_where(&mut qb, filter, None, Target::Counts { start: Some(first_day), end: Some(end_day) });
        qb.push(" GROUP BY day, severity");
        let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(pool).await?;
        for (day, severity, n) in rows {
            add(day * DAY_MICROS, severity, n);
        }
        edges = vec![(lo, first_day * DAY_MICROS), (end_day * DAY_MICROS, hi)];
    }
    for (from, to) in edges.into_iter().filter(|(from, to)| from < to) {
        let mut qb = QueryBuilder::new("SELECT (ts - ");
        qb.push_bind(origin).push(") / ").push_bind(bucket).push(" AS b, severity, COUNT(*) FROM audit_entries");
        push_where(&mut qb, filter, search.fts(), Target::Entries { start: Some(from), end: Some(to) });
        qb.push(" GROUP BY b, severity");
        let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(pool).await?;
        for (b, severity, n) in rows {
            add(origin + b * bucket, severity, n);
        }
    }
    Ok(out)
}

/// When the earliest entry was recorded, if any.
pub async fn earliest(pool: &SqlitePool) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(ts) FROM audit_entries").fetch_one(pool).await?)
}
