//! The fast read behind the exports: every matching row, oldest first, read on a blocking
//! thread with rusqlite and handed over as borrowed columns. sqlx reads each row on its
//! worker thread, copies every value and sends the row over a channel to the async side;
//! over a million rows that machinery cost more than four times what the `sqlite3` shell
//! needs for the same CSV (docs/benchmarks.md). Here nothing is copied until the sink
//! writes it. The connection is a separate read-only one on the same file: WAL lets it
//! read while the pool writes.

use super::search::{resolve_search, Search};
use crate::filter::EntryFilter;
use crate::store::rows::{seq_u64, severity, timestamp, COLUMNS, COLUMNS_BEFORE_HASHES};
use crate::store::sql::{bounds, conditions, Bind, Lookups, Target};
use crate::store::{RawEntry, ScanSink, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::SqlitePool;
use std::path::Path;

pub async fn scan(pool: &SqlitePool, filter: &EntryFilter, mut sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
    let search = resolve_search(&mut *pool.acquire().await?, &filter.search).await?;
    let query = match search {
        // No entry can match: the sink still gets its end (on a blocking thread, where it
        // may block).
        Search::Nothing => None,
        search => {
            let (start, end) = bounds(filter);
            let (conditions, binds) =
                conditions(filter, Lookups::fts(search.fts()), Target::Entries { start, end }).to_sql();
            let columns =
                if sink.wants_hashes() { COLUMNS.to_owned() } else { format!("{COLUMNS_BEFORE_HASHES}, X'', X''") };
            Some((format!("SELECT {columns} FROM audit_entries{conditions} ORDER BY ts, seq"), binds))
        }
    };
    let path = pool.connect_options().get_filename().to_owned();
    // The sink goes with the thread (and with it the caller's scan turn): it is dropped
    // when the read ends, not when the caller stops waiting for it.
    tokio::task::spawn_blocking(move || match query {
        Some((sql, binds)) => read(&path, &sql, &binds, sink.as_mut()),
        None => {
            sink.end();
            Ok(0)
        }
    })
    .await
    .map_err(StoreError::backend)?
}

/// A connection of its own for a long read. It reads through a page cache of at most
/// 32 MiB and without mmap (unlike the pool), so a read of any size holds the same
/// memory: a mapped file would add every page it touched to the process's resident size.
pub(super) fn reader(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let db = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    db.busy_timeout(super::BUSY_TIMEOUT)?;
    db.pragma_update(None, "mmap_size", 0)?;
    db.pragma_update(None, "cache_size", -32_768)?;
    Ok(db)
}

fn read(path: &Path, sql: &str, binds: &[Bind], sink: &mut dyn ScanSink) -> Result<u64, StoreError> {
    let db = reader(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    // This connection never writes.
    db.pragma_update(None, "query_only", true)?;
    let mut statement = db.prepare(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(binds))?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let entry = raw(row)?;
        if !sink.entry(&entry) {
            // The reader went away: dropping the statement ends the query.
            return Ok(count);
        }
        count += 1;
    }
    sink.end();
    Ok(count)
}

/// A row of [`COLUMNS`], borrowed.
pub(super) fn raw<'r>(row: &'r rusqlite::Row<'_>) -> Result<RawEntry<'r>, StoreError> {
    let sequence = seq_u64(row.get(0)?);
    let text = |i: usize| row.get_ref(i).and_then(|v| v.as_str().map_err(Into::into));
    let optional = |i: usize| row.get_ref(i).and_then(|v| v.as_str_or_null().map_err(Into::into));
    let blob = |i: usize| row.get_ref(i).and_then(|v| v.as_blob().map_err(Into::into));
    Ok(RawEntry {
        sequence,
        timestamp: timestamp(sequence, row.get(1)?)?,
        event_type: text(2)?,
        severity: severity(sequence, row.get(3)?)?,
        actor_type: text(4)?,
        actor_id: text(5)?,
        actor_name: text(6)?,
        resource_type: optional(7)?,
        resource_id: optional(8)?,
        resource_name: optional(9)?,
        description: text(10)?,
        details: text(11)?,
        ip_address: optional(12)?,
        user_agent: optional(13)?,
        received_at: row.get::<_, Option<i64>>(14)?.map(|t| timestamp(sequence, t)).transpose()?,
        ingest_token_id: row.get(15)?,
        ingest_token_name: optional(16)?,
        prev_hash: blob(17)?,
        hash: blob(18)?,
    })
}

impl ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Bind::Int(v) => ValueRef::Integer(*v),
            Bind::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}
