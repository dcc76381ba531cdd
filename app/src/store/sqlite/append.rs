//! Appending a batch: one transaction that extends the hash chain, inserts the rows with
//! multi-row statements, indexes them for search and adds them to the per-day counts.

use super::rows::{seq_u64, COLUMNS};
use crate::ingest::ValidEntry;
use crate::store::chain::{entry_hash, ChainFields, GENESIS_HASH};
use crate::store::sql::DAY_MICROS;
use crate::store::{AppendReceipt, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// 16 bound values a row: 500 rows stay far below SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 500;

struct ChainedRow<'a> {
    seq: i64,
    entry: &'a ValidEntry,
    details: String,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

/// Runs inside a transaction that already holds the write lock (`BEGIN IMMEDIATE`), so
/// the chain head read here cannot change before the commit.
pub async fn append(
    conn: &mut SqliteConnection,
    entries: &[ValidEntry],
) -> Result<AppendReceipt, StoreError> {
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => {
            let prev: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
                seq: seq_u64(seq),
                reason: "hash is not 32 bytes".into(),
            })?;
            (seq, prev)
        }
        None => (0, GENESIS_HASH),
    };
    let first = seq + 1;

    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        seq += 1;
        let hash = entry_hash(&prev, &ChainFields::of_new(entry, seq_u64(seq)));
        let details = serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".into());
        rows.push(ChainedRow {
            seq,
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
                .push_bind(e.timestamp.timestamp_micros())
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
        qb.build().execute(&mut *conn).await?;
    }
    index_batch(conn, first, seq).await?;
    Ok(AppendReceipt {
        sequences: rows.iter().map(|r| seq_u64(r.seq)).collect(),
        head_hash: hex::encode(prev),
    })
}

/// Search index and per-day counts for the rows `first..=last`, each in one statement:
/// far cheaper than a trigger firing once per row.
async fn index_batch(conn: &mut SqliteConnection, first: i64, last: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_search (rowid, event_type, actor_name, description, resource_name) \
         SELECT seq, event_type, actor_name, description, resource_name FROM audit_entries WHERE seq BETWEEN ?1 AND ?2",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO audit_daily_counts (day, event_type, severity, actor_type, n) \
         SELECT ts / {DAY_MICROS}, event_type, severity, actor_type, COUNT(*) FROM audit_entries \
         WHERE seq BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3, 4 \
         ON CONFLICT (day, event_type, severity, actor_type) DO UPDATE SET n = n + excluded.n"
    ))
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    // An actor is counted under its id and, where it differs, its name (both lower-cased,
    // as the actor filter compares them), never twice under one key.
    for key in ["lower(actor_id)", "lower(actor_name)"] {
        let extra = if key == "lower(actor_name)" {
            "AND lower(actor_name) <> lower(actor_id)"
        } else {
            ""
        };
        sqlx::query(&format!(
            "INSERT INTO audit_actor_counts (actor_key, day, event_type, severity, n) \
             SELECT {key}, ts / {DAY_MICROS}, event_type, severity, COUNT(*) FROM audit_entries \
             WHERE seq BETWEEN ?1 AND ?2 {extra} GROUP BY 1, 2, 3, 4 \
             ON CONFLICT (actor_key, day, event_type, severity) DO UPDATE SET n = n + excluded.n"
        ))
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
