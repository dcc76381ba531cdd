//! Live updates for the Audit tab: a Server-Sent Events stream of new entries that match
//! the page's filters. Appends in this process wake it at once; a slow poll also finds
//! entries other processes append to the same database.

use super::caller::Who;
use super::error::ApiError;
use super::login::session_cookie;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use app::audit::live::ENTRY_EVENT;
use app::filter::{take_param, EntryFilter, EntryQuery};
use app::signin;
use app::store::AuditLog;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often entries appended by other processes are looked for.
const POLL: Duration = Duration::from_secs(2);
/// Entries read at a time; a burst larger than this is sent over several reads.
const BATCH: u32 = 500;
/// How far behind the newest entry a stream may start.
const MAX_BACKLOG: u64 = 10_000;

/// How often a stream checks that the session that opened it is still open.
const SESSION_CHECK: Duration = Duration::from_secs(5);

struct Follow {
    log: Arc<dyn AuditLog>,
    filter: EntryFilter,
    head: watch::Receiver<u64>,
    cursor: u64,
    /// The session the stream was opened with, and when it was last found open.
    session: Option<(String, Instant)>,
    state: AppState,
}

impl Follow {
    /// Whether the stream may go on: its session has not ended (signed out, timed out, the
    /// person disabled or deleted) since it was last checked. A store failure does not end
    /// it; the next check asks again.
    async fn may_go_on(&mut self) -> bool {
        let Some((token, checked)) = &mut self.session else { return true };
        if checked.elapsed() < SESSION_CHECK {
            return true;
        }
        let timeouts = &self.state.sign_in.timeouts;
        match signin::still_open(&self.state.store, token, timeouts, chrono::Utc::now()).await {
            Ok(open) => {
                *checked = Instant::now();
                open
            }
            Err(e) => {
                tracing::warn!(error = %e, "a live stream could not check its session");
                true
            }
        }
    }
}

/// `GET /api/audit/live?<filters>&after=<sequence>`: every entry after `after` (or after
/// the newest at connection) that matches, as an `entry` event carrying its JSON. The
/// stream ends when the server stops, so that it never holds a shutdown up, and when the
/// session that opened it ends (checked every few seconds).
pub async fn stream(
    State(state): State<AppState>,
    Who(caller): Who,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (after, rest) = take_param(query.as_deref().unwrap_or_default(), "after")?;
    let after = after
        .map(|value| {
            value.parse::<u64>().map_err(|_| ApiError::bad_request(format!("after '{value}' is not a sequence number")))
        })
        .transpose()?;
    let (filter, _) = EntryQuery::from_query_string(&rest)?.validate()?;
    // Reading the log as it grows is a read like any other: say who follows it.
    tracing::info!(principal = %caller.principal.label(), ip = ?caller.ip, "live stream opened");
    let log = state.log.clone();
    let head = log.watch_head();
    // A cursor far behind would have the stream read (and filter) the whole backlog.
    let newest = *head.borrow();
    let cursor = after.map_or(newest, |after| after.max(newest.saturating_sub(MAX_BACKLOG)));
    let session = session_cookie(&headers).map(|token| (token.to_owned(), Instant::now()));
    let follow = Follow { log, filter, head, cursor, session, state: state.clone() };
    let events = stream::unfold(follow, |mut f| async move {
        loop {
            if !f.may_go_on().await {
                tracing::info!("live stream ended with its session");
                return None;
            }
            match f.log.entries_after(f.cursor, BATCH).await {
                Ok(entries) if !entries.is_empty() => {
                    f.cursor = entries.last().map_or(f.cursor, |e| e.sequence);
                    let matching: Vec<Result<Event, Infallible>> = entries
                        .iter()
                        .filter(|e| f.filter.matches(e))
                        .filter_map(|e| Event::default().event(ENTRY_EVENT).json_data(e).ok())
                        .map(Ok)
                        .collect();
                    if !matching.is_empty() {
                        return Some((stream::iter(matching), f));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "live updates could not read new entries"),
            }
            // Nothing new: wait for an append here, or poll for one elsewhere.
            if let Ok(Err(_)) = tokio::time::timeout(POLL, f.head.changed()).await {
                // The store is closing: no more wake-ups, only the poll.
                tokio::time::sleep(POLL).await;
            }
        }
    })
    .flatten()
    .take_until(stopping(state.shutdown));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

async fn stopping(shutdown: Shutdown) {
    shutdown.triggered().await;
}
