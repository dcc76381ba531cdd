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
    /// Where delivery to `id` stands, with its health.
    async fn delivery_state(&self, id: i64) -> Result<Option<DeliveryState>, StoreError>;
    /// Moves the cursor of `id` from `from` to `to` if it is still at `from` in `epoch`
    /// (another instance, or a replay, may have moved it), counting `delivered` entries
    /// delivered at `now` (none: it passed over entries the filter does not want); whether
    /// it moved.
    async fn advance_delivery(
        &self,
        id: i64,
        epoch: i64,
        from: u64,
        to: u64,
        delivered: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Notes the outcome of an attempt that delivered nothing (or the state while idle):
    /// the state, the attempts in a row that failed, the error if there was one, and when
    /// the next try is.
    async fn note_delivery(&self, id: i64, note: &DeliveryNote, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Marks `id` failing (or no longer) if it was not already: whether this call changed
    /// it, so that each change of state is recorded once, whichever instance sees it.
    async fn set_failing(&self, id: i64, failing: bool, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Moves the cursor of `id` to `cursor` (back, for a replay) in a new epoch, so that an
    /// advance reckoned from before is refused; the cursor it had, `None` if `id` is gone.
    async fn rewind_delivery(&self, id: i64, cursor: u64) -> Result<Option<u64>, StoreError>;
    /// Forgets the entries of `id` set aside after `after`, so that they are tried again (a
    /// replay, once recorded); how many.
    async fn retry_parked(&self, id: i64, after: u64) -> Result<u64, StoreError>;
    /// Sets the entry `seq` aside for `id` (its receiver refused it as bad data), unless a
    /// replay moved the cursor since the worker read it in `epoch`; whether it did.
    async fn park_delivery(
        &self,
        id: i64,
        seq: u64,
        reason: &str,
        epoch: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The entries set aside for `id` numbered above `after` and up to `up_to`.
    async fn parked_deliveries(&self, id: i64, after: u64, up_to: u64) -> Result<Vec<u64>, StoreError>;
}

/// Where a destination's delivery stands, and its health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryState {
    /// The last sequence number delivered or passed over.
    pub cursor: u64,
    /// Goes up when the cursor is moved back (replay).
    pub epoch: i64,
    /// `idle`, `delivering`, `retrying`, `circuit_open`, `paused` or `disabled`.
    pub state: String,
    /// Entries delivered so far.
    pub delivered: u64,
    /// Attempts in a row that failed.
    pub attempts: u32,
    pub failing: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The last error, with the receiver's answer when there was one.
    pub last_error: Option<String>,
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Entries set aside as refused data, and why the last one was.
    pub parked: u64,
    pub last_parked: Option<String>,
}

/// What an attempt that delivered nothing leaves noted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryNote {
    pub state: String,
    pub attempts: u32,
    /// The error, if the attempt failed (kept until the next one).
    pub error: Option<String>,
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// A delivery state's columns (times in microseconds).
pub(super) type StateRow = (
    i64,
    i64,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
);

pub(super) const STATE_COLUMNS: &str = "cursor, epoch, state, delivered, attempts, failing, failing_since, \
     last_success_at, last_error_at, last_error, next_retry_at, \
     (SELECT COUNT(*) FROM delivery_parked p WHERE p.destination_id = delivery_state.destination_id), \
     (SELECT p.reason FROM delivery_parked p WHERE p.destination_id = delivery_state.destination_id \
      ORDER BY p.parked_at DESC, p.seq DESC LIMIT 1)";

pub(super) fn delivery_state(row: StateRow) -> DeliveryState {
    let time = |t: Option<i64>| t.and_then(DateTime::from_timestamp_micros);
    let (
        cursor,
        epoch,
        state,
        delivered,
        attempts,
        failing,
        since,
        success,
        error_at,
        error,
        retry,
        parked,
        last_parked,
    ) = row;
    DeliveryState {
        cursor: super::rows::seq_u64(cursor),
        epoch,
        state,
        delivered: super::rows::seq_u64(delivered),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        failing: failing != 0,
        failing_since: time(since),
        last_success_at: time(success),
        last_error_at: time(error_at),
        last_error: error,
        next_retry_at: time(retry),
        parked: super::rows::seq_u64(parked),
        last_parked,
    }
}

/// A sequence number as stored.
pub(crate) fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
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

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
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
                sqlx::query("DELETE FROM delivery_parked WHERE destination_id = $1").bind(id).execute(&mut *tx).await?;
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

            async fn delivery_state(
                &self,
                id: i64,
            ) -> Result<Option<$crate::store::destinations::DeliveryState>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let row: Option<d::StateRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM delivery_state WHERE destination_id = $1",
                    d::STATE_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(d::delivery_state))
            }

            async fn advance_delivery(
                &self,
                id: i64,
                epoch: i64,
                from: u64,
                to: u64,
                delivered: u64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let delivered = d::seq_i64(delivered);
                let success = (delivered > 0).then(|| now.timestamp_micros());
                let done = sqlx::query(
                    "UPDATE delivery_state SET cursor = $4, delivered = delivered + $5, \
                     last_success_at = COALESCE($6, last_success_at), attempts = 0, next_retry_at = NULL, \
                     state = CASE WHEN $5 > 0 THEN 'delivering' ELSE state END \
                     WHERE destination_id = $1 AND epoch = $2 AND cursor = $3",
                )
                .bind(id)
                .bind(epoch)
                .bind(d::seq_i64(from))
                .bind(d::seq_i64(to))
                .bind(delivered)
                .bind(success)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn note_delivery(
                &self,
                id: i64,
                note: &$crate::store::destinations::DeliveryNote,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let error_at = note.error.as_ref().map(|_| now.timestamp_micros());
                sqlx::query(
                    "UPDATE delivery_state SET state = $2, attempts = $3, last_error = COALESCE($4, last_error), \
                     last_error_at = COALESCE($5, last_error_at), next_retry_at = $6 WHERE destination_id = $1",
                )
                .bind(id)
                .bind(&note.state)
                .bind(i64::from(note.attempts))
                .bind(note.error.as_deref())
                .bind(error_at)
                .bind(note.next_retry_at.map(|t| t.timestamp_micros()))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_failing(
                &self,
                id: i64,
                failing: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let since = failing.then(|| now.timestamp_micros());
                let done = sqlx::query(
                    "UPDATE delivery_state SET failing = $2, failing_since = $3 WHERE destination_id = $1 AND failing <> $2",
                )
                .bind(id)
                .bind(i64::from(failing))
                .bind(since)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn rewind_delivery(&self, id: i64, cursor: u64) -> Result<Option<u64>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let mut tx = self.pool.begin().await?;
                let before: Option<i64> =
                    sqlx::query_scalar("SELECT cursor FROM delivery_state WHERE destination_id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(before) = before else { return Ok(None) };
                sqlx::query(
                    "UPDATE delivery_state SET cursor = $2, epoch = epoch + 1, attempts = 0, next_retry_at = NULL \
                     WHERE destination_id = $1",
                )
                .bind(id)
                .bind(d::seq_i64(cursor))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some($crate::store::rows::seq_u64(before)))
            }

            async fn park_delivery(
                &self,
                id: i64,
                seq: u64,
                reason: &str,
                epoch: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                // Not once a replay (a new epoch) has moved the cursor back over it: then
                // it is sent again instead.
                let done = sqlx::query(
                    "INSERT INTO delivery_parked (destination_id, seq, reason, parked_at) \
                     SELECT $1, $2, $3, $4 WHERE EXISTS \
                     (SELECT 1 FROM delivery_state WHERE destination_id = $1 AND epoch = $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(d::seq_i64(seq))
                .bind(reason)
                .bind(now.timestamp_micros())
                .bind(epoch)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn retry_parked(&self, id: i64, after: u64) -> Result<u64, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let done = sqlx::query("DELETE FROM delivery_parked WHERE destination_id = $1 AND seq > $2")
                    .bind(id)
                    .bind(d::seq_i64(after))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn parked_deliveries(
                &self,
                id: i64,
                after: u64,
                up_to: u64,
            ) -> Result<Vec<u64>, $crate::store::StoreError> {
                use $crate::store::destinations as d;
                let rows: Vec<i64> = sqlx::query_scalar(
                    "SELECT seq FROM delivery_parked WHERE destination_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                )
                .bind(id)
                .bind(d::seq_i64(after))
                .bind(d::seq_i64(up_to))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::rows::seq_u64).collect())
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
