//! `/admin/alert-rules`: the alert rules, for scripts (JSON; an `admin`-scope token or an
//! admin's session). The same service as Settings > Alerts: each change recorded as
//! `alert.rule.created` / `alert.rule.updated` / `alert.rule.deleted` with the caller.

use super::admin::body;
use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::alert_rule_changes::{self as rules, ChangeError};
use app::alert_rules::{AlertRule, RuleFields};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

type ErrorBody = crate::http::openapi::ErrorBody;

/// Every alert rule, by name (the built-in one among them).
#[utoipa::path(
    get,
    path = "/admin/alert-rules",
    tag = "delivery",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every rule", body = [AlertRule]),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<AlertRule>>, ApiError> {
    Ok(Json(rules::list(&state.store).await?))
}

/// Adds a rule, such as `{"name": "Failed sign-ins for one user", "event_types":
/// ["auth.login.failed"], "threshold": 5, "window_seconds": 600, "group_by":
/// "details.username", "cooldown_seconds": 600, "destinations": [1]}`; recorded as
/// `alert.rule.created`.
#[utoipa::path(
    post,
    path = "/admin/alert-rules",
    tag = "delivery",
    request_body = RuleFields,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The rule added", body = AlertRule),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 409, description = "A rule has that name", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not added: it could not be recorded, or the store is busy", body = ErrorBody)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    let fields: RuleFields = body(&bytes)?;
    let rule = rules::create(&state.store, &fields, caller.principal.actor(), chrono::Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// One rule.
#[utoipa::path(
    get,
    path = "/admin/alert-rules/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The rule's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = AlertRule),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AlertRule>, ApiError> {
    Ok(Json(rules::get(&state.store, &id).await?))
}

/// Changes a rule: only the fields given (`"threshold": 0` drops the threshold; `""`
/// clears a text); recorded as `alert.rule.updated` with each field's old and new value;
/// a change that changes nothing records nothing.
#[utoipa::path(
    patch,
    path = "/admin/alert-rules/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The rule's id")),
    request_body = RuleFields,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule as changed", body = AlertRule),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 409, description = "Another rule has that name, or this one changed meanwhile", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not changed: it could not be recorded, or the store is busy", body = ErrorBody)
    )
)]
pub async fn change(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<AlertRule>, ApiError> {
    rules::get(&state.store, &id).await?;
    let fields: RuleFields = body(&bytes)?;
    Ok(Json(rules::update(&state.store, &id, &fields, caller.principal.actor(), chrono::Utc::now()).await?))
}

/// Removes a rule (not the built-in one: disable it instead); recorded as
/// `alert.rule.deleted`.
#[utoipa::path(
    delete,
    path = "/admin/alert-rules/{id}",
    tag = "delivery",
    params(("id" = i64, Path, description = "The rule's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule removed", body = AlertRule),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 409, description = "The built-in rule cannot be deleted", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Not removed: it could not be recorded, or the store is busy", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> Result<Json<AlertRule>, ApiError> {
    Ok(Json(rules::delete(&state.store, &id, caller.principal.actor(), chrono::Utc::now()).await?))
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Store(e) => e.into(),
            e => ApiError::AlertRule(e),
        }
    }
}
