//! The stored Merkle tree on PostgreSQL: the frontier an append extends, read under the
//! appends' lock when this instance's own copy is not the head's (another instance
//! appended), and the rows an older database lacks, made from its entries (the migration
//! in place), in batches, still under the lock.

use super::scan::raw;
use crate::integrity::{leaf_hash, EntryFields, StoredRows, TreeBuilder};
use crate::store::rows::{seq_u64, COLUMNS};
use crate::store::StoreError;
use sqlx::PgConnection;

/// Entries read at a time when rows are made from the stored entries.
const BATCH: i64 = 5_000;

/// The tree of the first `head` entries, ready to be extended. Called under the appends'
/// lock, in the transaction that appends next.
pub async fn at_head(conn: &mut PgConnection, head: u64) -> Result<TreeBuilder, StoreError> {
    let stored: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_tree").fetch_one(&mut *conn).await?;
    let stored = seq_u64(stored);
    // Rows are made from stored entries only for a database that has none (one from
    // before the tree); any other difference is damage, left as it is, as evidence.
    if stored == 0 && head > 0 {
        let mut tree = TreeBuilder::default();
        add_missing(conn, &mut tree, head).await?;
        return Ok(tree);
    }
    if stored != head {
        return Err(StoreError::Corrupt {
            seq: head,
            reason: format!("the Merkle tree holds {stored} entries but the log {head}"),
        });
    }
    read_frontier(conn, stored).await
}

async fn read_frontier(conn: &mut PgConnection, size: u64) -> Result<TreeBuilder, StoreError> {
    let wanted: Vec<i64> =
        TreeBuilder::frontier_at(size).into_iter().map(|(row, _)| i64::try_from(row).unwrap_or(i64::MAX)).collect();
    let rows = read_rows(conn, &wanted).await?;
    rows.frontier(size)
        .ok_or_else(|| StoreError::Corrupt { seq: size, reason: "the tree's stored hashes are damaged".into() })
}

/// The named rows of the tree table (those that exist).
pub async fn read_rows(conn: &mut PgConnection, rows: &[i64]) -> Result<StoredRows, StoreError> {
    let found: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hashes FROM audit_tree WHERE seq = ANY($1)").bind(rows).fetch_all(conn).await?;
    Ok(StoredRows(found.into_iter().map(|(seq, hashes)| (seq_u64(seq), hashes)).collect()))
}

/// Adds the rows of the entries after the tree's last, up to `head`, from the stored
/// entries (whose leaves are what verification recomputes).
async fn add_missing(conn: &mut PgConnection, tree: &mut TreeBuilder, head: u64) -> Result<(), StoreError> {
    let from = tree.size();
    let started = std::time::Instant::now();
    let query = format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq");
    while tree.size() < head {
        let after = i64::try_from(tree.size()).unwrap_or(i64::MAX);
        let rows = sqlx::query(&query).bind(after).bind(after.saturating_add(BATCH)).fetch_all(&mut *conn).await?;
        let (mut seqs, mut hashes) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
        for row in &rows {
            let entry = raw(row)?.to_entry()?;
            if entry.sequence != tree.size() + 1 {
                break;
            }
            let mut row_hashes = Vec::with_capacity(64);
            tree.push_stored(leaf_hash(&EntryFields::of_stored(&entry)), &mut row_hashes);
            seqs.push(i64::try_from(entry.sequence).unwrap_or(i64::MAX));
            hashes.push(row_hashes);
        }
        if seqs.is_empty() {
            return Err(StoreError::Corrupt { seq: tree.size() + 1, reason: "the entry is missing".into() });
        }
        sqlx::query("INSERT INTO audit_tree (seq, hashes) SELECT * FROM unnest($1::bigint[], $2::bytea[])")
            .bind(&seqs)
            .bind(&hashes)
            .execute(&mut *conn)
            .await?;
    }
    tracing::info!(
        from = from + 1,
        to = head,
        secs = started.elapsed().as_secs_f64(),
        "added entries to the Merkle tree"
    );
    Ok(())
}

/// [`read_rows`] on a connection of the pool, for [`TreeStore`].
///
/// [`TreeStore`]: crate::store::TreeStore
pub async fn read_rows_of_pool(pool: &sqlx::PgPool, rows: &[i64]) -> Result<StoredRows, StoreError> {
    read_rows(&mut *pool.acquire().await?, rows).await
}
