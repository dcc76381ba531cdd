//! The fast read behind CSV exports: every matching row, oldest first, read on a blocking
//! thread with rusqlite and handed over as borrowed columns. sqlx reads each row on its
//! worker thread, copies every value and sends the row over a channel to the async side;
//! over a million rows that machinery cost more than four times what the `sqlite3` shell
//! needs for the same CSV (docs/benchmarks.md). Here nothing is copied until the sink
//! writes it. The connection is a separate read-only one on the same file: WAL lets it
//! read while the pool writes.

use super::query::{bounds, resolve_search, Search};
use crate::entry::Severity;
use crate::filter::EntryFilter;
use crate::store::sql::{conditions, Bind, Target};
use crate::store::{RawEntry, ScanSink, StoreError};
use chrono::DateTime;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::SqlitePool;
use std::path::Path;
use tokio::sync::Semaphore;

const COLUMNS: &str = "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, \
     resource_id, resource_name, description, details, ip_address, user_agent";

/// Scans at once, each with its own connection and page cache; more wait their turn.
static SCANS: Semaphore = Semaphore::const_new(4);

pub async fn scan(pool: &SqlitePool, filter: &EntryFilter, mut sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
    let search = resolve_search(pool, &filter.search).await?;
    let query = match search {
        // No entry can match: the sink still gets its end (on a blocking thread, where it
        // may block).
        Search::Nothing => None,
        search => {
            let (start, end) = bounds(filter);
            let (conditions, binds) = conditions(filter, search.fts(), Target::Entries { start, end }).to_sql();
            Some((format!("SELECT {COLUMNS} FROM audit_entries{conditions} ORDER BY ts, seq"), binds))
        }
    };
    let _turn = SCANS.acquire().await.map_err(|e| StoreError::ScanStopped(e.to_string()))?;
    let path = pool.connect_options().get_filename().to_owned();
    tokio::task::spawn_blocking(move || match query {
        Some((sql, binds)) => read(&path, &sql, &binds, sink.as_mut()),
        None => {
            sink.end();
            Ok(0)
        }
    })
    .await
    .map_err(|e| StoreError::ScanStopped(e.to_string()))?
}

fn read(path: &Path, sql: &str, binds: &[Bind], sink: &mut dyn ScanSink) -> Result<u64, StoreError> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // The pool's own read settings; and this connection never writes.
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.pragma_update(None, "query_only", true)?;
    db.pragma_update(None, "mmap_size", 268_435_456)?;
    db.pragma_update(None, "cache_size", -32_768)?;
    let mut statement = db.prepare(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(binds))?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)?;
        let sequence = u64::try_from(seq).unwrap_or(0);
        let corrupt = |reason: &str| StoreError::Corrupt { seq: sequence, reason: reason.to_owned() };
        let text = |i: usize| row.get_ref(i).and_then(|v| v.as_str().map_err(Into::into));
        let optional = |i: usize| row.get_ref(i).and_then(|v| v.as_str_or_null().map_err(Into::into));
        let timestamp =
            DateTime::from_timestamp_micros(row.get(1)?).ok_or_else(|| corrupt("timestamp out of range"))?;
        let severity = Severity::from_code(row.get(3)?).ok_or_else(|| corrupt("unknown severity"))?;
        let entry = RawEntry {
            sequence,
            timestamp,
            event_type: text(2)?,
            severity,
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
        };
        if !sink.entry(&entry) {
            // The reader went away: dropping the statement ends the query.
            return Ok(count);
        }
        count += 1;
    }
    sink.end();
    Ok(count)
}

impl ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Bind::Int(v) => ValueRef::Integer(*v),
            Bind::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}
