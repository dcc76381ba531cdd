//! Server functions of Settings > Integrations and Settings > Alerts: admins see and
//! change the delivery destinations (with each one's health, a test event and a replay)
//! and the alert rules; auditors see the rules, not the destinations (their addresses may
//! carry credentials). The same services as `/admin/destinations` and `/admin/alert-rules`,
//! each change recorded with the admin as actor.

use crate::admin::api::AdminError;
#[cfg(feature = "ssr")]
use crate::admin::api::{admin_only, answer, signed_in_person};
use crate::alert_rules::{AlertRule, RuleFields};
use crate::destinations::{Created, Destination, DestinationHealth, NewDestination, Replayed, TestDelivery};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// Settings > Integrations, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationsView {
    /// Each destination with its health (admins only).
    pub destinations: Vec<(Destination, DestinationHealth)>,
    pub may_change: bool,
}

#[server(endpoint = "settings_destinations")]
pub async fn destinations_overview() -> Result<IntegrationsView, AdminError> {
    let (store, person) = signed_in_person()?;
    if person.role != crate::accounts::Role::Admin {
        return Ok(IntegrationsView { destinations: Vec::new(), may_change: false });
    }
    let failed = |e: crate::store::StoreError| super::api::unavailable(&e);
    // The list once and the log's head once, not again for each destination.
    let stored = store.delivery.destinations().await.map_err(failed)?;
    let head = crate::destination_changes::head(&store).await.map_err(failed)?;
    let mut destinations = Vec::with_capacity(stored.len());
    for destination in stored {
        // One removed meanwhile has no state left: it is simply not shown.
        if let Some(state) = store.delivery.delivery_state(destination.id).await.map_err(failed)? {
            let health = crate::delivery::health(&destination, &state, head);
            destinations.push((crate::destination_changes::view(&destination), health));
        }
    }
    Ok(IntegrationsView { destinations, may_change: true })
}

#[server(endpoint = "settings_destination_add", input = Json)]
pub async fn add_destination(new: NewDestination) -> Result<Created, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::destination_changes::create(&store, &new, actor, chrono::Utc::now()).await.map_err(destination_refused)
}

#[server(endpoint = "settings_destination_remove", input = Json)]
pub async fn remove_destination(id: i64) -> Result<Destination, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::destination_changes::delete(&store, &id.to_string(), actor, chrono::Utc::now())
        .await
        .map_err(destination_refused)
}

#[server(endpoint = "settings_destination_test", input = Json)]
pub async fn test_destination(id: i64) -> Result<TestDelivery, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::delivery::send_test(&store, &id.to_string(), &actor, chrono::Utc::now()).await.map_err(destination_refused)
}

#[server(endpoint = "settings_destination_replay", input = Json)]
pub async fn replay_destination(id: i64, from_sequence: u64) -> Result<Replayed, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    let replay = crate::destinations::Replay { from_sequence: Some(from_sequence), from_time: None };
    crate::destination_changes::replay(&store, &id.to_string(), &replay, actor, chrono::Utc::now())
        .await
        .map_err(destination_refused)
}

/// Settings > Alerts, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsView {
    pub rules: Vec<AlertRule>,
    pub may_change: bool,
}

#[server(endpoint = "settings_alert_rules")]
pub async fn alert_rules_overview() -> Result<AlertsView, AdminError> {
    let (store, person) = signed_in_person()?;
    Ok(AlertsView {
        rules: crate::alert_rule_changes::list(&store).await.map_err(|e| super::api::unavailable(&e))?,
        may_change: person.role == crate::accounts::Role::Admin,
    })
}

#[server(endpoint = "settings_alert_rule_add", input = Json)]
pub async fn add_alert_rule(fields: RuleFields) -> Result<AlertRule, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::alert_rule_changes::create(&store, &fields, actor, chrono::Utc::now()).await.map_err(rule_refused)
}

/// Turns a rule on or off (the built-in one included).
#[server(endpoint = "settings_alert_rule_enable", input = Json)]
pub async fn enable_alert_rule(id: i64, enabled: bool) -> Result<AlertRule, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    let fields = RuleFields { enabled: Some(enabled), ..RuleFields::default() };
    crate::alert_rule_changes::update(&store, &id.to_string(), &fields, actor, chrono::Utc::now())
        .await
        .map_err(rule_refused)
}

#[server(endpoint = "settings_alert_rule_remove", input = Json)]
pub async fn remove_alert_rule(id: i64) -> Result<AlertRule, AdminError> {
    let (store, person) = signed_in_person()?;
    admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    crate::alert_rule_changes::delete(&store, &id.to_string(), actor, chrono::Utc::now()).await.map_err(rule_refused)
}

#[cfg(feature = "ssr")]
fn destination_refused(e: crate::destination_changes::ChangeError) -> AdminError {
    use crate::destination_changes::ChangeError;
    use crate::destinations::DestinationError;
    match e {
        ChangeError::Refused(e) => answer(match &e {
            DestinationError::Invalid { field, .. } => {
                AdminError::Invalid { field: field.clone(), message: e.to_string() }
            }
            DestinationError::Duplicate(_) => AdminError::Conflict(e.to_string()),
            DestinationError::NotFound(id) => AdminError::NotFound(format!("destination {id}")),
        }),
        e => super::api::unavailable(&e),
    }
}

#[cfg(feature = "ssr")]
fn rule_refused(e: crate::alert_rule_changes::ChangeError) -> AdminError {
    use crate::alert_rule_changes::ChangeError;
    use crate::alert_rules::RuleError;
    match e {
        ChangeError::Refused(e) => answer(match &e {
            RuleError::Invalid { field, .. } => AdminError::Invalid { field: field.clone(), message: e.to_string() },
            RuleError::Duplicate(_) | RuleError::Builtin(_) => AdminError::Conflict(e.to_string()),
            RuleError::NotFound(id) => AdminError::NotFound(format!("alert rule {id}")),
        }),
        e => super::api::unavailable(&e),
    }
}
