//! A run of entries another store's retention purge removed, copied by `migrate-store`:
//! the record of the run, the Merkle tree's rows of its entries (proofs for the entries
//! kept, and every checkpoint signed before the purge, need them), and the head moved past
//! it, so that the entry after the run chains on as it does in the source. The entries
//! themselves are gone; their tree rows are checked to follow from the rows before them,
//! so a copy never takes in a tree the source's own verification would refuse.

use super::append::{read_head, Known, APPEND_LOCK};
use crate::integrity::StoredRows;
use crate::store::{PurgedRange, StoreError, TreeStore};
use sqlx::PgPool;

/// Tree rows read from the source and written at a time (about 64 bytes each): memory
/// stays flat however long the run.
const ROWS: u64 = 20_000;

/// Copies `run`, reading its tree rows from `source`, in one transaction under the
/// appends' lock: the target's head must be the entry before the run.
pub async fn copy(
    pool: &PgPool,
    known: &mut Known,
    run: &PurgedRange,
    source: &dyn TreeStore,
) -> Result<(), StoreError> {
    // Whatever comes of it, the next append reads the head and the tree again.
    known.forget_head();
    let out_of_range = |seq: u64| StoreError::Corrupt { seq, reason: "sequence number out of range".into() };
    let (first, last) = (
        i64::try_from(run.first).map_err(|_| out_of_range(run.first))?,
        i64::try_from(run.last).map_err(|_| out_of_range(run.last))?,
    );
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
    let head = read_head(&mut tx).await?;
    if head.0 != first - 1 || head.1 != run.prev_hash {
        return Err(StoreError::Conflict(format!(
            "the purged entries {}-{} do not follow this log's head (entry {})",
            run.first, run.last, head.0
        )));
    }
    let mut tree = super::tree::at_head(&mut tx, run.first.saturating_sub(1)).await?;
    let mut at = run.first;
    while at <= run.last {
        let end = run.last.min(at.saturating_add(ROWS - 1));
        let wanted: Vec<u64> = (at..=end).collect();
        let StoredRows(rows) = source.tree_rows(&wanted).await?;
        let (mut seqs, mut hashes) = (Vec::with_capacity(wanted.len()), Vec::with_capacity(wanted.len()));
        for seq in wanted {
            let damaged =
                |reason: &str| StoreError::Corrupt { seq, reason: format!("the source's Merkle tree {reason}") };
            let stored = rows.get(&seq).ok_or_else(|| damaged("has no row for this purged entry"))?;
            let leaf: [u8; 32] =
                stored.get(..32).and_then(|b| b.try_into().ok()).ok_or_else(|| damaged("row is too short"))?;
            let mut row = Vec::with_capacity(stored.len());
            tree.push_stored(leaf, &mut row);
            if row != *stored {
                return Err(damaged("row does not follow from the rows before it"));
            }
            seqs.push(i64::try_from(seq).map_err(|_| out_of_range(seq))?);
            hashes.push(row);
        }
        sqlx::query("INSERT INTO audit_tree (seq, hashes) SELECT * FROM unnest($1::bigint[], $2::bytea[])")
            .bind(&seqs)
            .bind(&hashes)
            .execute(&mut *tx)
            .await?;
        at = end + 1;
    }
    sqlx::query(
        "INSERT INTO audit_purged (first_seq, last_seq, prev_hash, last_hash, purged_at, cutoff) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(first)
    .bind(last)
    .bind(&run.prev_hash[..])
    .bind(&run.last_hash[..])
    .bind(run.purged_at.timestamp_micros())
    .bind(run.cutoff.timestamp_micros())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2")
        .bind(last)
        .bind(&run.last_hash[..])
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
