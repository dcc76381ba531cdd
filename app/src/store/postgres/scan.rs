//! Exports' scans on PostgreSQL: every match oldest first, streamed by the server from one
//! statement inside one snapshot (memory stays flat at any size), and handed to the sink
//! in batches on a blocking thread while the next batch is read. Rows are read by position and
//! borrowed from the server's own bytes: an export of millions of rows spent most of its
//! time looking columns up by name and copying every text into a string of its own.

use super::read::{actor_lookups, push_entries_where, BEGIN_SNAPSHOT};
use super::search::resolve;
use crate::filter::EntryFilter;
use crate::store::rows::{seq_u64, severity, timestamp, COLUMNS, COLUMNS_BEFORE_HASHES};
use crate::store::sql::bounds;
use crate::store::{RawEntry, ScanSink, StoreError};
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, QueryBuilder, Row};
use tokio::sync::mpsc;

/// Rows handed to the sink at once, at most: fewer hand-offs between threads, and batches
/// still small next to the server's own stream.
const BATCH_MAX: usize = 4096;

/// Rows of the first batch, before the rows' size is known, and the fewest of any.
const BATCH_FIRST: usize = 256;
const BATCH_MIN: usize = 16;

/// About how many bytes a batch may hold: rows are handed on in smaller batches when they
/// are large (entries with details of tens of KiB), so that the batches alive at once
/// (one being read, two waiting, one in the sink) stay within tens of MiB.
const BATCH_BYTES: usize = 4 << 20;

pub async fn scan(pool: &PgPool, filter: &EntryFilter, mut sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
    // An empty piece says the scan reached its end; a closed channel without it, that the
    // reading failed (the sink is then not told it ended).
    let hashes = sink.wants_hashes();
    let (batches, mut received) = mpsc::channel::<Vec<PgRow>>(2);
    let handing = tokio::task::spawn_blocking(move || -> Result<u64, StoreError> {
        let mut handed = 0;
        while let Some(batch) = received.blocking_recv() {
            if batch.is_empty() {
                sink.end();
                break;
            }
            for row in &batch {
                handed += 1;
                if !sink.entry(&raw(row)?) {
                    return Ok(handed);
                }
            }
        }
        Ok(handed)
    });
    let reading = read_batches(pool, filter, hashes, &batches).await;
    drop(batches);
    let handed = handing.await.map_err(StoreError::backend)?;
    reading?;
    handed
}

async fn read_batches(
    pool: &PgPool,
    filter: &EntryFilter,
    hashes: bool,
    batches: &mpsc::Sender<Vec<PgRow>>,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let read = stream_rows(&mut conn, filter, hashes, batches).await;
    // A scan stopped early (the client went away) or failed leaves its statement running:
    // returned to the pool, the connection would first read the rest of its rows. Closed,
    // the server stops.
    if !matches!(read, Ok(true)) {
        conn.close_on_drop();
    }
    read.map(|_| ())
}

/// Streams the rows to `batches`: `true` once every row was handed over, `false` when the
/// sink stopped the scan first.
async fn stream_rows(
    conn: &mut PgConnection,
    filter: &EntryFilter,
    hashes: bool,
    batches: &mpsc::Sender<Vec<PgRow>>,
) -> Result<bool, StoreError> {
    sqlx::query(BEGIN_SNAPSHOT).execute(&mut *conn).await?;
    let search = resolve(&mut *conn, &filter.search).await?;
    let lookups = actor_lookups(&mut *conn, filter).await?;
    let (start, end) = bounds(filter);
    // One statement whose rows the server streams (its portal is the cursor): it never
    // waits for a next `FETCH`, and while the batches wait for the sink the connection is
    // not read, so the server waits instead (memory stays flat).
    let columns = if hashes { COLUMNS.to_owned() } else { format!("{COLUMNS_BEFORE_HASHES}, ''::bytea, ''::bytea") };
    let mut qb = QueryBuilder::new(format!("SELECT {columns} FROM audit_entries"));
    push_entries_where(&mut qb, filter, lookups, &search, start, end);
    qb.push(" ORDER BY ts, seq");
    {
        let mut rows = qb.build().fetch(&mut *conn);
        let mut size = BATCH_FIRST;
        let mut batch = Vec::with_capacity(size);
        while let Some(row) = rows.try_next().await? {
            batch.push(row);
            if batch.len() == size {
                size = next_size(&batch);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                if batches.send(full).await.is_err() {
                    // The sink stopped the scan.
                    return Ok(false);
                }
            }
        }
        if !batch.is_empty() && batches.send(batch).await.is_err() {
            return Ok(false);
        }
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    let _ = batches.send(Vec::new()).await;
    Ok(true)
}

/// The rows of the next batch, from the size of the rows just read (a sample of them: their
/// longest columns).
fn next_size(rows: &[PgRow]) -> usize {
    let step = (rows.len() / 16).max(1);
    let sample: Vec<usize> = rows
        .iter()
        .step_by(step)
        .map(|row| {
            let text = |i| row.try_get_unchecked::<Option<&str>, _>(i).ok().flatten().map_or(0, str::len);
            // The description, the details and the user agent, and the rest roughly.
            text(10) + text(11) + text(13) + 256
        })
        .collect();
    let mean = sample.iter().sum::<usize>() / sample.len().max(1);
    (BATCH_BYTES / mean.max(1)).clamp(BATCH_MIN, BATCH_MAX)
}

/// A row of [`COLUMNS`], borrowed. Decoded without comparing each column's type with the
/// Rust one first (a tenth of an export's time): the columns are this schema's own, and a
/// value of the wrong size or encoding still fails to decode.
pub(super) fn raw(row: &PgRow) -> Result<RawEntry<'_>, StoreError> {
    let sequence = seq_u64(row.try_get_unchecked(0)?);
    Ok(RawEntry {
        sequence,
        timestamp: timestamp(sequence, row.try_get_unchecked(1)?)?,
        event_type: row.try_get_unchecked(2)?,
        severity: severity(sequence, row.try_get_unchecked(3)?)?,
        actor_type: row.try_get_unchecked(4)?,
        actor_id: row.try_get_unchecked(5)?,
        actor_name: row.try_get_unchecked(6)?,
        resource_type: row.try_get_unchecked(7)?,
        resource_id: row.try_get_unchecked(8)?,
        resource_name: row.try_get_unchecked(9)?,
        description: row.try_get_unchecked(10)?,
        details: row.try_get_unchecked(11)?,
        ip_address: row.try_get_unchecked(12)?,
        user_agent: row.try_get_unchecked(13)?,
        received_at: row.try_get_unchecked::<Option<i64>, _>(14)?.map(|t| timestamp(sequence, t)).transpose()?,
        ingest_token_id: row.try_get_unchecked(15)?,
        ingest_token_name: row.try_get_unchecked(16)?,
        prev_hash: row.try_get_unchecked(17)?,
        hash: row.try_get_unchecked(18)?,
    })
}
