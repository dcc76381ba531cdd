//! Appending a batch: one transaction that extends the hash chain, inserts the rows with
//! multi-row statements, indexes them for search and adds them to the per-day counts.

use super::rows::{seq_u64, INSERT_COLUMNS};
use crate::ingest::ValidEntry;
use crate::store::chain::{entry_hash, ChainFields, GENESIS_HASH};
use crate::store::sql::DAY_MICROS;
use crate::store::{AppendReceipt, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// 18 bound values a row: 500 rows stay far below SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 500;
/// Rows per statement for the small tables (at most 5 values a row).
const KEYS_PER_STATEMENT: usize = 1000;

struct ChainedRow<'a> {
    seq: i64,
    ts_high: i64,
    actor_ref: i64,
    entry: &'a ValidEntry,
    details: String,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

/// Runs inside a transaction that already holds the write lock (`BEGIN IMMEDIATE`), so
/// the chain head read here cannot change before the commit.
pub async fn append(conn: &mut SqliteConnection, entries: &[ValidEntry]) -> Result<AppendReceipt, StoreError> {
    let head: Option<(i64, Vec<u8>, i64)> =
        sqlx::query_as("SELECT seq, hash, ts_high FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (mut seq, mut prev, mut ts_high) = match head {
        Some((seq, hash, ts_high)) => {
            let prev: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt { seq: seq_u64(seq), reason: "hash is not 32 bytes".into() })?;
            (seq, prev, ts_high)
        }
        None => (0, GENESIS_HASH, i64::MIN),
    };
    let first = seq + 1;
    let actor_refs = actor_refs(conn, entries).await?;

    let mut rows = Vec::with_capacity(entries.len());
    for (entry, actor_ref) in entries.iter().zip(actor_refs) {
        seq += 1;
        ts_high = ts_high.max(entry.timestamp.timestamp_micros());
        let hash = entry_hash(&prev, &ChainFields::of_new(entry, seq_u64(seq)));
        let details = serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".into());
        rows.push(ChainedRow { seq, ts_high, actor_ref, entry, details, prev_hash: prev, hash });
        prev = hash;
    }

    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("INSERT INTO audit_entries ({INSERT_COLUMNS}) "));
        qb.push_values(chunk, |mut b, row| {
            let e = row.entry;
            let resource = e.resource.as_ref();
            b.push_bind(row.seq)
                .push_bind(e.timestamp.timestamp_micros())
                .push_bind(row.ts_high)
                .push_bind(e.event_type.as_str())
                .push_bind(e.severity.code())
                .push_bind(e.actor.kind.as_str())
                .push_bind(e.actor.id.as_str())
                .push_bind(e.actor.name.as_str())
                .push_bind(row.actor_ref)
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
    index_search(conn, first, seq).await?;
    add_counts(conn, &rows).await?;
    Ok(AppendReceipt { sequences: rows.iter().map(|r| seq_u64(r.seq)).collect(), head_hash: hex::encode(prev) })
}

/// The actor key the actor filter compares: ASCII case folded, as SQLite's `lower()`.
fn actor_key(entry: &ValidEntry) -> (String, String) {
    (entry.actor.id.to_ascii_lowercase(), entry.actor.name.to_ascii_lowercase())
}

/// The `audit_actors.ref` of each entry's actor, adding actors not seen before.
async fn actor_refs(conn: &mut SqliteConnection, entries: &[ValidEntry]) -> Result<Vec<i64>, StoreError> {
    let keys: Vec<(String, String)> = entries.iter().map(actor_key).collect();
    let distinct: Vec<&(String, String)> = keys.iter().collect::<BTreeSet<_>>().into_iter().collect();
    let mut refs: HashMap<&(String, String), i64> = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(KEYS_PER_STATEMENT / 2) {
        let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO audit_actors (id_key, name_key) ");
        insert.push_values(chunk, |mut b, (id, name)| {
            b.push_bind(id.as_str()).push_bind(name.as_str());
        });
        insert.push(" ON CONFLICT (id_key, name_key) DO NOTHING");
        insert.build().execute(&mut *conn).await?;

        let mut select =
            QueryBuilder::<Sqlite>::new("SELECT ref, id_key, name_key FROM audit_actors WHERE (id_key, name_key) IN (");
        let mut list = select.separated(", ");
        for (id, name) in chunk {
            list.push("(").push_bind_unseparated(id.as_str()).push_unseparated(", ");
            list.push_bind_unseparated(name.as_str()).push_unseparated(")");
        }
        select.push(")");
        let found: Vec<(i64, String, String)> = select.build_query_as().fetch_all(&mut *conn).await?;
        for (actor_ref, id, name) in found {
            if let Some(key) = chunk.iter().find(|k| k.0 == id && k.1 == name) {
                refs.insert(key, actor_ref);
            }
        }
    }
    keys.iter()
        .map(|k| {
            refs.get(k).copied().ok_or_else(|| StoreError::Corrupt { seq: 0, reason: "actor not registered".into() })
        })
        .collect()
}

/// Adds the rows `first..=last` to the search index in one statement: far cheaper than
/// a trigger firing once per row.
async fn index_search(conn: &mut SqliteConnection, first: i64, last: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_search (rowid, event_type, actor_name, description, resource_name) \
         SELECT seq, event_type, actor_name, description, resource_name FROM audit_entries WHERE seq BETWEEN ?1 AND ?2",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One value of a count key, in the key columns' order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyPart<'a> {
    Int(i64),
    Text(&'a str),
}

type Counts<'a> = BTreeMap<[KeyPart<'a>; 4], i64>;

/// Adds the batch to the per-day counts, aggregated here so that each key is written
/// once per batch.
async fn add_counts(conn: &mut SqliteConnection, rows: &[ChainedRow<'_>]) -> Result<(), StoreError> {
    use KeyPart::{Int, Text};
    let mut daily = Counts::new();
    let mut per_actor = Counts::new();
    for row in rows {
        let e = row.entry;
        let day = Int(e.timestamp.timestamp_micros().div_euclid(DAY_MICROS));
        let (event_type, severity) = (Text(&e.event_type), Int(e.severity.code()));
        *daily.entry([day, event_type, severity, Text(e.actor.kind.as_str())]).or_default() += 1;
        *per_actor.entry([Int(row.actor_ref), day, event_type, severity]).or_default() += 1;
    }
    upsert_counts(conn, "audit_daily_counts", "day, event_type, severity, actor_type", daily).await?;
    upsert_counts(conn, "audit_actor_counts", "actor_ref, day, event_type, severity", per_actor).await
}

async fn upsert_counts(
    conn: &mut SqliteConnection,
    table: &str,
    key_columns: &str,
    counts: Counts<'_>,
) -> Result<(), StoreError> {
    let counts: Vec<_> = counts.into_iter().collect();
    for chunk in counts.chunks(KEYS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} ({key_columns}, n) "));
        qb.push_values(chunk, |mut b, (key, n)| {
            for part in key {
                match *part {
                    KeyPart::Int(v) => b.push_bind(v),
                    KeyPart::Text(v) => b.push_bind(v),
                };
            }
            b.push_bind(*n);
        });
        qb.push(format_args!(" ON CONFLICT ({key_columns}) DO UPDATE SET n = n + excluded.n"));
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}
