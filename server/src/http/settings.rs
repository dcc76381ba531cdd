//! `/admin/settings`: the product's settings for scripts (JSON; an `admin`-scope token or
//! an admin's session). A change goes through the same service as the settings page and
//! the `settings` command, and is recorded as `settings.updated` with the caller as actor.

use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::settings::{self, SettingError};
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::{Map, Value};

type ErrorBody = crate::http::openapi::ErrorBody;

/// Every setting by name, with its current value (its default unless changed).
async fn all(state: &AppState) -> Result<Map<String, Value>, ApiError> {
    Ok(settings::current(&state.store).await?.into_iter().map(|(s, v)| (s.name.to_owned(), v)).collect())
}

/// The settings: `{"audit_retention_days": 90, "audit_archive_dir": null}`.
#[utoipa::path(
    get,
    path = "/admin/settings",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each setting by name with its current value: `audit_retention_days` (whole days, 30 to 365, default 90) and `audit_archive_dir` (a directory on the server the purge archives to first, or null)", body = SettingsBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = ErrorBody)
    )
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<Map<String, Value>>, ApiError> {
    Ok(Json(all(&state).await?))
}

/// Changes settings, e.g. `{"audit_retention_days": 120}`: every value is checked before
/// any is changed; each one that changes is recorded as `settings.updated` (old and new
/// value, who); one that does not change records nothing.
#[utoipa::path(
    patch,
    path = "/admin/settings",
    tag = "admin",
    request_body(content = SettingsBody, description = "Settings to change, by name, each at most once: `{\"audit_retention_days\": 120}`, `{\"audit_archive_dir\": \"/var/archive\"}` (null or empty: no archive)"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every setting after the change", body = SettingsBody),
        (status = 400, description = "Not a JSON object, a setting given twice, an unknown setting or a value out of bounds; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 500, description = "The store failed (the server's log says why). Each setting and its `settings.updated` entry are stored together or not at all, one setting after another: those before the failing one may have been changed, so read the settings before trying again", body = ErrorBody),
        (status = 503, description = "The store is busy: the setting it reached and those after it were not changed (earlier ones may have been); read the settings, then try again after Retry-After", body = ErrorBody)
    )
)]
pub async fn change(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let pairs = match serde_json::from_slice::<Pairs>(&bytes) {
        Ok(Pairs(pairs)) if !pairs.is_empty() => pairs,
        Ok(_) => return Err(ApiError::bad_request("give at least one setting to change")),
        Err(_) => {
            return Err(ApiError::bad_request(
                "the body must be a JSON object of settings by name, such as {\"audit_retention_days\": 120}",
            ))
        }
    };
    // Two values for one setting: which was meant is not for the server to guess.
    let mut changes = Map::new();
    for (name, value) in pairs {
        if changes.contains_key(&name) {
            return Err(ApiError::Setting(SettingError::Invalid {
                field: name.clone(),
                message: format!("{name} is given twice: give each setting once"),
            }));
        }
        changes.insert(name, value);
    }
    // All or nothing for what is wrong with the request: each value is checked first.
    settings::check_all(changes.iter().map(|(name, value)| (name.as_str(), value)))?;
    let now = chrono::Utc::now();
    for (name, value) in &changes {
        settings::change(&state.store, caller.principal.actor(), name, value, now).await?;
    }
    Ok(Json(all(&state).await?))
}

/// The settings as the API reads and writes them (for the API description: the body is
/// read as an object of settings by name, each at most once).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SettingsBody {
    /// Whole days, 30 to 365 (default 90): entries older than this go at the next purge.
    #[schema(minimum = 30, maximum = 365)]
    audit_retention_days: Option<i64>,
    /// An absolute path to a directory on the server that each purge first writes what it
    /// deletes to; null or empty for none (the default).
    audit_archive_dir: Option<String>,
}

/// A JSON object's members in the order given, every one kept (a map would keep only the
/// last of two with the same name).
struct Pairs(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Pairs;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of settings by name")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    out.push(member);
                }
                Ok(Pairs(out))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

impl From<SettingError> for ApiError {
    /// A store that failed answers as everywhere else (a busy one with 503 and
    /// `Retry-After`); the setting's own refusals say what and where.
    fn from(e: SettingError) -> Self {
        match e {
            SettingError::Store(e) => e.into(),
            e => ApiError::Setting(e),
        }
    }
}
