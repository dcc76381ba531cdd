//! A search's timeline counted in the search index, day by day, without reading the
//! entries it matches. Entries are numbered in arrival order and `ts_high` (the latest
//! time up to each entry) never decreases, so the entries whose `ts_high` falls on one
//! day are one range of sequence numbers (`audit_day_seqs`, migrations/sqlite/0007): a
//! day's count is the index's count over its range, and by severity through the
//! severity words the index holds. A range holds exactly its day's entries but for the
//! late ones, recorded after a later day had begun: they are few (a partial index keeps
//! them), looked up one by one and moved from the range they sit in to their own day.
//!
//! A day's range is closed once the next day's has begun: later entries are numbered
//! after it, and entries never change, so what a query counted there stays true. Those
//! counts are kept ([`RangeCounts`]): another page, time range or severity of the same
//! search counts only the open range of today and the late entries again. Being the
//! same in any snapshot, closed ranges are also counted on connections of their own,
//! one per query at once.

use super::search::{members, severity_word, with_severities};
use crate::entry::Severity;
use crate::store::sql::{floor_day, DAY_MICROS};
use crate::store::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

/// Beyond this many late entries in the counted days (a backfill of old entries, say),
/// looking each up costs more than it saves: the caller counts from the entries instead.
/// (Tests set it low, so that both ways are taken.)
#[cfg(not(test))]
const LATE_LIMIT: usize = 100_000;
#[cfg(test)]
const LATE_LIMIT: usize = 1_000;

/// Closed ranges' counts are forgotten all at once past this many, or past this many
/// bytes of queries (a query is kept once, however many ranges it counted).
const RANGE_COUNTS_KEPT: usize = 200_000;
const RANGE_QUERY_BYTES_KEPT: usize = 4 << 20;

/// Counts of queries of the index over closed day ranges: by query, then by range
/// `(start, end)`. Only deleting entries could change one: whatever deletes entries
/// must [`clear`] it.
///
/// [`clear`]: RangeCounts::clear
#[derive(Default)]
pub struct RangeCounts {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_query: HashMap<String, HashMap<(i64, i64), i64>>,
    ranges: usize,
    query_bytes: usize,
    /// Moved on by every [`RangeCounts::clear`]: a count made across a purge (begun
    /// before it, on the entries as they were) is not kept.
    generation: u64,
    /// How many purge records the counts were made under: a purge by another process
    /// (`certifyclouds purge` beside a running server) adds some, and the counts go.
    purges: i64,
}

impl RangeCounts {
    pub fn clear(&self) {
        let mut kept = self.lock();
        *kept = Kept { generation: kept.generation + 1, purges: kept.purges, ..Kept::default() };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many range counts are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().ranges
    }
}

impl Kept {
    fn get(&self, query: &str, start: i64, end: i64) -> Option<i64> {
        self.by_query.get(query)?.get(&(start, end)).copied()
    }

    fn keep(&mut self, query: &str, counted: impl IntoIterator<Item = ((i64, i64), i64)>) {
        let counted: Vec<_> = counted.into_iter().collect();
        let new_bytes = if self.by_query.contains_key(query) { 0 } else { query.len() };
        if self.ranges + counted.len() > RANGE_COUNTS_KEPT || self.query_bytes + new_bytes > RANGE_QUERY_BYTES_KEPT {
            *self = Kept { generation: self.generation, purges: self.purges, ..Kept::default() };
        }
        if !self.by_query.contains_key(query) {
            self.query_bytes += query.len();
        }
        let ranges = self.by_query.entry(query.to_owned()).or_default();
        for (range, n) in counted {
            if ranges.insert(range, n).is_none() {
                self.ranges += 1;
            }
        }
    }
}

/// Matches by (instant in microseconds, severity code): a whole day's at the day's
/// start, a partial day's at the part's start, a late entry's at its own time.
pub(super) type Counts = HashMap<(i64, i64), i64>;

/// What is counted: the whole days `[first_day, end_day)` and the parts of days
/// `edges` (each `[from, to)`, in microseconds).
pub(super) struct Counted<'a> {
    pub first_day: i64,
    pub end_day: i64,
    pub edges: &'a [(i64, i64)],
}

impl Counted<'_> {
    fn holds(&self, ts: i64) -> bool {
        (self.first_day * DAY_MICROS <= ts && ts < self.end_day * DAY_MICROS)
            || self.edges.iter().any(|&(from, to)| from <= ts && ts < to)
    }

    fn whole_day(&self, day: i64) -> bool {
        self.first_day <= day && day < self.end_day
    }
}

/// A day and its range of sequence numbers `[start, end)` (`end` is `i64::MAX` for the
/// open range of the newest day).
type DayRange = (i64, i64, i64);

/// An entry recorded after a later day had begun.
struct Late {
    seq: i64,
    ts: i64,
    ts_high: i64,
    severity: i64,
}

/// The search's matches of the wanted severities (all when none is named) in what is
/// counted, or `None` when too many entries are late. `conn` is the caller's snapshot
/// (it also tells which late entries match); `pool` lends spare connections, which
/// count only what no later append can change: the closed ranges.
pub(super) async fn counts(
    conn: &mut SqliteConnection,
    pool: &SqlitePool,
    kept: &RangeCounts,
    expr: &str,
    severities: &[Severity],
    counted: Counted<'_>,
) -> Result<Option<Counts>, StoreError> {
    let edges: Vec<(i64, i64)> = counted.edges.iter().flat_map(|&(from, to)| by_day(from, to)).collect();
    let mut days_needed: Vec<i64> = edges.iter().map(|&(from, _)| floor_day(from)).collect();
    if counted.first_day < counted.end_day {
        days_needed.extend([counted.first_day, counted.end_day - 1]);
    }
    let (Some(&low), Some(&high)) = (days_needed.iter().min(), days_needed.iter().max()) else {
        return Ok(Some(Counts::new()));
    };
    // Everything counted lies in the days `low..=high`: a late entry matters only if it
    // sits in one of their ranges or belongs to one of them, so it was recorded after
    // the first of them began (`ts_high`) and belongs to one no later than the last.
    let late: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT seq, ts, ts_high, severity FROM audit_entries INDEXED BY audit_entries_late \
         WHERE ts / 86400000000 < ts_high / 86400000000 AND ts_high >= ?1 AND ts < ?2 LIMIT ?3",
    )
    .bind(low.saturating_mul(DAY_MICROS))
    .bind(high.saturating_add(1).saturating_mul(DAY_MICROS))
    .bind(i64::try_from(LATE_LIMIT + 1).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    if late.len() > LATE_LIMIT {
        return Ok(None);
    }
    let wanted = |code: i64| severities.is_empty() || severities.iter().any(|s| s.code() == code);
    // The late entries whose count this changes: those in a counted day's range, and
    // those whose own time is counted.
    let late: Vec<Late> = late
        .into_iter()
        .map(|(seq, ts, ts_high, severity)| Late { seq, ts, ts_high, severity })
        .filter(|l| wanted(l.severity) && (counted.whole_day(floor_day(l.ts_high)) || counted.holds(l.ts)))
        .collect();
    let ranges = day_ranges(conn, low, high).await?;

    let mut out = Counts::new();
    let whole: Vec<DayRange> = ranges
        .iter()
        .filter(|(day, _)| counted.whole_day(**day))
        .map(|(&day, &(start, end))| (day, start, end))
        .collect();
    if !whole.is_empty() {
        count_whole_days(conn, pool, kept, expr, severities, &whole, &mut out).await?;
    }
    let narrowed = with_severities(expr, severities).unwrap_or_else(|| expr.to_owned());
    for (from, to) in edges {
        let Some(&(start, end)) = ranges.get(&floor_day(from)) else { continue };
        // The entries of the day's range within the part: none of them is late (a late
        // one in this range belongs to an earlier day).
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT severity, COUNT(*) FROM audit_entries WHERE seq >= ?1 AND seq < ?2 AND ts >= ?3 AND ts < ?4 \
             AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?5 AND rowid >= ?1 AND rowid < ?2) \
             GROUP BY severity",
        )
        .bind(start)
        .bind(end)
        .bind(from)
        .bind(to)
        .bind(&narrowed)
        .fetch_all(&mut *conn)
        .await?;
        for (severity, n) in rows.into_iter().filter(|(s, _)| wanted(*s)) {
            *out.entry((from, severity)).or_default() += n;
        }
    }

    if !late.is_empty() {
        let seqs: Vec<i64> = late.iter().map(|l| l.seq).collect();
        let matching = members(conn, expr, &seqs, 1.0).await?;
        for l in late.iter().filter(|l| matching.contains(&l.seq)) {
            let range_day = floor_day(l.ts_high);
            if counted.whole_day(range_day) {
                *out.entry((range_day * DAY_MICROS, l.severity)).or_default() -= 1;
            }
            if counted.holds(l.ts) {
                *out.entry((l.ts, l.severity)).or_default() += 1;
            }
        }
    }
    Ok(Some(out))
}

/// `[from, to)` cut at day boundaries.
fn by_day(from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut parts = Vec::new();
    let mut at = from;
    while at < to {
        let next = ((floor_day(at) + 1) * DAY_MICROS).min(to);
        parts.push((at, next));
        at = next;
    }
    parts
}

/// Each day's range of sequence numbers `[start, end)`, for the days from `low` to
/// `high` that have one (a day no entry's `ts_high` reached has none).
async fn day_ranges(conn: &mut SqliteConnection, low: i64, high: i64) -> Result<BTreeMap<i64, (i64, i64)>, StoreError> {
    // The days in question and the next one after them, whose start ends the last range.
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT day, first_seq FROM audit_day_seqs WHERE day >= ?1 AND day <= \
         (SELECT COALESCE(MIN(day), ?2) FROM audit_day_seqs WHERE day > ?2) ORDER BY day",
    )
    .bind(low)
    .bind(high)
    .fetch_all(conn)
    .await?;
    let mut ranges = BTreeMap::new();
    for (i, &(day, start)) in rows.iter().enumerate() {
        if day > high {
            break;
        }
        let end = rows.get(i + 1).map_or(i64::MAX, |&(_, next)| next);
        ranges.insert(day, (start, end));
    }
    Ok(ranges)
}

/// The whole days' counts by severity: one count of the index per day and severity
/// word, and info as the rest of the search's own count (info has no word).
async fn count_whole_days(
    conn: &mut SqliteConnection,
    pool: &SqlitePool,
    kept: &RangeCounts,
    expr: &str,
    severities: &[Severity],
    days: &[DayRange],
    out: &mut Counts,
) -> Result<(), StoreError> {
    let info = severities.is_empty() || severities.contains(&Severity::Info);
    let wanted = |s: Severity| severities.is_empty() || severities.contains(&s);
    // The counts to make: each severity word's wanted (or needed to tell info apart),
    // then the search's own, last, for info.
    let mut queries: Vec<(Option<Severity>, String)> = [Severity::Warning, Severity::Error]
        .into_iter()
        .filter(|&s| info || wanted(s))
        .filter_map(|s| severity_word(s).map(|word| (Some(s), format!("\"{word}\" AND ({expr})"))))
        .collect();
    if info {
        queries.push((None, expr.to_owned()));
    }
    let (closed, open): (Vec<DayRange>, Vec<DayRange>) = days.iter().partition(|&&(_, _, end)| end != i64::MAX);
    // A closed range reads the same in any later snapshot: the counts not kept yet are
    // made at once on reader connections free right now (never waited for: every reader
    // might be a timeline holding its own), the rest here; the open range in the
    // caller's snapshot.
    let mut helpers: Vec<PoolConnection<Sqlite>> = Vec::new();
    while helpers.len() + 1 < queries.len() {
        match pool.try_acquire() {
            Some(helper) => helpers.push(helper),
            None => break,
        }
    }
    let (now, later) = queries.split_at(helpers.len() + 1);
    let mine = closed_per_day(&mut *conn, kept, &now[0].1, &closed);
    let theirs =
        helpers.iter_mut().zip(&now[1..]).map(|(helper, (_, query))| closed_per_day(helper, kept, query, &closed));
    let (first, rest) = futures_util::future::try_join(mine, futures_util::future::try_join_all(theirs)).await?;
    drop(helpers);
    let mut closed_counts = vec![first];
    closed_counts.extend(rest);
    for (_, query) in later {
        closed_counts.push(closed_per_day(&mut *conn, kept, query, &closed).await?);
    }
    let mut others: HashMap<i64, i64> = HashMap::new();
    for ((severity, query), mut counts) in queries.iter().zip(closed_counts) {
        if !open.is_empty() {
            counts.extend(count_ranges(&mut *conn, query, &open).await?);
        }
        for (day, n) in counts {
            match severity {
                Some(s) => {
                    *others.entry(day).or_default() += n;
                    if wanted(*s) {
                        *out.entry((day * DAY_MICROS, s.code())).or_default() += n;
                    }
                }
                None => {
                    let rest = n - others.get(&day).copied().unwrap_or(0);
                    *out.entry((day * DAY_MICROS, Severity::Info.code())).or_default() += rest;
                }
            }
        }
    }
    Ok(())
}

/// Each closed day range's count of one query of the index: those counted before are
/// taken as kept, the others counted and kept.
async fn closed_per_day(
    conn: &mut SqliteConnection,
    kept: &RangeCounts,
    query: &str,
    days: &[DayRange],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut found = Vec::with_capacity(days.len());
    let mut missing = Vec::new();
    let generation;
    let purges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_purged").fetch_one(&mut *conn).await?;
    {
        let mut counts = kept.lock();
        if counts.purges != purges {
            *counts = Kept { generation: counts.generation + 1, purges, ..Kept::default() };
        }
        generation = counts.generation;
        for &(day, start, end) in days {
            match counts.get(query, start, end) {
                Some(n) => found.push((day, n)),
                None => missing.push((day, start, end)),
            }
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let counted = count_ranges(conn, query, &missing).await?;
    let ranges: HashMap<i64, (i64, i64)> = missing.iter().map(|&(day, start, end)| (day, (start, end))).collect();
    let mut counts = kept.lock();
    if counts.generation == generation {
        counts.keep(query, counted.iter().filter_map(|(day, n)| Some((*ranges.get(day)?, *n))));
    }
    drop(counts);
    found.extend(counted);
    Ok(found)
}

/// Each day's count of one query of the index over the day's range `(day, start, end)`:
/// a correlated subquery, one statement rather than a round trip per day.
async fn count_ranges(
    conn: &mut SqliteConnection,
    query: &str,
    days: &[DayRange],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let ranges = serde_json::to_string(days).map_err(StoreError::backend)?;
    Ok(sqlx::query_as(
        "WITH r AS MATERIALIZED (SELECT value ->> 0 AS day, value ->> 1 AS lo, value ->> 2 AS hi FROM json_each(?2)) \
         SELECT day, (SELECT COUNT(*) FROM audit_search WHERE audit_search MATCH ?1 AND rowid >= lo AND rowid < hi) \
         FROM r",
    )
    .bind(query)
    .bind(ranges)
    .fetch_all(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use crate::filter::{EntryFilter, EntryQuery};
    use crate::histogram::{Histogram, Span};
    use crate::store::conformance::samples;
    use crate::store::{AuditLog, SqliteStore};
    use chrono::{DateTime, Duration, Utc};

    /// Entries `range` of the samples, one every 15 minutes from `start`.
    fn spread(range: std::ops::Range<i64>, start: &str) -> Vec<crate::ingest::ValidEntry> {
        let start: DateTime<Utc> = start.parse().expect("time");
        let first = range.start;
        let mut entries = samples(range);
        for (i, e) in (0_i64..).zip(entries.iter_mut()) {
            e.timestamp = start + Duration::minutes(15 * i + first % 7);
        }
        entries
    }

    #[tokio::test]
    async fn kept_counts_of_closed_days_stay_true_as_entries_arrive() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.expect("opens");
        let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
        store.append(spread(0..500, "2025-03-01T00:00:00Z")).await.expect("appends");
        let queries = ["q=vault+kv", "q=vault+kv&severity=warning", "q=vault+kv&severity=info,error"];
        for text in queries {
            assert_timeline(&store, text, now).await;
        }
        assert!(store.range_counts.len() > 0, "closed days were kept");
        // More of the open day, a new day, and entries late by days, into kept ranges' days.
        // The kept counts are what is read: spoiled, they show.
        let kept = store.range_counts.len();
        for ranges in store.range_counts.lock().by_query.values_mut() {
            ranges.values_mut().for_each(|n| *n += 1);
        }
        let (filter, _) =
            EntryQuery::from_query_string("q=vault+kv&severity=warning").and_then(|q| q.validate()).expect("valid");
        let span = Span::plan(filter.start, filter.end, store.earliest().await.expect("earliest"), now);
        let spoiled = store.histogram(&filter, span).await.expect("timeline");
        assert_eq!(
            spoiled.total(),
            timeline_of(&store, &filter, span).await.total() + kept as u64 / 3,
            "one per closed day"
        );
        store.range_counts.clear();
        for text in queries {
            assert_timeline(&store, text, now).await;
        }
        // More of the open day, past midnight (the open range closes), and entries late by
        // days into the kept ranges' days.
        store.append(spread(500..560, "2025-03-06T20:00:00Z")).await.expect("appends");
        store.append(spread(560..600, "2025-03-02T10:00:00Z")).await.expect("late entries");
        for text in queries {
            assert_timeline(&store, text, now).await;
        }
        store.range_counts.clear();
        assert_eq!(store.range_counts.len(), 0);
        for text in queries {
            assert_timeline(&store, text, now).await;
        }
    }

    #[tokio::test]
    async fn kept_counts_go_when_another_process_purges() {
        use crate::store::Retention;
        // Whole days from 1 March: the count kept for 4 March is of the whole day.
        const QUERY: &str = "q=vault+kv&start_date=2025-03-01&end_date=2025-03-10";
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.expect("opens");
        let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
        store.append(spread(0..500, "2025-03-01T00:00:00Z")).await.expect("appends");
        assert_timeline(&store, QUERY, now).await;
        assert!(store.range_counts.len() > 0, "closed days were kept");
        // Another store on the same file (as `certifyclouds purge` beside the server).
        let other = SqliteStore::open(&url).await.expect("opens");
        // Mid-day: the kept count of that closed day no longer holds.
        let cutoff: DateTime<Utc> = "2025-03-04T12:00:00Z".parse().expect("time");
        while other.purge_step(cutoff, None, 100, Utc::now()).await.expect("purges").more {}
        assert_timeline(&store, QUERY, now).await;
    }

    async fn assert_timeline(store: &SqliteStore, text: &str, now: DateTime<Utc>) {
        let (filter, _) = EntryQuery::from_query_string(text).and_then(|q| q.validate()).expect("valid");
        let earliest = store.earliest().await.expect("earliest");
        let span = Span::plan(filter.start, filter.end, earliest, now);
        let want = timeline_of(store, &filter, span).await;
        assert!(want.total() > 0, "{text} counts nothing");
        assert_eq!(store.histogram(&filter, span).await.expect("timeline"), want, "{text}");
    }

    /// The timeline counted entry by entry.
    async fn timeline_of(store: &SqliteStore, filter: &EntryFilter, span: Span) -> Histogram {
        let mut want = Histogram::empty(span);
        // Every stored entry (purged ones are gone: the sequence numbers have holes).
        for e in store.entries_after(0, u32::MAX).await.expect("reads") {
            if filter.matches(&e) {
                want.add(e.timestamp, e.severity, 1);
            }
        }
        want
    }
}
