//! Adding and removing the cloud subscriptions, the one way every caller does it (Settings >
//! Subscriptions, `/admin/subscriptions`): checked, stored, then recorded as
//! `subscription.added` / `subscription.removed` with whoever made the change, the change
//! and its entry in one transaction.

use crate::entry::Actor;
use crate::ingest::ValidEntry;
use crate::internal_event::InternalEvent;
use crate::store::{RecordChange, SettingsChange, SettingsChanged, Store, StoreError};
use crate::subscriptions::{check_subscription_id, NewSubscription, Subscription, SubscriptionError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use thiserror::Error;

/// Why a change was refused or failed.
#[derive(Debug, Error)]
pub enum ChangeError {
    #[error(transparent)]
    Refused(#[from] SubscriptionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn list(store: &Store) -> Result<Vec<Subscription>, StoreError> {
    store.settings.subscriptions().await
}

/// Adds a subscription for `by`, recorded as `subscription.added`.
pub async fn add(
    store: &Store,
    new: &NewSubscription,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Subscription, ChangeError> {
    let (id, display_name, cloud) = new.check()?;
    let added =
        Subscription { subscription_id: id.clone(), display_name, cloud, added_at: now, added_by: by.name.clone() };
    let record: RecordChange = {
        let added = added.clone();
        Arc::new(move |changed: &SettingsChanged| match changed {
            SettingsChanged::Added(true) => recorded("subscription.added", &added, "added_by", &by, now),
            _ => Ok(None),
        })
    };
    match store.settings.change(SettingsChange::AddSubscription(added.clone()), record).await? {
        (SettingsChanged::Added(true), Some(_)) => Ok(added),
        (SettingsChanged::Added(false), None) => Err(SubscriptionError::Duplicate(id).into()),
        other => Err(StoreError::backend(format!("adding a subscription answered {other:?}")).into()),
    }
}

/// Removes the subscription `id` for `by`, recorded as `subscription.removed`.
pub async fn remove(store: &Store, id: &str, by: Actor, now: DateTime<Utc>) -> Result<Subscription, ChangeError> {
    let id = check_subscription_id(id)?;
    let record: RecordChange = Arc::new(move |changed: &SettingsChanged| match changed {
        SettingsChanged::Removed(Some(removed)) => recorded("subscription.removed", removed, "removed_by", &by, now),
        _ => Ok(None),
    });
    match store.settings.change(SettingsChange::RemoveSubscription(id.clone()), record).await? {
        (SettingsChanged::Removed(Some(removed)), Some(_)) => Ok(removed),
        (SettingsChanged::Removed(None), None) => Err(SubscriptionError::NotFound(id).into()),
        other => Err(StoreError::backend(format!("removing a subscription answered {other:?}")).into()),
    }
}

/// The entry that records a subscription added or removed (`by_key`: who did it).
fn recorded(
    event_type: &str,
    subscription: &Subscription,
    by_key: &str,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<Option<ValidEntry>, StoreError> {
    InternalEvent::new(event_type)
        .map(|e| {
            e.actor(by.clone())
                .detail("subscription_id", subscription.subscription_id.as_str())
                .detail("display_name", subscription.display_name.as_str())
                .detail("cloud", subscription.cloud.as_str())
                .detail(by_key, by.name.as_str())
        })
        .and_then(|e| e.build(now))
        .map(Some)
        .map_err(|e| StoreError::backend(e.to_string()))
}
