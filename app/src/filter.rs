//! The query of the audit log: the raw parameters as they travel in a URL (shared by the
//! REST API, the server functions and the page's query string), and their validated form
//! that the store turns into SQL.

use crate::catalogue::{is_well_formed, is_word};
use crate::dates;
use crate::entry::{ActorType, AuditEntry, Severity};
use crate::search;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;
pub const MAX_SEARCH_LEN: usize = 200;
const MAX_VALUES: usize = 50;
/// Date bounds outside these years are refused: no audit entry lies there, and the
/// timeline and time arithmetic stay far from chrono's limits.
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 9999;

/// The query parameters of `GET /audit/entries`, exactly as given (not yet validated).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct EntryQuery {
    /// From this date (`2025-01-31`, from its midnight UTC) or date-time (ISO 8601, any
    /// offset; none means UTC), inclusive.
    #[cfg_attr(feature = "ssr", param(example = "2025-01-01"))]
    pub start_date: Option<String>,
    /// To this date (the whole day included) or date-time (inclusive).
    #[cfg_attr(feature = "ssr", param(example = "2025-01-31"))]
    pub end_date: Option<String>,
    /// Event types, repeatable or comma-separated: exact (`auth.login.failed`) or a
    /// prefix (`auth.*`).
    #[cfg_attr(feature = "ssr", param(style = Form, explode))]
    pub event_type: Vec<String>,
    /// An actor's id or name (the name ignoring case), or `system` for the product's own events.
    pub actor: Option<String>,
    /// Severities, repeatable or comma-separated: `info`, `warning`, `error`.
    #[cfg_attr(feature = "ssr", param(style = Form, explode))]
    pub severity: Vec<String>,
    /// Search words, all of which must match a word of the event type, actor name,
    /// description or resource name (accents and case ignored; a word of three or more
    /// letters matches as a prefix, a shorter one as a whole word). At most 200 characters.
    pub q: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<String>,
    /// How many matching entries to skip (default 0).
    pub offset: Option<String>,
    /// Pull cursor: entries numbered above this sequence number, oldest first, instead of
    /// the newest first (not with `offset`). The answer's `next` and its `Link` header
    /// (`rel="next"`) give the cursor of the following request; see docs/delivery.md for
    /// why a poller following it never misses or repeats an entry.
    #[cfg_attr(feature = "ssr", param(example = "0"))]
    pub after: Option<String>,
}

/// Why a query was refused; the message is what the client sees.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("unknown query parameter '{0}'")]
    UnknownParameter(String),
    #[error("parameter '{0}' may be given only once")]
    Repeated(&'static str),
    #[error("{param} '{value}' is not an ISO 8601 date (YYYY-MM-DD) or date-time (e.g. 2025-01-15T10:30:00Z)")]
    BadDate { param: &'static str, value: String },
    #[error("{param} '{value}' is out of range: use a date from {MIN_YEAR} to {MAX_YEAR}")]
    DateOutOfRange { param: &'static str, value: String },
    #[error("start_date must not be after end_date")]
    StartAfterEnd,
    #[error("event_type '{0}' is malformed: use a type such as 'auth.login.failed' or a prefix such as 'auth.*'")]
    BadEventType(String),
    #[error("severity '{0}' is unknown: use info, warning or error")]
    BadSeverity(String),
    #[error("limit '{0}' is invalid: use a whole number from 1 to {MAX_LIMIT}")]
    BadLimit(String),
    #[error("offset '{0}' is invalid: use a whole number from 0")]
    BadOffset(String),
    #[error("after '{0}' is invalid: use a sequence number, a whole number from 0")]
    BadAfter(String),
    #[error("after pages oldest first from a sequence number: leave out offset")]
    AfterWithOffset,
    #[error("actor must not be empty")]
    EmptyActor,
    #[error("q is longer than {MAX_SEARCH_LEN} characters")]
    SearchTooLong,
    #[error("too many values for '{0}' (at most {MAX_VALUES})")]
    TooManyValues(&'static str),
}

/// Which event types match: one exactly, or all below a prefix (`auth.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTypeMatch {
    Exact(String),
    /// The prefix without the `*`, ending in a dot (`auth.`).
    Prefix(String),
}

impl EventTypeMatch {
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventTypeMatch::Exact(name) => name == event_type,
            EventTypeMatch::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActorMatch {
    /// Every event whose actor is the product itself.
    System,
    /// An actor whose id, or name (ignoring case), is this.
    Named(String),
}

/// A validated filter; the store translates it to SQL in one place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// Inclusive lower bound.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive upper bound (a bare end date has become the next midnight).
    pub end: Option<DateTime<Utc>>,
    pub event_types: Vec<EventTypeMatch>,
    pub actor: Option<ActorMatch>,
    pub severities: Vec<Severity>,
    /// Search words, split and folded; every one must match (see [`search::word_matches`]).
    pub search: Vec<String>,
    /// The newest sequence number to include: a snapshot of the log as it stood (an
    /// export covers the log up to the moment it was asked for). Not a query parameter.
    pub up_to: Option<u64>,
}

impl EntryFilter {
    /// Whether an entry passes this filter, by the same rules the store applies in SQL
    /// (actor id or name ignoring ASCII case; every search word matching a word of the
    /// event type, actor name, description or resource name).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let in_time = self.start.is_none_or(|s| entry.timestamp >= s) && self.end.is_none_or(|e| entry.timestamp < e);
        let typed = self.event_types.is_empty() || self.event_types.iter().any(|m| m.matches(&entry.event_type));
        let severe = self.severities.is_empty() || self.severities.contains(&entry.severity);
        let actor = match &self.actor {
            None => true,
            Some(ActorMatch::System) => entry.actor.kind == ActorType::System,
            Some(ActorMatch::Named(who)) => {
                entry.actor.id.eq_ignore_ascii_case(who) || entry.actor.name.eq_ignore_ascii_case(who)
            }
        };
        let in_snapshot = self.up_to.is_none_or(|last| entry.sequence <= last);
        in_time && in_snapshot && typed && severe && actor && self.search_matches(entry)
    }

    fn search_matches(&self, entry: &AuditEntry) -> bool {
        let resource = entry.resource.as_ref().and_then(|r| r.name.as_deref()).unwrap_or("");
        search::all_match(&self.search, &[&entry.event_type, &entry.actor.name, &entry.description, resource])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, offset: 0 }
    }
}

impl EntryQuery {
    /// Every parameter [`EntryQuery::from_query_string`] accepts; any other is refused.
    pub const PARAMETERS: [&'static str; 9] =
        ["start_date", "end_date", "event_type", "actor", "severity", "q", "limit", "offset", "after"];

    /// Reads a URL query string (`a=1&b=2`), with repeatable `event_type` and `severity`
    /// (comma-separated lists work too). Unknown parameters are refused so that a typo
    /// never silently widens an audit query.
    pub fn from_query_string(query: &str) -> Result<Self, FilterError> {
        let mut out = EntryQuery::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            let once = |slot: &mut Option<String>, name: &'static str| {
                if slot.replace(value.clone()).is_some() {
                    Err(FilterError::Repeated(name))
                } else {
                    Ok(())
                }
            };
            match key.as_ref() {
                "start_date" => once(&mut out.start_date, "start_date")?,
                "end_date" => once(&mut out.end_date, "end_date")?,
                "actor" => once(&mut out.actor, "actor")?,
                "q" => once(&mut out.q, "q")?,
                "limit" => once(&mut out.limit, "limit")?,
                "offset" => once(&mut out.offset, "offset")?,
                "after" => once(&mut out.after, "after")?,
                "event_type" => out.event_type.push(value),
                "severity" => out.severity.push(value),
                other => return Err(FilterError::UnknownParameter(other.to_owned())),
            }
        }
        Ok(out)
    }

    /// Writes the query back as a URL query string (empty values left out), the inverse
    /// of [`EntryQuery::from_query_string`].
    pub fn to_query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                out.append_pair(k, v);
            }
        };
        put("start_date", &self.start_date);
        put("end_date", &self.end_date);
        put("actor", &self.actor);
        put("q", &self.q);
        put("limit", &self.limit);
        put("offset", &self.offset);
        put("after", &self.after);
        for v in self.event_type.iter().filter(|v| !v.is_empty()) {
            out.append_pair("event_type", v);
        }
        for v in self.severity.iter().filter(|v| !v.is_empty()) {
            out.append_pair("severity", v);
        }
        out.finish()
    }

    /// Whether any paging parameter (`limit`, `offset`, `after`) is given: counts and
    /// exports cover every matching entry and refuse them.
    pub fn pages(&self) -> bool {
        self.limit.is_some() || self.offset.is_some() || self.after.is_some()
    }

    /// The pull cursor (`after`), checked: `None` when it is not given.
    pub fn after(&self) -> Result<Option<u64>, FilterError> {
        let after = match self.after.as_deref().map(str::trim) {
            None | Some("") => return Ok(None),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| FilterError::BadAfter(v.to_owned()))?,
        };
        if self.offset.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            return Err(FilterError::AfterWithOffset);
        }
        Ok(Some(after))
    }

    /// Validates every parameter; the first problem found is reported.
    pub fn validate(&self) -> Result<(EntryFilter, PageRequest), FilterError> {
        let start = self.start_date.as_deref().map(|v| parse_bound(v, "start_date", Bound::Start)).transpose()?;
        let end = self.end_date.as_deref().map(|v| parse_bound(v, "end_date", Bound::End)).transpose()?;
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                return Err(FilterError::StartAfterEnd);
            }
        }

        let event_types = split_list(&self.event_type, "event_type")?
            .into_iter()
            .map(parse_event_type)
            .collect::<Result<Vec<_>, _>>()?;
        let mut severities = split_list(&self.severity, "severity")?
            .into_iter()
            .map(|v| v.parse::<Severity>().map_err(|()| FilterError::BadSeverity(v.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        severities.sort();
        severities.dedup();

        let actor = match self.actor.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err(FilterError::EmptyActor),
            Some(a) if a.eq_ignore_ascii_case("system") => Some(ActorMatch::System),
            Some(a) => Some(ActorMatch::Named(a.to_owned())),
        };

        let search = match self.q.as_deref() {
            Some(q) if q.chars().count() > MAX_SEARCH_LEN => return Err(FilterError::SearchTooLong),
            Some(q) => search::query_words(q),
            None => Vec::new(),
        };

        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| FilterError::BadLimit(v.to_owned()))?,
        };
        let offset = match self.offset.as_deref() {
            None | Some("") => 0,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| FilterError::BadOffset(v.to_owned()))?,
        };
        self.after()?;

        Ok((
            EntryFilter { start, end, event_types, actor, severities, search, up_to: None },
            PageRequest { limit, offset },
        ))
    }
}

#[derive(Clone, Copy)]
enum Bound {
    Start,
    End,
}

/// A bare date starts at midnight UTC; as an end bound it includes that whole day. A
/// date-time is taken with its offset (UTC if it has none); as an end bound it is
/// inclusive.
fn parse_bound(value: &str, param: &'static str, bound: Bound) -> Result<DateTime<Utc>, FilterError> {
    let bad = || FilterError::BadDate { param, value: value.to_owned() };
    let value = value.trim();
    let instant = parse_instant(value, bound).ok_or_else(bad)?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&instant.year()) {
        return Err(FilterError::DateOutOfRange { param, value: value.to_owned() });
    }
    Ok(instant)
}

/// A date bound as written: a bare date, or an instant (with its offset; none means UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateBound {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

/// Reads a date bound: `2025-01-31`, an RFC 3339 date-time with any offset, or a
/// date-time without one (`2025-01-31T10:00`, seconds and fractions optional).
pub fn read_date(value: &str) -> Option<DateBound> {
    let value = value.trim();
    if let Some(date) = dates::read_ymd(value) {
        return Some(DateBound::Day(date));
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| dates::read_naive(value).map(|t| Utc.from_utc_datetime(&t)))
        .map(DateBound::At)
}

fn parse_instant(value: &str, bound: Bound) -> Option<DateTime<Utc>> {
    match (read_date(value)?, bound) {
        (DateBound::Day(date), Bound::Start) => Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?)),
        (DateBound::Day(date), Bound::End) => {
            Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?).checked_add_signed(Duration::days(1))
        }
        (DateBound::At(instant), Bound::Start) => Some(instant),
        (DateBound::At(instant), Bound::End) => instant.checked_add_signed(Duration::microseconds(1)),
    }
}

fn split_list<'a>(values: &'a [String], param: &'static str) -> Result<Vec<&'a str>, FilterError> {
    let items: Vec<&str> = values.iter().flat_map(|v| comma_list(v)).collect();
    if items.len() > MAX_VALUES {
        return Err(FilterError::TooManyValues(param));
    }
    Ok(items)
}

/// One event-type filter value: an exact type or a prefix (`auth.*`).
pub fn parse_event_type(value: &str) -> Result<EventTypeMatch, FilterError> {
    let bad = || FilterError::BadEventType(value.to_owned());
    if let Some(prefix) = value.strip_suffix(".*") {
        let words: Vec<&str> = prefix.split('.').collect();
        if words.len() > 2 || !words.iter().all(|w| is_word(w)) {
            return Err(bad());
        }
        return Ok(EventTypeMatch::Prefix(format!("{prefix}.")));
    }
    if is_well_formed(value) {
        Ok(EventTypeMatch::Exact(value.to_owned()))
    } else {
        Err(bad())
    }
}

/// The non-empty, trimmed items of a comma-separated list.
pub fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|v| !v.is_empty())
}

/// Takes a parameter that may be given once out of a URL query string, leaving the rest
/// (the export's `format`, the live stream's `after`).
pub fn take_param(query: &str, name: &'static str) -> Result<(Option<String>, String), FilterError> {
    let mut taken = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == name {
            if taken.replace(value.into_owned()).is_some() {
                return Err(FilterError::Repeated(name));
            }
        } else {
            rest.append_pair(&key, &value);
        }
    }
    Ok((taken, rest.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<(EntryFilter, PageRequest), FilterError> {
        EntryQuery::from_query_string(s)?.validate()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("test time")
    }

    #[test]
    fn empty_query_is_first_page_of_everything() {
        let (f, p) = q("").expect("valid");
        assert_eq!(f, EntryFilter::default());
        assert_eq!(p, PageRequest { limit: 50, offset: 0 });
    }

    #[test]
    fn bare_end_date_includes_the_whole_day() {
        let (f, _) = q("start_date=2025-01-01&end_date=2025-01-31").expect("valid");
        assert_eq!(f.start, Some(t("2025-01-01T00:00:00Z")));
        assert_eq!(f.end, Some(t("2025-02-01T00:00:00Z")));
    }

    #[test]
    fn date_times_keep_their_offset_and_end_is_inclusive() {
        let (f, _) = q("start_date=2025-01-15T12:00:00%2B02:00&end_date=2025-01-15T10:30:00Z").expect("valid");
        assert_eq!(f.start, Some(t("2025-01-15T10:00:00Z")));
        assert_eq!(f.end, Some(t("2025-01-15T10:30:00.000001Z")));
        let (f, _) = q("start_date=2025-01-15T10:00:00").expect("naive is UTC");
        assert_eq!(f.start, Some(t("2025-01-15T10:00:00Z")));
    }

    #[test]
    fn same_day_range_is_valid_but_reversed_range_is_not() {
        assert!(q("start_date=2025-01-01&end_date=2025-01-01").is_ok());
        assert_eq!(q("start_date=2025-01-02&end_date=2025-01-01"), Err(FilterError::StartAfterEnd));
    }

    #[test]
    fn repeated_and_comma_separated_lists() {
        let (f, _) =
            q("event_type=auth.*&event_type=sync.failed,rotation.failed&severity=error&severity=warning,error")
                .expect("valid");
        assert_eq!(
            f.event_types,
            vec![
                EventTypeMatch::Prefix("auth.".into()),
                EventTypeMatch::Exact("sync.failed".into()),
                EventTypeMatch::Exact("rotation.failed".into()),
            ]
        );
        assert_eq!(f.severities, vec![Severity::Warning, Severity::Error]);
    }

    #[test]
    fn actor_system_and_named() {
        assert_eq!(q("actor=system").expect("valid").0.actor, Some(ActorMatch::System));
        assert_eq!(q("actor=SYSTEM").expect("valid").0.actor, Some(ActorMatch::System));
        assert_eq!(
            q("actor=admin%40company.com").expect("valid").0.actor,
            Some(ActorMatch::Named("admin@company.com".into()))
        );
        assert_eq!(q("actor=+"), Err(FilterError::EmptyActor));
    }

    #[test]
    fn search_is_split_into_words() {
        let (f, _) = q("q=Admin%40Company.com+kv-prod+M%C3%BCller").expect("valid");
        assert_eq!(f.search, vec!["admin", "company", "com", "kv", "prod", "muller"]);
        assert_eq!(q(&format!("q={}", "a".repeat(201))), Err(FilterError::SearchTooLong));
    }

    #[test]
    fn one_parameter_is_taken_out_of_a_query_once() {
        assert_eq!(take_param("a=1&format=csv&b=2", "format"), Ok((Some("csv".into()), "a=1&b=2".into())));
        assert_eq!(take_param("a=1", "format"), Ok((None, "a=1".into())));
        assert_eq!(take_param("format=a&format=b", "format"), Err(FilterError::Repeated("format")));
        assert_eq!(comma_list(" a, ,b ,").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let cases = [
            ("start_date=yesterday", "start_date 'yesterday'"),
            ("end_date=2025-13-01", "end_date '2025-13-01'"),
            ("event_type=Auth.Login", "event_type 'Auth.Login'"),
            ("event_type=auth", "event_type 'auth'"),
            ("event_type=*", "event_type '*'"),
            ("severity=critical", "severity 'critical'"),
            ("limit=0", "limit '0'"),
            ("limit=1001", "limit '1001'"),
            ("limit=ten", "limit 'ten'"),
            ("offset=-1", "offset '-1'"),
            ("colour=red", "unknown query parameter 'colour'"),
            ("limit=1&limit=2", "'limit' may be given only once"),
            ("start_date=0001-01-01", "start_date '0001-01-01' is out of range"),
            ("end_date=%2B262143-12-31", "end_date '+262143-12-31'"),
            ("end_date=-262144-01-01T00:00:00", "end_date '-262144-01-01T00:00:00'"),
        ];
        for (query, expected) in cases {
            let err = q(query).expect_err(query).to_string();
            assert!(err.contains(expected), "{query}: {err}");
        }
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(q("limit=1").expect("valid").1.limit, 1);
        assert_eq!(q("limit=1000&offset=5").expect("valid").1, PageRequest { limit: 1000, offset: 5 });
    }

    #[test]
    fn query_string_round_trips() {
        let text = "start_date=2025-01-01&actor=system&q=kv+prod&event_type=auth.*&severity=error";
        let query = EntryQuery::from_query_string(text).expect("valid");
        assert_eq!(EntryQuery::from_query_string(&query.to_query_string()), Ok(query));
    }

    #[test]
    fn prefix_matching() {
        let m = EventTypeMatch::Prefix("auth.".into());
        assert!(m.matches("auth.login.success"));
        assert!(!m.matches("authz.x"));
        assert!(EventTypeMatch::Exact("sync.failed".into()).matches("sync.failed"));
    }
}
