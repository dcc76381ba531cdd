//! The Audit tab keeps its whole state in the URL, under the parameter names of
//! `GET /audit/entries`: a link reproduces the view, reload keeps it and the browser's
//! history steps through it. These helpers read that state and write the links that
//! change it.

use crate::catalogue::{Category, CATALOGUE};
use crate::dates;
use crate::filter::{comma_list, read_date, DateBound, EntryQuery};
use chrono::{DateTime, Duration, Utc};

/// The page sizes offered; the API's default (50) is the middle one.
pub const PAGE_SIZES: [u32; 3] = [25, 50, 100];

/// The tab's query read from `location.search`, tidied so that it means what it says:
/// empty fields (a form submitted without script sends every field) are dropped and
/// comma lists are split into single values. A query that does not parse is handed on
/// as it is, so that the server can say what is wrong with it.
pub fn parse(search: &str) -> Result<EntryQuery, String> {
    let raw = search.trim_start_matches('?');
    EntryQuery::from_query_string(raw).map(tidy).map_err(|_| raw.to_owned())
}

fn tidy(mut q: EntryQuery) -> EntryQuery {
    // The tab pages newest first by offset; a pull cursor belongs to the API's pollers.
    q.after = None;
    for slot in [&mut q.start_date, &mut q.end_date, &mut q.actor, &mut q.q, &mut q.limit, &mut q.offset] {
        if slot.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *slot = None;
        }
    }
    for list in [&mut q.event_type, &mut q.severity] {
        let mut values: Vec<String> = Vec::new();
        for value in list.iter().flat_map(|v| comma_list(v)) {
            if !values.iter().any(|v| v == value) {
                values.push(value.to_owned());
            }
        }
        *list = values;
    }
    q
}

/// The address of the tab showing `query`.
pub fn href(query: &EntryQuery) -> String {
    let qs = query.to_query_string();
    if qs.is_empty() {
        "/audit".to_owned()
    } else {
        format!("/audit?{qs}")
    }
}

/// The same filters from their first page: every filter change starts there.
pub fn first_page(mut query: EntryQuery) -> EntryQuery {
    query.offset = None;
    query
}

/// The filters cleared, keeping only the reader's page size.
pub fn cleared(query: &EntryQuery) -> EntryQuery {
    EntryQuery { limit: query.limit.clone(), ..EntryQuery::default() }
}

/// The event types of a category, as the filter lists them.
pub fn category_types(category: Category) -> Vec<&'static str> {
    CATALOGUE.iter().filter(|e| e.category == category).map(|e| e.name).collect()
}

/// The catalogue's categories in the order the filter shows them (custom types have no
/// list to pick from).
pub fn categories() -> impl Iterator<Item = Category> {
    Category::ALL.into_iter().filter(|c| *c != Category::Custom)
}

/// A date bound of the URL as a `datetime-local` field shows it (UTC, to the second):
/// a bare start date is its midnight, a bare end date the last second of that day.
/// A value that is not a date is shown as it is, for the server to explain.
pub fn datetime_local(value: &str, end: bool) -> String {
    match read_date(value) {
        Some(DateBound::Day(date)) => format!("{date}T{}", if end { "23:59:59" } else { "00:00:00" }),
        // The field takes no more than seconds (an end typed to the second is stored
        // with its last microsecond).
        Some(DateBound::At(t)) => dates::ymd_hms(&t, 'T'),
        None => value.trim().to_owned(),
    }
}

/// The start of a "last N days" preset, to the minute, as the URL carries it.
pub fn preset_start(now: DateTime<Utc>, hours: i64) -> String {
    let start = now - Duration::hours(hours);
    format!("{}:00Z", dates::ymd_hm(&start, 'T'))
}

/// The presets of the date filter: (label, hours back from now).
pub const PRESETS: [(&str, i64); 4] =
    [("Last 24 hours", 24), ("Last 7 days", 24 * 7), ("Last 30 days", 24 * 30), ("Last 90 days", 24 * 90)];

/// One active filter, shown as a removable chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    /// What the filter is ("Severity").
    pub name: &'static str,
    /// Its value as the reader knows it ("error").
    pub value: String,
    /// The tab without this filter.
    pub remove: String,
}

impl Chip {
    pub fn label(&self) -> String {
        format!("{}: {}", self.name, self.value)
    }
}

/// The chips of every active filter, in the order of the filter bar.
pub fn chips(query: &EntryQuery) -> Vec<Chip> {
    let base = first_page(query.clone());
    let mut out = Vec::new();
    let mut push = |name: &'static str, value: String, without: EntryQuery| {
        out.push(Chip { name, value, remove: href(&without) });
    };
    if let Some(v) = &base.start_date {
        push("From", v.clone(), EntryQuery { start_date: None, ..base.clone() });
    }
    if let Some(v) = &base.end_date {
        push("Until", v.clone(), EntryQuery { end_date: None, ..base.clone() });
    }
    // A whole category selected reads as one chip.
    let mut rest: Vec<&String> = base.event_type.iter().collect();
    for category in categories() {
        let types = category_types(category);
        if types.iter().all(|t| base.event_type.iter().any(|v| v == t)) {
            rest.retain(|v| !types.contains(&v.as_str()));
            let without = base.event_type.iter().filter(|v| !types.contains(&v.as_str())).cloned().collect();
            push(
                "Event type",
                format!("{} (all)", category.label()),
                EntryQuery { event_type: without, ..base.clone() },
            );
        }
    }
    for value in rest {
        let without = base.event_type.iter().filter(|v| *v != value).cloned().collect();
        push("Event type", value.clone(), EntryQuery { event_type: without, ..base.clone() });
    }
    if let Some(v) = &base.actor {
        push("Actor", v.clone(), EntryQuery { actor: None, ..base.clone() });
    }
    for value in &base.severity {
        let without = base.severity.iter().filter(|v| *v != value).cloned().collect();
        push("Severity", value.clone(), EntryQuery { severity: without, ..base.clone() });
    }
    if let Some(v) = &base.q {
        push("Search", format!("“{v}”"), EntryQuery { q: None, ..base.clone() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_dropped_and_lists_split() {
        let q = parse("?start_date=&q=&actor=bob&event_type=auth.logout,sync.failed&event_type=auth.logout&severity=")
            .expect("parses");
        assert_eq!(q.start_date, None);
        assert_eq!(q.q, None);
        assert_eq!(q.actor.as_deref(), Some("bob"));
        assert_eq!(q.event_type, vec!["auth.logout", "sync.failed"]);
        assert!(q.severity.is_empty());
        assert_eq!(href(&q), "/audit?actor=bob&event_type=auth.logout&event_type=sync.failed");
        assert_eq!(parse("colour=red"), Err("colour=red".to_owned()));
        assert_eq!(href(&EntryQuery::default()), "/audit");
    }

    #[test]
    fn each_chip_removes_its_own_filter_and_returns_to_the_first_page() {
        let q = parse("severity=error&severity=warning&q=kv+prod&actor=system&offset=50&limit=25").expect("parses");
        let chips = chips(&q);
        let labels: Vec<String> = chips.iter().map(Chip::label).collect();
        assert_eq!(labels, ["Actor: system", "Severity: error", "Severity: warning", "Search: “kv prod”"]);
        assert_eq!(chips[1].remove, "/audit?actor=system&q=kv+prod&limit=25&severity=warning");
        assert_eq!(chips[3].remove, "/audit?actor=system&limit=25&severity=error&severity=warning");
        assert_eq!(href(&cleared(&q)), "/audit?limit=25");
    }

    #[test]
    fn date_bounds_show_in_utc_to_the_second() {
        assert_eq!(datetime_local("2025-01-31", false), "2025-01-31T00:00:00");
        assert_eq!(datetime_local("2025-01-31", true), "2025-01-31T23:59:59");
        assert_eq!(datetime_local("2025-01-31T10:30:00+02:00", false), "2025-01-31T08:30:00");
        assert_eq!(datetime_local("2025-01-31T10:30", false), "2025-01-31T10:30:00");
        assert_eq!(datetime_local("2025-01-31T23:59:59.999999", true), "2025-01-31T23:59:59");
        assert_eq!(datetime_local("2025-01-31T04:59:59.999999Z", true), "2025-01-31T04:59:59");
        let now: DateTime<Utc> = "2025-02-01T12:34:56Z".parse().expect("time");
        assert_eq!(preset_start(now, 24), "2025-01-31T12:34:00Z");
    }

    #[test]
    fn a_whole_category_is_one_chip() {
        let auth = category_types(Category::Auth);
        assert!(auth.len() > 1);
        let mut q = EntryQuery { event_type: auth.iter().map(|s| s.to_string()).collect(), ..EntryQuery::default() };
        q.event_type.push("sync.failed".into());
        let chips = chips(&q);
        assert_eq!(chips.len(), 2);
        assert_eq!(chips[0].label(), "Event type: Authentication (all)");
        assert_eq!(chips[0].remove, "/audit?event_type=sync.failed");
        assert_eq!(chips[1].label(), "Event type: sync.failed");
    }
}
