//! Adding, changing and removing alert rules, the one way every caller does it (Settings >
//! Alerts, `/admin/alert-rules`): checked, stored, then recorded as the spec lists them:
//! `alert.rule.created` (the rule's details, created by), `alert.rule.updated` (changed
//! fields with old and new values, modified by), `alert.rule.deleted` (rule id, deleted
//! by). A change that cannot be recorded is undone.

use crate::alert_rules::{AlertRule, RuleError, RuleFields};
use crate::entry::{Actor, Resource};
use crate::internal_event::{record, InternalEvent};
use crate::store::alert_rules::RuleUpdated;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ChangeError {
    #[error(transparent)]
    Refused(#[from] RuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the change was not made: it could not be recorded in the audit log: {0}")]
    Undone(String),
    #[error("the change was made but could not be recorded in the audit log: {0}")]
    Unrecorded(String),
}

pub async fn list(store: &Store) -> Result<Vec<AlertRule>, StoreError> {
    store.alerts.rules().await
}

pub async fn get(store: &Store, id: &str) -> Result<AlertRule, ChangeError> {
    let not_found = || RuleError::NotFound(id.to_owned());
    let number: i64 = id.trim().parse().ok().filter(|n| *n > 0).ok_or_else(not_found)?;
    Ok(store.alerts.rule(number).await?.ok_or_else(not_found)?)
}

fn resource(rule: &AlertRule) -> Resource {
    Resource { kind: "alert_rule".to_owned(), id: format!("alert-rule-{}", rule.id), name: Some(rule.name.clone()) }
}

/// A rule's details as recorded (and as an alert names it).
pub fn details(rule: &AlertRule) -> Value {
    let mut value = serde_json::to_value(&rule.config).unwrap_or(Value::Null);
    value["id"] = json!(rule.id);
    value["name"] = json!(rule.name);
    value
}

/// Every destination named must exist.
async fn check_destinations(store: &Store, ids: &[i64]) -> Result<(), ChangeError> {
    for id in ids {
        if store.delivery.destination(*id).await?.is_none() {
            return Err(
                RuleError::Invalid { field: "destinations".into(), message: format!("no destination {id}") }.into()
            );
        }
    }
    Ok(())
}

pub async fn create(
    store: &Store,
    fields: &RuleFields,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<AlertRule, ChangeError> {
    let (name, config) = fields.apply(None)?;
    check_destinations(store, &config.destinations).await?;
    let Some(rule) = store.alerts.create_rule(&name, &config, now, &by.name).await? else {
        return Err(RuleError::Duplicate(name).into());
    };
    let event = InternalEvent::new("alert.rule.created")
        .map(|e| e.resource(resource(&rule)).detail("rule", details(&rule)).detail("created_by", by.name.as_str()));
    match record(store, event, &by, now).await {
        Ok(()) => Ok(rule),
        Err(why) => match store.alerts.delete_rule(rule.id).await {
            Ok(_) => Err(ChangeError::Undone(why)),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

/// Each field that changed, with its old and new value.
fn changes(before: &AlertRule, after: &AlertRule) -> Map<String, Value> {
    let (old, new) = (details(before), details(after));
    let mut out = Map::new();
    for key in [
        "name",
        "event_types",
        "min_severity",
        "actor",
        "resource",
        "threshold",
        "cooldown_seconds",
        "destinations",
        "enabled",
    ] {
        let (a, b) = (old.get(key).cloned().unwrap_or(Value::Null), new.get(key).cloned().unwrap_or(Value::Null));
        if a != b {
            out.insert(key.to_owned(), json!({ "old": a, "new": b }));
        }
    }
    out
}

pub async fn update(
    store: &Store,
    id: &str,
    fields: &RuleFields,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<AlertRule, ChangeError> {
    let before = get(store, id).await?;
    let (name, config) = fields.apply(Some((&before.name, &before.config)))?;
    // Only the destinations this change adds must exist: one removed since the rule named
    // it must not keep the rule from being changed (or turned off).
    let added: Vec<i64> =
        config.destinations.iter().copied().filter(|id| !before.config.destinations.contains(id)).collect();
    check_destinations(store, &added).await?;
    let proposed = AlertRule { name: name.clone(), config: config.clone(), ..before.clone() };
    let changed = changes(&before, &proposed);
    if changed.is_empty() {
        return Ok(before);
    }
    let after = match store.alerts.update_rule(before.id, before.version, &name, &config, now, &by.name).await? {
        RuleUpdated::Done(after) => *after,
        RuleUpdated::NameTaken => return Err(RuleError::Duplicate(name).into()),
        RuleUpdated::Changed => {
            return Err(StoreError::Conflict(format!(
                "alert rule {} was changed or removed meanwhile: read it again and retry",
                before.id
            ))
            .into())
        }
    };
    let fields: Vec<Value> = changed.keys().map(|k| Value::from(k.as_str())).collect();
    let event = InternalEvent::new("alert.rule.updated").map(|e| {
        e.resource(resource(&after))
            .detail("rule_id", after.id)
            .detail("rule_name", after.name.as_str())
            .detail("changed_fields", fields)
            .detail("changes", changed)
            .detail("modified_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => Ok(after),
        Err(why) => {
            let undone = store
                .alerts
                .update_rule(after.id, after.version, &before.name, &before.config, now, &before.updated_by)
                .await;
            match undone {
                Ok(RuleUpdated::Done(_)) => Err(ChangeError::Undone(why)),
                Ok(_) => Err(ChangeError::Unrecorded(format!("{why}; it was changed again meanwhile"))),
                Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
            }
        }
    }
}

pub async fn delete(store: &Store, id: &str, by: Actor, now: DateTime<Utc>) -> Result<AlertRule, ChangeError> {
    let found = get(store, id).await?;
    if found.builtin {
        return Err(RuleError::Builtin(found.name).into());
    }
    let Some(removed) = store.alerts.delete_rule(found.id).await? else {
        return Err(RuleError::NotFound(id.to_owned()).into());
    };
    let event = InternalEvent::new("alert.rule.deleted").map(|e| {
        e.resource(resource(&removed))
            .detail("rule_id", removed.id)
            .detail("rule_name", removed.name.as_str())
            .detail("deleted_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => Ok(removed),
        Err(why) => match store.alerts.restore_rule(&removed).await {
            Ok(true) => Err(ChangeError::Undone(why)),
            Ok(false) => Err(ChangeError::Unrecorded(format!("{why}; its name was taken meanwhile"))),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}
