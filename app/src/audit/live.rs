//! Live updates: while "Live" is on, new entries that match the filters stream into the
//! top of the table over Server-Sent Events, without moving what the reader is looking at.

use crate::entry::AuditEntry;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The stream's address; its query is the page's filters plus `after=<sequence>`.
pub const LIVE_PATH: &str = "/api/audit/live";
/// The SSE event name of one new entry (its data is the entry's JSON).
pub const ENTRY_EVENT: &str = "entry";

/// The stream for a filter query (without paging), after the newest entry shown.
pub fn stream_url(filters: &str, after: Option<u64>) -> String {
    let mut url = format!("{LIVE_PATH}?{filters}");
    if let Some(after) = after {
        if !filters.is_empty() {
            url.push('&');
        }
        url.push_str(&format!("after={after}"));
    }
    url
}

/// At most this many live rows are kept above the page; older ones drop off the table.
pub const MAX_LIVE_ROWS: usize = 200;

/// Whether live updates are on, the entries they brought (newest first), and how many
/// arrived late: entries dated before the newest one shown belong further down the log,
/// not at the top, so they are counted rather than shown out of order.
#[derive(Clone, Copy)]
pub struct Live {
    pub on: RwSignal<bool>,
    pub entries: RwSignal<Vec<AuditEntry>>,
    pub late: RwSignal<u64>,
    /// The server refused or ended the stream for good (the session ended, the server
    /// went away): the browser will not reconnect by itself.
    pub stopped: RwSignal<bool>,
}

impl Live {
    pub fn new() -> Self {
        Live {
            on: RwSignal::new(false),
            entries: RwSignal::new(Vec::new()),
            late: RwSignal::new(0),
            stopped: RwSignal::new(false),
        }
    }

    /// Takes one streamed entry: at the top when it is the newest, counted when late.
    pub fn receive(&self, entry: AuditEntry, newest_shown: Option<DateTime<Utc>>) {
        let top = self.entries.with_untracked(|rows| rows.first().map(|e| e.timestamp)).or(newest_shown);
        if top.is_some_and(|top| entry.timestamp < top) {
            self.late.update(|n| *n += 1);
            return;
        }
        self.entries.update(|rows| {
            if !rows.iter().any(|r| r.id == entry.id) {
                rows.insert(0, entry);
                rows.truncate(MAX_LIVE_ROWS);
            }
        });
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// The "Live" switch. It follows `filters` (the page's query without paging) from the
/// newest entry on the first page; on later pages it waits, since new entries would
/// only push the page's rows along.
#[component]
pub fn LiveToggle(
    filters: Memo<Option<String>>,
    first_page: Signal<bool>,
    /// The highest sequence number and the latest time among the rows shown.
    newest: Signal<Option<(u64, DateTime<Utc>)>>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    // The browser's EventSource is not Send, so it is kept in local storage there; the
    // server (whose threads would drop it elsewhere) keeps an empty placeholder.
    #[cfg(feature = "hydrate")]
    let connection = StoredValue::new_local(None::<connection::Connection>);
    #[cfg(not(feature = "hydrate"))]
    let connection = StoredValue::new(None::<connection::Connection>);
    Effect::new(move |_| {
        let (on, filters, first, newest) = (live.on.get(), filters.get(), first_page.get(), newest.get());
        // A new page or new filters: the rows that arrived live are in it, or do not match.
        live.entries.set(Vec::new());
        live.late.set(0);
        live.stopped.set(false);
        connection.set_value(None);
        if let (true, Some(filters), true) = (on, filters, first) {
            let url = stream_url(&filters, newest.map(|(seq, _)| seq));
            connection.set_value(connection::open(&url, live, newest.map(|(_, t)| t)));
        }
    });
    let status = move || {
        if live.on.get() && live.stopped.get() {
            return "Live updates stopped: reload the page (you may need to sign in again)".to_owned();
        }
        let text = match (live.on.get(), first_page.get(), live.entries.with(Vec::len)) {
            (false, _, _) => return String::new(),
            (true, false, _) => return "New entries show on the first page".to_owned(),
            (true, true, 0) => "Waiting for new entries…".to_owned(),
            (true, true, 1) => "1 new entry".to_owned(),
            (true, true, n) => format!("{n} new entries"),
        };
        match live.late.get() {
            0 => text,
            n => format!("{text}; {n} dated earlier (reload to see them in place)"),
        }
    };
    view! {
        <div class="live">
            <label class="live-toggle">
                <input
                    type="checkbox"
                    role="switch"
                    prop:checked=move || live.on.get()
                    on:change=move |ev| live.on.set(event_target_checked(&ev))
                />
                "Live"
            </label>
            <span class="live-status" role="status">{status}</span>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod connection {
    use super::{Live, ENTRY_EVENT};
    use crate::entry::AuditEntry;
    use chrono::{DateTime, Utc};
    use leptos::prelude::*;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    /// An open stream; dropping it closes the stream.
    pub struct Connection {
        source: EventSource,
        _on_entry: Closure<dyn FnMut(MessageEvent)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Drop for Connection {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    pub fn open(url: &str, live: Live, newest_shown: Option<DateTime<Utc>>) -> Option<Connection> {
        let source = EventSource::new(url).ok()?;
        let on_entry = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(entry) = ev.data().as_string().and_then(|d| serde_json::from_str::<AuditEntry>(&d).ok()) else {
                return;
            };
            keep_place(move || live.receive(entry, newest_shown));
        });
        source.add_event_listener_with_callback(ENTRY_EVENT, on_entry.as_ref().unchecked_ref()).ok()?;
        // A dropped connection is retried by the browser; a refused one (401 once the
        // session has ended) is closed for good, and the reader should know.
        let watched = source.clone();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if watched.ready_state() == EventSource::CLOSED {
                live.stopped.set(true);
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(Connection { source, _on_entry: on_entry, _on_error: on_error })
    }

    /// Runs `update` (which adds rows at the top of the table); a reader scrolled down
    /// the page is scrolled by the height the rows added, so what they read stays put.
    fn keep_place(update: impl FnOnce()) {
        let height = || document().document_element().map_or(0, |e| e.scroll_height());
        let (before, scrolled) = (height(), window().scroll_y().unwrap_or(0.0) > 0.0);
        update();
        request_animation_frame(move || {
            let grown = height() - before;
            if scrolled && grown > 0 {
                window().scroll_by_with_x_and_y(0.0, f64::from(grown));
            }
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod connection {
    use super::Live;

    /// On the server nothing is streamed to.
    pub struct Connection;

    pub fn open(_: &str, _: Live, _: Option<chrono::DateTime<chrono::Utc>>) -> Option<Connection> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, time: &str) -> AuditEntry {
        AuditEntry {
            id: crate::entry::entry_id(seq),
            timestamp: time.parse().expect("time"),
            event_type: "auth.logout".into(),
            actor: crate::entry::Actor { kind: crate::entry::ActorType::User, id: "u".into(), name: "u".into() },
            resource: None,
            description: "d".into(),
            details: serde_json::Map::new(),
            severity: crate::entry::Severity::Info,
            ip_address: None,
            user_agent: None,
            received_at: None,
            ingested_by: None,
            sequence: seq,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_stream_address_carries_the_filters_and_the_cursor() {
        assert_eq!(stream_url("severity=error", Some(7)), "/api/audit/live?severity=error&after=7");
        assert_eq!(stream_url("", None), "/api/audit/live?");
    }

    #[test]
    fn new_entries_go_on_top_and_late_ones_are_counted() {
        // Signals live in the arena of a reactive owner.
        Owner::new_root(None).with(receives_in_order);
    }

    fn receives_in_order() {
        let live = Live::new();
        let shown: DateTime<Utc> = "2025-01-10T10:00:00Z".parse().expect("time");
        live.receive(entry(5, "2025-01-10T10:05:00Z"), Some(shown));
        live.receive(entry(6, "2025-01-10T10:06:00Z"), Some(shown));
        live.receive(entry(6, "2025-01-10T10:06:00Z"), Some(shown));
        // Dated before the newest row: it belongs further down the log.
        live.receive(entry(7, "2025-01-10T10:05:30Z"), Some(shown));
        live.receive(entry(8, "2025-01-09T00:00:00Z"), Some(shown));
        let ids: Vec<u64> = live.entries.with_untracked(|rows| rows.iter().map(|e| e.sequence).collect());
        assert_eq!(ids, [6, 5]);
        assert_eq!(live.late.get_untracked(), 2);
        for seq in 10..(10 + MAX_LIVE_ROWS as u64 + 5) {
            live.receive(entry(seq, "2025-01-11T00:00:00Z"), Some(shown));
        }
        assert_eq!(live.entries.with_untracked(Vec::len), MAX_LIVE_ROWS);
    }
}
