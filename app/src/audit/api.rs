//! Server functions of the Audit tab: thin wrappers over the service.

use crate::entry::{AuditEntry, EntryPage};
use crate::histogram::Histogram;
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the page is told when a query fails: a bad query is explained, store failures
/// are logged on the server and reported without their internals.
#[derive(Clone, Debug, Error, PartialEq, Serialize, Deserialize)]
pub enum AuditError {
    #[error("{0}")]
    BadQuery(String),
    #[error("no audit entry has the id '{0}'")]
    NotFound(String),
    #[error("the audit store is unavailable; try again shortly")]
    Unavailable,
    /// The session ended (timed out, signed out elsewhere): the server's 401 reply
    /// ([`crate::access::SIGNED_OUT_REPLY`]).
    #[error("your session has ended: sign in again")]
    SignedOut,
    #[error("the server could not be reached: {0}")]
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for AuditError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AuditError::Transport(value)
    }
}

/// One page of entries for a URL query string (the page's own `?…`), so the page and
/// `GET /audit/entries` read exactly the same parameters.
#[server(endpoint = "audit_entries")]
pub async fn list_entries(query: String) -> Result<EntryPage, AuditError> {
    use crate::audit::service;

    let query = parse_query(&query)?;
    service::list_entries(log()?.as_ref(), &query).await.map_err(query_failed("listing audit entries"))
}

/// Exactly how many entries a URL query string selects (paging is ignored): what an
/// export of it holds, where the page's own total is only a bound.
#[server(endpoint = "audit_count")]
pub async fn count_entries(query: String) -> Result<u64, AuditError> {
    use crate::audit::service;

    let query = parse_query(&query)?;
    service::count_entries(log()?.as_ref(), &query).await.map_err(query_failed("counting audit entries"))
}

/// The timeline of the entries a URL query string selects (paging is ignored).
#[server(endpoint = "audit_timeline")]
pub async fn entry_timeline(query: String) -> Result<Histogram, AuditError> {
    use crate::audit::service;

    let query = parse_query(&query)?;
    service::timeline(log()?.as_ref(), &query).await.map_err(query_failed("counting the timeline"))
}

#[cfg(feature = "ssr")]
fn parse_query(query: &str) -> Result<crate::filter::EntryQuery, AuditError> {
    crate::filter::EntryQuery::from_query_string(query).map_err(|e| answer(AuditError::BadQuery(e.to_string())))
}

/// A failed query as the page is told it: what was wrong with it, or only that the
/// store failed (`what` goes to the server's log).
#[cfg(feature = "ssr")]
fn query_failed(what: &'static str) -> impl Fn(crate::audit::service::QueryError) -> AuditError {
    use crate::audit::service::QueryError;
    move |e| match e {
        QueryError::BadQuery(e) => answer(AuditError::BadQuery(e.to_string())),
        QueryError::Store(e) => unavailable(e, what),
    }
}

/// Logs a store failure and reports it to the page without its internals.
#[cfg(feature = "ssr")]
fn unavailable(error: crate::store::StoreError, what: &str) -> AuditError {
    match &error {
        crate::store::StoreError::Overloaded { .. } => tracing::warn!(error = %error, "{what} failed"),
        _ => tracing::error!(error = %error, "{what} failed"),
    }
    answer(AuditError::Unavailable)
}

/// How long a page should wait before asking again when the store is unavailable.
#[cfg(feature = "ssr")]
const RETRY_AFTER_SECS: &str = "5";

#[cfg(feature = "ssr")]
impl AuditError {
    /// The HTTP status this error means.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AuditError::BadQuery(_) => StatusCode::BAD_REQUEST,
            AuditError::NotFound(_) => StatusCode::NOT_FOUND,
            AuditError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuditError::SignedOut => StatusCode::UNAUTHORIZED,
            AuditError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Answers the request (the server function's, or the page's while it renders on the
/// server) with the status the error means, and returns it.
#[cfg(feature = "ssr")]
fn answer(error: AuditError) -> AuditError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
        if matches!(error, AuditError::Unavailable) {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from_static(RETRY_AFTER_SECS));
        }
    }
    error
}

/// The log, provided to server functions by the router.
#[cfg(feature = "ssr")]
fn log() -> Result<std::sync::Arc<dyn crate::store::AuditLog>, AuditError> {
    use_context::<std::sync::Arc<dyn crate::store::AuditLog>>().ok_or_else(|| {
        tracing::error!("no audit log in the server function's context");
        answer(AuditError::Unavailable)
    })
}

/// One entry by its id (`audit-123`), for its own page.
#[server(endpoint = "audit_entry")]
pub async fn get_entry(id: String) -> Result<AuditEntry, AuditError> {
    use crate::audit::service;

    match service::get_entry(log()?.as_ref(), &id).await {
        Ok(Some(entry)) => Ok(entry),
        Ok(None) => Err(answer(AuditError::NotFound(id))),
        Err(e) => Err(unavailable(e, "reading an audit entry")),
    }
}

/// Actor names and ids containing `text`, for the actor filter's suggestions.
#[server(endpoint = "audit_actors")]
pub async fn suggest_actors(text: String) -> Result<Vec<String>, AuditError> {
    const SUGGESTIONS: u32 = 10;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    log()?.suggest_actors(&text, SUGGESTIONS).await.map_err(|e| unavailable(e, "suggesting actors"))
}

#[cfg(test)]
mod tests {
    use super::AuditError;

    #[test]
    fn the_servers_signed_out_reply_reads_as_signed_out() {
        let read: AuditError = serde_json::from_str(crate::access::SIGNED_OUT_REPLY).expect("the reply is JSON");
        assert_eq!(read, AuditError::SignedOut);
    }
}
