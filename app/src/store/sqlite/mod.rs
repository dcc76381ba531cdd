//! The embedded SQLite engine (WAL): one writer at a time, readers alongside.

mod append;
mod histogram;
mod query;
mod rows;
mod scan;
mod search;

use rows::{seq_u64, EntryRow, COLUMNS};

use super::chain::{entry_hash, ChainFields, GENESIS_HASH};
use super::{AppendReceipt, AuditStore, ChainReport, ScanSink, StoreError};
use crate::entry::{AuditEntry, EntryPage};
use crate::filter::{EntryFilter, PageRequest};
use crate::histogram::{Histogram, Span};
use crate::ingest::ValidEntry;
use crate::tokens::{Scope, TokenRecord};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{watch, Mutex};

const VERIFY_CHUNK: i64 = 10_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises appends inside this process; `BEGIN IMMEDIATE` does the same across
    /// processes. Together they make reading the chain head and inserting atomic.
    write_lock: Mutex<()>,
    /// The newest sequence number, published after every append of this process.
    head: watch::Sender<u64>,
}

impl SqliteStore {
    /// Opens the database file, creating it and its folder if missing, and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // 8 KiB pages and a 32 MiB WAL between checkpoints: measured ~20% faster
            // ingest than the defaults (docs/benchmarks.md).
            .pragma("page_size", "8192")
            .pragma("wal_autocheckpoint", "4000")
            .pragma("cache_size", "-32768")
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory");
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_entries").fetch_one(&pool).await?;
        let (head, _) = watch::channel(newest.map_or(0, seq_u64));
        Ok(Self { pool, write_lock: Mutex::new(()), head })
    }

    #[cfg(test)]
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    async fn append(&self, entries: &[ValidEntry]) -> Result<AppendReceipt, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let receipt = append::append(&mut tx, entries).await?;
        tx.commit().await?;
        if let Some(&last) = receipt.sequences.last() {
            self.head.send_replace(last);
        }
        Ok(receipt)
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError> {
        query::list(&self.pool, filter, page).await
    }

    async fn count(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        query::count(&self.pool, filter).await
    }

    async fn get(&self, sequence: u64) -> Result<Option<AuditEntry>, StoreError> {
        let Ok(seq) = i64::try_from(sequence) else {
            return Ok(None);
        };
        let row: Option<EntryRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq = ?"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.map(AuditEntry::try_from).transpose()
    }

    async fn scan(&self, filter: &EntryFilter, sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
        scan::scan(&self.pool, filter, sink).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn entries_after(&self, sequence: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?"))
                .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    async fn histogram(&self, filter: &EntryFilter, span: Span) -> Result<Histogram, StoreError> {
        histogram::histogram(&self.pool, filter, span).await
    }

    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(histogram::earliest(&self.pool).await?.and_then(DateTime::from_timestamp_micros))
    }

    async fn suggest_actors(&self, text: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        // The actors table holds one row per distinct actor (thousands at most), so a
        // scan with instr() is cheap and needs no escaping of LIKE wildcards.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM (SELECT name_key AS key FROM audit_actors UNION SELECT id_key FROM audit_actors) \
             WHERE instr(key, ?1) > 0 ORDER BY instr(key, ?1) <> 1, key LIMIT ?2",
        )
        .bind(text.trim().to_ascii_lowercase())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    #[tracing::instrument(skip_all)]
    async fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        let mut prev = GENESIS_HASH;
        let mut expected: i64 = 1;
        loop {
            let rows: Vec<EntryRow> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?"))
                    .bind(expected)
                    .bind(VERIFY_CHUNK)
                    .fetch_all(&self.pool)
                    .await?;
            if rows.is_empty() {
                return Ok(ChainReport { entries: seq_u64(expected - 1), first_broken: None });
            }
            for row in rows {
                let (seq, stored_prev) = (row.seq, row.prev_hash.clone());
                let broken = ChainReport { entries: seq_u64(expected - 1), first_broken: Some(seq_u64(seq)) };
                let Ok(entry) = AuditEntry::try_from(row) else {
                    return Ok(broken);
                };
                let hash = entry_hash(&prev, &ChainFields::of_stored(&entry));
                if seq != expected || stored_prev != prev || entry.hash != hex::encode(hash) {
                    return Ok(broken);
                }
                prev = hash;
                expected += 1;
            }
        }
    }

    async fn create_token(&self, name: &str, scopes: &[Scope], token_hash: &[u8]) -> Result<(), StoreError> {
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let result = sqlx::query("INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)")
            .bind(name)
            .bind(token_hash)
            .bind(scopes.join(","))
            .bind(Utc::now().timestamp())
            .execute(&self.pool)
            .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateTokenName(name.to_owned()))
            }
            other => other.map(|_| ()).map_err(StoreError::from),
        }
    }

    async fn find_token(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT name, scopes FROM api_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(name, scopes)| TokenRecord {
            name,
            scopes: scopes.split(',').filter_map(|s| s.parse().ok()).collect(),
        }))
    }

    async fn optimize(&self) -> Result<(), StoreError> {
        // Without statistics SQLite cannot tell a rare filter from a common one, and may
        // combine a search with other filters in the slow order.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut *conn).await?;
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }
}
