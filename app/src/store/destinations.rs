//! Delivery destinations as stored, and where each one's delivery stands (its cursor over
//! the log's sequence), read and written the same way on both engines
//! ([`delivery_store!`]). What a destination accepts is `destinations.rs` at the crate
//! root; changing one (and recording it) is `destination_changes.rs`.

use super::StoreError;
use crate::destinations::{DestinationConfig, DestinationKind};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A destination with its secret, as only the server sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredDestination {
    pub id: i64,
    pub name: String,
    pub kind: DestinationKind,
    pub config: DestinationConfig,
    /// The HEC token or the webhook's signing secret.
    pub secret: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Never the secret, even in a debug log.
impl std::fmt::Debug for StoredDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredDestination")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.config.url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What an update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Updated {
    /// Changed: the destination as it now is.
    Done(Box<StoredDestination>),
    /// Another destination has that name (ignoring case); nothing changed.
    NameTaken,
    /// It is gone, or was changed meanwhile (its version moved on); nothing changed.
    Changed,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Every destination, by name.
    async fn destinations(&self) -> Result<Vec<StoredDestination>, StoreError>;
    async fn destination(&self, id: i64) -> Result<Option<StoredDestination>, StoreError>;
    /// Adds one (its `id` and `version` are the store's to give) whose delivery starts
    /// after the entry numbered `cursor`; `None`, and nothing added, when the name is
    /// taken ignoring case.
    async fn create_destination(
        &self,
        new: &StoredDestination,
        cursor: u64,
    ) -> Result<Option<StoredDestination>, StoreError>;
    /// Sets the name, settings and secret of `id` if it is still at `version` (then at
    /// `version + 1`), in one statement.
    #[allow(clippy::too_many_arguments)]
    async fn update_destination(
        &self,
        id: i64,
        version: i64,
        name: &str,
        config: &DestinationConfig,
        secret: Option<&str>,
        now: DateTime<Utc>,
        by: &str,
    ) -> Result<Updated, StoreError>;
    /// Removes one with its cursor, in one transaction: what it was and where its delivery
    /// stood.
    async fn delete_destination(&self, id: i64) -> Result<Option<(StoredDestination, u64)>, StoreError>;
    /// Puts back one removed (a removal that could not be recorded is undone), with its id
    /// and cursor; `false` when its name was taken meanwhile.
    async fn restore_destination(&self, destination: &StoredDestination, cursor: u64) -> Result<bool, StoreError>;
    /// Where delivery to `id` stands: the last sequence number delivered (or passed over).
    async fn delivery_cursor(&self, id: i64) -> Result<Option<u64>, StoreError>;
}

/// A destination's columns as both engines store them (times in microseconds).
pub(super) type DestinationRow = (i64, String, String, String, Option<String>, i64, i64, String, i64, String);

/// The columns of [`DestinationRow`], in order.
pub(super) const COLUMNS: &str =
    "id, name, kind, config, secret, version, created_at, created_by, updated_at, updated_by";

pub(super) fn destination(row: DestinationRow) -> Result<StoredDestination, StoreError> {
    let (id, name, kind, config, secret, version, created_at, created_by, updated_at, updated_by) = row;
    let bad = |what: &str| StoreError::backend(format!("destination {id}: {what}"));
    Ok(StoredDestination {
        id,
        kind: kind.parse().map_err(|_| bad(&format!("kind '{kind}'")))?,
        config: serde_json::from_str(&config).map_err(|e| bad(&format!("settings: {e}")))?,
        secret,
        version,
        created_at: DateTime::from_timestamp_micros(created_at).ok_or_else(|| bad("creation time"))?,
        created_by,
        updated_at: DateTime::from_timestamp_micros(updated_at).ok_or_else(|| bad("change time"))?,
        updated_by,
        name,
    })
}

/// The settings as stored.
pub(super) fn config_text(config: &DestinationConfig) -> Result<String, StoreError> {
    serde_json::to_string(config).map_err(|e| StoreError::backend(format!("destination settings: {e}")))
}

/// Names are unique ignoring case: the key they are compared by.
pub(super) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// `DeliveryStore` for an engine (`$store` with its sqlx pool `pool`): the same statements
/// on both (`$1` placeholders, times as microseconds).
macro_rules! delivery_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::destinations::DeliveryStore for $store {
            async fn destinations(
                &self,
            ) -> Result<Vec<$crate::store::destinations::StoredDestination>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let rows: Vec<d::DestinationRow> =
                    sqlx::query_as(&format!("SELECT {} FROM destinations ORDER BY name_key, id", d::COLUMNS))
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(d::destination).collect()
            }

            async fn destination(
                &self,
                id: i64,
            ) -> Result<Option<$crate::store::destinations::StoredDestination>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let row: Option<d::DestinationRow> =
                    sqlx::query_as(&format!("SELECT {} FROM destinations WHERE id = $1", d::COLUMNS))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(d::destination).transpose()
            }

            async fn create_destination(
                &self,
                new: &$crate::store::destinations::StoredDestination,
                cursor: u64,
            ) -> Result<Option<$crate::store::destinations::StoredDestination>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let mut tx = self.pool.begin().await?;
                let row: Option<d::DestinationRow> = sqlx::query_as(&format!(
                    "INSERT INTO destinations (name, name_key, kind, config, secret, version, created_at, created_by, \
                     updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $6, $7) \
                     ON CONFLICT (name_key) DO NOTHING RETURNING {}",
                    d::COLUMNS
                ))
                .bind(&new.name)
                .bind(d::name_key(&new.name))
                .bind(new.kind.as_str())
                .bind(d::config_text(&new.config)?)
                .bind(new.secret.as_deref())
                .bind(new.created_at.timestamp_micros())
                .bind(&new.created_by)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else { return Ok(None) };
                sqlx::query("INSERT INTO delivery_state (destination_id, cursor, epoch) VALUES ($1, $2, 0)")
                    .bind(row.0)
                    .bind(i64::try_from(cursor).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                d::destination(row).map(Some)
            }

            async fn update_destination(
                &self,
                id: i64,
                version: i64,
                name: &str,
                config: &$crate::destinations::DestinationConfig,
                secret: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
                by: &str,
            ) -> Result<$crate::store::destinations::Updated, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let row: Result<Option<d::DestinationRow>, sqlx::Error> = sqlx::query_as(&format!(
                    "UPDATE destinations SET name = $3, name_key = $4, config = $5, secret = $6, version = version + 1, \
                     updated_at = $7, updated_by = $8 WHERE id = $1 AND version = $2 RETURNING {}",
                    d::COLUMNS
                ))
                .bind(id)
                .bind(version)
                .bind(name)
                .bind(d::name_key(name))
                .bind(d::config_text(config)?)
                .bind(secret)
                .bind(now.timestamp_micros())
                .bind(by)
                .fetch_optional(&self.pool)
                .await;
                match row {
                    Ok(Some(row)) => Ok(d::Updated::Done(Box::new(d::destination(row)?))),
                    Ok(None) => Ok(d::Updated::Changed),
                    Err(e) if d::is_unique_violation(&e) => Ok(d::Updated::NameTaken),
                    Err(e) => Err(e.into()),
                }
            }

            async fn delete_destination(
                &self,
                id: i64,
            ) -> Result<Option<($crate::store::destinations::StoredDestination, u64)>, $crate::store::StoreError>
            {
                use $crate::store::destinations as d;
                let mut tx = self.pool.begin().await?;
                let cursor: Option<i64> =
                    sqlx::query_scalar("DELETE FROM delivery_state WHERE destination_id = $1 RETURNING cursor")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let row: Option<d::DestinationRow> =
                    sqlx::query_as(&format!("DELETE FROM destinations WHERE id = $1 RETURNING {}", d::COLUMNS))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(row) = row else { return Ok(None) };
                tx.commit().await?;
                Ok(Some((d::destination(row)?, cursor.map_or(0, $crate::store::rows::seq_u64))))
            }

            async fn restore_destination(
                &self,
                old: &$crate::store::destinations::StoredDestination,
                cursor: u64,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "INSERT INTO destinations (id, name, name_key, kind, config, secret, version, created_at, \
                     created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(old.id)
                .bind(&old.name)
                .bind(d::name_key(&old.name))
                .bind(old.kind.as_str())
                .bind(d::config_text(&old.config)?)
                .bind(old.secret.as_deref())
                .bind(old.version)
                .bind(old.created_at.timestamp_micros())
                .bind(&old.created_by)
                .bind(old.updated_at.timestamp_micros())
                .bind(&old.updated_by)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO delivery_state (destination_id, cursor, epoch) VALUES ($1, $2, 0)")
                    .bind(old.id)
                    .bind(i64::try_from(cursor).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delivery_cursor(&self, id: i64) -> Result<Option<u64>, $crate::store::StoreError> {
                let cursor: Option<i64> =
                    sqlx::query_scalar("SELECT cursor FROM delivery_state WHERE destination_id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(cursor.map($crate::store::rows::seq_u64))
            }
        }
    };
}
pub(crate) use delivery_store;
