//! Appending a group of entries on PostgreSQL: one transaction that takes the log's
//! advisory lock (so appends of every instance extend one chain, in sequence order),
//! reads the head, inserts the rows and adds them to the per-day counts, each as one
//! statement over arrays, and announces the new head.

use super::search::{lexemes, search_keys};
use crate::entry::{Actor, AuditEntry};
use crate::ingest::ValidEntry;
use crate::store::chain::{entry_hash, ChainFields};
use crate::store::sql::DAY_MICROS;
use crate::store::{AppendPhases, AppendReceipt, StoreError};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

/// The advisory lock every instance's appends take (any fixed number: "audit" in ASCII).
const APPEND_LOCK: i64 = 0x0061_7564_6974;

/// What this process knows is already in the database: month partitions and actor
/// references, neither of which ever goes away once committed.
#[derive(Default)]
pub struct Months {
    partitions: HashSet<i64>,
    actors: HashMap<(String, String), i64>,
}

/// A commit whose outcome is not known: the entries may be stored.
#[derive(Debug, thiserror::Error)]
#[error("the commit's outcome is unknown: {0}")]
pub struct CommitUnknown(#[source] sqlx::Error);

/// Whether an append failed at its commit, so that it may have been stored after all.
pub fn commit_unknown(error: &StoreError) -> bool {
    matches!(error, StoreError::Backend(source) if source.is::<CommitUnknown>())
}

/// The month (as `year * 12 + month`) holding a time in microseconds.
fn month_of(micros: i64) -> i64 {
    use chrono::Datelike;
    let at = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
    i64::from(at.year()) * 12 + i64::from(at.month0())
}

/// One entry of a group about to be written: the fields its hash covers and, for an entry
/// copied from another store, the entry as it was there.
struct Planned<'a> {
    fields: ChainFields<'a>,
    copy_of: Option<&'a AuditEntry>,
}

/// Appends new entries at the head of the chain; each entry's sequence number and hash.
pub async fn append(
    pool: &PgPool,
    known: &mut Months,
    entries: &[&ValidEntry],
    phases: &mut AppendPhases,
) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    // The sequence numbers are given once the head is read, under the lock.
    let group = entries.iter().map(|e| Planned { fields: ChainFields::of_new(e, 0), copy_of: None }).collect();
    write(pool, known, group, phases).await
}

/// Appends entries copied from another store with their sequence numbers and hashes
/// unchanged (`migrate-store`): the first must follow the head of this log, and each must
/// hash here exactly as it did there, or nothing is written.
pub async fn copy(
    pool: &PgPool,
    known: &mut Months,
    entries: &[AuditEntry],
    phases: &mut AppendPhases,
) -> Result<AppendReceipt, StoreError> {
    let group = entries.iter().map(|e| Planned { fields: ChainFields::of_stored(e), copy_of: Some(e) }).collect();
    let chained = write(pool, known, group, phases).await?;
    Ok(AppendReceipt {
        sequences: chained.iter().map(|(seq, _)| *seq).collect(),
        head_hash: chained.last().map(|(_, hash)| hex::encode(hash)).unwrap_or_default(),
    })
}

async fn write(
    pool: &PgPool,
    known: &mut Months,
    mut group: Vec<Planned<'_>>,
    phases: &mut AppendPhases,
) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    let clock = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
    let (head_seq, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_head").fetch_one(&mut *tx).await?;
    let mut prev: [u8; 32] = head_hash.try_into().map_err(|_| StoreError::Corrupt {
        seq: u64::try_from(head_seq).unwrap_or(0),
        reason: "hash is not 32 bytes".into(),
    })?;

    let new_months = ensure_partitions(&mut tx, known, &group).await?;
    let new_actors = actor_refs(&mut tx, known, &group).await?;
    let actor_ref = |f: &ChainFields<'_>| {
        let key = actor_key(f.actor);
        known.actors.get(&key).or_else(|| new_actors.get(&key)).copied().unwrap_or(0)
    };

    let mut rows = Rows::default();
    let mut chained = Vec::with_capacity(group.len());
    let mut seq = head_seq;
    for planned in &mut group {
        seq += 1;
        let sequence = u64::try_from(seq).unwrap_or(0);
        planned.fields.sequence = sequence;
        let hash = entry_hash(&prev, &planned.fields);
        if let Some(original) = planned.copy_of {
            same_place(original, sequence, &prev, &hash)?;
        }
        rows.push(seq, &planned.fields, actor_ref(&planned.fields), &prev, &hash);
        chained.push((sequence, hash));
        prev = hash;
    }
    let clock = lap(clock, &mut phases.chain);
    rows.insert(&mut tx).await?;
    let clock = lap(clock, &mut phases.rows);
    add_counts(&mut tx, &group, &actor_ref).await?;
    rows.add_search_keys(&mut tx).await?;
    let clock = lap(clock, &mut phases.counts);
    sqlx::query("SELECT pg_notify($1, $2)").bind(super::HEAD_CHANNEL).bind(seq.to_string()).execute(&mut *tx).await?;
    // A commit that fails may have been applied by the server all the same (the connection
    // broke after it was sent): said so, so that nobody appends the entries again.
    tx.commit().await.map_err(|e| StoreError::backend(CommitUnknown(e)))?;
    lap(clock, &mut phases.commit);
    phases.entries += group.len() as u64;
    known.partitions.extend(new_months);
    known.actors.extend(new_actors);
    Ok(chained)
}

/// Checks that a copied entry lands where it was in its own log, after the same entry,
/// and hashes to what it did there: the copy continues the very same chain.
fn same_place(original: &AuditEntry, sequence: u64, prev: &[u8; 32], hash: &[u8; 32]) -> Result<(), StoreError> {
    if original.sequence != sequence || original.prev_hash != hex::encode(prev) {
        return Err(StoreError::Conflict(format!(
            "entry {} cannot be copied here: this log's head is entry {}, which is not the entry before it in \
             the source, so the copy would not continue the same chain",
            original.sequence,
            sequence - 1
        )));
    }
    if original.hash != hex::encode(hash) {
        return Err(StoreError::Corrupt {
            seq: original.sequence,
            reason: "its fields do not hash to its stored hash".into(),
        });
    }
    Ok(())
}

/// Creates the partitions of months this process has not seen an entry in yet.
async fn ensure_partitions(
    conn: &mut PgConnection,
    known: &Months,
    group: &[Planned<'_>],
) -> Result<HashSet<i64>, StoreError> {
    let mut new = HashSet::new();
    for planned in group {
        let at = planned.fields.timestamp_micros;
        let month = month_of(at);
        if !known.partitions.contains(&month) && new.insert(month) {
            // Creating a partition waits for every reader of the table, and readers queue
            // behind it: past a short wait the append gives up, answered "busy, retry"
            // (an entry of a month far from now; the upkeep creates the months around now).
            sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *conn).await?;
            sqlx::query("SELECT audit_ensure_partition($1)").bind(at).execute(&mut *conn).await?;
            sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *conn).await?;
        }
    }
    Ok(new)
}

/// The actor key the actor filter compares: ASCII case folded, as in SQLite.
fn actor_key(actor: &Actor) -> (String, String) {
    (actor.id.to_ascii_lowercase(), actor.name.to_ascii_lowercase())
}

/// Registers the actors this process has not seen and returns their references.
async fn actor_refs(
    conn: &mut PgConnection,
    known: &Months,
    group: &[Planned<'_>],
) -> Result<HashMap<(String, String), i64>, StoreError> {
    let unseen: HashSet<(String, String)> =
        group.iter().map(|p| actor_key(p.fields.actor)).filter(|k| !known.actors.contains_key(k)).collect();
    if unseen.is_empty() {
        return Ok(HashMap::new());
    }
    let (ids, names): (Vec<String>, Vec<String>) = unseen.into_iter().unzip();
    sqlx::query(
        "INSERT INTO audit_actors (id_key, name_key) SELECT * FROM UNNEST($1::text[], $2::text[]) \
         ON CONFLICT (id_key, name_key) DO NOTHING",
    )
    .bind(&ids)
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    let found: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT a.ref, a.id_key, a.name_key FROM audit_actors a \
         JOIN UNNEST($1::text[], $2::text[]) AS k (id_key, name_key) USING (id_key, name_key)",
    )
    .bind(&ids)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    Ok(found.into_iter().map(|(r, id, name)| ((id, name), r)).collect())
}

/// The group's rows as one array per column, for one `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct Rows {
    seq: Vec<i64>,
    ts: Vec<i64>,
    event_type: Vec<String>,
    severity: Vec<i64>,
    actor_type: Vec<String>,
    actor_id: Vec<String>,
    actor_name: Vec<String>,
    actor_ref: Vec<i64>,
    resource_type: Vec<Option<String>>,
    resource_id: Vec<Option<String>>,
    resource_name: Vec<Option<String>>,
    description: Vec<String>,
    details: Vec<String>,
    ip_address: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    received_at: Vec<Option<i64>>,
    token_id: Vec<Option<i64>>,
    token_name: Vec<Option<String>>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    words: Vec<String>,
}

impl Rows {
    fn push(&mut self, seq: i64, f: &ChainFields<'_>, actor_ref: i64, prev: &[u8; 32], hash: &[u8; 32]) {
        let resource_name = f.resource.and_then(|r| r.name.clone());
        self.words.push(lexemes(f.event_type, &f.actor.name, f.description, resource_name.as_deref()));
        self.seq.push(seq);
        self.ts.push(f.timestamp_micros);
        self.event_type.push(f.event_type.to_owned());
        self.severity.push(f.severity.code());
        self.actor_type.push(f.actor.kind.as_str().to_owned());
        self.actor_id.push(f.actor.id.clone());
        self.actor_name.push(f.actor.name.clone());
        self.actor_ref.push(actor_ref);
        self.resource_type.push(f.resource.map(|r| r.kind.clone()));
        self.resource_id.push(f.resource.map(|r| r.id.clone()));
        self.resource_name.push(resource_name);
        self.description.push(f.description.to_owned());
        // Serialising a map of JSON values cannot fail.
        self.details.push(serde_json::to_string(f.details).unwrap_or_else(|_| "{}".into()));
        self.ip_address.push(f.ip_address.map(str::to_owned));
        self.user_agent.push(f.user_agent.map(str::to_owned));
        self.received_at.push(f.received_at_micros);
        self.token_id.push(f.ingested_by.map(|t| t.id));
        self.token_name.push(f.ingested_by.map(|t| t.name.clone()));
        self.prev_hash.push(prev.to_vec());
        self.hash.push(hash.to_vec());
    }

    async fn insert(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_entries (seq, ts, event_type, severity, actor_type, actor_id, actor_name, actor_ref, \
             resource_type, resource_id, resource_name, description, details, ip_address, user_agent, received_at, \
             ingest_token_id, ingest_token_name, prev_hash, hash, words) \
             SELECT s, t, et, sv, at, ai, an, ar, rt, ri, rn, d, dt, ip, ua, ra, ti, tn, ph, h, \
                    array_to_tsvector(string_to_array(w, ' ')) \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], \
                         $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
                         $15::text[], $16::int8[], $17::int8[], $18::text[], $19::bytea[], $20::bytea[], $21::text[]) \
                  AS u (s, t, et, sv, at, ai, an, ar, rt, ri, rn, d, dt, ip, ua, ra, ti, tn, ph, h, w) \
             ORDER BY s",
        )
        .bind(&self.seq)
        .bind(&self.ts)
        .bind(&self.event_type)
        .bind(&self.severity)
        .bind(&self.actor_type)
        .bind(&self.actor_id)
        .bind(&self.actor_name)
        .bind(&self.actor_ref)
        .bind(&self.resource_type)
        .bind(&self.resource_id)
        .bind(&self.resource_name)
        .bind(&self.description)
        .bind(&self.details)
        .bind(&self.ip_address)
        .bind(&self.user_agent)
        .bind(&self.received_at)
        .bind(&self.token_id)
        .bind(&self.token_name)
        .bind(&self.prev_hash)
        .bind(&self.hash)
        .bind(&self.words)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

impl Rows {
    /// Adds the group's search keys to their per-day counts (`search::search_keys`),
    /// aggregated here so that each key is written once.
    async fn add_search_keys(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let mut counts: BTreeMap<(&str, i64, i64), i64> = BTreeMap::new();
        for ((words, ts), severity) in self.words.iter().zip(&self.ts).zip(&self.severity) {
            let day = ts.div_euclid(DAY_MICROS);
            for key in search_keys(words.split(' ')) {
                *counts.entry((key, day, *severity)).or_default() += 1;
            }
        }
        if counts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO audit_search_keys (key, day, severity, n) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[]) \
             ON CONFLICT (key, day, severity) DO UPDATE SET n = audit_search_keys.n + excluded.n",
        )
        .bind(counts.keys().map(|k| k.0).collect::<Vec<_>>())
        .bind(counts.keys().map(|k| k.1).collect::<Vec<_>>())
        .bind(counts.keys().map(|k| k.2).collect::<Vec<_>>())
        .bind(counts.values().copied().collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Adds the group to the per-day counts, aggregated here so that each key is written once.
async fn add_counts(
    conn: &mut PgConnection,
    group: &[Planned<'_>],
    actor_ref: &(dyn Fn(&ChainFields<'_>) -> i64 + Sync),
) -> Result<(), StoreError> {
    let mut daily: BTreeMap<(i64, &str, i64, &str), i64> = BTreeMap::new();
    let mut per_actor: BTreeMap<(i64, i64, &str, i64), i64> = BTreeMap::new();
    for Planned { fields: f, .. } in group {
        let day = f.timestamp_micros.div_euclid(DAY_MICROS);
        let severity = f.severity.code();
        *daily.entry((day, f.event_type, severity, f.actor.kind.as_str())).or_default() += 1;
        *per_actor.entry((actor_ref(f), day, f.event_type, severity)).or_default() += 1;
    }
    sqlx::query(
        "INSERT INTO audit_daily_counts (day, event_type, severity, actor_type, n) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int8[]) \
         ON CONFLICT (day, event_type, severity, actor_type) DO UPDATE SET n = audit_daily_counts.n + excluded.n",
    )
    .bind(daily.keys().map(|k| k.0).collect::<Vec<_>>())
    .bind(daily.keys().map(|k| k.1).collect::<Vec<_>>())
    .bind(daily.keys().map(|k| k.2).collect::<Vec<_>>())
    .bind(daily.keys().map(|k| k.3).collect::<Vec<_>>())
    .bind(daily.values().copied().collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO audit_actor_counts (actor_ref, day, event_type, severity, n) \
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::int8[]) \
         ON CONFLICT (actor_ref, day, event_type, severity) DO UPDATE SET n = audit_actor_counts.n + excluded.n",
    )
    .bind(per_actor.keys().map(|k| k.0).collect::<Vec<_>>())
    .bind(per_actor.keys().map(|k| k.1).collect::<Vec<_>>())
    .bind(per_actor.keys().map(|k| k.2).collect::<Vec<_>>())
    .bind(per_actor.keys().map(|k| k.3).collect::<Vec<_>>())
    .bind(per_actor.values().copied().collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds the time since `since` to `phase` and starts the next phase's clock.
fn lap(since: Instant, phase: &mut std::time::Duration) -> Instant {
    let now = Instant::now();
    *phase += now - since;
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_commit_leaves_its_outcome_unknown() {
        assert!(commit_unknown(&StoreError::backend(CommitUnknown(sqlx::Error::PoolClosed))));
        assert!(!commit_unknown(&StoreError::backend(sqlx::Error::PoolClosed)), "failed before the commit");
        assert!(!commit_unknown(&StoreError::overloaded()));
    }

    #[test]
    fn months_are_counted_from_year_zero() {
        let jan: i64 = chrono::DateTime::parse_from_rfc3339("2025-01-31T23:59:59Z").expect("time").timestamp_micros();
        assert_eq!(month_of(jan) + 1, month_of(jan + 1_000_000));
    }
}
