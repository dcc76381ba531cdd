//! Settings as stored: a value for each setting changed from its default, and the cloud
//! subscriptions, read the same way on both engines ([`settings_store!`]) and changed by the
//! same statements, which each engine's writer runs in the transaction of the entry that
//! records the change; what each setting means, its bounds and its default are the
//! application's (`settings.rs` at the crate root).

use super::{AppendReceipt, StoreError};
use crate::ingest::ValidEntry;
use crate::subscriptions::Subscription;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// Every stored setting, by name.
    async fn settings(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// The cloud subscriptions discovery scans, by display name.
    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    /// Makes `change` and appends the entry `record` builds from what it did, in one
    /// transaction with the appends' lock held: both are stored or neither, whatever fails
    /// or stops in between. When `record` answers no entry (the change changed nothing)
    /// nothing is stored. What the change did, and the entry's receipt.
    async fn change(
        &self,
        change: SettingsChange,
        record: RecordChange,
    ) -> Result<(SettingsChanged, Option<AppendReceipt>), StoreError>;
}

/// A change to the settings tables.
#[derive(Clone, Debug)]
pub enum SettingsChange {
    /// Stores `value` (as text) for the setting `name`.
    Put { name: &'static str, value: String, now: DateTime<Utc> },
    /// Adds a subscription, unless one has its id.
    AddSubscription(Subscription),
    /// Removes the subscription with this id (lower case).
    RemoveSubscription(String),
}

/// What a [`SettingsChange`] did, from which its entry is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsChanged {
    /// The value the setting had (`None`: its default, never stored).
    Put { previous: Option<String> },
    /// Whether it was added (`false`: its id was there already; nothing changed).
    Added(bool),
    /// The subscription removed (`None`: there was none with that id).
    Removed(Option<Subscription>),
}

/// Builds the entry that records a change from what it did; `Ok(None)` when there is
/// nothing to record, and then nothing is stored. Called inside the change's transaction,
/// with the appends' lock held (on SQLite, on the writer's thread), perhaps more than once
/// (PostgreSQL makes the change again after creating a month's partition): it only builds
/// an entry, at once. A panic in it fails the change and nothing else.
pub type RecordChange = Arc<dyn Fn(&SettingsChanged) -> Result<Option<ValidEntry>, StoreError> + Send + Sync>;

/// The entry `record` builds for what a change did. It runs under the appends' lock (on
/// SQLite, on the thread every append needs): a panic in it fails this change, whose
/// transaction is rolled back, and nothing else.
pub(super) fn built_entry(record: &RecordChange, changed: &SettingsChanged) -> Result<Option<ValidEntry>, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| record(changed))).map_err(|panic| {
        let said =
            panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        StoreError::backend(format!("building the entry that records a change panicked: {}", said.unwrap_or_default()))
    })?
}

/// The statements of a [`SettingsChange`], the same on both engines (parameters in order,
/// each once: SQLite numbers `$n` by first appearance). A put keeps the value it replaces
/// and answers it, so that two changes at once each get the value the other left.
pub(super) const PUT_SETTING: &str =
    "INSERT INTO settings (name, value, previous, updated_at) VALUES ($1, $2, NULL, $3) \
     ON CONFLICT (name) DO UPDATE SET previous = settings.value, value = excluded.value, \
     updated_at = excluded.updated_at RETURNING previous";
pub(super) const ADD_SUBSCRIPTION: &str = "INSERT INTO subscriptions \
     (subscription_id, display_name, cloud, added_at, added_by) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (subscription_id) DO NOTHING";
pub(super) const REMOVE_SUBSCRIPTION: &str = "DELETE FROM subscriptions WHERE subscription_id = $1 \
     RETURNING subscription_id, display_name, cloud, added_at, added_by";

/// A subscription's columns as both engines store them (times in microseconds).
pub(super) type SubscriptionRow = (String, String, String, i64, String);

pub(super) fn subscription(row: SubscriptionRow) -> Result<Subscription, StoreError> {
    let (subscription_id, display_name, cloud, added_at, added_by) = row;
    Ok(Subscription {
        cloud: cloud
            .parse()
            .map_err(|_| StoreError::backend(format!("subscription {subscription_id}: cloud '{cloud}'")))?,
        added_at: DateTime::from_timestamp_micros(added_at)
            .ok_or_else(|| StoreError::backend(format!("subscription {subscription_id}: time {added_at}")))?,
        subscription_id,
        display_name,
        added_by,
    })
}

/// `SettingsStore` for an engine (`$store` with its sqlx pool `pool`, and its appends'
/// `writer`, which makes a change in the transaction of the entry that records it).
macro_rules! settings_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::settings_store::SettingsStore for $store {
            async fn settings(&self) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT name, value FROM settings ORDER BY name").fetch_all(&self.pool).await?)
            }

            async fn subscriptions(
                &self,
            ) -> Result<Vec<$crate::subscriptions::Subscription>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::settings_store::SubscriptionRow> = sqlx::query_as(
                    "SELECT subscription_id, display_name, cloud, added_at, added_by FROM subscriptions \
                     ORDER BY display_name, subscription_id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::store::settings_store::subscription).collect()
            }

            async fn change(
                &self,
                change: $crate::store::settings_store::SettingsChange,
                record: $crate::store::settings_store::RecordChange,
            ) -> Result<
                ($crate::store::settings_store::SettingsChanged, Option<$crate::store::AppendReceipt>),
                $crate::store::StoreError,
            > {
                self.writer.change(change, record).await
            }
        }
    };
}
pub(crate) use settings_store;
