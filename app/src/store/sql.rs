//! The one translation of an [`EntryFilter`] into SQL conditions, for the entries table
//! and for the per-day counts that share its filter columns.

use crate::entry::Severity;
use crate::filter::{ActorMatch, EntryFilter, EventTypeMatch};
use sqlx::{QueryBuilder, Sqlite};

pub const DAY_MICROS: i64 = 86_400_000_000;

/// The table a condition list is written for: the entries (time in `ts`, microseconds)
/// or one of the per-day count tables (time in `day`, days since the epoch). Bounds are
/// `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Entries { start: Option<i64>, end: Option<i64> },
    Counts { start: Option<i64>, end: Option<i64> },
}

/// The per-day count table that can answer a filter's total, if any: search totals
/// need the entries; an actor filter by name or id needs the per-actor counts.
pub fn counts_table(filter: &EntryFilter) -> Option<&'static str> {
    if !filter.search.is_empty() {
        None
    } else if matches!(filter.actor, Some(ActorMatch::Named(_))) {
        Some("audit_actor_counts")
    } else {
        Some("audit_daily_counts")
    }
}

/// Whether the filter narrows anything beyond the time range.
pub fn narrows(filter: &EntryFilter) -> bool {
    !filter.event_types.is_empty()
        || !filter.severities.is_empty()
        || filter.actor.is_some()
        || !filter.search.is_empty()
}

/// Appends ` WHERE …` for the filter on the given table. `fts` is the filter's search as
/// an FTS5 query (see [`search_word`]); it applies to the entries only.
pub fn push_where(qb: &mut QueryBuilder<'_, Sqlite>, filter: &EntryFilter, fts: Option<&str>, target: Target) {
    qb.push(" WHERE 1 = 1");
    let (column, start, end) = match target {
        Target::Entries { start, end } => ("ts", start, end),
        Target::Counts { start, end } => ("day", start, end),
    };
    if let Some(start) = start {
        qb.push(format_args!(" AND {column} >= ")).push_bind(start);
    }
    if let Some(end) = end {
        qb.push(format_args!(" AND {column} < ")).push_bind(end);
    }

    if !filter.event_types.is_empty() {
        qb.push(" AND (");
        for (i, m) in filter.event_types.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            match m {
                EventTypeMatch::Exact(name) => {
                    qb.push("event_type = ").push_bind(name.clone());
                }
                // A range instead of LIKE so that the (event_type, ts) index serves it:
                // '/' is the character after '.'.
                EventTypeMatch::Prefix(prefix) => {
                    let upper = format!("{}/", &prefix[..prefix.len() - 1]);
                    qb.push("(event_type >= ").push_bind(prefix.clone());
                    qb.push(" AND event_type < ").push_bind(upper).push(")");
                }
            }
        }
        qb.push(")");
    }

    if !filter.severities.is_empty() {
        qb.push(" AND severity IN (");
        let mut list = qb.separated(", ");
        for s in &filter.severities {
            list.push_bind(s.code());
        }
        qb.push(")");
        // Warnings and errors have a partial index (see migrations/sqlite/0002), which
        // SQLite uses only when the query states the index's own condition.
        if !filter.severities.contains(&Severity::Info) {
            qb.push(" AND severity > 0");
        }
    }

    match &filter.actor {
        None => {}
        Some(ActorMatch::System) => {
            qb.push(" AND actor_type = 'system'");
        }
        Some(ActorMatch::Named(who)) => {
            let key = who.to_ascii_lowercase();
            qb.push(" AND actor_ref IN (SELECT ref FROM audit_actors WHERE id_key = ").push_bind(key.clone());
            qb.push(" OR name_key = ").push_bind(key).push(")");
        }
    }

    if let (Some(query), Target::Entries { .. }) = (fts, target) {
        qb.push(" AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ")
            .push_bind(query.to_owned())
            .push(")");
    }
}

/// One search word as an FTS5 expression: the whole words it is a prefix of, when the
/// index holds only a few (whole-word lookups are several times cheaper than a prefix
/// scan), or the prefix query itself.
pub fn search_word(word: &str, expansions: &[String]) -> String {
    if expansions.is_empty() || expansions.len() > MAX_EXPANSIONS {
        format!("\"{}\"*", word.replace('"', "\"\""))
    } else {
        let terms: Vec<String> = expansions.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect();
        format!("({})", terms.join(" OR "))
    }
}

/// Beyond this many whole words a prefix query is used as it is.
pub const MAX_EXPANSIONS: usize = 16;

pub fn floor_day(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS)
}

pub fn ceil_day(micros: i64) -> i64 {
    -(-micros).div_euclid(DAY_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::EntryQuery;

    fn sql(query: &str, target: Target) -> String {
        let (filter, _) = EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid");
        let mut qb = QueryBuilder::new("SELECT seq FROM audit_entries");
        push_where(&mut qb, &filter, (!filter.search.is_empty()).then_some("kv*"), target);
        qb.sql().to_owned()
    }

    #[test]
    fn builds_one_condition_per_filter() {
        let s = sql(
            "event_type=auth.*&event_type=sync.failed&severity=error&actor=bob&q=kv",
            Target::Entries { start: Some(1), end: Some(2) },
        );
        assert_eq!(
            s,
            "SELECT seq FROM audit_entries WHERE 1 = 1 AND ts >= ? AND ts < ? AND ((event_type >= ? AND event_type < ?) OR event_type = ?) \
             AND severity IN (?) AND severity > 0 AND actor_ref IN (SELECT ref FROM audit_actors WHERE id_key = ? OR name_key = ?) \
             AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)"
        );
        assert_eq!(
            sql("actor=system", Target::Counts { start: None, end: Some(3) }),
            "SELECT seq FROM audit_entries WHERE 1 = 1 AND day < ? AND actor_type = 'system'"
        );
        assert_eq!(
            sql(
                "actor=Bob&q=x",
                Target::Counts {
                    start: None,
                    end: None
                }
            ),
            "SELECT seq FROM audit_entries WHERE 1 = 1 AND actor_ref IN (SELECT ref FROM audit_actors WHERE id_key = ? OR name_key = ?)"
        );
    }

    #[test]
    fn totals_come_from_the_narrowest_count_table() {
        let filter = |q: &str| EntryQuery::from_query_string(q).and_then(|q| q.validate()).expect("valid").0;
        assert_eq!(counts_table(&filter("severity=error")), Some("audit_daily_counts"));
        assert_eq!(counts_table(&filter("actor=system")), Some("audit_daily_counts"));
        assert_eq!(counts_table(&filter("actor=bob")), Some("audit_actor_counts"));
        assert_eq!(counts_table(&filter("actor=bob&q=x")), None);
        assert!(!narrows(&filter("start_date=2025-01-01")));
        assert!(narrows(&filter("q=x")));
    }

    #[test]
    fn search_words_expand_to_a_few_whole_words_or_stay_prefixes() {
        assert_eq!(search_word("pay", &["pay".into(), "payments".into()]), "(\"pay\" OR \"payments\")");
        assert_eq!(search_word("pay", &[]), "\"pay\"*");
        let many: Vec<String> = (0..=MAX_EXPANSIONS).map(|i| format!("a{i}")).collect();
        assert_eq!(search_word("a", &many), "\"a\"*");
        assert_eq!(search_word("x\"y", &[]), "\"x\"\"y\"*");
    }

    #[test]
    fn day_rounding() {
        assert_eq!(floor_day(DAY_MICROS - 1), 0);
        assert_eq!(ceil_day(DAY_MICROS - 1), 1);
        assert_eq!(ceil_day(DAY_MICROS), 1);
        assert_eq!(floor_day(DAY_MICROS), 1);
        assert_eq!(ceil_day(0), 0);
    }
}
