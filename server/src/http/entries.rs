//! Reading the log: `GET /audit/entries`, `/audit/entries/count`, `/audit/entries/{id}`
//! and `/audit/event-types`.

use super::error::ApiError;
use super::integrity;
use app::audit::service;
use app::catalogue::{EventSpec, CATALOGUE};
use app::entry::EntryPage;
use app::filter::EntryQuery;
use app::proof::EntryWithProof;
use app::store::{AuditLog, TreeStore};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// A page of entries, newest first; or, with `after`, the next entries oldest first.
///
/// With `after=<sequence>` (a pull cursor for SIEMs that poll) the page holds up to
/// `limit` matching entries numbered above it in ascending order, `next` is the cursor
/// for the following request, and the `Link` header (`rel="next"`) is that request with
/// the same filters. Following it never misses nor repeats an entry while appends go on
/// (docs/delivery.md says why); only entries the retention purge removed are skipped.
#[utoipa::path(
    get,
    path = "/audit/entries",
    tag = "log",
    params(EntryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of matching entries and how many match in all: exactly, or for a search at least `total` when `total_exact` is false (searches are counted up to 10,000 matches). With `after`: the next matching entries oldest first, `next` and a `Link` header to the following page", body = EntryPage,
            headers(("Link" = String, description = "With `after`: `</audit/entries?…&after=N>; rel=\"next\"`, the following page"))),
        (status = 400, description = "A parameter is wrong or unknown; the error says which", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn list(State(log): State<Arc<dyn AuditLog>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let query = EntryQuery::from_query_string(query.as_deref().unwrap_or_default())?;
    let page = service::list_entries(log.as_ref(), &query).await?;
    let link = page.next.map(|next| {
        let following = EntryQuery { after: Some(next.to_string()), ..query };
        format!("</audit/entries?{}>; rel=\"next\"", following.to_query_string())
    });
    let mut response = Json(page).into_response();
    if let Some(value) = link.and_then(|link| HeaderValue::from_str(&link).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// How many entries a filter selects, counted exactly.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EntryCount {
    pub count: u64,
}

/// Exactly how many entries match: what an export of the same filters holds, where a
/// search's page total is only a bound (`total_exact: false`).
#[utoipa::path(
    get,
    path = "/audit/entries/count",
    tag = "log",
    params(EntryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many entries match, exactly", body = EntryCount),
        (status = 400, description = "A parameter is wrong or unknown, or paging was given; the error says which", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn count(
    State(log): State<Arc<dyn AuditLog>>,
    RawQuery(query): RawQuery,
) -> Result<Json<EntryCount>, ApiError> {
    let query = EntryQuery::from_query_string(query.as_deref().unwrap_or_default())?;
    if query.pages() {
        return Err(ApiError::bad_request("a count covers every matching entry: leave out limit, offset and after"));
    }
    Ok(Json(EntryCount { count: service::count_entries(log.as_ref(), &query).await? }))
}

/// One entry by its id.
#[utoipa::path(
    get,
    path = "/audit/entries/{entry_id}",
    tag = "log",
    params(
        ("entry_id" = String, Path, description = "The entry's id, such as `audit-123`"),
        ("proof" = Option<bool>, Query, description = "`true`: add the entry's inclusion proof (`inclusion_proof`, see /audit/integrity/inclusion)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The entry", body = EntryWithProof),
        (status = 400, description = "`proof` is neither `true` nor `false`, or another parameter was given", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "No entry has this id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn get_one(
    State(log): State<Arc<dyn AuditLog>>,
    State(tree): State<Arc<dyn TreeStore>>,
    Path(entry_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<EntryWithProof>, ApiError> {
    let mut proof = false;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        proof = match (name.as_ref(), value.as_ref()) {
            ("proof", "true") => true,
            ("proof", "false") => false,
            ("proof", other) => {
                return Err(ApiError::bad_request(format!("proof must be true or false, not '{other}'")))
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!("unknown parameter '{other}': only proof is taken")))
            }
        };
    }
    let entry = service::get_entry(log.as_ref(), &entry_id).await?.ok_or(ApiError::NotFound(entry_id))?;
    let inclusion_proof = if proof {
        let size = integrity::size_for(tree.as_ref(), entry.sequence).await?;
        Some(integrity::inclusion_proof(log.as_ref(), tree.as_ref(), entry.sequence, size).await?)
    } else {
        None
    };
    Ok(Json(EntryWithProof { entry, inclusion_proof }))
}

/// The event catalogue: every known event type with its category, default severity,
/// required details and description template.
#[utoipa::path(
    get,
    path = "/audit/event-types",
    tag = "log",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The catalogue", body = Vec<EventSpec>),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn event_types() -> Json<&'static [EventSpec]> {
    Json(CATALOGUE)
}
