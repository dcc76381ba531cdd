//! A search's matches by whole days, kept between reads, for its timeline and for the total
//! of a search of common words alone. PostgreSQL's text index cannot count: a timeline of
//! two common words reads every entry holding both (400 ms for 90 days at 1M entries, 3 s
//! at 10M), and the Audit tab asks for it with every page.
//!
//! Entries never change and only the purge deletes them, so what a day's count said stays
//! true while the day holds as many entries as when it was counted and no purge has run
//! since that could have deleted any of them. Both are read with the kept counts, in the
//! read's own snapshot: the day's total from the per-day counts, and how many purges are
//! recorded with the latest cutoff of any (`audit_purged` is append-only, every purge
//! adds to it, and a purge deletes only entries older than its cutoff): a day that begins
//! at or after every cutoff lost nothing to any purge. Only the days that differ (today, a
//! day a late entry arrived in, or the days a purge may have reached) are counted again.
//! Each app instance keeps its own counts; all check them against the one database.

use super::read::push_entries_where;
use super::search::Resolved;
use crate::filter::EntryFilter;
use crate::store::sql::{Lookups, DAY_MICROS};
use crate::store::StoreError;
use sqlx::{PgConnection, QueryBuilder};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Past this many kept days (over every search), or this many bytes of searches (a long
/// filter is kept once, however many days it counted), all are forgotten at once.
#[cfg(not(test))]
const DAYS_KEPT: usize = 200_000;
#[cfg(test)]
const DAYS_KEPT: usize = 40;
const SEARCH_BYTES_KEPT: usize = 4 << 20;

/// The days counted, by search.
#[derive(Default)]
pub struct KeptDays {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_search: HashMap<String, HashMap<i64, Day>>,
    days: usize,
    search_bytes: usize,
}

/// One day's matches, and what the day was when they were counted.
#[derive(Clone, Debug)]
struct Day {
    entries: i64,
    purges: i64,
    /// (severity code, matches), every severity with a match.
    by_severity: Vec<(i64, i64)>,
}

impl KeptDays {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The filter's matches in the whole days `[first_day, end_day)`, by day and severity
    /// code: kept counts where the day is as it was, the entries counted for the rest.
    /// `conn` must be in the read's snapshot.
    pub async fn counts(
        &self,
        conn: &mut PgConnection,
        filter: &EntryFilter,
        lookups: Lookups<'_>,
        search: &Resolved,
        (first_day, end_day): (i64, i64),
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        // Kept for every severity and time: another range or severity of the same search
        // finds them.
        let every = EntryFilter { start: None, end: None, severities: Vec::new(), ..filter.clone() };
        // The words themselves, not their resolution (whose estimates move as the log grows).
        let key = format!("{every:?}");
        let (purges, latest_cutoff): (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(max(cutoff), 0)::int8 FROM audit_purged")
                .fetch_one(&mut *conn)
                .await?;
        let days: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT day, sum(n)::int8, $3::int8 FROM audit_daily_counts \
             WHERE day >= $1 AND day < $2 GROUP BY day HAVING sum(n) > 0 ORDER BY day",
        )
        .bind(first_day)
        .bind(end_day)
        .bind(purges)
        .fetch_all(&mut *conn)
        .await?;
        // Whether no purge between the day's count and this read could have reached it. A
        // count kept by a read of a later snapshot (more purges: the table only grows) is
        // never taken, whatever the day.
        let unpurged = |day: i64, counted_with: i64| {
            counted_with == purges || (counted_with < purges && day * DAY_MICROS >= latest_cutoff)
        };
        let mut counted: HashMap<i64, Day> = HashMap::new();
        // The days to count again, in runs with no kept day between (days without
        // entries may be: they have nothing to count), each run counted in one statement.
        let mut stale: Vec<Vec<(i64, i64, i64)>> = Vec::new();
        {
            let kept = self.lock();
            let of_search = kept.by_search.get(&key);
            let mut in_run = false;
            for &(day, entries, purges) in &days {
                match of_search.and_then(|d| d.get(&day)) {
                    Some(known) if known.entries == entries && unpurged(day, known.purges) => {
                        counted.insert(day, known.clone());
                        in_run = false;
                    }
                    _ => {
                        match stale.last_mut() {
                            Some(run) if in_run => run.push((day, entries, purges)),
                            _ => stale.push(vec![(day, entries, purges)]),
                        }
                        in_run = true;
                    }
                }
            }
        }
        let mut fresh = Vec::new();
        for run in &stale {
            let (first, last) = (run[0].0, run[run.len() - 1].0);
            let from = first * DAY_MICROS;
            let mut qb = QueryBuilder::new("SELECT ");
            qb.push_bind(first).push(" + (ts - ").push_bind(from).push(") / ").push_bind(DAY_MICROS);
            qb.push(" AS day, severity, count(*) FROM audit_entries");
            push_entries_where(&mut qb, &every, lookups, search, Some(from), Some((last + 1) * DAY_MICROS));
            qb.push(" GROUP BY 1, 2");
            let rows: Vec<(i64, i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
            let mut by_day: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
            for (day, code, n) in rows {
                by_day.entry(day).or_default().push((code, n));
            }
            for &(day, entries, purges) in run {
                let by_severity = by_day.remove(&day).unwrap_or_default();
                fresh.push((day, Day { entries, purges, by_severity }));
            }
        }
        if !fresh.is_empty() {
            let mut kept = self.lock();
            let of_search = kept.by_search.get(&key);
            let known = of_search.map_or(0, |d| fresh.iter().filter(|f| d.contains_key(&f.0)).count());
            let new_key = if of_search.is_none() { key.len() } else { 0 };
            if kept.days + fresh.len() - known > DAYS_KEPT || kept.search_bytes + new_key > SEARCH_BYTES_KEPT {
                *kept = Kept::default();
            }
            if !kept.by_search.contains_key(&key) {
                kept.search_bytes += key.len();
            }
            let of_search = kept.by_search.entry(key).or_default();
            let before = of_search.len();
            of_search.extend(fresh.iter().cloned());
            let added = of_search.len() - before;
            kept.days += added;
        }
        counted.extend(fresh);
        let wanted = |code: i64| filter.severities.is_empty() || filter.severities.iter().any(|s| s.code() == code);
        let mut out: Vec<(i64, i64, i64)> = counted
            .into_iter()
            .flat_map(|(day, d)| d.by_severity.into_iter().map(move |(code, n)| (day, code, n)))
            .filter(|&(_, code, _)| wanted(code))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Adds `n` to every kept count (tests show the kept counts are what answers).
    #[cfg(test)]
    pub(super) fn add_to_every_kept_count(&self, n: i64) {
        for days in self.lock().by_search.values_mut() {
            for day in days.values_mut() {
                day.by_severity.iter_mut().for_each(|(_, count)| *count += n);
            }
        }
    }

    /// How many days are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().days
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::{actor_lookups, snapshot};
    use super::super::search::resolve;
    use super::super::testing::TestDatabase;
    use super::super::PgStore;
    use super::*;
    use crate::entry::AuditEntry;
    use crate::filter::EntryQuery;
    use crate::store::conformance::samples;
    use crate::store::sql::floor_day;
    use crate::store::{AuditLog, Retention};
    use chrono::{DateTime, Duration, Utc};

    fn filter(query: &str) -> EntryFilter {
        EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid query").0
    }

    /// Counts by day and severity, brute force.
    fn expected(stored: &[AuditEntry], f: &EntryFilter, days: (i64, i64)) -> Vec<(i64, i64, i64)> {
        let mut by: std::collections::BTreeMap<(i64, i64), i64> = Default::default();
        for e in stored.iter().filter(|e| f.matches(e)) {
            let day = floor_day(e.timestamp.timestamp_micros());
            if (days.0..days.1).contains(&day) {
                *by.entry((day, e.severity.code())).or_default() += 1;
            }
        }
        by.into_iter().map(|((day, code), n)| (day, code, n)).collect()
    }

    async fn counts(kept: &KeptDays, store: &PgStore, f: &EntryFilter, days: (i64, i64)) -> Vec<(i64, i64, i64)> {
        let mut tx = snapshot(&store.pool).await.expect("begins");
        let search = resolve(&mut tx, &f.search).await.expect("resolves");
        let lookups = actor_lookups(&mut tx, f).await.expect("looks up");
        let out = kept.counts(&mut tx, f, lookups, &search, days).await.expect("counts");
        tx.commit().await.expect("ends");
        out
    }

    async fn stored(store: &PgStore) -> Vec<AuditEntry> {
        store.entries_after(0, 100_000).await.expect("reads")
    }

    /// A store of the first `n` samples, and the days around them.
    async fn with_samples(n: i64) -> (TestDatabase, PgStore, (i64, i64)) {
        let db = TestDatabase::create().await;
        let store = PgStore::open(db.url()).await.expect("opens");
        store.append(samples(0..n)).await.expect("appends");
        let days = (floor_day(micros("2025-02-20T00:00:00Z")), floor_day(micros("2025-03-20T00:00:00Z")));
        (db, store, days)
    }

    /// Kept counts are used only while their day is unchanged: a late entry in an old day
    /// and a purge are both seen, and every answer equals a count of the entries.
    #[tokio::test]
    async fn kept_days_answer_as_the_entries_do_through_late_entries_and_purges() {
        let (_db, store, days) = with_samples(600).await;
        let kept = KeptDays::default();
        let searches = ["q=vault+kv", "q=kv+prod&severity=error", "q=event&actor=bob%40contoso.com"];
        for text in searches {
            let f = filter(text);
            let want = expected(&stored(&store).await, &f, days);
            assert!(want.len() > 5, "{text}: a weak check");
            assert_eq!(counts(&kept, &store, &f, days).await, want, "{text}, counted");
            assert_eq!(counts(&kept, &store, &f, days).await, want, "{text}, kept");
        }
        let held = kept.len();
        assert!(held > 0);
        // Kept once per search and day, whatever the severity asked for.
        for text in ["q=vault+kv&severity=info", "q=vault+kv&severity=warning,error"] {
            let f = filter(text);
            assert_eq!(counts(&kept, &store, &f, days).await, expected(&stored(&store).await, &f, days), "{text}");
        }
        assert_eq!(kept.len(), held, "the same search's days are kept once");

        // Kept counts are what answers: made wrong here, they are answered wrong.
        let tampered = filter("q=vault+kv");
        let key = format!("{:?}", EntryFilter { start: None, end: None, severities: Vec::new(), ..tampered.clone() });
        for day in kept.lock().by_search.get_mut(&key).expect("kept").values_mut() {
            day.by_severity.iter_mut().for_each(|(_, n)| *n += 1000);
        }
        let wrong = |want: Vec<(i64, i64, i64)>, except: Option<i64>| -> Vec<(i64, i64, i64)> {
            want.into_iter().map(|(d, c, n)| (d, c, if Some(d) == except { n } else { n + 1000 })).collect()
        };
        let want = expected(&stored(&store).await, &tampered, days);
        assert_eq!(counts(&kept, &store, &tampered, days).await, wrong(want, None));

        // A late entry in an old day: that day alone is counted again.
        let at = "2025-03-03T10:00:00Z";
        let mut late = samples(5..6);
        late[0].timestamp = at.parse().expect("time");
        store.append(late).await.expect("appends");
        let want = expected(&stored(&store).await, &tampered, days);
        assert_eq!(counts(&kept, &store, &tampered, days).await, wrong(want, Some(floor_day(micros(at)))));

        // A purge of the oldest days: the days it may have reached are counted again, the
        // days after its cutoff are kept (the tampered ones still say so), every answer
        // otherwise a count of the entries.
        let cutoff: DateTime<Utc> = "2025-03-02T12:00:00Z".parse().expect("time");
        let now = cutoff + Duration::days(90);
        while store.purge_step(cutoff, None, 1000, now).await.expect("purges").more {}
        let late_day = floor_day(micros(at));
        let want = expected(&stored(&store).await, &tampered, days);
        let still_tampered: Vec<(i64, i64, i64)> = want
            .iter()
            .map(|&(d, c, n)| {
                (d, c, if d * DAY_MICROS >= micros("2025-03-02T12:00:00Z") && d != late_day { n + 1000 } else { n })
            })
            .collect();
        assert!(still_tampered != want && want.iter().any(|&(d, ..)| d < floor_day(micros("2025-03-03T00:00:00Z"))));
        assert_eq!(counts(&kept, &store, &tampered, days).await, still_tampered, "only the days the purge reached");
        for text in &searches[1..] {
            let f = filter(text);
            assert_eq!(counts(&kept, &store, &f, days).await, expected(&stored(&store).await, &f, days), "{text}");
        }
        // Entries purged from a day counted before: that day's total changed, counted again.
        let before = counts(&kept, &store, &filter(searches[2]), days).await;
        let later: DateTime<Utc> = "2025-03-04T00:00:00Z".parse().expect("time");
        while store.purge_step(later, None, 1000, later + Duration::days(90)).await.expect("purges").more {}
        let f = filter(searches[2]);
        let after = counts(&kept, &store, &f, days).await;
        assert_eq!(after, expected(&stored(&store).await, &f, days));
        assert_ne!(after, before, "the purge deleted matches");

        // A purge that reaches into a kept day, and as many late entries arriving in that
        // day as it deleted: the day's total is as it was, and the day is counted again all
        // the same (its matches differ).
        let day_of = |at: &str| floor_day(micros(at));
        let (x, cutoff) = (day_of("2025-03-05T00:00:00Z"), "2025-03-05T12:00:00Z");
        let f = filter("actor=alice%40contoso.com");
        let before = counts(&kept, &store, &f, days).await;
        let all = stored(&store).await;
        let gone: Vec<&AuditEntry> = all
            .iter()
            .filter(|e| floor_day(e.timestamp.timestamp_micros()) == x && micros_of(e) < micros(cutoff))
            .collect();
        assert!(gone.iter().any(|e| f.matches(e)), "the purge deletes matches of the kept day");
        let cutoff: DateTime<Utc> = cutoff.parse().expect("time");
        while store.purge_step(cutoff, None, 1000, cutoff + Duration::days(90)).await.expect("purges").more {}
        // Entries of Bob, which the filter (Alice's) does not match, late into the same day.
        let mut late: Vec<_> = samples(1..1 + 4 * gone.len() as i64).into_iter().step_by(4).collect();
        for (i, entry) in late.iter_mut().enumerate() {
            entry.timestamp = cutoff + Duration::minutes(i as i64);
        }
        store.append(late).await.expect("appends");
        let now_stored = stored(&store).await;
        let in_x = |entries: &[AuditEntry]| entries.iter().filter(|e| floor_day(micros_of(e)) == x).count();
        assert_eq!(in_x(&now_stored), in_x(&all), "the day holds as many entries as when it was counted");
        let after = counts(&kept, &store, &f, days).await;
        assert_eq!(after, expected(&now_stored, &f, days));
        assert_ne!(after, before);
    }

    fn micros_of(entry: &AuditEntry) -> i64 {
        entry.timestamp.timestamp_micros()
    }

    /// Past the bound, every kept day is forgotten and counting goes on.
    #[tokio::test]
    async fn kept_days_are_forgotten_past_their_bound() {
        let (_db, store, days) = with_samples(300).await;
        let kept = KeptDays::default();
        for text in ["q=vault", "q=kv", "q=prod", "q=event", "q=stripe"] {
            let f = filter(text);
            assert_eq!(counts(&kept, &store, &f, days).await, expected(&stored(&store).await, &f, days), "{text}");
            assert!(kept.len() <= DAYS_KEPT, "{}", kept.len());
        }
    }

    fn micros(at: &str) -> i64 {
        at.parse::<DateTime<Utc>>().expect("time").timestamp_micros()
    }
}
