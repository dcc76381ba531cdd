//! The stored Merkle tree on SQLite: the frontier an append extends, read back from the
//! tree table when this writer's own copy is not the head's (another process appended, or
//! a transaction failed), and the rows an older store lacks, made from its entries (the
//! migration in place). Runs on the writer's thread, inside its write transaction.

use super::scan::raw;
use crate::integrity::{leaf_hash, EntryFields, StoredRows, TreeBuilder};
use crate::store::rows::{seq_u64, COLUMNS};
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

/// The tree of the first `head` entries, ready to be extended. `known` is this writer's
/// tree as its last commit left it: still the head's when it has as many leaves, since the
/// head only grows and only this writer's commits replace `known`.
///
/// Rows are made from stored entries only for a store that has none (one from before the
/// tree: the migration in place). A tree that holds more or fewer entries than the log
/// was changed behind the store's back (entries removed, or forged at the head): it is
/// `Corrupt`, and left as it is, as evidence.
pub fn at_head(tx: &Transaction<'_>, known: Option<&TreeBuilder>, head: u64) -> Result<TreeBuilder, StoreError> {
    if let Some(tree) = known.filter(|tree| tree.size() == head) {
        return Ok(tree.clone());
    }
    let stored: u64 = seq_u64(tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_tree", [], |r| r.get(0))?);
    if stored == 0 && head > 0 {
        let mut tree = TreeBuilder::default();
        add_missing(tx, &mut tree, head)?;
        return Ok(tree);
    }
    if stored != head {
        return Err(StoreError::Corrupt {
            seq: head,
            reason: format!("the Merkle tree holds {stored} entries but the log {head}"),
        });
    }
    read_frontier(tx, stored)
}

/// The frontier of the stored tree of `size` leaves, from its O(log n) rows.
fn read_frontier(tx: &Transaction<'_>, size: u64) -> Result<TreeBuilder, StoreError> {
    let mut rows = StoredRows::default();
    let mut read = tx.prepare_cached("SELECT hashes FROM audit_tree WHERE seq = ?")?;
    for (row, _) in TreeBuilder::frontier_at(size) {
        // A missing row is the tree's damage, reported as such below.
        let hashes: Option<Vec<u8>> =
            read.query_row(params![i64::try_from(row).unwrap_or(i64::MAX)], |r| r.get(0)).optional()?;
        if let Some(hashes) = hashes {
            rows.0.insert(row, hashes);
        }
    }
    rows.frontier(size)
        .ok_or_else(|| StoreError::Corrupt { seq: size, reason: "the tree's stored hashes are damaged".into() })
}

/// Adds the rows of the entries after the tree's last, up to `head`, from the stored
/// entries (whose leaves are what verification recomputes).
fn add_missing(tx: &Transaction<'_>, tree: &mut TreeBuilder, head: u64) -> Result<(), StoreError> {
    let from = tree.size();
    let started = std::time::Instant::now();
    let mut read = tx.prepare(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > ? ORDER BY seq"))?;
    let mut insert = tx.prepare_cached("INSERT INTO audit_tree (seq, hashes) VALUES (?, ?)")?;
    let mut rows = read.query(params![i64::try_from(from).unwrap_or(i64::MAX)])?;
    let mut row_hashes = Vec::with_capacity(64);
    while let Some(row) = rows.next()? {
        let entry = raw(row)?.to_entry()?;
        if entry.sequence != tree.size() + 1 {
            return Err(StoreError::Corrupt { seq: tree.size() + 1, reason: "the entry is missing".into() });
        }
        row_hashes.clear();
        tree.push_stored(leaf_hash(&EntryFields::of_stored(&entry)), &mut row_hashes);
        insert.execute(params![i64::try_from(entry.sequence).unwrap_or(i64::MAX), row_hashes])?;
    }
    if tree.size() != head {
        return Err(StoreError::Corrupt { seq: tree.size() + 1, reason: "the entry is missing".into() });
    }
    tracing::info!(
        from = from + 1,
        to = head,
        secs = started.elapsed().as_secs_f64(),
        "added entries to the Merkle tree"
    );
    Ok(())
}

/// Brings the tree up to the log's head when the store opens for writing: a store from
/// before the tree gets its rows now (about 20 s a million entries), not in its first append.
/// A tree that cannot be brought there (entries removed behind the store's back, a row
/// that cannot be read) leaves the store open to read and verify, but every append is
/// refused with the reason: appending would bury the evidence.
pub fn settle(conn: &mut Connection) -> Result<Option<TreeBuilder>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head: u64 = seq_u64(tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_entries", [], |r| r.get(0))?);
    match at_head(&tx, None, head) {
        Ok(tree) => {
            tx.commit()?;
            Ok(Some(tree))
        }
        Err(e @ StoreError::Corrupt { .. }) => {
            tracing::error!(error = %e, "the Merkle tree does not match the log: appends are refused; run verify");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The named rows of the tree table (those that exist), for [`TreeStore`].
///
/// [`TreeStore`]: crate::store::TreeStore
pub async fn read_rows(pool: &sqlx::SqlitePool, rows: &[i64]) -> Result<StoredRows, StoreError> {
    let mut found = StoredRows::default();
    // A proof or a root reads O(log n) rows; an evidence pack, thousands at once.
    for chunk in rows.chunks(500) {
        let sql = format!("SELECT seq, hashes FROM audit_tree WHERE seq IN ({})", vec!["?"; chunk.len()].join(", "));
        let mut query = sqlx::query_as::<_, (i64, Vec<u8>)>(&sql);
        for row in chunk {
            query = query.bind(row);
        }
        found.0.extend(query.fetch_all(pool).await?.into_iter().map(|(seq, hashes)| (seq_u64(seq), hashes)));
    }
    Ok(found)
}
