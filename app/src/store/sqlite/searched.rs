//! A page of a search, and its total, without gathering every match. Two ways to walk
//! the candidates newest first, and the one that reads fewer is taken:
//!
//! - **by the search**: the search index's list, newest sequence first, each candidate
//!   checked against the other filters; `ts_high` tells when no older sequence can still
//!   belong to the page (see [`super::search`]);
//! - **by the filters**: the filters' own index in time order, each chunk of candidates
//!   checked against the search index's list over the chunk's sequence ranges.
//!
//! The total is counted along the same walk, up to [`SEARCH_TOTAL_BOUND`] matches and
//! [`CANDIDATE_BUDGET`] candidates read: past either, the page reports a lower bound.
//! A search alone is counted in the index itself, up to the same bound.

use super::plan::{ordered_by_one_index, read_keys};
use super::search::{bounded_count, first_seq_reaching, members, page_keys, Fts};
use crate::entry::{EntryPage, SEARCH_CANDIDATE_BUDGET, SEARCH_TOTAL_BOUND};
use crate::filter::{EntryFilter, PageRequest};
use crate::store::sql::{bounds, conditions, predicate, Lookups, Target};
use crate::store::StoreError;
use sqlx::{QueryBuilder, SqliteConnection};

/// Candidates read (beyond those the page needs) before counting stops.
pub(super) const CANDIDATE_BUDGET: usize = SEARCH_CANDIDATE_BUDGET;

const FIRST_CHUNK: usize = 256;

/// How the candidates are walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Driver {
    Search,
    Filters,
}

/// What the counts already tell of a search's matches.
pub(super) struct Known {
    /// How many entries the filters besides the search match.
    pub filter_matches: Option<u64>,
    /// How many entries the whole filter matches.
    pub total: Option<u64>,
    /// Whether the filters besides the search are best walked along the time index (they
    /// match most entries) rather than through their own index.
    pub time_order: bool,
}

/// The page of a filter that has a search.
pub(super) async fn list(
    conn: &mut SqliteConnection,
    filter: &EntryFilter,
    fts: &Fts,
    known: Known,
    page: PageRequest,
    forced: Option<Driver>,
) -> Result<EntryPage, StoreError> {
    let rest = EntryFilter { search: Vec::new(), ..filter.clone() };
    let mut result = EntryPage::empty(page.limit, page.offset);
    if let Some(total) = known.total {
        result.total = total;
        if page.offset >= total {
            return Ok(result);
        }
    }
    if rest == EntryFilter::default() && forced.is_none() {
        let keys = page_keys(conn, &fts.expr, page.offset, page.limit).await?;
        if known.total.is_none() {
            if !keys.is_empty() && keys.len() < page.limit as usize {
                // A page cut short by the end of the matches knows the total exactly.
                (result.total, result.total_exact) = (shown(page.offset, keys.len()), true);
            } else {
                let (counted, exact) = bounded_count(conn, &fts.expr, SEARCH_TOTAL_BOUND).await?;
                result.total = counted.max(shown(page.offset, keys.len()));
                result.total_exact = exact;
            }
        }
        result.entries = read_keys(conn, &keys).await?;
        return Ok(result);
    }
    let driver = forced.unwrap_or(match known.filter_matches {
        Some(n) if n < fts.estimate => Driver::Filters,
        _ => Driver::Search,
    });
    let wanted = usize::try_from(page.offset + u64::from(page.limit)).unwrap_or(usize::MAX);
    // With the total known, the walk stops as soon as the page is.
    let counting = known.total.is_none();
    let head = head(conn).await?;
    // The share of candidates expected to match: the other side's share of all entries.
    // (An unknown count, a prefix left unexpanded, is taken as every entry.)
    let share = |matches: Option<u64>| matches.map_or(1.0, |n| (n as f64 / head.max(1) as f64).min(1.0));
    let walk = match driver {
        Driver::Search => {
            let first = first_chunk(wanted, share(known.filter_matches));
            by_search(conn, &rest, fts, Reading { wanted, first, counting, head }).await?
        }
        Driver::Filters => {
            let first = first_chunk(wanted, share(Some(fts.estimate)));
            let reading = Reading { wanted, first, counting, head };
            by_filters(conn, &rest, fts, share(Some(fts.estimate)), known.time_order, reading).await?
        }
    };
    result.total = if walk.exhausted { walk.hits } else { walk.hits.min(SEARCH_TOTAL_BOUND) };
    result.total_exact = walk.exhausted;
    if let Some(total) = known.total {
        (result.total, result.total_exact) = (total, true);
    }
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let keys: Vec<i64> = walk.best.into_iter().skip(skip).map(|(_, seq)| seq).collect();
    result.total = result.total.max(shown(page.offset, keys.len()));
    result.entries = read_keys(conn, &keys).await?;
    Ok(result)
}

/// How many matches a page shows up to its last row (none: no evidence of any).
fn shown(offset: u64, rows: usize) -> u64 {
    if rows == 0 {
        0
    } else {
        offset + rows as u64
    }
}

/// How a walk reads: the matches it must find, its first chunk of candidates, whether it
/// counts on past the page, and the newest sequence number.
#[derive(Clone, Copy)]
struct Reading {
    wanted: usize,
    first: usize,
    counting: bool,
    head: i64,
}

/// Enough candidates to fill the page in one read if `share` of them match (twice the
/// expectation), within the reading budget: each further read repeats a query's set-up.
fn first_chunk(wanted: usize, share: f64) -> usize {
    let expected = (wanted as f64 / share.max(1e-6) * 2.0).min(usize::MAX as f64) as usize;
    let least = FIRST_CHUNK.max(wanted.saturating_mul(2));
    expected.clamp(least, CANDIDATE_BUDGET.max(least))
}

/// What a walk found: the first `wanted` matches newest first as (time, sequence), how
/// many matches it met, and whether it read every candidate.
#[derive(Default)]
struct Walk {
    best: Vec<(i64, i64)>,
    hits: u64,
    exhausted: bool,
}

impl Walk {
    /// Whether to stop reading: the page is known and counting (if wanted) has gone far
    /// enough.
    fn enough(&self, page_known: bool, candidates: usize, counting: bool) -> bool {
        page_known && (!counting || self.hits > SEARCH_TOTAL_BOUND || candidates >= CANDIDATE_BUDGET)
    }
}

async fn by_search(
    conn: &mut SqliteConnection,
    rest: &EntryFilter,
    fts: &Fts,
    reading: Reading,
) -> Result<Walk, StoreError> {
    let Reading { wanted, first, counting, head } = reading;
    let (start, end) = bounds(rest);
    // Entries before the first one whose running latest time reaches the start are all
    // older than the range: the walk stops there.
    let floor = match start {
        Some(start) => first_seq_reaching(conn, start, head).await?,
        None => 0,
    };
    let test = predicate(rest, Target::Entries { start, end });
    let mut walk = Walk::default();
    let mut below = i64::MAX;
    let mut chunk = first;
    let mut candidates = 0;
    loop {
        // Only the chunk's matches that can reach the page come back, with one summary
        // row: handing every candidate to the driver would cost more than reading it.
        let mut qb = QueryBuilder::new("WITH c AS MATERIALIZED (SELECT e.seq AS seq, e.ts AS ts, e.ts_high AS high, ");
        test.push_to(&mut qb);
        qb.push(" AS hit FROM (SELECT rowid FROM audit_search WHERE audit_search MATCH ")
            .push_bind(fts.expr.clone())
            .push(" AND rowid < ")
            .push_bind(below)
            .push(" AND rowid >= ")
            .push_bind(floor)
            .push(" ORDER BY rowid DESC LIMIT ")
            .push_bind(i64::try_from(chunk).unwrap_or(i64::MAX))
            .push(
                ") m JOIN audit_entries e ON e.seq = m.rowid), \
                 lowest AS (SELECT seq, high FROM c ORDER BY seq LIMIT 1) \
                 SELECT * FROM (SELECT seq, ts, 0, 1 AS kind FROM c WHERE hit ORDER BY ts DESC, seq DESC LIMIT ",
            )
            .push_bind(i64::try_from(wanted).unwrap_or(i64::MAX))
            .push(
                ") UNION ALL SELECT (SELECT seq FROM lowest), (SELECT high FROM lowest), \
                 (SELECT COUNT(*) FROM c) * 4294967296 + (SELECT COUNT(*) FROM c WHERE hit), 0",
            );
        let rows: Vec<(Option<i64>, Option<i64>, i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        // The summary: the lowest candidate, its running latest time, and how many
        // candidates and matches the chunk held (packed in one integer).
        let Some(&(lowest, lowest_high, packed, _)) = rows.iter().find(|r| r.3 == 0) else { break };
        let (read, hits) = (usize::try_from(packed >> 32).unwrap_or(0), packed & 0xffff_ffff);
        candidates += read;
        walk.exhausted = read < chunk;
        let (Some(lowest_seq), Some(lowest_high)) = (lowest, lowest_high) else { break };
        walk.hits += u64::try_from(hits).unwrap_or(0);
        walk.best.extend(rows.iter().filter(|r| r.3 == 1).filter_map(|&(seq, ts, _, _)| Some((ts?, seq?))));
        walk.best.sort_unstable_by(|a, b| b.cmp(a));
        walk.best.truncate(wanted);
        // Every unread candidate has a smaller sequence, so a time no later than
        // `lowest_high`; one with the same time as the last kept match sorts after it.
        let page_known = walk.best.len() >= wanted && walk.best.last().is_some_and(|&(ts, _)| ts >= lowest_high);
        if walk.exhausted || walk.enough(page_known, candidates, counting) {
            break;
        }
        below = lowest_seq;
        chunk = if page_known { CANDIDATE_BUDGET.saturating_sub(candidates).max(FIRST_CHUNK) } else { chunk * 4 };
    }
    Ok(walk)
}

async fn by_filters(
    conn: &mut SqliteConnection,
    rest: &EntryFilter,
    fts: &Fts,
    density: f64,
    time_order: bool,
    reading: Reading,
) -> Result<Walk, StoreError> {
    let Reading { wanted, first, counting, .. } = reading;
    let (start, end) = bounds(rest);
    let mut walk = Walk::default();
    let mut after: Option<(i64, i64)> = None;
    // Candidates that must be sorted are sorted whole by every read: read them at once.
    let sorted_by_index = time_order || ordered_by_one_index(rest);
    let mut chunk = if sorted_by_index { first } else { first.max(CANDIDATE_BUDGET) };
    let mut candidates = 0;
    loop {
        // The chunk comes back as one JSON array of [seq, ts] pairs: thousands of rows
        // one by one through the driver would cost more than finding them.
        let mut qb =
            QueryBuilder::new("SELECT json_group_array(json_array(seq, ts)) FROM (SELECT seq, ts FROM audit_entries");
        if time_order {
            qb.push(" INDEXED BY audit_entries_ts");
        }
        conditions(rest, Lookups::NONE, Target::Entries { start, end }).push_to(&mut qb);
        if let Some((ts, seq)) = after {
            qb.push(" AND (ts, seq) < (").push_bind(ts).push(", ").push_bind(seq).push(")");
        }
        // `+ts` keeps SQLite from walking the time index when the filter's is better.
        qb.push(if sorted_by_index { " ORDER BY ts DESC, seq DESC" } else { " ORDER BY +ts DESC, seq DESC" });
        qb.push(" LIMIT ").push_bind(i64::try_from(chunk).unwrap_or(i64::MAX)).push(")");
        let packed: String = qb.build_query_scalar().fetch_one(&mut *conn).await?;
        let mut rows: Vec<(i64, i64)> = serde_json::from_str(&packed).map_err(StoreError::backend)?;
        rows.sort_unstable_by_key(|&(seq, ts)| std::cmp::Reverse((ts, seq)));
        candidates += rows.len();
        walk.exhausted = rows.len() < chunk;
        let Some(&last) = rows.last() else { break };
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        let matching = members(conn, &fts.expr, &seqs, density).await?;
        for &(seq, ts) in rows.iter().filter(|(seq, _)| matching.contains(seq)) {
            walk.hits += 1;
            if walk.best.len() < wanted {
                walk.best.push((ts, seq));
            }
        }
        // Candidates come newest first: the first `wanted` matches are the page.
        let page_known = walk.best.len() >= wanted;
        if walk.exhausted || walk.enough(page_known, candidates, counting) {
            break;
        }
        after = Some((last.1, last.0));
        chunk = if page_known { CANDIDATE_BUDGET.saturating_sub(candidates).max(FIRST_CHUNK) } else { chunk * 4 };
    }
    Ok(walk)
}

async fn head(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_entries").fetch_one(&mut *conn).await?;
    Ok(head.unwrap_or(0))
}
