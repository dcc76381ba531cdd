//! The stored Merkle tree and its signed checkpoints, read the same way on both engines:
//! the statements are written once ([`tree_store!`]); only reading a set of rows differs
//! (`= ANY` on PostgreSQL, `IN` on SQLite). The rows are written by each engine's append.

use super::StoreError;
use crate::integrity::{StoredRows, TreeHead, TreeQuery};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A signed checkpoint as stored: the tree head it signs and the signed note itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub head: TreeHead,
    pub signed_at: DateTime<Utc>,
    /// The C2SP signed note (checkpoint body and signature lines).
    pub note: String,
}

/// The tree's rows and the checkpoints that sign its heads.
#[async_trait]
pub trait TreeStore: Send + Sync {
    /// How many entries the stored tree holds (the log's head, once appends are settled).
    async fn tree_size(&self) -> Result<u64, StoreError>;
    /// The named rows of the tree table; rows that do not exist are left out.
    async fn tree_rows(&self, rows: &[u64]) -> Result<StoredRows, StoreError>;
    /// Stores a checkpoint; `false` when one for that tree size is already stored (it
    /// stands: a checkpoint is never replaced).
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool, StoreError>;
    /// The checkpoint of the largest tree.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Checkpoints of trees larger than `size`, smallest first, at most `limit`.
    async fn checkpoints_after(&self, size: u64, limit: u32) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

/// Answers a question about the stored tree (a root, a proof) from the O(log n) rows it
/// needs. A tree smaller than asked about, or rows missing, is an error that says so.
pub async fn answer(store: &dyn TreeStore, query: TreeQuery) -> Result<Vec<[u8; 32]>, StoreError> {
    let size = store.tree_size().await?;
    let needs = match query {
        TreeQuery::Root { size } | TreeQuery::Inclusion { size, .. } | TreeQuery::Consistency { to: size, .. } => size,
    };
    if needs > size {
        return Err(StoreError::Conflict(format!("the tree holds {size} entries, not {needs}")));
    }
    let rows = query.rows().map_err(|e| StoreError::Conflict(format!("{query:?}: {e}")))?;
    let stored = store.tree_rows(&rows).await?;
    query.answer(&stored).map_err(|e| StoreError::Corrupt { seq: needs, reason: format!("the tree's rows: {e}") })
}

/// Inclusion proofs of many entries in the tree of `size` entries (an evidence pack's),
/// in the order of `indexes` (leaf indexes, each below `size`): the rows they need are
/// read once for all of them, and proofs of nearby leaves share most of theirs.
pub async fn inclusion_proofs(
    store: &dyn TreeStore,
    size: u64,
    indexes: &[u64],
) -> Result<Vec<Vec<[u8; 32]>>, StoreError> {
    let stored = store.tree_size().await?;
    if size > stored {
        return Err(StoreError::Conflict(format!("the tree holds {stored} entries, not {size}")));
    }
    let queries: Vec<TreeQuery> = indexes.iter().map(|&index| TreeQuery::Inclusion { index, size }).collect();
    let mut rows = Vec::new();
    for query in &queries {
        rows.extend(query.rows().map_err(|e| StoreError::Conflict(format!("{query:?}: {e}")))?);
    }
    rows.sort_unstable();
    rows.dedup();
    let stored = store.tree_rows(&rows).await?;
    queries
        .into_iter()
        .map(|query| {
            query
                .answer(&stored)
                .map_err(|e| StoreError::Corrupt { seq: size, reason: format!("the tree's rows: {e}") })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct CheckpointRow {
    size: i64,
    root: Vec<u8>,
    signed_at: i64,
    note: String,
}

impl TryFrom<CheckpointRow> for StoredCheckpoint {
    type Error = StoreError;

    fn try_from(row: CheckpointRow) -> Result<Self, StoreError> {
        let size = u64::try_from(row.size).unwrap_or(0);
        let damaged = |what: &str| StoreError::Corrupt { seq: size, reason: format!("the checkpoint's {what}") };
        Ok(StoredCheckpoint {
            head: TreeHead { size, root: row.root.try_into().map_err(|_| damaged("root is not 32 bytes"))? },
            signed_at: DateTime::from_timestamp_micros(row.signed_at).ok_or_else(|| damaged("time is out of range"))?,
            note: row.note,
        })
    }
}

/// `TreeStore` for an engine (`$store` with its sqlx pool `pool`, database `$db`), given
/// its way of reading a set of rows (`$rows`: an async fn of the pool and the row numbers).
macro_rules! tree_store {
    ($store:ty, $db:ty, $rows:path) => {
        #[async_trait::async_trait]
        impl $crate::store::tree::TreeStore for $store {
            async fn tree_size(&self) -> Result<u64, $crate::store::StoreError> {
                let size: i64 =
                    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_tree").fetch_one(&self.pool).await?;
                Ok(u64::try_from(size).unwrap_or(0))
            }

            async fn tree_rows(
                &self,
                rows: &[u64],
            ) -> Result<$crate::integrity::StoredRows, $crate::store::StoreError> {
                let rows: Vec<i64> = rows.iter().filter_map(|r| i64::try_from(*r).ok()).collect();
                $rows(&self.pool, &rows).await
            }

            async fn add_checkpoint(
                &self,
                checkpoint: &$crate::store::tree::StoredCheckpoint,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO audit_checkpoints (size, root, signed_at, note) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (size) DO NOTHING",
                )
                .bind(i64::try_from(checkpoint.head.size).unwrap_or(i64::MAX))
                .bind(&checkpoint.head.root[..])
                .bind(checkpoint.signed_at.timestamp_micros())
                .bind(&checkpoint.note)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn latest_checkpoint(
                &self,
            ) -> Result<Option<$crate::store::tree::StoredCheckpoint>, $crate::store::StoreError> {
                let row: Option<$crate::store::tree::CheckpointRow> = sqlx::query_as(
                    "SELECT size, root, signed_at, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn checkpoints_after(
                &self,
                size: u64,
                limit: u32,
            ) -> Result<Vec<$crate::store::tree::StoredCheckpoint>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::tree::CheckpointRow> = sqlx::query_as(
                    "SELECT size, root, signed_at, note FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT $2",
                )
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}
pub(crate) use tree_store;
