//! `/admin/destinations`: where the log is delivered (Splunk HEC, signed webhooks, JSON
//! lines on stdout), for scripts (JSON; an `admin`-scope token or an admin's session). The
//! same service as Settings > Integrations: each change recorded as
//! `destination.created` / `destination.updated` / `destination.deleted` with the caller as
//! actor. Secrets are taken, never answered: only their fingerprints are.

use super::admin::body;
use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::destination_changes::{self as destinations, ChangeError};
use app::destinations::{
    Created, Destination, DestinationChange, DestinationHealth, NewDestination, Replay, Replayed, TestDelivery,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

type ErrorBody = crate::http::openapi::ErrorBody;

/// Every destination, by name (secrets as fingerprints).
#[utoipa::path(
    get,
    path = "/admin/destinations",
    tag = "delivery",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every destination", body = [Destination]),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Destination>>, ApiError> {
    Ok(Json(destinations::list(&state.store).await?))
}

/// Adds a destination, such as `{"name": "splunk", "kind": "splunk_hec", "url": "<the
/// collector's address, port 8088>", "token": "…", "event_types": ["audit.*"], "min_severity": "info"}`
/// (kinds `splunk_hec`, `webhook`, `stdout`); recorded as `destination.created`. A webhook
/// given no `secret` gets one, answered this once as `secret`.
#[utoipa::path(
    post,
    path = "/admin/destinations",
    tag = "delivery",
    request_body = NewDestination,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The destination added, and the signing secret the server made for a webhook given none (shown this once)", body = Created),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 409, description = "A destination has that name", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not added: it could not be recorded, or the store is busy; try again shortly", body = ErrorBody)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new: NewDestination = body(&bytes)?;
    let created = destinations::create(&state.store, &new, caller.principal.actor(), chrono::Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One destination.
#[utoipa::path(
    get,
    path = "/admin/destinations/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The destination", body = Destination),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Destination>, ApiError> {
    Ok(Json(destinations::get(&state.store, &id).await?))
}

/// Changes a destination: only the fields given (`{"min_severity": "warning"}`; `""`
/// clears an optional text; `"rotate_secret": true` makes a webhook a new secret, answered
/// this once). Recorded as `destination.updated` with each field's old and new value
/// (secrets as fingerprints); a change that changes nothing records nothing.
#[utoipa::path(
    patch,
    path = "/admin/destinations/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    request_body = DestinationChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The destination as changed, and its new secret when one was made", body = Created),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 409, description = "Another destination has that name, or this one changed meanwhile", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not changed: it could not be recorded, or the store is busy; try again shortly", body = ErrorBody)
    )
)]
pub async fn change(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Created>, ApiError> {
    // An unknown destination is said before a bad body: nothing is there to change.
    destinations::stored(&state.store, &id).await?;
    let change: DestinationChange = body(&bytes)?;
    let now = chrono::Utc::now();
    Ok(Json(destinations::update(&state.store, &id, &change, caller.principal.actor(), now).await?))
}

/// Removes a destination and its cursor; recorded as `destination.deleted` (with how far
/// it had delivered). What it had not delivered is not delivered.
#[utoipa::path(
    delete,
    path = "/admin/destinations/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The destination removed", body = Destination),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not removed: it could not be recorded, or the store is busy; try again shortly", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> Result<Json<Destination>, ApiError> {
    Ok(Json(destinations::delete(&state.store, &id, caller.principal.actor(), chrono::Utc::now()).await?))
}

/// Where a destination's delivery stands: state, backlog (entries after its cursor),
/// delivered count, last success, last error with the receiver's answer, next retry. For
/// monitoring as well as people.
#[utoipa::path(
    get,
    path = "/admin/destinations/{id}/health",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The destination's delivery now", body = DestinationHealth),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn health(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DestinationHealth>, ApiError> {
    Ok(Json(app::delivery::health_of(&state.store, &id).await?))
}

/// Sends the destination one test entry (`delivery.test`, not recorded in the log) and
/// answers what its receiver made of it.
#[utoipa::path(
    post,
    path = "/admin/destinations/{id}/test",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Whether the receiver took it, and its answer", body = TestDelivery),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn test(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> Result<Json<TestDelivery>, ApiError> {
    let by = caller.principal.actor();
    Ok(Json(app::delivery::send_test(&state.store, &id, &by, chrono::Utc::now()).await?))
}

/// Delivers again from a sequence number (`{"from_sequence": 120}`) or from a time
/// (`{"from_time": "2025-01-15T10:30:00Z"}`: the entries received since): the cursor moves
/// back, never forward; recorded as `delivery.replayed`.
#[utoipa::path(
    post,
    path = "/admin/destinations/{id}/replay",
    tag = "delivery",
    params(("id" = i64, Path, description = "The destination's id")),
    request_body = Replay,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cursor moved back", body = Replayed),
        (status = 400, description = "Neither or both of from_sequence and from_time, a bad time, or a sequence past the cursor; `field` names it", body = ErrorBody),
        (status = 404, description = "No such destination", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not done: it could not be recorded, or the store is busy; try again shortly", body = ErrorBody)
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Replayed>, ApiError> {
    destinations::stored(&state.store, &id).await?;
    let replay: Replay = body(&bytes)?;
    let now = chrono::Utc::now();
    Ok(Json(destinations::replay(&state.store, &id, &replay, caller.principal.actor(), now).await?))
}

impl From<ChangeError> for ApiError {
    /// A store that failed answers as everywhere else (busy: 503 with `Retry-After`; a
    /// change overtaken: 409); the service's own refusals say what and where.
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Store(e) => e.into(),
            e => ApiError::Destination(e),
        }
    }
}
