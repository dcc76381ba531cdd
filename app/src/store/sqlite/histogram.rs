//! The timeline's counts: whole days from the per-day count tables, or a one-word
//! search's per-word counts, where the filter allows (as totals do), everything else
//! grouped from the entries themselves.

use super::plan::{counts_for, only_time_and_severity};
use super::search::{resolve_search, Search};
use super::search_days::{self, Counted, RangeCounts};
use crate::entry::Severity;
use crate::filter::EntryFilter;
use crate::histogram::{Histogram, Span, DAY_SECS};
use crate::store::sql::{ceil_day, floor_day, push_where, Lookups, Target, DAY_MICROS};
use crate::store::StoreError;
use chrono::DateTime;
use sqlx::{QueryBuilder, SqliteConnection, SqlitePool};

const MICROS: i64 = 1_000_000;

/// Matches a day from which counting a search in its index day by day beats reading the
/// matching entries (a day costs a few index queries of about 50 µs, an entry ~2 µs).
#[cfg(not(test))]
const MATCHES_A_DAY_WORTH_THE_INDEX: u64 = 100;
/// Tests' stores are small: counting them in the index is what tests must exercise.
#[cfg(test)]
const MATCHES_A_DAY_WORTH_THE_INDEX: u64 = 1;

pub async fn histogram(
    pool: &SqlitePool,
    range_counts: &RangeCounts,
    filter: &EntryFilter,
    span: Span,
) -> Result<Histogram, StoreError> {
    let mut out = Histogram::empty(span);
    // One snapshot for every query below: an entry appended meanwhile could otherwise be
    // counted in a whole day that was judged to have nothing outside the span.
    let mut tx = pool.begin().await?;
    let search = resolve_search(&mut tx, &filter.search).await?;
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

    let by_day = span.bucket_secs % DAY_SECS == 0;
    let counts = counts_for(filter, &search).filter(|_| by_day);
    // A search with nothing but time and severity besides, too many words for its
    // per-word counts, is counted in the search index day by day: that reads every match
    // of its words over the span, a few queries a day. One whose rarest word is rare
    // costs less read from its matching entries.
    let span_days = u64::try_from((hi - lo) / DAY_MICROS + 1).unwrap_or(u64::MAX);
    let in_index = match &search {
        Search::Fts(fts)
            if by_day
                && counts.is_none()
                && only_time_and_severity(filter)
                && fts.estimate >= span_days.saturating_mul(MATCHES_A_DAY_WORTH_THE_INDEX)
                // A word left as a prefix query is merged whole for each query, whatever
                // its range: day by day that would repeat it for every day.
                && !fts.expr.contains("\"*") =>
        {
            Some(fts.expr.as_str())
        }
        _ => None,
    };
    let (mut first_day, mut end_day) = (ceil_day(lo), floor_day(hi));
    // An edge day with no entry outside the span (the usual newest edge: today up to
    // now) is counted whole, from the counts, rather than from its entries.
    if (counts.is_some() || in_index.is_some()) && first_day <= end_day {
        if lo < first_day * DAY_MICROS && !any_entry(&mut tx, (first_day - 1) * DAY_MICROS, lo).await? {
            first_day -= 1;
        }
        if end_day * DAY_MICROS < hi && !any_entry(&mut tx, hi, (end_day + 1) * DAY_MICROS).await? {
            end_day += 1;
        }
    }
    let (lo_whole, hi_whole) = (lo.max(first_day * DAY_MICROS), hi.min(end_day * DAY_MICROS));
    let mut edges = vec![(lo, hi)];
    if let Some(expr) = in_index {
        let parts: Vec<(i64, i64)> = if first_day < end_day {
            [(lo, lo_whole), (hi_whole, hi)].into_iter().filter(|(from, to)| from < to).collect()
        } else {
            edges.clone()
        };
        let counted = Counted { first_day, end_day, edges: &parts };
        if let Some(found) = search_days::counts(&mut tx, pool, range_counts, expr, &filter.severities, counted).await?
        {
            for ((at, severity), n) in found {
                add(at, severity, n);
            }
            return Ok(out);
        }
    }
    if let (Some(counts), true) = (counts, first_day < end_day) {
        let mut qb = QueryBuilder::new(format!("SELECT day, severity, SUM(n) FROM {}", counts.table()));
        push_where(&mut qb, filter, Lookups::NONE, Target::Counts { start: Some(first_day), end: Some(end_day) });
        counts.push_term(&mut qb);
        qb.push(" GROUP BY day, severity");
        let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
        for (day, severity, n) in rows {
            add(day * DAY_MICROS, severity, n);
        }
        edges = vec![(lo, lo_whole), (hi_whole, hi)];
    }
    for (from, to) in edges.into_iter().filter(|(from, to)| from < to) {
        let mut qb = QueryBuilder::new("SELECT (ts - ");
        qb.push_bind(origin).push(") / ").push_bind(bucket).push(" AS b, severity, COUNT(*) FROM audit_entries");
        push_where(&mut qb, filter, Lookups::fts(search.fts()), Target::Entries { start: Some(from), end: Some(to) });
        qb.push(" GROUP BY b, severity");
        let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
        for (b, severity, n) in rows {
            add(origin + b * bucket, severity, n);
        }
    }
    Ok(out)
}

/// Whether any entry has a time in `[from, to)`.
async fn any_entry(conn: &mut SqliteConnection, from: i64, to: i64) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM audit_entries WHERE ts >= ?1 AND ts < ?2 LIMIT 1")
        .bind(from)
        .bind(to)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// When the earliest entry was recorded, if any.
pub async fn earliest(pool: &SqlitePool) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MIN(ts) FROM audit_entries").fetch_one(pool).await?)
}
