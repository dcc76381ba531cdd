//! Settings as stored: a value for each setting changed from its default, read and
//! written the same way on both engines ([`settings_store!`]); what each setting means,
//! its bounds and its default are the application's (`settings.rs` at the crate root).

use super::StoreError;
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
        }
    };
}
pub(crate) use settings_store;
