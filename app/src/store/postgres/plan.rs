//! How a first page is read on PostgreSQL. Asked for the newest matches, PostgreSQL's
//! planner walks the time index newest first whenever it expects the matches to be spread
//! evenly over time, and stops at the page's last one. A burst of other entries at the
//! head (an ingest of one event type, say) breaks that: the walk goes through the whole
//! burst before it finds a match, and the planner cannot know, as its statistics say
//! nothing of where in time the matches lie. The per-day counts do: as SQLite's planner
//! (`../sqlite/plan.rs`) does, the days that hold the page are read from them newest
//! first, and with them whether a burst is in the way. The page is then read within those
//! days:
//!
//! - for an event-type prefix or several types, type by type: each type's newest entries
//!   come in time order from the `(event_type, ts, seq)` index, and the page is the newest
//!   of them all (a range of types cannot be read in time order from one index);
//! - when a burst is in the way and walking the days would visit many more entries than
//!   they hold matches, by collecting their matches through the filter's own index and
//!   sorting them;
//! - otherwise newest first, as PostgreSQL plans it.

use super::read::{count_entries, days_newest_first, DayCounts, DaySplit};
use super::search::Resolved;
use crate::filter::{EntryFilter, EventTypeMatch, PageRequest};
use crate::store::sql::{bounds, conditions, counts_table, floor_day, narrows, Lookups, Target, DAY_MICROS};
use crate::store::StoreError;
use sqlx::{PgConnection, QueryBuilder};

/// Pages that end within this many matches are planned from the counts. From offset 1000
/// on, a page of a filter without search is sought by day instead (`read::seek_day`);
/// other pages are left to PostgreSQL's own plan.
const PLANNED_UP_TO: u64 = 1000;

/// At most this many event types are read one by one.
const MAX_TYPES: usize = 32;

/// A day whose share of matches is under the filter's usual share divided by this holds
/// a burst of other entries (as in SQLite's planner).
const BURST_DILUTION: f64 = 4.0;

/// What visiting one entry along the time index costs against finding and sorting one
/// match through the filter's own index.
const WALK_ROW_COST: u64 = 4;

/// How the page's rows are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Newest first along the time index, as PostgreSQL plans it.
    Walk,
    /// Each of these event types newest first through its index, merged.
    ByType(Vec<String>),
    /// Every match in the window through the filter's index, then sorted.
    MatchesFirst,
}

/// A page's plan: the time range `[start, end)` that holds it, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub shape: Shape,
}

/// Whether a page is planned from the counts: a filter that narrows more than time, and a
/// page ending within [`PLANNED_UP_TO`] matches.
fn worth_planning(filter: &EntryFilter, page: PageRequest) -> bool {
    narrows(filter) && page.offset.saturating_add(u64::from(page.limit)) <= PLANNED_UP_TO
}

/// A filter's matches by day, newest first: from the per-day counts, and for the partial
/// days at the range's edges from the entries. They give the page's total, and the days
/// that hold the page.
struct DayMatches {
    days: Vec<(i64, u64)>,
}

impl DayMatches {
    /// `None` where no counts answer the filter or no whole day lies in its range.
    async fn read(
        conn: &mut PgConnection,
        filter: &EntryFilter,
        lookups: Lookups<'_>,
        search: &Resolved,
    ) -> Result<Option<DayMatches>, StoreError> {
        let (start, end) = bounds(filter);
        let (Some(counts), Some(split)) = (DayCounts::of(filter, search), DaySplit::of(start, end)) else {
            return Ok(None);
        };
        let mut days = Vec::new();
        if let Some((from, to)) = split.newer {
            days.push((floor_day(from), count_entries(conn, filter, lookups, search, Some(from), Some(to)).await?));
        }
        days.extend(days_newest_first(conn, &counts, filter, lookups, split.first_day, split.end_day).await?);
        if let Some((from, to)) = split.older {
            days.push((floor_day(from), count_entries(conn, filter, lookups, search, Some(from), Some(to)).await?));
        }
        Ok(Some(DayMatches { days }))
    }

    fn total(&self) -> u64 {
        self.days.iter().map(|d| d.1).sum()
    }
}

/// A first page's total and plan, from the filter's matches by day: `None` where the page
/// is not [worth planning](worth_planning) or no counts answer the filter; no plan where
/// nothing matches.
pub async fn first_page(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    search: &Resolved,
    page: PageRequest,
) -> Result<Option<(u64, Option<PagePlan>)>, StoreError> {
    if !worth_planning(filter, page) {
        return Ok(None);
    }
    let Some(by_day) = DayMatches::read(conn, filter, lookups, search).await? else {
        return Ok(None);
    };
    let total = by_day.total();
    // A page past the last match reads nothing: no plan needed.
    if page.offset >= total {
        return Ok(Some((total, None)));
    }
    Ok(Some((total, choose(conn, filter, lookups, &by_day, page).await?)))
}

/// Plans a page from the filter's matches by day. `None` when nothing matches.
async fn choose(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    matches: &DayMatches,
    page: PageRequest,
) -> Result<Option<PagePlan>, StoreError> {
    let total = matches.total();
    let wanted = page.offset.saturating_add(u64::from(page.limit));
    let Some(window) = Window::of(filter, matches, wanted) else {
        return Ok(None);
    };
    let several_types =
        filter.event_types.len() > 1 || filter.event_types.iter().any(|m| matches!(m, EventTypeMatch::Prefix(_)));
    if let (true, Some(table)) = (several_types, counts_table(filter)) {
        let types = types_in(conn, table, filter, lookups, &window).await?;
        if !types.is_empty() && types.len() <= MAX_TYPES {
            return Ok(Some(PagePlan { start: window.start, end: window.end, shape: Shape::ByType(types) }));
        }
    }
    let walk = walk_estimate(conn, &window, total).await?;
    // Without a burst PostgreSQL's own plan finds the page well (through the filter's
    // index where that yields it in order).
    let shape = if walk.burst && walk.entries.saturating_mul(WALK_ROW_COST) > window.matches {
        Shape::MatchesFirst
    } else {
        Shape::Walk
    };
    Ok(Some(PagePlan { start: window.start, end: window.end, shape }))
}

/// The days that hold a page: the filter's days with matches, newest first, until the
/// page is complete (or every match is in).
#[derive(Debug)]
struct Window {
    start: Option<i64>,
    end: Option<i64>,
    newest_day: i64,
    oldest_day: i64,
    /// Matches in the window.
    matches: u64,
    /// Each day's matches, newest first.
    days: Vec<(i64, u64)>,
    /// The share of the oldest day's matches the page reaches.
    oldest_share: f64,
}

impl Window {
    fn of(filter: &EntryFilter, matches: &DayMatches, wanted: u64) -> Option<Window> {
        let mut days = Vec::new();
        let mut seen = 0;
        for &(day, n) in matches.days.iter().filter(|d| d.1 > 0) {
            days.push((day, n));
            seen += n;
            if seen >= wanted {
                break;
            }
        }
        let (&(newest_day, _), &(oldest_day, oldest_matches)) = (days.first()?, days.last()?);
        let before_oldest = seen - oldest_matches;
        let reached = wanted.saturating_sub(before_oldest).min(oldest_matches);
        // Days before the oldest and after the newest with a match hold none: the window
        // leaves them out (and with them a burst of other entries after the last match).
        let (start, end) = bounds(filter);
        let (oldest_start, newest_end) = (oldest_day * DAY_MICROS, (newest_day + 1) * DAY_MICROS);
        Some(Window {
            start: Some(start.map_or(oldest_start, |s| s.max(oldest_start))),
            end: Some(end.map_or(newest_end, |e| e.min(newest_end))),
            newest_day,
            oldest_day,
            matches: seen,
            oldest_share: reached as f64 / oldest_matches as f64,
            days,
        })
    }
}

/// What a walk newest first through the window would visit.
struct Walk {
    /// Entries visited before the page is complete, if each day's matches are spread
    /// evenly over it (or, in a day with a burst, all its other entries first).
    entries: u64,
    /// Whether some day of the window is far poorer in matches than the filter's usual
    /// share: it holds a burst of other entries, which may all be newer than its matches.
    burst: bool,
}

/// What a walk through the window visits, from every entry's per-day counts, for a
/// filter with `total` matches. A partial day at the range's edge is charged as a whole
/// day.
async fn walk_estimate(conn: &mut PgConnection, window: &Window, total: u64) -> Result<Walk, StoreError> {
    // With the days, the newest sequence number (in the same round trip): it counts every
    // entry ever appended, a little more than the log holds once a purge has run, which
    // only makes a burst harder to call.
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT day, sum(n)::int8, (SELECT seq FROM audit_head) FROM audit_daily_counts \
         WHERE day >= $1 AND day <= $2 GROUP BY day",
    )
    .bind(window.oldest_day)
    .bind(window.newest_day)
    .fetch_all(&mut *conn)
    .await?;
    let mut walk = Walk { entries: 0, burst: false };
    for (day, n, head) in rows {
        let usual_share = total as f64 / head.max(1) as f64;
        let n = u64::try_from(n).unwrap_or(0);
        let matches = window.days.iter().find(|d| d.0 == day).map_or(0, |d| d.1);
        let burst = (matches as f64) < n as f64 * usual_share / BURST_DILUTION;
        walk.burst |= burst;
        walk.entries += if day != window.oldest_day {
            n
        } else if burst {
            n.saturating_sub(matches) + (matches as f64 * window.oldest_share) as u64
        } else {
            (n as f64 * window.oldest_share) as u64
        };
    }
    Ok(walk)
}

/// The event types of the filter's matches in the window's days, from its count table
/// (every condition of the filter applied, so that no type without a match is read).
async fn types_in(
    conn: &mut PgConnection,
    table: &str,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    window: &Window,
) -> Result<Vec<String>, StoreError> {
    let days = Target::Counts { start: Some(window.oldest_day), end: Some(window.newest_day + 1) };
    let mut qb = QueryBuilder::new(format!("SELECT event_type FROM {table}"));
    conditions(filter, lookups, days).push_to(&mut qb);
    qb.push(" GROUP BY event_type HAVING sum(n) > 0 ORDER BY event_type LIMIT ")
        .push_bind(i64::try_from(MAX_TYPES + 1).unwrap_or(i64::MAX));
    Ok(qb.build_query_scalar().fetch_all(&mut *conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::read::{actor_lookups, page_query};
    use super::super::search::resolve;
    use super::super::testing::TestDatabase;
    use super::super::PgStore;
    use super::*;
    use crate::entry::{Actor, ActorType, AuditEntry, Severity};
    use crate::filter::EntryQuery;
    use crate::store::conformance::{assert_total, samples};
    use crate::store::rows::EntryRow;
    use crate::store::AuditLog;
    use chrono::{DateTime, Duration, Utc};
    use sqlx::Connection;

    fn filter(query: &str) -> EntryFilter {
        EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid query").0
    }

    /// The samples (ten days of every kind of entry), then a burst of another kind in the
    /// last minute of their newest day, newer than every sample.
    async fn with_a_burst() -> (PgStore, TestDatabase, Vec<AuditEntry>) {
        let db = TestDatabase::create().await;
        let store = PgStore::open(db.url()).await.expect("opens");
        let burst_at: DateTime<Utc> = "2025-03-10T23:59:00Z".parse().expect("time");
        let mut burst = samples(0..BURST);
        for (i, entry) in burst.iter_mut().enumerate() {
            entry.timestamp = burst_at + Duration::milliseconds(i as i64);
            entry.event_type = "key.used".into();
            entry.description = format!("key used {i}");
            entry.resource = None;
            entry.severity = Severity::Info;
            entry.actor = Actor { kind: ActorType::Service, id: "sp-keys".into(), name: "key-broker".into() };
        }
        for chunk in samples(0..1500).chunks(500).chain(burst.chunks(1000)) {
            store.append(chunk.to_vec()).await.expect("appends");
        }
        let mut stored = Vec::new();
        for seq in 1..=(1500 + BURST as u64) {
            stored.push(store.get(seq).await.expect("reads").expect("stored"));
        }
        stored.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.sequence.cmp(&a.sequence)));
        (store, db, stored)
    }

    const BURST: i64 = 6000;

    /// The plan `list` makes, whose total must be the filter's.
    async fn plan_of(
        conn: &mut PgConnection,
        filter: &EntryFilter,
        lookups: Lookups<'_>,
        search: &Resolved,
        page: PageRequest,
        total: u64,
    ) -> Option<PagePlan> {
        let (counted, plan) = first_page(conn, filter, lookups, search, page).await.expect("plans")?;
        assert_eq!(counted, total, "the days add up to the total");
        plan
    }

    fn micros(at: &str) -> i64 {
        at.parse::<DateTime<Utc>>().expect("time").timestamp_micros()
    }

    /// A filter, the plan of its first page (its shape, and the window's start and end
    /// where the case is about them).
    struct Case {
        query: &'static str,
        shape: &'static str,
        window: Option<(&'static str, &'static str)>,
    }

    const fn case(query: &'static str, shape: &'static str) -> Case {
        Case { query, shape, window: None }
    }

    /// Around a burst of other entries, prefixes are read type by type and rare matches
    /// collected first, within the days that hold the page; every shape, planned or not,
    /// reads exactly the matching page, and so do the store's pages.
    #[tokio::test]
    async fn a_burst_of_other_entries_is_read_around_and_every_shape_reads_the_same_page() {
        let (store, db, stored) = with_a_burst().await;
        let mut conn = sqlx::PgConnection::connect(db.url()).await.expect("connects");
        let cases = [
            // The newest day with a login holds the page: the window is that day.
            Case {
                window: Some(("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z")),
                ..case("event_type=auth.*", "by type")
            },
            case("event_type=rotation.failed&event_type=backup.done", "by type"),
            case("event_type=auth.*&severity=error", "by type"),
            case("event_type=auth.*&actor=ALICE%40contoso.com", "by type"),
            case("q=vault", "matches first"),
            case("q=stripe&severity=info", "matches first"),
            case("severity=error", "matches first"),
            case("actor=ALICE%40contoso.com", "matches first"),
            case("actor=system", "matches first"),
            // Matches so many that the page lies in the burst's last second: walked.
            case("event_type=key.used", "walk"),
            // 36 logins on the 5th before noon and 11 on the 4th: the page reaches the 3rd.
            Case {
                window: Some(("2025-03-03T00:00:00Z", "2025-03-05T12:00:00.000001Z")),
                ..case("start_date=2025-03-02&end_date=2025-03-05T12:00:00Z&event_type=auth.login.*", "by type")
            },
            // The day's counts hold the burst after the range's end too: planned as if it
            // were in the way (the day's few matches are cheap to collect either way).
            case("q=vault&end_date=2025-03-10T12:00:00Z", "matches first"),
            // A range ending in an empty partial day: the window ends with the last match's day.
            Case {
                window: Some(("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z")),
                ..case("event_type=auth.*&end_date=2025-03-12T06:00:00Z", "by type")
            },
            // A range ending on a day's boundary, and one starting in a partial day.
            case("severity=error&end_date=2025-03-09T23:59:59.999999Z", "walk"),
            case("event_type=auth.*&start_date=2025-03-09T06:00:00Z", "by type"),
            // What the counts cannot plan: a search with a type, several words, time alone.
            case("q=vault&event_type=auth.*", "none"),
            case("q=vault+kv", "none"),
            case("start_date=2025-03-09", "none"),
        ];
        for Case { query, shape: expected, window } in &cases {
            let f = filter(query);
            let want: Vec<i64> = stored.iter().filter(|e| f.matches(e)).map(|e| e.sequence as i64).collect();
            assert!(want.len() > 60, "{query} matches enough for pages: {}", want.len());
            let search = resolve(&mut conn, &f.search).await.expect("resolves");
            let lookups = actor_lookups(&mut conn, &f).await.expect("looks up");
            let total = super::super::read::count(&mut conn, &f).await.expect("counts");
            assert_eq!(total, want.len() as u64, "{query}");
            for (limit, offset) in [(50, 0), (10, 45), (1000, 0), (10, total - 5)] {
                let page = PageRequest { limit, offset };
                let listed = store.list(&f, page).await.expect("lists");
                let expected_page: Vec<i64> = want.iter().skip(offset as usize).take(limit as usize).copied().collect();
                let seqs: Vec<i64> = listed.entries.iter().map(|e| e.sequence as i64).collect();
                assert_eq!(seqs, expected_page, "{query} limit {limit} offset {offset}, listed");
                assert_total(&listed, total, &format!("{query} limit {limit} offset {offset}"));
                let plan = plan_of(&mut conn, &f, lookups, &search, page, total).await;
                if (limit, offset) == (50, 0) {
                    let shape = match plan.as_ref().map(|p| &p.shape) {
                        Some(Shape::ByType(types)) => {
                            assert!(types.iter().all(|t| f.event_types.iter().any(|m| m.matches(t))), "{types:?}");
                            "by type"
                        }
                        Some(Shape::MatchesFirst) => "matches first",
                        Some(Shape::Walk) => "walk",
                        None => "none",
                    };
                    assert_eq!(shape, *expected, "{query}: {plan:?}");
                    if let (Some((from, to)), Some(plan)) = (window, &plan) {
                        assert_eq!((plan.start, plan.end), (Some(micros(from)), Some(micros(to))), "{query}");
                    }
                }
                let Some(plan) = plan else { continue };
                if let (Shape::ByType(types), Some(start), Some(end)) = (&plan.shape, plan.start, plan.end) {
                    // Every type of a match in the window, and no type without a match of
                    // the whole filter on the window's days.
                    let at = |e: &AuditEntry| e.timestamp.timestamp_micros();
                    let untimed = EntryFilter { start: None, end: None, ..f.clone() };
                    for e in stored.iter().filter(|e| f.matches(e) && (start..end).contains(&at(e))) {
                        assert!(types.contains(&e.event_type), "{query}: {} missing from {types:?}", e.event_type);
                    }
                    let days = floor_day(start) * DAY_MICROS..(floor_day(end - 1) + 1) * DAY_MICROS;
                    for t in types {
                        let held =
                            stored.iter().any(|e| &e.event_type == t && untimed.matches(e) && days.contains(&at(e)));
                        assert!(held, "{query}: {t} has no match in the window's days");
                    }
                }
                let mut shapes = vec![Shape::Walk, Shape::MatchesFirst];
                if let Shape::ByType(types) = &plan.shape {
                    shapes.push(Shape::ByType(types.clone()));
                }
                // Every shape, with the actor looked up and through the subquery.
                for (shape, lookups) in shapes.into_iter().flat_map(|s| [(s.clone(), lookups), (s, Lookups::NONE)]) {
                    let forced = PagePlan { shape: shape.clone(), ..plan.clone() };
                    let rows: Vec<EntryRow> = page_query(&f, lookups, &search, &forced, limit, offset)
                        .build_query_as()
                        .fetch_all(&mut conn)
                        .await
                        .expect("reads");
                    let got: Vec<i64> = rows.iter().map(|r| r.seq).collect();
                    assert_eq!(got, expected_page, "{query} limit {limit} offset {offset} read {shape:?} {lookups:?}");
                }
            }
        }
        // A snapshot's filter (up to a sequence number) has no counts to plan from.
        let snapshot = EntryFilter { up_to: Some(3000), ..filter("event_type=auth.*") };
        let page = PageRequest { limit: 50, offset: 0 };
        let plan = plan_of(&mut conn, &snapshot, Lookups::NONE, &Resolved::Any, page, 100).await;
        assert_eq!(plan, None);
    }
}
