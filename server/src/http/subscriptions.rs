//! `/admin/subscriptions`: the cloud subscriptions discovery scans, for scripts (JSON; an
//! `admin`-scope token or an admin's session). The same service as Settings >
//! Subscriptions: each change recorded as `subscription.added` / `subscription.removed`
//! with the caller as actor.

use super::admin::body;
use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::subscription_changes::{self as subscriptions, ChangeError};
use app::subscriptions::{NewSubscription, Subscription};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

type ErrorBody = crate::http::openapi::ErrorBody;

/// The subscriptions, by display name.
#[utoipa::path(
    get,
    path = "/admin/subscriptions",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every subscription", body = [Subscription]),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Subscription>>, ApiError> {
    Ok(Json(subscriptions::list(&state.store).await?))
}

/// Adds a subscription: `{"subscription_id": "<GUID>", "display_name": "Production",
/// "cloud": "azure"}` (`azure`, `aws` or `gcp`); recorded as `subscription.added`.
#[utoipa::path(
    post,
    path = "/admin/subscriptions",
    tag = "admin",
    request_body = NewSubscription,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The subscription added", body = Subscription),
        (status = 400, description = "A field is not acceptable (an id that is not a GUID, an empty name, an unknown cloud); `field` names it", body = ErrorBody),
        (status = 409, description = "That subscription is already added", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 500, description = "The store failed (the server's log says why): the subscription and its `subscription.added` entry are stored together or not at all", body = ErrorBody),
        (status = 503, description = "The store is busy: not added; try again after Retry-After", body = ErrorBody)
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let new: NewSubscription = body(&bytes)?;
    let added = subscriptions::add(&state.store, &new, caller.principal.actor(), chrono::Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Removes a subscription by its id; recorded as `subscription.removed`.
#[utoipa::path(
    delete,
    path = "/admin/subscriptions/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The subscription's GUID (any case)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription removed", body = Subscription),
        (status = 400, description = "The id is not a GUID", body = ErrorBody),
        (status = 404, description = "No such subscription", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 500, description = "The store failed (the server's log says why): the removal and its `subscription.removed` entry are stored together or not at all", body = ErrorBody),
        (status = 503, description = "The store is busy: not removed; try again after Retry-After", body = ErrorBody)
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(subscriptions::remove(&state.store, &id, caller.principal.actor(), chrono::Utc::now()).await?))
}

impl From<ChangeError> for ApiError {
    /// A store that failed answers as everywhere else (a busy one with 503 and
    /// `Retry-After`); the service's own refusals say what and where.
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Store(e) => e.into(),
            e => ApiError::Subscription(e),
        }
    }
}
