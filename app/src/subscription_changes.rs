//! Adding and removing the cloud subscriptions, the one way every caller does it (Settings >
//! Subscriptions, `/admin/subscriptions`): checked, stored, then recorded as
//! `subscription.added` / `subscription.removed` with whoever made the change; a change
//! that cannot be recorded is undone.

use crate::entry::Actor;
use crate::internal_event::{record, InternalEvent};
use crate::store::{Store, StoreError};
use crate::subscriptions::{check_subscription_id, NewSubscription, Subscription, SubscriptionError};
use chrono::{DateTime, Utc};
use thiserror::Error;

/// Why a change was refused or failed.
#[derive(Debug, Error)]
pub enum ChangeError {
    #[error(transparent)]
    Refused(#[from] SubscriptionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change could not be recorded, and so was undone.
    #[error("the change was not made: it could not be recorded in the audit log: {0}")]
    Undone(String),
    /// The change was made but could not be recorded, nor undone.
    #[error("the change was made but could not be recorded in the audit log: {0}")]
    Unrecorded(String),
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
    if !store.settings.add_subscription(&added).await? {
        return Err(SubscriptionError::Duplicate(id).into());
    }
    let recorded = record(
        store,
        InternalEvent::new("subscription.added").map(|e| {
            e.detail("subscription_id", added.subscription_id.as_str())
                .detail("display_name", added.display_name.as_str())
                .detail("cloud", added.cloud.as_str())
                .detail("added_by", by.name.as_str())
        }),
        &by,
        now,
    )
    .await;
    match recorded {
        Ok(()) => Ok(added),
        // No change without its entry: the subscription goes again.
        Err(why) => match store.settings.remove_subscription(&added.subscription_id).await {
            Ok(_) => Err(ChangeError::Undone(why)),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

/// Removes the subscription `id` for `by`, recorded as `subscription.removed`.
pub async fn remove(store: &Store, id: &str, by: Actor, now: DateTime<Utc>) -> Result<Subscription, ChangeError> {
    let id = check_subscription_id(id)?;
    let Some(removed) = store.settings.remove_subscription(&id).await? else {
        return Err(SubscriptionError::NotFound(id).into());
    };
    let recorded = record(
        store,
        InternalEvent::new("subscription.removed").map(|e| {
            e.detail("subscription_id", removed.subscription_id.as_str())
                .detail("display_name", removed.display_name.as_str())
                .detail("cloud", removed.cloud.as_str())
                .detail("removed_by", by.name.as_str())
        }),
        &by,
        now,
    )
    .await;
    match recorded {
        Ok(()) => Ok(removed),
        Err(why) => match store.settings.add_subscription(&removed).await {
            Ok(true) => Err(ChangeError::Undone(why)),
            Ok(false) => Err(ChangeError::Unrecorded(format!("{why}; it was added again meanwhile"))),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}
