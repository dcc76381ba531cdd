//! Server functions of the settings page: everyone signed in reads the settings (auditors
//! read-only); admins see what a shorter retention would delete and save a change. A
//! change goes through the same service as `PATCH /admin/settings` and the `settings`
//! command, recorded as `settings.updated` with the admin as actor.

use crate::admin::api::AdminError;
#[cfg(feature = "ssr")]
use crate::admin::api::{admin_only, signed_in_person};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// Settings > Advanced > Audit Log Retention, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionView {
    /// Days kept, and the bounds and default of the setting.
    pub days: i64,
    pub min: i64,
    pub max: i64,
    pub default: i64,
    /// Where the purge archives what it deletes first (none: no archive).
    pub archive_dir: Option<String>,
    /// When the scheduled purge runs next (none: not scheduled by this server).
    pub next_purge_at: Option<DateTime<Utc>>,
    /// How often it runs, in minutes.
    pub purge_every_minutes: Option<u64>,
    /// The oldest entry kept, if any.
    pub oldest_entry: Option<DateTime<Utc>>,
    pub last_purge: Option<PurgeView>,
    /// Whether the person may change it (admins); auditors see it read-only.
    pub may_change: bool,
}

/// The last purge run, as the log records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PurgeView {
    /// The entry that records it.
    pub entry_id: String,
    pub at: DateTime<Utc>,
    pub completed: bool,
    pub deleted: u64,
    /// Why it failed.
    pub reason: Option<String>,
    /// It ended early because the server was stopping (the rest goes at the next run).
    pub stopped_early: bool,
}

/// What the next purge would delete with a given retention.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PurgePreview {
    pub days: i64,
    /// Entries older than this go.
    pub cutoff: DateTime<Utc>,
    pub due: u64,
}

/// A change saved and recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSetting {
    pub name: String,
    /// The values before and after, as the API serves them (null: none).
    pub old: serde_json::Value,
    pub new: serde_json::Value,
    /// The `settings.updated` entry.
    pub entry_id: String,
}

#[server(endpoint = "settings_retention")]
pub async fn retention_overview() -> Result<RetentionView, AdminError> {
    use crate::purge_runs::{last_run, Schedule, COMPLETED};
    use crate::settings::{archive_dir, retention_days, setting, Kind, RETENTION_DAYS};
    let (store, person) = signed_in_person()?;
    let retention = setting(RETENTION_DAYS).map_err(|e| unavailable(&e))?;
    let Kind::Whole { min, max, default, .. } = retention.kind else { return Err(unavailable(&"not a number")) };
    let days = retention_days(&store).await.map_err(|e| unavailable(&e))?;
    let archive_dir = archive_dir(&store).await.map_err(|e| unavailable(&e))?.map(|p| p.display().to_string());
    let schedule = use_context::<std::sync::Arc<Schedule>>();
    let last = last_run(&store).await.map_err(|e| unavailable(&e))?;
    let last_purge = last.map(|entry| {
        let d = &entry.details;
        PurgeView {
            entry_id: entry.id.clone(),
            at: entry.timestamp,
            completed: entry.event_type == COMPLETED,
            deleted: d.get("deleted_count").and_then(serde_json::Value::as_u64).unwrap_or(0),
            reason: d.get("reason").and_then(serde_json::Value::as_str).map(str::to_owned),
            stopped_early: d.get("stopped_early").and_then(serde_json::Value::as_bool).unwrap_or(false),
        }
    });
    Ok(RetentionView {
        days: i64::from(days),
        min,
        max,
        default,
        archive_dir,
        next_purge_at: next_purge(schedule.as_deref(), last_purge.as_ref().map(|p| p.at)),
        purge_every_minutes: schedule.as_ref().and_then(|s| s.every).map(|d| d.as_secs() / 60),
        oldest_entry: store.log.earliest().await.map_err(|e| unavailable(&e))?,
        last_purge,
        may_change: person.role == crate::accounts::Role::Admin,
    })
}

/// When the purge runs next: as this instance's job set it while it is ahead, else (another
/// instance purges, or the time has passed) the last run recorded plus the interval.
#[cfg(feature = "ssr")]
fn next_purge(schedule: Option<&crate::purge_runs::Schedule>, last: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let schedule = schedule?;
    let now = Utc::now();
    match schedule.next() {
        Some(next) if next > now => Some(next),
        _ => {
            let every = chrono::Duration::from_std(schedule.every?).ok()?;
            last.map(|at| at + every).filter(|at| *at > now)
        }
    }
}

/// How many entries the next purge would delete if the retention were `days` (the form
/// asks before a shorter retention is saved): admins.
#[server(endpoint = "settings_retention_preview", input = Json)]
pub async fn retention_preview(days: String) -> Result<PurgePreview, AdminError> {
    use crate::settings::{setting, RETENTION_DAYS};
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let days = setting(RETENTION_DAYS).and_then(|s| s.whole(&serde_json::Value::String(days))).map_err(invalid)?;
    let whole = u32::try_from(days).map_err(|e| unavailable(&e))?;
    let (cutoff, due) = crate::purge_runs::due(&store, whole, Utc::now()).await.map_err(|e| unavailable(&e))?;
    Ok(PurgePreview { days, cutoff, due })
}

/// Sets each setting of `values` (by name, as typed in the form): every value checked
/// before any is changed; the changes made, each recorded (none for a value unchanged).
/// Admins.
#[server(endpoint = "settings_save", input = Json)]
pub async fn save_settings(values: Vec<(String, String)>) -> Result<Vec<SavedSetting>, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    let values: Vec<(String, serde_json::Value)> =
        values.into_iter().map(|(name, value)| (name, serde_json::Value::String(value))).collect();
    crate::settings::check_all(values.iter().map(|(name, value)| (name.as_str(), value))).map_err(invalid)?;
    let mut saved = Vec::new();
    for (name, value) in &values {
        if let Some(c) =
            crate::settings::change(&store, actor.clone(), name, value, Utc::now()).await.map_err(invalid)?
        {
            saved.push(SavedSetting { name: c.setting.to_owned(), old: c.old, new: c.new, entry_id: c.entry_id });
        }
    }
    Ok(saved)
}

/// A refused value names its field, as the form labels it; anything else is the server's.
#[cfg(feature = "ssr")]
fn invalid(e: crate::settings::SettingError) -> AdminError {
    use crate::settings::SettingError;
    match e {
        SettingError::Invalid { field, message } => {
            let label = crate::settings::setting(&field).map_or(field.clone(), |s| s.label.to_owned());
            crate::admin::api::answer(AdminError::Invalid { field, message: format!("{label}: {message}") })
        }
        e @ SettingError::Unknown(_) => {
            crate::admin::api::answer(AdminError::Invalid { field: "name".into(), message: e.to_string() })
        }
        e => unavailable(&e),
    }
}

/// A failure as the page is told it (its cause goes to the log).
#[cfg(feature = "ssr")]
pub(super) fn unavailable(error: &dyn std::fmt::Display) -> AdminError {
    tracing::error!(error = %error, "a settings action failed");
    crate::admin::api::answer(AdminError::Unavailable)
}

/// Settings > Subscriptions, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsView {
    pub subscriptions: Vec<crate::subscriptions::Subscription>,
    /// Whether the person may add and remove them (admins).
    pub may_change: bool,
}

#[server(endpoint = "settings_subscriptions")]
pub async fn subscriptions_overview() -> Result<SubscriptionsView, AdminError> {
    let (store, person) = signed_in_person()?;
    Ok(SubscriptionsView {
        subscriptions: crate::subscription_changes::list(&store).await.map_err(|e| unavailable(&e))?,
        may_change: person.role == crate::accounts::Role::Admin,
    })
}

/// Adds a subscription: admins.
#[server(endpoint = "settings_subscription_add", input = Json)]
pub async fn add_subscription(
    subscription_id: String,
    display_name: String,
    cloud: String,
) -> Result<crate::subscriptions::Subscription, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    let new = crate::subscriptions::NewSubscription { subscription_id, display_name, cloud };
    crate::subscription_changes::add(&store, &new, actor, Utc::now()).await.map_err(refused)
}

/// Removes a subscription: admins.
#[server(endpoint = "settings_subscription_remove", input = Json)]
pub async fn remove_subscription(subscription_id: String) -> Result<crate::subscriptions::Subscription, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::subscription_changes::remove(&store, &subscription_id, actor, Utc::now()).await.map_err(refused)
}

/// A subscription refused, as the form says it (the field as labelled); a failure is the
/// server's.
#[cfg(feature = "ssr")]
fn refused(e: crate::subscription_changes::ChangeError) -> AdminError {
    use crate::admin::api::answer;
    use crate::subscription_changes::ChangeError;
    use crate::subscriptions::SubscriptionError;
    match e {
        ChangeError::Refused(e) => answer(match &e {
            SubscriptionError::Invalid { field, .. } => {
                AdminError::Invalid { field: (*field).to_owned(), message: crate::subscriptions::said(&e) }
            }
            SubscriptionError::Duplicate(_) => AdminError::Conflict(e.to_string()),
            SubscriptionError::NotFound(id) => AdminError::NotFound(format!("subscription {id}")),
        }),
        e => unavailable(&e),
    }
}
