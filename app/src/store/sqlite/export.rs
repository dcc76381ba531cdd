//! Every matching entry, oldest first, read as a stream: rows go to the receiver as they
//! are read, so memory stays flat whatever the size, and a receiver that goes away (a
//! client that disconnected) stops the query.

use super::query::{bounds, resolve_search, Search};
use super::rows::{EntryRow, COLUMNS};
use crate::entry::AuditEntry;
use crate::filter::EntryFilter;
use crate::store::sql::{push_where, Target};
use crate::store::StoreError;
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, SqlitePool};
use tokio::sync::mpsc;

/// Rows read ahead of the writer: enough to keep both busy, small enough to stay flat.
const READ_AHEAD: usize = 512;

pub fn export(pool: SqlitePool, filter: EntryFilter) -> mpsc::Receiver<Result<AuditEntry, StoreError>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        if let Err(e) = read_into(&pool, &filter, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

async fn read_into(
    pool: &SqlitePool,
    filter: &EntryFilter,
    tx: &mpsc::Sender<Result<AuditEntry, StoreError>>,
) -> Result<(), StoreError> {
    let search = resolve_search(pool, &filter.search).await?;
    if matches!(search, Search::Nothing) {
        return Ok(());
    }
    let (start, end) = bounds(filter);
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_entries"));
    push_where(&mut qb, filter, search.fts(), Target::Entries { start, end });
    qb.push(" ORDER BY ts, seq");
    let mut rows = qb.build_query_as::<EntryRow>().fetch(pool);
    while let Some(row) = rows.try_next().await? {
        if tx.send(AuditEntry::try_from(row)).await.is_err() {
            // Nobody is reading any more: dropping the stream ends the query.
            break;
        }
    }
    Ok(())
}
