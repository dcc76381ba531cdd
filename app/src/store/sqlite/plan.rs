//! The query planner: a page's total comes from the per-day counts wherever it can, and
//! the page is found either by walking the time index (when matches are common) or
//! through the filter's own index (when they are rare), whichever visits fewer rows.
//! A filter with a search is paged by [`super::searched`]; how search words become an
//! FTS5 query is [`super::search`].

use super::search::{resolve_search, with_severities, Fts, Search};
use super::searched::{self, Driver};
use crate::entry::{AuditEntry, EntryPage};
use crate::filter::{EntryFilter, EventTypeMatch, PageRequest};
use crate::store::rows::{EntryRow, COLUMNS};
use crate::store::sql::{bounds, ceil_day, counts_table, floor_day, narrows, push_where, Lookups, Target, DAY_MICROS};
use crate::store::StoreError;
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, SqliteConnection, SqlitePool};

/// How the page's rows are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Walk `audit_entries_ts` newest first and keep the rows that match.
    TimeOrder,
    /// Let the filter's index find every match, then sort them.
    FilterFirst,
}

/// A plan forced by a test, for either kind of filter.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forced {
    Plan(Plan),
    Driver(Driver),
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A page with its total. All its statements run in one read transaction on one
/// connection: the total and the rows describe the same moment while appends go on, the
/// request waits for a connection once rather than once per statement, and SQLite keeps
/// the connection's page cache from one statement to the next (it empties the cache
/// whenever a new read transaction finds that the log has grown).
pub async fn list(pool: &SqlitePool, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError> {
    let mut read = pool.begin().await?;
    let page = list_with(&mut read, filter, page, None).await?;
    // Nothing was written: ending the transaction either way only releases the snapshot.
    read.rollback().await?;
    Ok(page)
}

async fn list_with(
    conn: &mut SqliteConnection,
    filter: &EntryFilter,
    page: PageRequest,
    forced: Option<Forced>,
) -> Result<EntryPage, StoreError> {
    let mut result = EntryPage::empty(page.limit, page.offset);
    let search = resolve_search(conn, &filter.search).await?;
    match &search {
        Search::Nothing => return Ok(result),
        Search::Fts(fts) => {
            // A one-word search's total is read from its counts, exactly and cheaply.
            let exact = match counts_for(filter, &search) {
                Some(_) => Some(count_resolved(conn, filter, &search).await?),
                None => None,
            };
            let (filter, fts) = &narrowed(filter, fts);
            let rest = EntryFilter { search: Vec::new(), ..filter.clone() };
            let filter_matches = match counts_table(&rest) {
                Some(_) => Some(count_resolved(conn, &rest, &Search::Any).await?),
                None => None,
            };
            let driver = match forced {
                Some(Forced::Driver(driver)) => Some(driver),
                _ => None,
            };
            // The filters' candidates are read up to the reading budget: plan for that many.
            let reading =
                PageRequest { limit: u32::try_from(searched::CANDIDATE_BUDGET).unwrap_or(u32::MAX), offset: 0 };
            let time_order = match filter_matches {
                Some(n) => plan(conn, &rest, reading, n).await? == Plan::TimeOrder,
                None => false,
            };
            let known = searched::Known { filter_matches, total: exact, time_order };
            return searched::list(conn, filter, fts, known, page, driver).await;
        }
        Search::Any => {}
    }
    result.total = count_resolved(conn, filter, &Search::Any).await?;
    if page.offset >= result.total {
        return Ok(result);
    }
    let (mut start, mut end) = bounds(filter);
    let mut offset = page.offset;
    let mut chosen = None;
    // A page in the older half of its window is counted from the window's older end:
    // reaching it from there visits fewer entries (in the time index, or in the sort of
    // the filter's matches) than from the newer end.
    let mut oldest_first = false;
    if let (Some(table), true) = (counts_table(filter), narrows(filter) || page.offset >= DEEP_OFFSET) {
        // The filter's share of all entries (the newest sequence number counts them).
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_entries").fetch_one(&mut *conn).await?;
        let share = result.total as f64 / head.unwrap_or(0).max(1) as f64;
        if let Some(w) = window(conn, filter, table, page, share).await? {
            (start, end, offset) = (w.start, w.end, w.offset);
            let reach = w.offset + u64::from(page.limit);
            if w.matches >= reach && w.matches - w.offset < reach {
                (oldest_first, offset) = (true, w.matches - reach);
            }
            let walk_is_cheaper = !narrows(filter) || w.walk.saturating_mul(WALK_ROW_COST) <= w.matches;
            chosen = Some(if walk_is_cheaper { Plan::TimeOrder } else { Plan::FilterFirst });
        }
    }
    let plan = match (forced, chosen) {
        (Some(Forced::Plan(plan)), _) | (_, Some(plan)) => plan,
        _ => plan(conn, filter, page, result.total).await?,
    };
    let mut qb =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_entries WHERE seq IN (SELECT seq FROM audit_entries"));
    if plan == Plan::TimeOrder {
        qb.push(" INDEXED BY audit_entries_ts");
    }
    push_where(&mut qb, filter, Lookups::NONE, Target::Entries { start, end });
    if plan == Plan::FilterFirst {
        push_prefixed_types(&mut qb, filter, start, end);
    }
    // `+ts` keeps the planner from walking the time index when the filter's is better.
    let sorted_by_index = plan == Plan::TimeOrder || ordered_by_one_index(filter);
    qb.push(match (sorted_by_index, oldest_first) {
        (true, false) => " ORDER BY ts DESC, seq DESC",
        (false, false) => " ORDER BY +ts DESC, seq DESC",
        (true, true) => " ORDER BY ts, seq",
        (false, true) => " ORDER BY +ts, seq",
    });
    qb.push(" LIMIT ")
        .push_bind(i64::from(page.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .push(") ORDER BY ts DESC, seq DESC");
    let rows: Vec<EntryRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    result.entries = rows.into_iter().map(AuditEntry::try_from).collect::<Result<_, _>>()?;
    Ok(result)
}

/// The search narrowed to the filter's severities in the index itself (see
/// [`with_severities`]). Where nothing but time narrows the filter besides, the
/// severities are then left to the search alone, which pages and counts it without
/// reading entries; otherwise they stay a filter too, for the filters' own indexes.
fn narrowed(filter: &EntryFilter, fts: &Fts) -> (EntryFilter, Fts) {
    let Some(expr) = with_severities(&fts.expr, &filter.severities) else {
        return (filter.clone(), fts.clone());
    };
    let mut filter = filter.clone();
    if only_time_and_severity(&filter) {
        filter.severities.clear();
    }
    (filter, Fts { expr, ..fts.clone() })
}

/// Whether nothing but time and severity narrows the filter besides its search.
pub(super) fn only_time_and_severity(filter: &EntryFilter) -> bool {
    filter.event_types.is_empty() && filter.actor.is_none() && filter.up_to.is_none()
}

/// Names the event types an event-type prefix stands for in the time range, from the
/// per-day counts, so that the type index is sought type by type within the range: a
/// range of types cannot be combined with a range of times in one index search, and
/// SQLite would read every entry of the prefix's types outside the range too. The
/// condition is added to the prefix's own, which it can only narrow to the same rows.
fn push_prefixed_types(
    qb: &mut QueryBuilder<'_, sqlx::Sqlite>,
    filter: &EntryFilter,
    start: Option<i64>,
    end: Option<i64>,
) {
    if !filter.event_types.iter().any(|m| matches!(m, EventTypeMatch::Prefix(_))) {
        return;
    }
    let types = EntryFilter { event_types: filter.event_types.clone(), ..EntryFilter::default() };
    qb.push(" AND event_type IN (SELECT event_type FROM audit_daily_counts");
    push_where(qb, &types, Lookups::NONE, Target::Counts { start: start.map(floor_day), end: end.map(ceil_day) });
    qb.push(" GROUP BY event_type)");
}

/// Without a narrowing filter, a page below this offset is found by stepping over the
/// newer entries; from it on, its [`window`] is sought first. Tests seek from a small
/// offset to cover it fully.
#[cfg(not(test))]
const DEEP_OFFSET: u64 = 1000;
#[cfg(test)]
const DEEP_OFFSET: u64 = 5;

/// A day whose share of matches is under the filter's usual share divided by this holds
/// a burst of other entries.
const BURST_DILUTION: f64 = 4.0;

/// What visiting one entry of the time index costs against finding and sorting one match
/// through the filter's own index.
const WALK_ROW_COST: u64 = 4;

/// The part of the time range a page lies in, read from the per-day counts, and what
/// each way of finding the page would visit there.
struct Window {
    start: Option<i64>,
    end: Option<i64>,
    /// The page's offset among the window's matches.
    offset: u64,
    /// Entries the time walk visits before the page is complete, if each day's matches
    /// are spread evenly over the day.
    walk: u64,
    /// The matches in the window: what the filter's index finds and sorts.
    matches: u64,
}

/// A stretch of time and its matches: a whole day, or a part of a day at either edge.
struct Segment {
    start: i64,
    end: i64,
    day: i64,
    matches: u64,
}

/// The window that holds the page: from the end of the newest day (or edge) holding one
/// of its entries back to the start of the oldest. Entries sort by time, so every match
/// of a later day comes before any of an earlier one: the page found in the window is
/// exactly the page of the whole range. Days are read newest first and only until the
/// page is complete, and with them a burst of other entries is seen and walked around:
/// a day full of entries that do not match makes its matches cheaper to find through
/// the filter's index than by walking time. `None` when there is no whole day to read,
/// or when the counts hold fewer matches than the offset (the caller's plan then applies).
async fn window(
    conn: &mut SqliteConnection,
    filter: &EntryFilter,
    table: &str,
    page: PageRequest,
    usual_share: f64,
) -> Result<Option<Window>, StoreError> {
    let (start, end) = bounds(filter);
    let (first_day, end_day) = (start.map(ceil_day), end.map(floor_day));
    if let (Some(a), Some(b)) = (first_day, end_day) {
        if a >= b {
            return Ok(None);
        }
    }
    let wanted = page.offset.saturating_add(u64::from(page.limit));
    let mut segments: Vec<Segment> = Vec::new();
    let mut seen = 0;
    // The partial days at the edges are counted from the entries.
    if let (Some(e), Some(day)) = (end, end_day) {
        if day * DAY_MICROS < e {
            let matches = count_entries(conn, filter, &Search::Any, Some(day * DAY_MICROS), Some(e)).await?;
            segments.push(Segment { start: day * DAY_MICROS, end: e, day, matches });
            seen += matches;
        }
    }
    if seen < wanted {
        let mut qb = QueryBuilder::new(format!("SELECT day, SUM(n) FROM {table}"));
        push_where(&mut qb, filter, Lookups::NONE, Target::Counts { start: first_day, end: end_day });
        qb.push(" GROUP BY day ORDER BY day DESC");
        let mut days = qb.build_query_as::<(i64, i64)>().fetch(&mut *conn);
        while let Some((day, n)) = days.try_next().await? {
            let matches = to_u64(n);
            segments.push(Segment { start: day * DAY_MICROS, end: (day + 1) * DAY_MICROS, day, matches });
            seen += matches;
            if seen >= wanted {
                break;
            }
        }
    }
    if let (Some(s), Some(day), true) = (start, first_day, seen < wanted) {
        if s < day * DAY_MICROS {
            let matches = count_entries(conn, filter, &Search::Any, Some(s), Some(day * DAY_MICROS)).await?;
            segments.push(Segment { start: s, end: day * DAY_MICROS, day: day - 1, matches });
        }
    }
    // The segment the page begins in, and the page's offset within it.
    let mut offset = page.offset;
    let Some(first) = segments.iter().position(|s| {
        let here = offset < s.matches;
        if !here {
            offset -= s.matches;
        }
        here
    }) else {
        return Ok(None);
    };
    // The segment the page ends in: how much of it the walk visits.
    let mut need = offset + u64::from(page.limit);
    let mut matches = 0;
    let mut last = (segments.len() - 1, 1.0);
    for (i, s) in segments.iter().enumerate().skip(first) {
        matches += s.matches;
        if s.matches >= need {
            last = (i, need as f64 / s.matches as f64);
            break;
        }
        need -= s.matches;
    }
    let (last, share) = last;
    let (newest_day, oldest_day) = (segments[first].day, segments[last].day);
    let mut qb = QueryBuilder::new("SELECT day, SUM(n) FROM audit_daily_counts WHERE day BETWEEN ");
    qb.push_bind(oldest_day).push(" AND ").push_bind(newest_day).push(" GROUP BY day");
    let rows: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let walk = rows
        .iter()
        .map(|&(day, n)| {
            let n = to_u64(n);
            if day != oldest_day {
                return n;
            }
            // A day far poorer in matches than the filter's usual share holds a burst of
            // other entries, which may all be newer than the matches: plan for walking it.
            let matches = segments[last].matches;
            if (matches as f64) < n as f64 * usual_share / BURST_DILUTION {
                n.saturating_sub(matches) + (matches as f64 * share) as u64
            } else {
                (n as f64 * share) as u64
            }
        })
        .sum();
    Ok(Some(Window {
        // Days are read until the page is complete or none is left, so no match of the
        // page is older than the last segment read.
        start: Some(segments[last].start),
        end: Some(segments[first].end),
        offset,
        walk,
        matches,
    }))
}

/// The entries with these sequence numbers, in the order given.
pub(super) async fn read_keys(conn: &mut SqliteConnection, keys: &[i64]) -> Result<Vec<AuditEntry>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_entries WHERE seq IN ("));
    let mut list = qb.separated(", ");
    for key in keys {
        list.push_bind(*key);
    }
    qb.push(")");
    let rows: Vec<EntryRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut by_seq: std::collections::HashMap<i64, EntryRow> = rows.into_iter().map(|r| (r.seq, r)).collect();
    keys.iter().filter_map(|k| by_seq.remove(k)).map(AuditEntry::try_from).collect()
}

/// Walking the time index visits about `(offset + limit) × rows in range / matches` rows,
/// each a table lookup in nearly sequential order. Going through the filter's index finds
/// every match and sorts them: cheap when the index ends in `ts` (no table lookup).
async fn plan(
    conn: &mut SqliteConnection,
    filter: &EntryFilter,
    page: PageRequest,
    total: u64,
) -> Result<Plan, StoreError> {
    if !narrows(filter) {
        return Ok(Plan::TimeOrder);
    }
    let (start, end) = bounds(filter);
    let mut qb = QueryBuilder::new("SELECT COALESCE(SUM(n), 0) FROM audit_daily_counts");
    let everything = EntryFilter::default();
    push_where(
        &mut qb,
        &everything,
        Lookups::NONE,
        Target::Counts { start: start.map(floor_day), end: end.map(ceil_day) },
    );
    let in_range = to_u64(qb.build_query_scalar().fetch_one(&mut *conn).await?);
    let wanted = page.offset + u64::from(page.limit);
    let walk_cost = wanted.saturating_mul(in_range) / total.max(1) * WALK_ROW_COST;
    let filter_cost = total;
    Ok(if walk_cost <= filter_cost { Plan::TimeOrder } else { Plan::FilterFirst })
}

/// Whether one index yields the filter's matches already in time order, so that
/// SQLite should be left to walk it rather than sort: one exact event type, one severity,
/// or one actor alone (the actor's index is sorted by time within each actor, and the
/// system actor's has its own).
pub(super) fn ordered_by_one_index(filter: &EntryFilter) -> bool {
    (filter.event_types.len() == 1 && matches!(filter.event_types[0], EventTypeMatch::Exact(_)))
        || filter.severities.len() == 1
        || (filter.actor.is_some() && filter.event_types.is_empty() && filter.severities.is_empty())
}

/// How many entries match, counted in one read transaction (see [`list`]).
pub async fn count(pool: &SqlitePool, filter: &EntryFilter) -> Result<u64, StoreError> {
    let mut read = pool.begin().await?;
    let n = match resolve_search(&mut read, &filter.search).await? {
        Search::Nothing => 0,
        search => count_resolved(&mut read, filter, &search).await?,
    };
    read.rollback().await?;
    Ok(n)
}

/// Where whole days of a filter's total can be read instead of counted: a per-day count
/// table, or for a one-word search narrowed at most by time and severity, that word's
/// counts.
pub(super) enum CountSource<'a> {
    Table(&'static str),
    Term(&'a str),
}

impl CountSource<'_> {
    pub(super) fn table(&self) -> &'static str {
        match self {
            CountSource::Table(table) => table,
            CountSource::Term(_) => "audit_search_terms",
        }
    }

    /// Appends the term's condition to a query of [`CountSource::table`] (after its WHERE).
    pub(super) fn push_term(&self, qb: &mut QueryBuilder<'_, sqlx::Sqlite>) {
        if let CountSource::Term(term) = self {
            qb.push(" AND term = ").push_bind(term.to_string());
        }
    }
}

pub(super) fn counts_for<'a>(filter: &EntryFilter, search: &'a Search) -> Option<CountSource<'a>> {
    match search {
        Search::Any => counts_table(filter).map(CountSource::Table),
        Search::Fts(_) => {
            let term = search.term()?;
            only_time_and_severity(filter).then_some(CountSource::Term(term))
        }
        Search::Nothing => None,
    }
}

async fn count_resolved(conn: &mut SqliteConnection, filter: &EntryFilter, search: &Search) -> Result<u64, StoreError> {
    let (start, end) = bounds(filter);
    let Some(counts) = counts_for(filter, search) else {
        // A search alone (or narrowed by severity) is counted in the search index, without
        // touching the entries.
        let search_only = EntryFilter {
            search: filter.search.clone(),
            severities: filter.severities.clone(),
            ..EntryFilter::default()
        };
        if let (Some(fts), true) = (search.fts(), *filter == search_only) {
            let expr = with_severities(fts, &filter.severities).unwrap_or_else(|| fts.to_owned());
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_search WHERE audit_search MATCH ?")
                .bind(expr)
                .fetch_one(&mut *conn)
                .await?;
            return Ok(to_u64(n));
        }
        return count_entries(conn, filter, search, start, end).await;
    };
    // Whole days [first_day, end_day) come from the counts; the partial days at either
    // edge are counted from the entries themselves.
    let first_day = start.map(ceil_day);
    let end_day = end.map(floor_day);
    if let (Some(a), Some(b)) = (first_day, end_day) {
        if a > b {
            return count_entries(conn, filter, search, start, end).await;
        }
    }
    let mut qb = QueryBuilder::new(format!("SELECT COALESCE(SUM(n), 0) FROM {}", counts.table()));
    push_where(&mut qb, filter, Lookups::NONE, Target::Counts { start: first_day, end: end_day });
    counts.push_term(&mut qb);
    let mut total = to_u64(qb.build_query_scalar().fetch_one(&mut *conn).await?);
    if let (Some(s), Some(day)) = (start, first_day) {
        if s < day * DAY_MICROS {
            total += count_entries(conn, filter, search, Some(s), Some(day * DAY_MICROS)).await?;
        }
    }
    if let (Some(e), Some(day)) = (end, end_day) {
        if day * DAY_MICROS < e {
            total += count_entries(conn, filter, search, Some(day * DAY_MICROS), Some(e)).await?;
        }
    }
    Ok(total)
}

async fn count_entries(
    conn: &mut SqliteConnection,
    filter: &EntryFilter,
    search: &Search,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<u64, StoreError> {
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM audit_entries");
    push_where(&mut qb, filter, Lookups::fts(search.fts()), Target::Entries { start, end });
    Ok(to_u64(qb.build_query_scalar().fetch_one(&mut *conn).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::EntryQuery;
    use crate::histogram::{Histogram, Span};
    use crate::ingest::ValidEntry;
    use crate::store::conformance::{assert_exact_where_cheap, assert_total, samples, FILTER_QUERIES};
    use crate::store::{AuditLog, Maintenance, SqliteStore};
    use chrono::{DateTime, Utc};

    /// A store of `n` sample entries with planner statistics (as in production), and
    /// every entry newest first.
    async fn filled(n: i64) -> (SqliteStore, tempfile::TempDir, Vec<AuditEntry>) {
        filled_with(samples(0..n)).await
    }

    /// The same entries recorded in time order, as a live log mostly records them, every
    /// 23rd a day or two late.
    async fn filled_in_order(n: i64) -> (SqliteStore, tempfile::TempDir, Vec<AuditEntry>) {
        let base: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().expect("time");
        let mut entries = samples(0..n);
        for (i, e) in (0_i64..).zip(entries.iter_mut()) {
            let late = if i % 23 == 7 { 1440 * (1 + i % 2) } else { 0 };
            e.timestamp = base + chrono::Duration::minutes(i * 10 * 1440 / n - late);
        }
        filled_with(entries).await
    }

    /// One of the store's reader connections, for calling the planner's steps directly.
    async fn connection(store: &SqliteStore) -> sqlx::pool::PoolConnection<sqlx::Sqlite> {
        store.pool().acquire().await.expect("a connection")
    }

    async fn filled_with(entries: Vec<ValidEntry>) -> (SqliteStore, tempfile::TempDir, Vec<AuditEntry>) {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.expect("opens");
        let n = entries.len() as i64;
        for chunk in entries.chunks(500) {
            store.append(chunk.to_vec()).await.expect("appends");
        }
        store.optimize().await.expect("statistics");
        let stored = newest_first(&store, u64::try_from(n).expect("positive")).await;
        (store, dir, stored)
    }

    /// Entries 1..=n of the store, newest first (by time, then sequence), as pages show them.
    async fn newest_first(store: &SqliteStore, n: u64) -> Vec<AuditEntry> {
        let mut stored = Vec::new();
        for seq in 1..=n {
            stored.push(store.get(seq).await.expect("reads").expect("exists"));
        }
        stored.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.sequence.cmp(&a.sequence)));
        stored
    }

    /// Each way a filter's page can be found, forced, and the automatic choice.
    fn every_plan(filter: &EntryFilter) -> [Option<Forced>; 3] {
        if filter.search.is_empty() {
            [Some(Forced::Plan(Plan::TimeOrder)), Some(Forced::Plan(Plan::FilterFirst)), None]
        } else {
            [Some(Forced::Driver(Driver::Search)), Some(Forced::Driver(Driver::Filters)), None]
        }
    }

    #[tokio::test]
    async fn a_page_and_its_total_describe_one_moment_while_appends_go_on() {
        let (store, _dir, _) = filled(50).await;
        let store = std::sync::Arc::new(store);
        let appending = {
            let store = store.clone();
            tokio::spawn(async move {
                for mut entry in samples(1000..1300) {
                    // Each newer than every other: it heads the unfiltered page.
                    entry.timestamp = Utc::now();
                    store.append(vec![entry]).await.expect("appends");
                }
            })
        };
        // Sequence numbers count the entries: read in one snapshot, the newest row's
        // number is never above the total that came with it.
        let page = PageRequest { limit: 5, offset: 0 };
        let mut pages = 0;
        while !appending.is_finished() || pages == 0 {
            let got = list(store.pool(), &EntryFilter::default(), page).await.expect("lists");
            let newest = got.entries.first().expect("a row").sequence;
            assert!(newest <= got.total, "row {newest} came with the total {}", got.total);
            pages += 1;
        }
        appending.await.expect("appends");
    }

    #[tokio::test]
    async fn warning_and_error_filters_can_use_their_partial_index() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.expect("opens");
        // INDEXED BY makes SQLite refuse the query when the index cannot serve it.
        let uses_index = |query: &'static str| {
            let pool = store.pool().clone();
            async move {
                let (filter, _) = EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid");
                let mut qb = QueryBuilder::new("SELECT seq FROM audit_entries INDEXED BY audit_entries_notable_ts");
                push_where(&mut qb, &filter, Lookups::NONE, Target::Entries { start: None, end: None });
                qb.build().fetch_all(&pool).await.is_ok()
            }
        };
        assert!(uses_index("severity=error").await);
        assert!(uses_index("severity=warning,error&event_type=auth.*").await);
        assert!(!uses_index("severity=info,error").await);
        assert!(!uses_index("").await);
    }

    #[tokio::test]
    async fn every_plan_returns_exactly_the_matching_rows_in_order() {
        let (store, _dir, stored) = filled(1500).await;

        for text in FILTER_QUERIES {
            let (filter, _) = EntryQuery::from_query_string(text).and_then(|q| q.validate()).expect("valid");
            let expected: Vec<u64> = stored.iter().filter(|e| filter.matches(e)).map(|e| e.sequence).collect();
            assert!(!expected.is_empty(), "{text} matches nothing: a weak check");
            for plan in every_plan(&filter) {
                let deep = [(25, 1000), (50, 1210), (10, expected.len() as u64 - 1)];
                for (limit, offset) in [(50, 0), (7, 3), (1000, 0)].into_iter().chain(deep) {
                    let page = list_with(&mut *connection(&store).await, &filter, PageRequest { limit, offset }, plan)
                        .await
                        .expect("lists");
                    let got: Vec<u64> = page.entries.iter().map(|e| e.sequence).collect();
                    let want: Vec<u64> = expected.iter().skip(offset as usize).take(limit as usize).copied().collect();
                    assert_eq!(got, want, "{text} {plan:?} limit {limit} offset {offset}");
                    assert_total(&page, expected.len() as u64, &format!("{text} {plan:?} {limit} {offset}"));
                }
            }
        }
    }

    #[tokio::test]
    async fn a_burst_of_other_entries_is_walked_around_through_the_filters_index() {
        // The newest day: a burst of 900 entries, only 9 of them auth events.
        let newest: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
        let burst: Vec<_> = samples(600..1500)
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                if i % 100 != 0 {
                    e.event_type = "sync.completed".into();
                }
                e.timestamp = newest + chrono::Duration::seconds(i as i64);
                e
            })
            .collect();
        let (store, _dir, all) = filled_with(samples(0..600).into_iter().chain(burst).collect()).await;
        let (filter, _) = EntryQuery::from_query_string("event_type=auth.*").and_then(|q| q.validate()).expect("valid");
        let page = PageRequest { limit: 50, offset: 0 };
        let w = window(&mut *connection(&store).await, &filter, "audit_daily_counts", page, 0.5)
            .await
            .expect("reads")
            .expect("a window");
        assert_eq!(w.end, Some(newest.timestamp_micros() + DAY_MICROS), "the page begins on the burst's day");
        assert!(w.start.is_some(), "the page's oldest day bounds the window");
        assert!(w.walk >= 900, "the walk passes the whole burst: {}", w.walk);
        assert!(w.walk.saturating_mul(WALK_ROW_COST) > w.matches, "so the filter's index is the cheaper way");
        let want: Vec<u64> = all.iter().filter(|e| filter.matches(e)).take(50).map(|e| e.sequence).collect();
        let got = list(store.pool(), &filter, page).await.expect("lists");
        assert_eq!(got.total, all.iter().filter(|e| filter.matches(e)).count() as u64);
        assert_eq!(got.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), want);
    }

    #[tokio::test]
    async fn a_burst_sharing_a_day_with_enough_matches_is_planned_as_walked_whole() {
        // The newest day: 60 auth entries in its first hour, then a burst of 2000 others.
        let day: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
        let entries: Vec<_> = samples(0..2060)
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.event_type = if i < 60 { "auth.login.success".into() } else { "sync.completed".into() };
                e.timestamp = day + chrono::Duration::seconds(i as i64 * 30);
                e
            })
            .collect();
        let (store, _dir, all) = filled_with(entries).await;
        let (filter, _) = EntryQuery::from_query_string("event_type=auth.*").and_then(|q| q.validate()).expect("valid");
        let page = PageRequest { limit: 50, offset: 0 };
        // Usually half of all entries match: this day's 3% is a burst, walked whole.
        let w = window(&mut *connection(&store).await, &filter, "audit_daily_counts", page, 0.5)
            .await
            .expect("reads")
            .expect("a window");
        assert!(w.walk >= 2000, "the whole burst: {}", w.walk);
        // Where this day's share is the usual one, matches are taken as spread evenly.
        let w = window(&mut *connection(&store).await, &filter, "audit_daily_counts", page, 0.03)
            .await
            .expect("reads")
            .expect("a window");
        assert!(w.walk < 2000, "spread evenly: {}", w.walk);
        let want: Vec<u64> = all.iter().filter(|e| filter.matches(e)).take(50).map(|e| e.sequence).collect();
        let got = list(store.pool(), &filter, page).await.expect("lists");
        assert_eq!(got.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), want);
    }

    #[tokio::test]
    async fn a_page_ending_exactly_on_a_day_boundary_keeps_its_window_bounded() {
        // Ten days of 10 auth entries each (and other entries between them).
        let first: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().expect("time");
        let entries: Vec<_> = samples(0..200)
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.event_type = if i % 2 == 0 { "auth.login.success".into() } else { "sync.completed".into() };
                e.timestamp = first + chrono::Duration::days((i / 20) as i64) + chrono::Duration::minutes(i as i64);
                e
            })
            .collect();
        let (store, _dir, all) = filled_with(entries).await;
        let (filter, _) = EntryQuery::from_query_string("event_type=auth.*").and_then(|q| q.validate()).expect("valid");
        // The newest three days hold exactly 30 matches.
        let page = PageRequest { limit: 25, offset: 5 };
        let w = window(&mut *connection(&store).await, &filter, "audit_daily_counts", page, 0.5)
            .await
            .expect("reads")
            .expect("a window");
        let newest_day = first + chrono::Duration::days(9);
        assert_eq!(w.start, Some((newest_day - chrono::Duration::days(2)).timestamp_micros()));
        assert_eq!(w.end, Some((newest_day + chrono::Duration::days(1)).timestamp_micros()));
        assert_eq!((w.offset, w.matches), (5, 30));
        let want: Vec<u64> = all.iter().filter(|e| filter.matches(e)).skip(5).take(25).map(|e| e.sequence).collect();
        for plan in every_plan(&filter) {
            let got = list_with(&mut *connection(&store).await, &filter, page, plan).await.expect("lists");
            assert_eq!(got.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), want, "{plan:?}");
        }
    }

    #[tokio::test]
    async fn random_filter_and_search_combinations_match_a_brute_force_scan() {
        let (store, _dir, stored) = filled(2000).await;
        matches_a_brute_force_scan(&store, &stored).await;
    }

    #[tokio::test]
    async fn random_combinations_match_a_brute_force_scan_of_entries_recorded_in_time_order() {
        let (store, _dir, stored) = filled_in_order(2000).await;
        matches_a_brute_force_scan(&store, &stored).await;
    }

    async fn matches_a_brute_force_scan(store: &SqliteStore, stored: &[AuditEntry]) {
        let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
        let earliest = store.earliest().await.expect("earliest");
        let parts: [&[&str]; 5] = [
            &["", "event_type=auth.*", "event_type=rotation.failed", "event_type=auth.login.*&event_type=backup.done"],
            &["", "severity=error", "severity=info,warning", "severity=warning"],
            &["", "actor=ALICE%40contoso.com", "actor=system", "actor=rotation-worker", "actor=USER-2"],
            &["", "q=stripe", "q=kv", "q=vault+kv", "q=eve", "q=1", "q=eve+in", "q=kv-prod-payments", "q=in", "q=100"],
            &[
                "",
                "start_date=2025-03-03",
                "end_date=2025-03-05T12:00:00Z",
                "start_date=2025-03-02&end_date=2025-03-04",
            ],
        ];
        // A fixed xorshift sequence: the same combinations on every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut bounded, mut searched) = (0, 0);
        for _ in 0..150 {
            let text: Vec<&str> = parts.iter().map(|p| p[next(p.len())]).filter(|p| !p.is_empty()).collect();
            let text = text.join("&");
            let (filter, _) = EntryQuery::from_query_string(&text).and_then(|q| q.validate()).expect("valid");
            let expected: Vec<u64> = stored.iter().filter(|e| filter.matches(e)).map(|e| e.sequence).collect();
            assert_eq!(store.count(&filter).await.expect("counts"), expected.len() as u64, "count of {text}");
            // The timeline counts the same entries, bucket by bucket.
            let span = Span::plan(filter.start, filter.end, earliest, now);
            let mut timeline = Histogram::empty(span);
            for e in stored.iter().filter(|e| filter.matches(e)) {
                timeline.add(e.timestamp, e.severity, 1);
            }
            assert_eq!(store.histogram(&filter, span).await.expect("timeline"), timeline, "timeline of {text}");
            searched += usize::from(!filter.search.is_empty());
            let middle = expected.len() as u64 / 2;
            for plan in every_plan(&filter) {
                for (limit, offset) in [(50, 0), (7, 3), (20, middle)] {
                    let page = list_with(&mut *connection(store).await, &filter, PageRequest { limit, offset }, plan)
                        .await
                        .expect("lists");
                    let got: Vec<u64> = page.entries.iter().map(|e| e.sequence).collect();
                    let want: Vec<u64> = expected.iter().skip(offset as usize).take(limit as usize).copied().collect();
                    assert_eq!(got, want, "{text} {plan:?} limit {limit} offset {offset}");
                    let what = format!("{text} {plan:?} {limit} {offset}");
                    assert_total(&page, expected.len() as u64, &what);
                    assert_exact_where_cheap(&page, &filter, expected.len() as u64, &what);
                    bounded += usize::from(!page.total_exact);
                }
            }
        }
        assert!(searched > 50 && bounded > 20, "searches {searched}, bounded totals {bounded}: too few to prove much");
    }
}
