//! The one translation of an [`EntryFilter`] into SQL conditions, for the entries table
//! and for the per-day counts that share its filter columns.

use crate::filter::{ActorMatch, EntryFilter, EventTypeMatch};
use sqlx::{QueryBuilder, Sqlite};

pub const DAY_MICROS: i64 = 86_400_000_000;

/// The time bounds of a query, on the column the target table has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeBounds {
    /// `ts` in microseconds, `[start, end)`.
    Micros(Option<i64>, Option<i64>),
    /// `day` (days since the epoch) in the per-day counts, `[start, end)`.
    Days(Option<i64>, Option<i64>),
}

/// Appends ` WHERE …` for the filter; the actor-by-name and search conditions apply only
/// to the entries table (the per-day counts are used only when neither is set).
pub fn push_where(qb: &mut QueryBuilder<'_, Sqlite>, filter: &EntryFilter, time: TimeBounds) {
    qb.push(" WHERE 1 = 1");
    let (column, start, end) = match time {
        TimeBounds::Micros(s, e) => ("ts", s, e),
        TimeBounds::Days(s, e) => ("day", s, e),
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
    }

    match &filter.actor {
        None => {}
        Some(ActorMatch::System) => {
            qb.push(" AND actor_type = 'system'");
        }
        Some(ActorMatch::Named(who)) => {
            qb.push(" AND (actor_id = ").push_bind(who.clone());
            qb.push(" OR actor_name = ")
                .push_bind(who.clone())
                .push(" COLLATE NOCASE)");
        }
    }

    if let Some(query) = fts_query(&filter.search) {
        qb.push(" AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ")
            .push_bind(query)
            .push(")");
    }
}

/// Every word must match, as a prefix, in any searched column. Words hold only letters
/// and digits (see `search_words`), so quoting them is enough to keep FTS syntax out.
pub fn fts_query(words: &[String]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    Some(terms.join(" AND "))
}

/// Whether the total can come from the per-day counts.
pub fn countable_by_day(filter: &EntryFilter) -> bool {
    filter.search.is_empty() && !matches!(filter.actor, Some(ActorMatch::Named(_)))
}

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

    fn sql(query: &str, time: TimeBounds) -> String {
        let (filter, _) = EntryQuery::from_query_string(query)
            .and_then(|q| q.validate())
            .expect("valid");
        let mut qb = QueryBuilder::new("SELECT seq FROM audit_entries");
        push_where(&mut qb, &filter, time);
        qb.sql().to_owned()
    }

    #[test]
    fn builds_one_condition_per_filter() {
        let s = sql(
            "event_type=auth.*&event_type=sync.failed&severity=error&actor=bob&q=kv",
            TimeBounds::Micros(Some(1), Some(2)),
        );
        assert_eq!(
            s,
            "SELECT seq FROM audit_entries WHERE 1 = 1 AND ts >= ? AND ts < ? AND ((event_type >= ? AND event_type < ?) OR event_type = ?) \
             AND severity IN (?) AND (actor_id = ? OR actor_name = ? COLLATE NOCASE) \
             AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)"
        );
        assert_eq!(
            sql("actor=system", TimeBounds::Days(None, Some(3))),
            "SELECT seq FROM audit_entries WHERE 1 = 1 AND day < ? AND actor_type = 'system'"
        );
    }

    #[test]
    fn search_terms_become_quoted_prefixes() {
        assert_eq!(
            fts_query(&["kv".into(), "prod".into()]).as_deref(),
            Some("\"kv\"* AND \"prod\"*")
        );
        assert_eq!(fts_query(&[]), None);
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
