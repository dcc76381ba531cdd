//! Exports' scans on PostgreSQL: every match oldest first, read in batches from a cursor
//! on the server inside one snapshot (memory stays flat at any size), and handed to the
//! sink on a blocking thread while the next batch is read.

use super::read::{push_entries_where, snapshot};
use super::search::resolve;
use crate::filter::EntryFilter;
use crate::store::rows::{EntryRow, COLUMNS};
use crate::store::sql::bounds;
use crate::store::{ScanSink, StoreError};
use sqlx::{PgPool, QueryBuilder};
use tokio::sync::mpsc;

/// Rows read per statement.
const BATCH: i64 = 1000;

pub async fn scan(pool: &PgPool, filter: &EntryFilter, mut sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
    // An empty batch says the scan reached its end; a closed channel without it, that the
    // reading failed (the sink is then not told it ended).
    let (batches, mut received) = mpsc::channel::<Vec<EntryRow>>(2);
    let handing = tokio::task::spawn_blocking(move || -> Result<u64, StoreError> {
        let mut handed = 0;
        while let Some(batch) = received.blocking_recv() {
            if batch.is_empty() {
                sink.end();
                break;
            }
            for row in &batch {
                handed += 1;
                if !sink.entry(&row.raw()?) {
                    return Ok(handed);
                }
            }
        }
        Ok(handed)
    });
    let reading = read_batches(pool, filter, &batches).await;
    drop(batches);
    let handed = handing.await.map_err(StoreError::backend)?;
    reading?;
    handed
}

async fn read_batches(
    pool: &PgPool,
    filter: &EntryFilter,
    batches: &mpsc::Sender<Vec<EntryRow>>,
) -> Result<(), StoreError> {
    let mut tx = snapshot(pool).await?;
    let search = resolve(&mut tx, &filter.search).await?;
    let (start, end) = bounds(filter);
    // One statement planned once, read through a cursor a batch at a time: the server
    // keeps its place, so each batch is neither planned nor sought again.
    let mut qb = QueryBuilder::new(format!("DECLARE export NO SCROLL CURSOR FOR SELECT {COLUMNS} FROM audit_entries"));
    push_entries_where(&mut qb, filter, &search, start, end);
    qb.push(" ORDER BY ts, seq");
    qb.build().execute(&mut *tx).await?;
    let fetch = format!("FETCH {BATCH} FROM export");
    loop {
        let rows: Vec<EntryRow> = sqlx::query_as(&fetch).fetch_all(&mut *tx).await?;
        let full = rows.len() as i64 == BATCH;
        if !rows.is_empty() && batches.send(rows).await.is_err() {
            // The sink stopped the scan.
            return Ok(());
        }
        if !full {
            let _ = batches.send(Vec::new()).await;
            return Ok(());
        }
    }
}
