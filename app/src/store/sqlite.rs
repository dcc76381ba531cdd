//! The embedded SQLite engine (WAL): one writer at a time, readers alongside.

use super::chain::{entry_hash, ChainFields, GENESIS_HASH};
use super::sql::{ceil_day, countable_by_day, floor_day, push_where, TimeBounds, DAY_MICROS};
use super::{AppendReceipt, AuditStore, ChainReport, StoreError};
use crate::entry::{entry_id, Actor, ActorType, AuditEntry, EntryPage, Resource, Severity};
use crate::filter::{EntryFilter, PageRequest};
use crate::ingest::ValidEntry;
use crate::tokens::{Scope, TokenRecord};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, QueryBuilder, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::Mutex;

const COLUMNS: &str =
    "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, \
     resource_id, resource_name, description, details, ip_address, user_agent, prev_hash, hash";
/// 16 bound values a row: 500 rows stay far below SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 500;
const VERIFY_CHUNK: i64 = 10_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises appends inside this process; `BEGIN IMMEDIATE` does the same across
    /// processes. Together they make the read of the chain head and the insert atomic.
    write_lock: Mutex<()>,
}

impl SqliteStore {
    /// Opens the database file, creating it and its folder if missing, and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            write_lock: Mutex::new(()),
        })
    }

    async fn count(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        let start = filter.start.map(micros);
        let end = filter.end.map(micros);
        if !countable_by_day(filter) {
            return self.count_entries(filter, start, end).await;
        }
        // Whole days [first_day, end_day) come from the per-day counts; the partial days
        // at either edge are counted from the entries themselves.
        let first_day = start.map(ceil_day);
        let end_day = end.map(floor_day);
        if let (Some(a), Some(b)) = (first_day, end_day) {
            if a > b {
                return self.count_entries(filter, start, end).await;
            }
        }
        let mut qb = QueryBuilder::new("SELECT COALESCE(SUM(n), 0) FROM audit_daily_counts");
        push_where(&mut qb, filter, TimeBounds::Days(first_day, end_day));
        let whole_days: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        let mut total = u64::try_from(whole_days).unwrap_or(0);
        if let (Some(s), Some(day)) = (start, first_day) {
            if s < day * DAY_MICROS {
                total += self
                    .count_entries(filter, Some(s), Some(day * DAY_MICROS))
                    .await?;
            }
        }
        if let (Some(e), Some(day)) = (end, end_day) {
            if day * DAY_MICROS < e {
                total += self
                    .count_entries(filter, Some(day * DAY_MICROS), Some(e))
                    .await?;
            }
        }
        Ok(total)
    }

    async fn count_entries(
        &self,
        filter: &EntryFilter,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<u64, StoreError> {
        let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM audit_entries");
        push_where(&mut qb, filter, TimeBounds::Micros(start, end));
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A row as stored; converted to the shared [`AuditEntry`] on the way out.
#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    ts: i64,
    event_type: String,
    severity: i64,
    actor_type: String,
    actor_id: String,
    actor_name: String,
    resource_type: Option<String>,
    resource_id: Option<String>,
    resource_name: Option<String>,
    description: String,
    details: String,
    ip_address: Option<String>,
    user_agent: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let seq = u64::try_from(row.seq).unwrap_or(0);
        let corrupt = |reason: &str| StoreError::Corrupt {
            seq,
            reason: reason.to_owned(),
        };
        let timestamp = DateTime::<Utc>::from_timestamp_micros(row.ts)
            .ok_or_else(|| corrupt("timestamp out of range"))?;
        let severity =
            Severity::from_code(row.severity).ok_or_else(|| corrupt("unknown severity"))?;
        let kind =
            ActorType::from_str(&row.actor_type).map_err(|()| corrupt("unknown actor type"))?;
        let details = serde_json::from_str(&row.details)
            .map_err(|_| corrupt("details are not a JSON object"))?;
        let resource = match (row.resource_type, row.resource_id) {
            (Some(kind), Some(id)) => Some(Resource {
                kind,
                id,
                name: row.resource_name,
            }),
            _ => None,
        };
        Ok(AuditEntry {
            id: entry_id(seq),
            timestamp,
            event_type: row.event_type,
            actor: Actor {
                kind,
                id: row.actor_id,
                name: row.actor_name,
            },
            resource,
            description: row.description,
            details,
            severity,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            sequence: seq,
            prev_hash: hex::encode(row.prev_hash),
            hash: hex::encode(row.hash),
        })
    }
}

/// An entry with its place in the chain, ready to bind.
struct ChainedRow<'a> {
    seq: i64,
    ts: i64,
    entry: &'a ValidEntry,
    details: String,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    async fn append(&self, entries: &[ValidEntry]) -> Result<AppendReceipt, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (mut seq, mut prev) = match head {
            Some((seq, hash)) => {
                let prev: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
                    seq: u64::try_from(seq).unwrap_or(0),
                    reason: "hash is not 32 bytes".into(),
                })?;
                (seq, prev)
            }
            None => (0, GENESIS_HASH),
        };

        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let ts = micros(entry.timestamp);
            let hash = entry_hash(
                &prev,
                &ChainFields {
                    sequence: u64::try_from(seq).unwrap_or(0),
                    timestamp_micros: ts,
                    event_type: &entry.event_type,
                    severity: entry.severity,
                    actor: &entry.actor,
                    resource: entry.resource.as_ref(),
                    description: &entry.description,
                    details: &entry.details,
                    ip_address: entry.ip_address.as_deref(),
                    user_agent: entry.user_agent.as_deref(),
                },
            );
            let details = serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".into());
            rows.push(ChainedRow {
                seq,
                ts,
                entry,
                details,
                prev_hash: prev,
                hash,
            });
            prev = hash;
        }

        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut qb: QueryBuilder<'_, Sqlite> =
                QueryBuilder::new(format!("INSERT INTO audit_entries ({COLUMNS}) "));
            qb.push_values(chunk, |mut b, row| {
                let e = row.entry;
                let resource = e.resource.as_ref();
                b.push_bind(row.seq)
                    .push_bind(row.ts)
                    .push_bind(e.event_type.as_str())
                    .push_bind(e.severity.code())
                    .push_bind(e.actor.kind.as_str())
                    .push_bind(e.actor.id.as_str())
                    .push_bind(e.actor.name.as_str())
                    .push_bind(resource.map(|r| r.kind.as_str()))
                    .push_bind(resource.map(|r| r.id.as_str()))
                    .push_bind(resource.and_then(|r| r.name.as_deref()))
                    .push_bind(e.description.as_str())
                    .push_bind(row.details.as_str())
                    .push_bind(e.ip_address.as_deref())
                    .push_bind(e.user_agent.as_deref())
                    .push_bind(&row.prev_hash[..])
                    .push_bind(&row.hash[..]);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(AppendReceipt {
            sequences: rows
                .iter()
                .map(|r| u64::try_from(r.seq).unwrap_or(0))
                .collect(),
            head_hash: hex::encode(prev),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError> {
        // Find the page's keys with the narrowest index first, then read only those rows.
        let mut qb = QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM audit_entries WHERE seq IN (SELECT seq FROM audit_entries"
        ));
        push_where(
            &mut qb,
            filter,
            TimeBounds::Micros(filter.start.map(micros), filter.end.map(micros)),
        );
        qb.push(" ORDER BY ts DESC, seq DESC LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
            .push(") ORDER BY ts DESC, seq DESC");
        let rows: Vec<EntryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let entries = rows
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total = self.count(filter).await?;
        Ok(EntryPage {
            entries,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    async fn get(&self, sequence: u64) -> Result<Option<AuditEntry>, StoreError> {
        let Ok(seq) = i64::try_from(sequence) else {
            return Ok(None);
        };
        let row: Option<EntryRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_entries WHERE seq = ?"
        ))
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        row.map(AuditEntry::try_from).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        let mut prev = GENESIS_HASH;
        let mut expected_seq: i64 = 1;
        let mut checked = 0;
        loop {
            let rows: Vec<EntryRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?"
            ))
            .bind(expected_seq)
            .bind(VERIFY_CHUNK)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(ChainReport {
                    entries: checked,
                    first_broken: None,
                });
            }
            for row in rows {
                let seq = row.seq;
                let stored_prev = row.prev_hash.clone();
                let stored_hash = row.hash.clone();
                let ts = row.ts;
                let broken = Some(u64::try_from(seq).unwrap_or(0));
                let Ok(entry) = AuditEntry::try_from(row) else {
                    return Ok(ChainReport {
                        entries: checked,
                        first_broken: broken,
                    });
                };
                let hash = entry_hash(
                    &prev,
                    &ChainFields {
                        sequence: entry.sequence,
                        timestamp_micros: ts,
                        event_type: &entry.event_type,
                        severity: entry.severity,
                        actor: &entry.actor,
                        resource: entry.resource.as_ref(),
                        description: &entry.description,
                        details: &entry.details,
                        ip_address: entry.ip_address.as_deref(),
                        user_agent: entry.user_agent.as_deref(),
                    },
                );
                if seq != expected_seq || stored_prev != prev || stored_hash != hash {
                    return Ok(ChainReport {
                        entries: checked,
                        first_broken: broken,
                    });
                }
                prev = hash;
                expected_seq += 1;
                checked += 1;
            }
        }
    }

    async fn create_token(
        &self,
        name: &str,
        scopes: &[Scope],
        token_hash: &[u8],
    ) -> Result<(), StoreError> {
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let result = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
        )
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
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, scopes FROM api_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(name, scopes)| TokenRecord {
            name,
            scopes: scopes.split(',').filter_map(|s| s.parse().ok()).collect(),
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }
}
