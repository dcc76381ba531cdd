//! The one translation of an [`EntryFilter`] into SQL conditions, for the entries table
//! and for the per-day counts that share its filter columns.

use crate::entry::Severity;
use crate::filter::{ActorMatch, EntryFilter, EventTypeMatch};
use sqlx::{Database, Encode, QueryBuilder, Type};

pub const DAY_MICROS: i64 = 86_400_000_000;

/// The table a condition list is written for: the entries (time in `ts`, microseconds)
/// or one of the per-day count tables (time in `day`, days since the epoch). Bounds are
/// `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Entries { start: Option<i64>, end: Option<i64> },
    Counts { start: Option<i64>, end: Option<i64> },
}

/// A filter's time bounds as stored (microseconds since the epoch), `[start, end)`.
pub fn bounds(filter: &EntryFilter) -> (Option<i64>, Option<i64>) {
    (filter.start.map(|t| t.timestamp_micros()), filter.end.map(|t| t.timestamp_micros()))
}

/// The per-day count table that can answer a filter's total, if any: search totals
/// need the entries; an actor filter by name or id needs the per-actor counts.
pub fn counts_table(filter: &EntryFilter) -> Option<&'static str> {
    if !filter.search.is_empty() || filter.up_to.is_some() {
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
        || filter.up_to.is_some()
}

/// A value bound to a `?` of a condition list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(String),
}

/// SQL conditions and the values bound to them, written once and handed to either
/// driver: sqlx for the queries ([`Conditions::push_to`]) and rusqlite for the export
/// scan ([`Conditions::to_sql`]).
#[derive(Debug, Default)]
pub struct Conditions {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Sql(String),
    Bind(Bind),
}

impl Conditions {
    fn sql(&mut self, sql: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Sql(sql.into()));
        self
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.parts.push(Part::Bind(Bind::Int(value)));
        self
    }

    fn text(&mut self, value: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Bind(Bind::Text(value.into())));
        self
    }

    /// Writes the conditions into a query of either engine, each value bound (`?` for
    /// SQLite, `$n` for PostgreSQL).
    pub fn push_to<'a, DB: Database>(&self, qb: &mut QueryBuilder<'a, DB>)
    where
        i64: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
    {
        for part in &self.parts {
            match part {
                Part::Sql(sql) => {
                    qb.push(sql);
                }
                Part::Bind(Bind::Int(v)) => {
                    qb.push_bind(*v);
                }
                Part::Bind(Bind::Text(v)) => {
                    qb.push_bind(v.clone());
                }
            }
        }
    }

    /// The SQL with a `?` for each value, and the values in order.
    pub fn to_sql(&self) -> (String, Vec<Bind>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        for part in &self.parts {
            match part {
                Part::Sql(text) => sql.push_str(text),
                Part::Bind(bind) => {
                    sql.push('?');
                    binds.push(bind.clone());
                }
            }
        }
        (sql, binds)
    }
}

/// What a read looked up before writing its conditions, so that they state it instead of
/// looking it up themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lookups<'a> {
    /// The filter's search as an FTS5 query (see [`search_word`]); it applies to the
    /// entries only.
    pub fts: Option<&'a str>,
    /// The one actor an actor filter by name or id names, looked up in the read's own
    /// snapshot. Stated as `actor_ref = n`, PostgreSQL reads that actor's entries through
    /// its index newest first and its per-day counts by key; through a subquery it cannot
    /// tell how few they are, and walks every entry newest first (see
    /// `postgres/read.rs`, `actor_lookups`). Without it the subquery is written.
    pub actor_ref: Option<i64>,
}

impl<'a> Lookups<'a> {
    /// Nothing looked up: every condition written in full.
    pub const NONE: Lookups<'static> = Lookups { fts: None, actor_ref: None };

    /// The search as an FTS5 query, if the filter has one.
    pub fn fts(fts: Option<&'a str>) -> Self {
        Lookups { fts, actor_ref: None }
    }
}

/// Appends ` WHERE …` for the filter on the given table (see [`conditions`]).
pub fn push_where<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    filter: &EntryFilter,
    lookups: Lookups<'_>,
    target: Target,
) where
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    conditions(filter, lookups, target).push_to(qb);
}

/// ` WHERE …` for the filter on the given table, stating what `lookups` holds.
pub fn conditions(filter: &EntryFilter, lookups: Lookups<'_>, target: Target) -> Conditions {
    let mut c = Conditions::default();
    c.sql(" WHERE ");
    write_predicate(&mut c, filter, lookups, target);
    c
}

/// The same conditions as one expression (`1 = 1 AND …`), true for a matching row.
pub fn predicate(filter: &EntryFilter, target: Target) -> Conditions {
    let mut c = Conditions::default();
    c.sql("(");
    write_predicate(&mut c, filter, Lookups::NONE, target);
    c.sql(")");
    c
}

fn write_predicate(c: &mut Conditions, filter: &EntryFilter, lookups: Lookups<'_>, target: Target) {
    c.sql("1 = 1");
    let (column, start, end) = match target {
        Target::Entries { start, end } => ("ts", start, end),
        Target::Counts { start, end } => ("day", start, end),
    };
    if let Some(start) = start {
        c.sql(format!(" AND {column} >= ")).int(start);
    }
    if let Some(end) = end {
        c.sql(format!(" AND {column} < ")).int(end);
    }

    if !filter.event_types.is_empty() {
        c.sql(" AND (");
        for (i, m) in filter.event_types.iter().enumerate() {
            if i > 0 {
                c.sql(" OR ");
            }
            match m {
                EventTypeMatch::Exact(name) => {
                    c.sql("event_type = ").text(name.as_str());
                }
                // A range instead of LIKE so that the (event_type, ts) index serves it:
                // '/' is the character after '.'.
                EventTypeMatch::Prefix(prefix) => {
                    let upper = format!("{}/", &prefix[..prefix.len() - 1]);
                    c.sql("(event_type >= ").text(prefix.as_str());
                    c.sql(" AND event_type < ").text(upper).sql(")");
                }
            }
        }
        c.sql(")");
    }

    if !filter.severities.is_empty() {
        c.sql(" AND severity IN (");
        for (i, s) in filter.severities.iter().enumerate() {
            if i > 0 {
                c.sql(", ");
            }
            c.int(s.code());
        }
        c.sql(")");
        // Warnings and errors have a partial index (see migrations/sqlite/0002), which
        // SQLite uses only when the query states the index's own condition.
        if !filter.severities.contains(&Severity::Info) {
            c.sql(" AND severity > 0");
        }
    }

    match &filter.actor {
        None => {}
        Some(ActorMatch::System) => {
            c.sql(" AND actor_type = 'system'");
        }
        Some(ActorMatch::Named(who)) => match lookups.actor_ref {
            Some(one) => {
                c.sql(" AND actor_ref = ").int(one);
            }
            None => {
                let key = who.to_ascii_lowercase();
                c.sql(" AND actor_ref IN (SELECT ref FROM audit_actors WHERE id_key = ").text(key.as_str());
                c.sql(" OR name_key = ").text(key).sql(")");
            }
        },
    }

    if let (Some(up_to), Target::Entries { .. }) = (filter.up_to, target) {
        c.sql(" AND seq <= ").int(i64::try_from(up_to).unwrap_or(i64::MAX));
    }
    if let (Some(query), Target::Entries { .. }) = (lookups.fts, target) {
        c.sql(" AND seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ").text(query).sql(")");
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
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("SELECT seq FROM audit_entries");
        push_where(&mut qb, &filter, Lookups::fts((!filter.search.is_empty()).then_some("kv*")), target);
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
    fn either_driver_gets_the_same_sql_and_values() {
        let (filter, _) = EntryQuery::from_query_string("severity=error&severity=warning&actor=Bob")
            .and_then(|q| q.validate())
            .expect("valid");
        let c = conditions(&filter, Lookups::NONE, Target::Entries { start: Some(5), end: None });
        let (text, binds) = c.to_sql();
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("");
        c.push_to(&mut qb);
        assert_eq!(text, qb.sql());
        assert_eq!(
            binds,
            [
                Bind::Int(5),
                Bind::Int(Severity::Warning.code()),
                Bind::Int(Severity::Error.code()),
                Bind::Text("bob".into()),
                Bind::Text("bob".into())
            ]
        );
    }

    #[test]
    fn an_actor_looked_up_is_stated_on_entries_and_counts_alike() {
        let (filter, _) = EntryQuery::from_query_string("actor=Bob").and_then(|q| q.validate()).expect("valid");
        let looked_up = Lookups { fts: None, actor_ref: Some(7) };
        for target in [Target::Entries { start: None, end: None }, Target::Counts { start: None, end: None }] {
            let (text, binds) = conditions(&filter, looked_up, target).to_sql();
            assert_eq!(text, " WHERE 1 = 1 AND actor_ref = ?");
            assert_eq!(binds, [Bind::Int(7)]);
            let (text, _) = conditions(&filter, Lookups::NONE, target).to_sql();
            assert!(text.contains("SELECT ref FROM audit_actors"), "{text}");
        }
        // Nothing to state without an actor filter.
        let (text, _) =
            conditions(&EntryFilter::default(), looked_up, Target::Entries { start: None, end: None }).to_sql();
        assert_eq!(text, " WHERE 1 = 1");
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
