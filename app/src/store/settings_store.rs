//! Settings as stored: a value for each setting changed from its default, and the cloud
//! subscriptions, read and written the same way on both engines ([`settings_store!`]); what each setting means,
//! its bounds and its default are the application's (`settings.rs` at the crate root).

use super::StoreError;
use crate::subscriptions::Subscription;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// Every stored setting, by name.
    async fn settings(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Stores `value` for `name` and answers the value it replaced (none when the setting
    /// had its default), in one transaction.
    async fn put_setting(&self, name: &str, value: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError>;
    /// Puts `to` back for `name` only if it still holds `from` (a change that could not be
    /// recorded is undone, never one that came after it); whether it did.
    async fn restore_setting(&self, name: &str, from: &str, to: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The cloud subscriptions discovery scans, by display name.
    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    /// Adds one; `false` (and nothing changed) when its id is already there.
    async fn add_subscription(&self, subscription: &Subscription) -> Result<bool, StoreError>;
    /// Removes the one with this id (lower case), answering it; `None` when there is none.
    async fn remove_subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError>;
}

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

/// `SettingsStore` for an engine (`$store` with its sqlx pool `pool`). A change is one
/// statement that keeps the value it replaces and answers it: two changes at once each get
/// the value the other left, on either engine.
macro_rules! settings_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::settings_store::SettingsStore for $store {
            async fn settings(&self) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT name, value FROM settings ORDER BY name").fetch_all(&self.pool).await?)
            }

            async fn put_setting(
                &self,
                name: &str,
                value: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                let previous: Option<String> = sqlx::query_scalar(
                    "INSERT INTO settings (name, value, previous, updated_at) VALUES ($1, $2, NULL, $3) \
                     ON CONFLICT (name) DO UPDATE SET previous = settings.value, value = excluded.value, \
                     updated_at = excluded.updated_at RETURNING previous",
                )
                .bind(name)
                .bind(value)
                .bind(now.timestamp_micros())
                .fetch_one(&self.pool)
                .await?;
                Ok(previous)
            }

            async fn restore_setting(
                &self,
                name: &str,
                from: &str,
                to: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE settings SET value = $3, previous = value, updated_at = $4 WHERE name = $1 AND value = $2",
                )
                .bind(name)
                .bind(from)
                .bind(to)
                .bind(now.timestamp_micros())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
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

            async fn add_subscription(
                &self,
                s: &$crate::subscriptions::Subscription,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO subscriptions (subscription_id, display_name, cloud, added_at, added_by) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subscription_id) DO NOTHING",
                )
                .bind(&s.subscription_id)
                .bind(&s.display_name)
                .bind(s.cloud.as_str())
                .bind(s.added_at.timestamp_micros())
                .bind(&s.added_by)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn remove_subscription(
                &self,
                id: &str,
            ) -> Result<Option<$crate::subscriptions::Subscription>, $crate::store::StoreError> {
                let row: Option<$crate::store::settings_store::SubscriptionRow> = sqlx::query_as(
                    "DELETE FROM subscriptions WHERE subscription_id = $1 \
                     RETURNING subscription_id, display_name, cloud, added_at, added_by",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::settings_store::subscription).transpose()
            }
        }
    };
}
pub(crate) use settings_store;
