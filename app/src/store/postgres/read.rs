//! Reading the log on PostgreSQL: pages, totals, the timeline and single entries. A page
//! and its total are read in one snapshot, so that they describe the same moment.

use super::kept_days::KeptDays;
use super::plan::{self, PagePlan, Shape};
use super::search::{key_counts, key_days, key_total, resolve, Resolved};
use crate::entry::{AuditEntry, EntryPage, SEARCH_CANDIDATE_BUDGET, SEARCH_TOTAL_BOUND};
use crate::filter::{ActorMatch, EntryFilter, EventTypeMatch, PageRequest};
use crate::histogram::{Histogram, Span, DAY_SECS};
use crate::store::rows::{severity, EntryRow, COLUMNS};
use crate::store::sql::{bounds, ceil_day, conditions, counts_table, floor_day, Lookups, Target, DAY_MICROS};
use crate::store::StoreError;
use chrono::DateTime;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Transaction};

/// Begins a read-only transaction that sees one snapshot for all its statements: one
/// statement, one round trip (under load each waits for a CPU on the server).
pub const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// A read-only transaction that sees one snapshot for all its statements.
pub async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    Ok(pool.begin_with(BEGIN_SNAPSHOT).await?)
}

/// Writes ` WHERE …` for the filter on the entries, the search (resolved) included.
pub fn push_entries_where(
    qb: &mut QueryBuilder<'_, Postgres>,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    start: Option<i64>,
    end: Option<i64>,
) {
    conditions(filter, lookups, Target::Entries { start, end }).push_to(qb);
    search.push_condition(qb);
}

/// Looks up, in the read's snapshot, the one actor a filter by name or id names, for
/// every condition of the read to state (see [`Lookups::actor_ref`]): through the
/// subquery a page of one user's entries took 8.8 ms at 1M entries, against 1.0 ms, and
/// their per-day counts a hash join of every actor's. A name several actors share keeps
/// the subquery.
pub async fn actor_lookups(conn: &mut PgConnection, filter: &EntryFilter) -> Result<Lookups<'static>, StoreError> {
    let Some(ActorMatch::Named(who)) = &filter.actor else {
        return Ok(Lookups::NONE);
    };
    let refs: Vec<i64> = sqlx::query_scalar("SELECT ref FROM audit_actors WHERE id_key = $1 OR name_key = $1 LIMIT 2")
        .bind(who.to_ascii_lowercase())
        .fetch_all(&mut *conn)
        .await?;
    Ok(match refs[..] {
        [one] => Lookups { fts: None, actor_ref: Some(one) },
        _ => Lookups::NONE,
    })
}

pub async fn list(
    pool: &PgPool,
    kept: &KeptDays,
    filter: &EntryFilter,
    page: PageRequest,
) -> Result<EntryPage, StoreError> {
    let mut tx = snapshot(pool).await?;
    let mut result = EntryPage::empty(page.limit, page.offset);
    let search = resolve(&mut tx, &filter.search).await?;
    if search == Resolved::Nothing {
        return Ok(result);
    }
    let lookups = actor_lookups(&mut tx, filter).await?;
    // A search's total is exact when its key counts it; otherwise counted up to a bound (a
    // search of common words alone by the kept day counts, see `count_by_kept_days`).
    // A first page is planned from the same counts, read by day.
    let mut planned = None;
    let exact_total = if search == Resolved::Any || search.counting_key(filter).is_some() {
        let total = match plan::first_page(&mut tx, filter, lookups, &search, page).await? {
            Some((total, plan)) => {
                planned = plan;
                total
            }
            None => count_resolved(&mut tx, filter, lookups, &search).await?,
        };
        if page.offset >= total {
            result.total = total;
            return Ok(result);
        }
        Some(total)
    } else {
        None
    };
    let (start, mut end) = bounds(filter);
    let mut skip = page.offset;
    // A deep page is sought by day.
    if planned.is_none() && filter.search.is_empty() && page.offset >= SEEK_BY_DAY_FROM {
        if let Some((day_end, skip_in_day)) = seek_day(&mut tx, filter, lookups, page.offset).await? {
            end = Some(end.map_or(day_end, |e| e.min(day_end)));
            skip = skip_in_day;
        }
    }
    let plan = planned.unwrap_or(PagePlan { start, end, shape: Shape::Walk });
    let rows: Vec<EntryRow> =
        page_query(filter, lookups, &search, &plan, page.limit, skip).build_query_as().fetch_all(&mut *tx).await?;
    result.entries = rows.into_iter().map(AuditEntry::try_from).collect::<Result<_, _>>()?;
    let shown = if result.entries.is_empty() { 0 } else { page.offset + result.entries.len() as u64 };
    (result.total, result.total_exact) = match exact_total {
        Some(total) => (total, true),
        // A page cut short by the end of the matches knows the total.
        None if shown > 0 && result.entries.len() < page.limit as usize => (shown, true),
        // A search alone is counted up to the bound; with other filters, along its walk.
        None => {
            let alone = EntryFilter { search: Vec::new(), ..filter.clone() } == EntryFilter::default();
            // An empty page has read every match (there are fewer than its offset), and
            // so does the count then, whatever it costs: never a bound there.
            let (counted, exact) = if alone && common(&search) {
                count_by_kept_days(&mut tx, kept, filter, lookups, &search, SEARCH_TOTAL_BOUND).await?
            } else if alone || result.entries.is_empty() {
                bounded_count(&mut tx, filter, lookups, &search, SEARCH_TOTAL_BOUND).await?
            } else {
                walked_count(&mut tx, filter, lookups, &search, page.offset.saturating_add(u64::from(page.limit)))
                    .await?
            };
            (counted.max(shown), exact)
        }
    };
    tx.commit().await?;
    Ok(result)
}

/// The query that reads a page as planned, `skip` matches into the plan's range.
pub(super) fn page_query<'a>(
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    plan: &PagePlan,
    limit: u32,
    skip: u64,
) -> QueryBuilder<'a, Postgres> {
    let range = Target::Entries { start: plan.start, end: plan.end };
    let skip = i64::try_from(skip).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM "));
    match &plan.shape {
        Shape::Walk => {
            qb.push("audit_entries");
            conditions(filter, lookups, range).push_to(&mut qb);
            search.push_page_condition(&mut qb);
        }
        // Each type's newest `skip + limit` in time order from the type's index; the page
        // is the newest of them all.
        Shape::ByType(types) => {
            qb.push("(");
            for (i, name) in types.iter().enumerate() {
                if i > 0 {
                    qb.push(" UNION ALL ");
                }
                let one = EntryFilter { event_types: vec![EventTypeMatch::Exact(name.clone())], ..filter.clone() };
                qb.push(format!("(SELECT {COLUMNS} FROM audit_entries"));
                conditions(&one, lookups, range).push_to(&mut qb);
                search.push_page_condition(&mut qb);
                qb.push(" ORDER BY ts DESC, seq DESC LIMIT ")
                    .push_bind(skip.saturating_add(i64::from(limit)))
                    .push(")");
            }
            qb.push(") AS newest");
        }
        // The page's keys first, then its rows. OFFSET 0 keeps PostgreSQL from planning
        // the subquery for the page's order: it collects the matches' keys through
        // whichever index finds them, and they are sorted. Keys only, because with whole
        // rows it misjudged an actor's matches (the share of one actor among all, from a
        // subquery) and read a whole month's partition to join them.
        Shape::MatchesFirst => {
            qb.push("audit_entries");
            conditions(&EntryFilter::default(), Lookups::NONE, range).push_to(&mut qb);
            qb.push(" AND (ts, seq) IN (SELECT ts, seq FROM (SELECT ts, seq FROM audit_entries");
            conditions(filter, lookups, range).push_to(&mut qb);
            search.push_condition(&mut qb);
            qb.push(" OFFSET 0) AS matches ORDER BY ts DESC, seq DESC LIMIT ").push_bind(i64::from(limit));
            qb.push(" OFFSET ").push_bind(skip).push(") ORDER BY ts DESC, seq DESC");
            return qb;
        }
    }
    qb.push(" ORDER BY ts DESC, seq DESC LIMIT ").push_bind(i64::from(limit));
    qb.push(" OFFSET ").push_bind(skip);
    qb
}

/// Pages from this offset on are sought by day (see [`seek_day`]); nearer ones are planned
/// from the counts (`plan.rs`) or read by skipping rows.
const SEEK_BY_DAY_FROM: u64 = 1000;

/// Where a deep page of a filter without search begins, from the per-day counts: the end
/// of the day its first entry falls in, and how many matches of that day and older to
/// skip. Skipping then steps over at most one day's matches instead of every newer one.
/// `None` where the counts cannot tell: a filter they do not hold, a range within one day,
/// or a page in the partial day at the range's newer edge.
async fn seek_day(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    offset: u64,
) -> Result<Option<(i64, u64)>, StoreError> {
    let Some(table) = counts_table(filter) else {
        return Ok(None);
    };
    let (start, end) = bounds(filter);
    let Some(split) = DaySplit::of(start, end) else {
        return Ok(None);
    };
    let mut remaining = offset;
    if let Some((from, to)) = split.newer {
        let newest = count_entries(conn, filter, lookups, &Resolved::Any, Some(from), Some(to)).await?;
        if remaining < newest {
            return Ok(None);
        }
        remaining -= newest;
    }
    let days =
        days_newest_first(conn, &DayCounts::Table(table), filter, lookups, split.first_day, split.end_day).await?;
    for (day, n) in days {
        if remaining < n {
            return Ok(Some(((day + 1) * DAY_MICROS, remaining)));
        }
        remaining -= n;
    }
    // Older than every whole day: in the partial day at the range's start.
    Ok(split.first_day.map(|first| (first * DAY_MICROS, remaining)))
}

/// Whether every word of a search is held by about more than [`COMMON_FROM`] entries
/// (estimated; the words together may match far fewer): its matches may be many, and the
/// text index would read them one by one to count them.
fn common(search: &Resolved) -> bool {
    matches!(search, Resolved::Words { rarest, .. } if *rarest > COMMON_FROM)
}

/// Words held by more entries than the bound of a search's total are common. Tests'
/// stores are small: there, almost any word is.
#[cfg(not(test))]
const COMMON_FROM: u64 = SEARCH_TOTAL_BOUND;
#[cfg(test)]
const COMMON_FROM: u64 = 2;

/// Counts a search's matches up to `bound` by whole days, newest first: (the count,
/// whether it is every match). The days are those the per-day counts hold entries in
/// (`audit_daily_counts`, which every append and purge keeps with the entries); each day's
/// matches come from the kept counts (`kept_days.rs`), which count from the entries only
/// the days that changed since they were kept (today while entries arrive, a day a late
/// entry came into, the days before a purge's cutoff), a month at a time until the bound is
/// passed.
/// For a filter without a time range only.
async fn count_by_kept_days(
    conn: &mut PgConnection,
    kept: &KeptDays,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    bound: u64,
) -> Result<(u64, bool), StoreError> {
    debug_assert!(filter.start.is_none() && filter.end.is_none(), "every day is counted");
    let (oldest, newest): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT day FROM audit_daily_counts WHERE n > 0 ORDER BY day LIMIT 1), \
                (SELECT day FROM audit_daily_counts WHERE n > 0 ORDER BY day DESC LIMIT 1)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Ok((0, true));
    };
    let (mut total, mut end) = (0_u64, newest + 1);
    while end > oldest {
        let start = month_start(end - 1).max(oldest);
        let days = kept.counts(conn, filter, lookups, search, (start, end)).await?;
        total += days.iter().map(|&(_, _, n)| u64::try_from(n).unwrap_or(0)).sum::<u64>();
        if total > bound {
            return Ok((bound, false));
        }
        end = start;
    }
    Ok((total, true))
}

/// The first day of the month `day` is in: runs of days that end at a month's edge read
/// each month's partition, and its part of the text index, once.
fn month_start(day: i64) -> i64 {
    use chrono::Datelike;
    DateTime::from_timestamp(day.saturating_mul(DAY_SECS), 0).map_or(day, |at| day - i64::from(at.day0()))
}

/// Counts matches up to `bound`: (the count, whether it is every match).
async fn bounded_count(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    bound: u64,
) -> Result<(u64, bool), StoreError> {
    let (start, end) = bounds(filter);
    let mut qb = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM audit_entries");
    push_entries_where(&mut qb, filter, lookups, search, start, end);
    qb.push(" LIMIT ").push_bind(i64::try_from(bound).unwrap_or(i64::MAX).saturating_add(1)).push(") AS matches");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(if n > bound { (bound, false) } else { (n, true) })
}

/// A word held by at most this many entries is read through the text index to count a
/// search with other filters: collecting them costs little whatever the log's size.
/// Tests' stores are small: both ways must be exercised there.
#[cfg(not(test))]
const FEW_FOR_THE_INDEX: u64 = 20_000;
#[cfg(test)]
const FEW_FOR_THE_INDEX: u64 = 100;

/// Counts a search with other filters along a walk of its newest candidates, as SQLite
/// does (`../sqlite/searched.rs`): the page's and [`SEARCH_CANDIDATE_BUDGET`] more are
/// read, and the count is exact only when that reads them all. The candidates are the
/// entries of the other filters, each checked for the words, or, when the rarest word is
/// held by few entries, the search's own matches. Counting a common word's matches up to
/// the bound would collect every entry holding it from the text index first (73 ms for
/// `q=vault&event_type=auth.*` at 1M entries); reading the candidates newest first costs
/// what they are.
async fn walked_count(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    page_end: u64,
) -> Result<(u64, bool), StoreError> {
    let Resolved::Words { query, rarest, .. } = search else {
        return bounded_count(conn, filter, lookups, search, SEARCH_TOTAL_BOUND).await;
    };
    let (start, end) = bounds(filter);
    let rest = EntryFilter { search: Vec::new(), ..filter.clone() };
    let read = page_end.saturating_add(SEARCH_CANDIDATE_BUDGET as u64);
    let read = i64::try_from(read).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::new("SELECT count(*) FILTER (WHERE words @@ ");
    qb.push_bind(query.clone()).push("::tsquery), count(*) FROM (SELECT words FROM audit_entries");
    // One user named is read through the actor's own index, newest first (118 ms
    // through the subquery for 4,050 of one user's at 1M entries, against 24 ms).
    conditions(&rest, lookups, Target::Entries { start, end }).push_to(&mut qb);
    if *rarest <= FEW_FOR_THE_INDEX {
        search.push_page_condition(&mut qb);
    }
    qb.push(" ORDER BY ts DESC, seq DESC LIMIT ").push_bind(read).push(") AS candidates");
    let (hits, candidates): (i64, i64) = qb.build_query_as().fetch_one(&mut *conn).await?;
    let hits = u64::try_from(hits).unwrap_or(0);
    Ok(if candidates < read { (hits, true) } else { (hits.min(SEARCH_TOTAL_BOUND), false) })
}

/// How many entries match, exactly. Run it in a [`snapshot`]: the actor's lookup and the
/// counts are separate statements.
pub async fn count(conn: &mut PgConnection, filter: &EntryFilter) -> Result<u64, StoreError> {
    let search = resolve(conn, &filter.search).await?;
    let lookups = actor_lookups(conn, filter).await?;
    count_resolved(conn, filter, lookups, &search).await
}

/// Per-day counts that answer a filter: a count table, or a search key's counts.
pub(super) enum DayCounts<'a> {
    Table(&'static str),
    Key(&'a str),
}

impl<'a> DayCounts<'a> {
    pub(super) fn of(filter: &EntryFilter, search: &'a Resolved) -> Option<Self> {
        match search {
            Resolved::Any => counts_table(filter).map(DayCounts::Table),
            _ => search.counting_key(filter).map(DayCounts::Key),
        }
    }
}

/// A time range `[start, end)` as the whole days the per-day counts answer, `[first_day,
/// end_day)` (either end open), and the partial days at its edges, `[from, to)` in
/// microseconds, that only the entries can. `None` when no whole day lies within.
pub(super) struct DaySplit {
    pub first_day: Option<i64>,
    pub end_day: Option<i64>,
    /// The part of a day before the first whole day.
    pub older: Option<(i64, i64)>,
    /// The part of a day after the last whole day.
    pub newer: Option<(i64, i64)>,
}

impl DaySplit {
    pub fn of(start: Option<i64>, end: Option<i64>) -> Option<Self> {
        let first_day = start.map(ceil_day);
        let end_day = end.map(floor_day);
        if let (Some(first), Some(last)) = (first_day, end_day) {
            if first >= last {
                return None;
            }
        }
        let older = start.zip(first_day).map(|(s, d)| (s, d * DAY_MICROS)).filter(|(s, d)| s < d);
        let newer = end.zip(end_day).map(|(e, d)| (d * DAY_MICROS, e)).filter(|(d, e)| d < e);
        Some(DaySplit { first_day, end_day, older, newer })
    }

    /// Both partial days, if any.
    pub fn edges(&self) -> Vec<(i64, i64)> {
        self.older.into_iter().chain(self.newer).collect()
    }
}

/// The filter's matches by day in the whole days `[first_day, end_day)`, newest first:
/// from a count table, or a search key's counts.
pub(super) async fn days_newest_first(
    conn: &mut PgConnection,
    counts: &DayCounts<'_>,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    first_day: Option<i64>,
    end_day: Option<i64>,
) -> Result<Vec<(i64, u64)>, StoreError> {
    let rows: Vec<(i64, i64)> = match counts {
        DayCounts::Table(table) => {
            let mut qb = QueryBuilder::new(format!("SELECT day, sum(n)::int8 FROM {table}"));
            conditions(filter, lookups, Target::Counts { start: first_day, end: end_day }).push_to(&mut qb);
            qb.push(" GROUP BY day ORDER BY day DESC");
            qb.build_query_as().fetch_all(&mut *conn).await?
        }
        DayCounts::Key(key) => key_days(conn, key, filter, first_day, end_day).await?,
    };
    Ok(rows.into_iter().map(|(day, n)| (day, u64::try_from(n).unwrap_or(0))).collect())
}

/// How many entries match, exactly, the search already resolved. Whole days that per-day
/// counts can answer are summed from them; only the partial days at the range's edges
/// count entries.
async fn count_resolved(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
) -> Result<u64, StoreError> {
    let (start, end) = bounds(filter);
    let (Some(counts), Some(split)) = (DayCounts::of(filter, search), DaySplit::of(start, end)) else {
        return match search {
            Resolved::Nothing => Ok(0),
            _ => count_entries(conn, filter, lookups, search, start, end).await,
        };
    };
    let mut total = match counts {
        DayCounts::Table(table) => {
            let mut qb = QueryBuilder::new(format!("SELECT coalesce(sum(n), 0)::int8 FROM {table}"));
            conditions(filter, lookups, Target::Counts { start: split.first_day, end: split.end_day }).push_to(&mut qb);
            let whole: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
            u64::try_from(whole).unwrap_or(0)
        }
        DayCounts::Key(key) => key_total(conn, key, filter, split.first_day, split.end_day).await?,
    };
    for (from, to) in split.edges() {
        total += count_entries(conn, filter, lookups, search, Some(from), Some(to)).await?;
    }
    Ok(total)
}

pub(super) async fn count_entries(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<u64, StoreError> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM audit_entries");
    push_entries_where(&mut qb, filter, lookups, search, start, end);
    let n: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn get(pool: &PgPool, sequence: u64) -> Result<Option<AuditEntry>, StoreError> {
    let Ok(seq) = i64::try_from(sequence) else {
        return Ok(None);
    };
    let row: Option<EntryRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq = $1"))
        .bind(seq)
        .fetch_optional(pool)
        .await?;
    row.map(AuditEntry::try_from).transpose()
}

pub async fn entries_after(pool: &PgPool, sequence: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<EntryRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}

/// The timeline: matching entries counted by bucket and severity. With day buckets and a
/// filter the per-day counts answer, whole days are read from the counts and only the
/// partial days at the edges from the entries.
pub async fn histogram(
    pool: &PgPool,
    kept: &KeptDays,
    filter: &EntryFilter,
    span: Span,
) -> Result<Histogram, StoreError> {
    let mut histogram = Histogram::empty(span);
    let (start, end) = bounds(filter);
    let (from, to) = (span.start.timestamp_micros(), span.end.timestamp_micros());
    let start = start.map_or(from, |s| s.max(from));
    let end = end.map_or(to, |e| e.min(to));
    if start >= end {
        return Ok(histogram);
    }
    let bucket = span.bucket_secs.max(1).saturating_mul(1_000_000);
    let mut tx = snapshot(pool).await?;
    let search = resolve(&mut tx, &filter.search).await?;
    if search == Resolved::Nothing {
        return Ok(histogram);
    }
    let lookups = actor_lookups(&mut tx, filter).await?;
    // (instant in microseconds, severity code, entries)
    let mut counted: Vec<(i64, i64, i64)> = Vec::new();
    let by_day = span.bucket_secs % DAY_SECS == 0;
    let split = DaySplit::of(Some(start), Some(end));
    let ranges = match (DayCounts::of(filter, &search).filter(|_| by_day), split) {
        (Some(counts), Some(split)) => {
            let days = match counts {
                DayCounts::Table(table) => {
                    let mut qb = QueryBuilder::new(format!("SELECT day, severity, sum(n)::int8 FROM {table}"));
                    conditions(filter, lookups, Target::Counts { start: split.first_day, end: split.end_day })
                        .push_to(&mut qb);
                    qb.push(" GROUP BY 1, 2");
                    qb.build_query_as().fetch_all(&mut *tx).await?
                }
                DayCounts::Key(key) => key_counts(&mut tx, key, filter, split.first_day, split.end_day).await?,
            };
            counted.extend(days.into_iter().map(|(day, code, n)| (day * DAY_MICROS, code, n)));
            split.edges()
        }
        // Other searches by day: kept counts of the days as they were (`kept_days.rs`).
        (None, Some(split @ DaySplit { first_day: Some(first), end_day: Some(end_day), .. }))
            if by_day && matches!(search, Resolved::Words { .. }) =>
        {
            let days = kept.counts(&mut tx, filter, lookups, &search, (first, end_day)).await?;
            counted.extend(days.into_iter().map(|(day, code, n)| (day * DAY_MICROS, code, n)));
            split.edges()
        }
        _ => vec![(start, end)],
    };
    for (lo, hi) in ranges {
        let mut qb = QueryBuilder::new("SELECT ");
        qb.push_bind(from).push(" + (ts - ").push_bind(from).push(") / ").push_bind(bucket);
        qb.push(" * ").push_bind(bucket).push(" AS at, severity, count(*) FROM audit_entries");
        push_entries_where(&mut qb, filter, lookups, &search, Some(lo), Some(hi));
        qb.push(" GROUP BY 1, 2");
        let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
        counted.extend(rows);
    }
    tx.commit().await?;
    for (at, code, n) in counted {
        let at = DateTime::from_timestamp_micros(at).unwrap_or(span.start).max(span.start);
        histogram.add(at, severity(0, code)?, u64::try_from(n).unwrap_or(0));
    }
    Ok(histogram)
}

pub async fn suggest_actors(pool: &PgPool, text: &str, limit: u32) -> Result<Vec<String>, StoreError> {
    // One row per distinct actor (thousands at most): a scan with strpos() is cheap and
    // needs no escaping of LIKE wildcards.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT key FROM (SELECT name_key AS key FROM audit_actors UNION SELECT id_key FROM audit_actors) AS keys \
         WHERE strpos(key, $1) > 0 ORDER BY strpos(key, $1) <> 1, key LIMIT $2",
    )
    .bind(text.trim().to_ascii_lowercase())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestDatabase;
    use super::super::PgStore;
    use super::*;
    use crate::filter::EntryQuery;
    use crate::store::conformance::samples;
    use crate::store::{AuditLog, Retention};
    use sqlx::Connection;

    fn filter(query: &str) -> EntryFilter {
        EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid query").0
    }

    /// A search with other filters is counted along its newest candidates: exactly when
    /// they are all read, and otherwise a true bound, whichever side supplies them (the
    /// other filters' entries, or a rare word's matches).
    #[tokio::test]
    async fn a_search_with_other_filters_is_counted_within_the_budget() {
        let db = TestDatabase::create().await;
        let store = PgStore::open(db.url()).await.expect("opens");
        for chunk in samples(0..1500).chunks(500) {
            store.append(chunk.to_vec()).await.expect("appends");
        }
        let mut stored = Vec::new();
        for seq in 1..=1500 {
            stored.push(store.get(seq).await.expect("reads").expect("stored"));
        }
        let mut conn = PgConnection::connect(db.url()).await.expect("connects");
        let mut sides = Vec::new();
        let mut bounded = 0;
        let mut below_bound = false;
        for (query, exact) in [
            // Common words: the other filters' entries are walked; all of them fit...
            ("q=vault&severity=error&event_type=rotation.failed", true),
            ("q=kv+prod&actor=system&event_type=auth.*", true),
            // ...or do not, and the count is a bound.
            ("q=kv&severity=info", false),
            ("q=alice&start_date=2025-03-05", false),
            // Matches fewer than the candidates, read to the end or not.
            ("q=payments&event_type=rotation.failed", true),
            ("q=bob+payments&start_date=2025-03-02", false),
            // One user, read through the actor's own index.
            ("q=vault&actor=bob%40contoso.com&start_date=2025-03-05", true),
            ("q=prod&actor=user-2", false),
            // Rare words: their own matches are walked.
            ("q=149&start_date=2025-03-02", true),
            ("q=event+1499&actor=system", true),
        ] {
            let f = filter(query);
            let matching = stored.iter().filter(|e| f.matches(e)).count() as u64;
            assert!(matching > 0, "{query}: a weak check");
            let search = resolve(&mut conn, &f.search).await.expect("resolves");
            let Resolved::Words { rarest, .. } = &search else { panic!("{query}: words") };
            sides.push(*rarest <= FEW_FOR_THE_INDEX);
            let lookups = actor_lookups(&mut conn, &f).await.expect("looks up");
            // One user is named by each of these, and read through their own index.
            let one_user = matches!(&f.actor, Some(ActorMatch::Named(_)));
            assert_eq!(lookups.actor_ref.is_some(), one_user, "{query}");
            let (counted, is_exact) = walked_count(&mut conn, &f, lookups, &search, 50).await.expect("counts");
            assert_eq!(is_exact, exact, "{query}: {counted} of {matching}");
            if is_exact {
                assert_eq!(counted, matching, "{query}");
            } else {
                bounded += 1;
                assert!(counted > 0 && counted < matching && counted <= SEARCH_TOTAL_BOUND, "{query}: {counted}");
                // The candidates' matches are counted, not the candidates.
                below_bound |= counted < SEARCH_TOTAL_BOUND;
            }
            let page = store.list(&f, PageRequest { limit: 50, offset: 0 }).await.expect("lists");
            crate::store::conformance::assert_total(&page, matching, query);
        }
        assert!(sides.contains(&true) && sides.contains(&false), "both sides walked: {sides:?}");
        assert!(bounded > 0 && below_bound);
    }

    #[test]
    fn a_run_of_days_begins_at_its_month_s_first_day() {
        let day = |at: &str| floor_day(at.parse::<DateTime<chrono::Utc>>().expect("time").timestamp_micros());
        let first = day("2025-03-01T00:00:00Z");
        for at in ["2025-03-01T00:00:00Z", "2025-03-15T12:00:00Z", "2025-03-31T23:59:59Z"] {
            assert_eq!(month_start(day(at)), first, "{at}");
        }
        assert_eq!(month_start(first - 1), day("2025-02-01T00:00:00Z"));
        assert_eq!(month_start(day("1969-12-31T00:00:00Z")), day("1969-12-01T00:00:00Z"));
    }

    /// [`count_by_kept_days`] of a filter, in a snapshot of its own.
    async fn counted(store: &PgStore, kept: &KeptDays, f: &EntryFilter, bound: u64) -> (u64, bool) {
        let mut tx = snapshot(&store.pool).await.expect("begins");
        let search = resolve(&mut tx, &f.search).await.expect("resolves");
        assert!(common(&search), "{f:?}");
        let counted = count_by_kept_days(&mut tx, kept, f, Lookups::NONE, &search, bound).await.expect("counts");
        tx.commit().await.expect("ends");
        counted
    }

    /// A search of common words alone is counted by whole days, newest first, from the
    /// kept counts: exactly up to the bound and the bound past it, across empty days,
    /// through a late entry in an old day and a purge; the kept counts are what answers,
    /// and they answer a page's total too.
    #[tokio::test]
    async fn a_common_search_alone_is_counted_by_kept_days_up_to_the_bound() {
        let db = TestDatabase::create().await;
        let store = PgStore::open(db.url()).await.expect("opens");
        let mut entries = samples(0..600);
        // A year before the others: the days between hold nothing.
        entries[7].timestamp = "2024-03-01T10:00:00Z".parse().expect("time");
        store.append(entries).await.expect("appends");
        let kept = KeptDays::default();
        let searches = ["q=vault+kv", "q=kv+prod", "q=event+bob"];
        for round in ["counted", "kept", "after a late entry", "after a purge"] {
            match round {
                "after a late entry" => {
                    let mut late = samples(9..10);
                    late[0].timestamp = "2025-03-03T10:00:00Z".parse().expect("time");
                    store.append(late).await.expect("appends");
                }
                "after a purge" => {
                    let cutoff: DateTime<chrono::Utc> = "2025-03-02T12:00:00Z".parse().expect("time");
                    let now = cutoff + chrono::Duration::days(90);
                    while store.purge_step(cutoff, None, 1000, now).await.expect("purges").more {}
                }
                _ => {}
            }
            let stored = store.entries_after(0, 10_000).await.expect("reads");
            for query in searches {
                let f = filter(query);
                let matching = stored.iter().filter(|e| f.matches(e)).count() as u64;
                assert!(matching > 20, "{query}: a weak check");
                for bound in [matching + 5, matching, matching - 1, 10, 1] {
                    let want = if matching > bound { (bound, false) } else { (matching, true) };
                    assert_eq!(counted(&store, &kept, &f, bound).await, want, "{query} up to {bound}, {round}");
                }
            }
        }
        // The kept counts are what answers: made wrong, they are answered wrong.
        let alone = KeptDays::default();
        let f = filter(searches[0]);
        let matching = store.entries_after(0, 10_000).await.expect("reads").iter().filter(|e| f.matches(e)).count();
        assert_eq!(counted(&store, &alone, &f, u64::MAX - 1).await, (matching as u64, true));
        alone.add_to_every_kept_count(1000);
        let (wrong, exact) = counted(&store, &alone, &f, u64::MAX - 1).await;
        assert!(exact && wrong >= matching as u64 + 1000, "{wrong} of {matching}");

        // A page's total: exact for a common search with fewer matches than the bound, from
        // the store's own kept counts.
        let f = filter("q=rotation+payments");
        let stored = store.entries_after(0, 10_000).await.expect("reads");
        let matching = stored.iter().filter(|e| f.matches(e)).count() as u64;
        assert!(matching > 5 && matching <= SEARCH_TOTAL_BOUND, "{matching}: below the bound");
        let page = store.list(&f, PageRequest { limit: 5, offset: 0 }).await.expect("lists");
        assert_eq!((page.total, page.total_exact), (matching, true));
        store.kept_days.add_to_every_kept_count(1000);
        let page = store.list(&f, PageRequest { limit: 5, offset: 0 }).await.expect("lists");
        assert_eq!((page.total, page.total_exact), (SEARCH_TOTAL_BOUND, false), "the kept counts answered");
    }
}
