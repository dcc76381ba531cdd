//! Appending a group of entries on PostgreSQL in one statement (`audit_append`,
//! migrations/postgres/0003): it takes the log's advisory lock (so appends of every
//! instance extend one chain, in sequence order), checks that the head is the one the
//! entries were chained to here, inserts the rows, adds them to the per-day and search
//! key counts and announces the new head, and, sent alone, commits. One round trip per
//! group: under load every round trip waits for a CPU behind the readers' queries, and
//! ten of them held single-event posts to about a hundred a second.
//!
//! The head the entries are chained to is the one this process last appended. When another
//! instance has moved it since (the function then refuses, 40001), the append is made
//! again in a transaction that reads the head under the lock.

use super::search::{lexemes, search_keys};
use crate::entry::AuditEntry;
use crate::ingest::ValidEntry;
use crate::integrity::{leaf_hash, EntryFields, TreeBuilder};
use crate::store::chain::entry_hash;
use crate::store::settings_store::built_entry;
use crate::store::sql::DAY_MICROS;
use crate::store::{AppendPhases, AppendReceipt, RecordChange, SettingsChange, SettingsChanged, StoreError};
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// What this process knows of the database: the month partitions that exist (dropped
/// only by the retention purge, of months long past: an append that finds one gone makes
/// it again) and the
/// head of the chain as its last append left it.
#[derive(Default)]
pub struct Known {
    partitions: HashSet<i64>,
    head: Option<(i64, [u8; 32])>,
    /// The Merkle tree of the entries up to `head` (its frontier); `None` while the tree
    /// does not match the log (see `tree::at_head`): entries are then appended without it.
    tree: Option<TreeBuilder>,
}

impl Known {
    /// Forgets the head and the tree: the next append reads both under the lock (after
    /// the head was moved other than by an append, as by a purged run copied, or while a
    /// change to the settings commits).
    pub fn forget_head(&mut self) {
        self.head = None;
        self.tree = None;
    }
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
    fields: EntryFields<'a>,
    copy_of: Option<&'a AuditEntry>,
}

/// Appends new entries at the head of the chain; each entry's sequence number and hash.
pub async fn append(
    pool: &PgPool,
    known: &mut Known,
    entries: &[&ValidEntry],
    phases: &mut AppendPhases,
) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    // The sequence numbers are given once the head is read, under the lock.
    let group = || entries.iter().map(|e| Planned { fields: EntryFields::of_new(e, 0), copy_of: None }).collect();
    match write(pool, known, group(), phases).await {
        // A month this process knew has been dropped by the retention purge (here or in
        // another instance) and an entry of it arrived late: it is made again.
        Err(e) if no_partition(&e) => {
            known.partitions.clear();
            write(pool, known, group(), phases).await
        }
        written => written,
    }
}

/// Whether an append failed for want of its month's partition (nothing was stored).
fn no_partition(error: &StoreError) -> bool {
    let StoreError::Backend(source) = error else { return false };
    let database = source.downcast_ref::<sqlx::Error>().and_then(sqlx::Error::as_database_error);
    // 23514 without a constraint: no partition takes the row (the message may be translated).
    database.is_some_and(|d| d.code().as_deref() == Some("23514") && d.constraint().is_none())
}

/// Appends entries copied from another store with their sequence numbers and hashes
/// unchanged (`migrate-store`): the first must follow the head of this log, and each must
/// hash here exactly as it did there, or nothing is written.
pub async fn copy(
    pool: &PgPool,
    known: &mut Known,
    entries: &[AuditEntry],
    phases: &mut AppendPhases,
) -> Result<AppendReceipt, StoreError> {
    let group = || entries.iter().map(|e| Planned { fields: EntryFields::of_stored(e), copy_of: Some(e) }).collect();
    let chained = match write(pool, known, group(), phases).await {
        Err(e) if no_partition(&e) => {
            known.partitions.clear();
            write(pool, known, group(), phases).await?
        }
        written => written?,
    };
    Ok(AppendReceipt {
        sequences: chained.iter().map(|(seq, _)| *seq).collect(),
        head_hash: chained.last().map(|(_, hash)| hex::encode(hash)).unwrap_or_default(),
    })
}

async fn write(
    pool: &PgPool,
    known: &mut Known,
    mut group: Vec<Planned<'_>>,
    phases: &mut AppendPhases,
) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    let clock = Instant::now();
    let times: Vec<i64> = group.iter().map(|p| p.fields.timestamp_micros).collect();
    ensure_partitions(pool, known, &times).await?;
    // Until an append has succeeded, the head is read again before the next one.
    if let Some(head) = known.head.take() {
        // Chained to the head this process last wrote, in one round trip. A copy that
        // does not follow it may still follow the head as it is now: read below.
        if let Ok((rows, chained, new_head, tree)) = chain(&mut group, head, known.tree.as_ref()) {
            let clock = lap(clock, &mut phases.chain);
            // Connected first, so that failing to connect is known to have stored nothing.
            let mut conn = pool.acquire().await?;
            match rows.append(&mut conn, head).await.map_err(sent_alone) {
                Ok(()) => {
                    lap(clock, &mut phases.commit);
                    phases.entries += group.len() as u64;
                    known.head = Some(new_head);
                    known.tree = tree;
                    return Ok(chained);
                }
                // Another instance appended since: chained again below, under the lock.
                Err(AppendError::HeadMoved) => {}
                Err(AppendError::Store(e)) => return Err(e),
            }
        }
    }
    // The head read under the appends' lock cannot move before this transaction ends, so
    // however busy the other instances are, this append is not refused again (retrying
    // the one-statement append instead starved an instance that kept losing the race).
    let mut tx = pool.begin().await?;
    let (head, tree) = locked_head(&mut tx).await?;
    let (rows, chained, new_head, tree) = chain(&mut group, head, tree.as_ref())?;
    let clock = lap(clock, &mut phases.chain);
    // Whatever fails before the commit leaves nothing stored.
    rows.append(&mut tx, head).await?;
    tx.commit().await.map_err(|e| StoreError::backend(CommitUnknown(e)))?;
    lap(clock, &mut phases.commit);
    phases.entries += group.len() as u64;
    known.head = Some(new_head);
    known.tree = tree;
    Ok(chained)
}

/// Takes the appends' lock in a transaction and reads the head and its tree, which cannot
/// move before the transaction ends.
async fn locked_head(tx: &mut PgConnection) -> Result<((i64, [u8; 32]), Option<TreeBuilder>), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
    let head = read_head(tx).await?;
    // A tree that does not match the log is left as it is (the evidence verification
    // names) and the entries are appended without it: an audit log that stopped
    // recording once someone damaged it would serve whoever did.
    let tree = match super::tree::at_head(tx, u64::try_from(head.0).unwrap_or(0)).await {
        Ok(tree) => Some(tree),
        Err(e @ StoreError::Corrupt { .. }) => {
            tracing::error!(error = %e, "appending without the Merkle tree: run verify");
            None
        }
        Err(e) => return Err(e),
    };
    Ok((head, tree))
}

/// Makes a change to the settings tables and appends the entry that records it in one
/// transaction, under the appends' lock (see [`crate::store::SettingsStore::change`]); a
/// change with nothing to record is rolled back. The entry's sequence number and hash.
pub async fn change_recorded(
    pool: &PgPool,
    known: &mut Known,
    change: &SettingsChange,
    record: &RecordChange,
    phases: &mut AppendPhases,
) -> Result<(SettingsChanged, Option<(u64, [u8; 32])>), StoreError> {
    // A partition is made in a transaction of its own, never under the advisory lock: this month's
    // first, as the entry is of now; another month's (an entry stamped otherwise), or one
    // the purge dropped since, and the change is made again once it is there.
    ensure_partitions(pool, known, &[chrono::Utc::now().timestamp_micros()]).await?;
    // Read again by the next append unless this change is known to have committed.
    known.forget_head();
    let mut tries = 0;
    loop {
        tries += 1;
        let clock = Instant::now();
        let mut tx = pool.begin().await?;
        let (head, tree) = locked_head(&mut tx).await?;
        let changed = super::settings_change::apply(&mut tx, change).await?;
        let Some(entry) = built_entry(record, &changed)? else {
            tx.rollback().await?;
            return Ok((changed, None));
        };
        let mut group = vec![Planned { fields: EntryFields::of_new(&entry, 0), copy_of: None }];
        let at = group[0].fields.timestamp_micros;
        // (A few tries: each makes the month of the entry built, which stays the same.)
        if !known.partitions.contains(&month_of(at)) && tries < 4 {
            tx.rollback().await?;
            ensure_partitions(pool, known, &[at]).await?;
            continue;
        }
        let (rows, chained, new_head, tree) = chain(&mut group, head, tree.as_ref())?;
        let clock = lap(clock, &mut phases.chain);
        match rows.append(&mut tx, head).await.map_err(StoreError::from) {
            Err(e) if no_partition(&e) && tries < 4 => {
                tx.rollback().await?;
                known.partitions.clear();
                ensure_partitions(pool, known, &[at]).await?;
                continue;
            }
            Err(e) if no_partition(&e) => return Err(StoreError::overloaded()),
            appended => appended?,
        }
        tx.commit().await.map_err(|e| StoreError::backend(CommitUnknown(e)))?;
        lap(clock, &mut phases.commit);
        phases.entries += 1;
        known.head = Some(new_head);
        known.tree = tree;
        return Ok((changed, chained.first().copied()));
    }
}

/// Brings the stored tree up to the log's head, under the appends' lock (see
/// [`super::tree::at_head`]): nothing to do unless the database predates the tree.
pub async fn settle_tree(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
    let (head, _) = read_head(&mut tx).await?;
    super::tree::at_head(&mut tx, u64::try_from(head).unwrap_or(0)).await?;
    tx.commit().await?;
    Ok(())
}

/// The lock every instance's appends take (`audit_append` takes it too; a session holding
/// it may take it again): "audit" in ASCII.
pub(super) const APPEND_LOCK: i64 = 418_581_342_580;

/// The group's rows chained after `head` and added to `tree` (the tree of the entries up
/// to `head`), each entry's sequence number and hash, the new head and the new tree; for a
/// copied entry, a refusal when it does not land where it was.
#[allow(clippy::type_complexity)]
fn chain(
    group: &mut [Planned<'_>],
    head: (i64, [u8; 32]),
    tree: Option<&TreeBuilder>,
) -> Result<(Rows, Vec<(u64, [u8; 32])>, (i64, [u8; 32]), Option<TreeBuilder>), StoreError> {
    if tree.is_some_and(|tree| i64::try_from(tree.size()).ok() != Some(head.0)) {
        return Err(StoreError::Conflict("the tree this instance holds is not the head's".into()));
    }
    let mut tree = tree.cloned();
    let mut rows = Rows::default();
    let mut chained = Vec::with_capacity(group.len());
    let (mut seq, mut prev) = head;
    for planned in group.iter_mut() {
        seq += 1;
        let sequence = u64::try_from(seq).unwrap_or(0);
        planned.fields.sequence = sequence;
        let hash = entry_hash(&prev, &planned.fields);
        if let Some(original) = planned.copy_of {
            same_place(original, sequence, &prev, &hash)?;
        }
        rows.push(seq, &planned.fields, &prev, &hash);
        if let Some(tree) = tree.as_mut() {
            let mut tree_row = Vec::with_capacity(64);
            tree.push_stored(leaf_hash(&planned.fields), &mut tree_row);
            rows.tree_seq.push(seq);
            rows.tree_hashes.push(tree_row);
        }
        chained.push((sequence, hash));
        prev = hash;
    }
    Ok((rows, chained, (seq, prev), tree))
}

pub(super) async fn read_head(conn: &mut PgConnection) -> Result<(i64, [u8; 32]), StoreError> {
    let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_head").fetch_one(conn).await?;
    let hash = hash.try_into().map_err(|_| StoreError::Corrupt {
        seq: u64::try_from(seq).unwrap_or(0),
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok((seq, hash))
}

/// Why the one statement of an append failed.
enum AppendError {
    /// Another instance appended since this one read the head: nothing was written.
    HeadMoved,
    Store(StoreError),
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

/// Creates the partitions of months this process has not seen an entry in yet, each in a
/// transaction of its own before the append (a partition, once made, is simply there).
async fn ensure_partitions(pool: &PgPool, known: &mut Known, times: &[i64]) -> Result<(), StoreError> {
    for &at in times {
        let month = month_of(at);
        if known.partitions.contains(&month) {
            continue;
        }
        // Creating a partition waits for every reader of the table, and readers queue
        // behind it: past a short wait the append gives up, answered "busy, retry" (an
        // entry of a month far from now; the upkeep creates the months around now).
        let mut tx = pool.begin().await?;
        sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *tx).await?;
        sqlx::query("SELECT audit_ensure_partition($1)").bind(at).execute(&mut *tx).await?;
        tx.commit().await?;
        known.partitions.insert(month);
    }
    Ok(())
}

/// The group's rows as one array per column, for the one call of `audit_append`.
#[derive(Default)]
struct Rows {
    seq: Vec<i64>,
    ts: Vec<i64>,
    day: Vec<i64>,
    event_type: Vec<String>,
    severity: Vec<i64>,
    actor_type: Vec<String>,
    actor_id: Vec<String>,
    actor_name: Vec<String>,
    /// The actor's id and name with ASCII case folded: the key it is filed under (the
    /// actor filter compares it, as SQLite does).
    id_key: Vec<String>,
    name_key: Vec<String>,
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
    /// The entries' rows of the tree table (none while the tree is left as evidence).
    tree_seq: Vec<i64>,
    tree_hashes: Vec<Vec<u8>>,
}

impl Rows {
    fn push(&mut self, seq: i64, f: &EntryFields<'_>, prev: &[u8; 32], hash: &[u8; 32]) {
        let resource_name = f.resource.and_then(|r| r.name.clone());
        self.words.push(lexemes(f.event_type, &f.actor.name, f.description, resource_name.as_deref()));
        self.seq.push(seq);
        self.ts.push(f.timestamp_micros);
        self.day.push(f.timestamp_micros.div_euclid(DAY_MICROS));
        self.event_type.push(f.event_type.to_owned());
        self.severity.push(f.severity.code());
        self.actor_type.push(f.actor.kind.as_str().to_owned());
        self.actor_id.push(f.actor.id.clone());
        self.actor_name.push(f.actor.name.clone());
        self.id_key.push(f.actor.id.to_ascii_lowercase());
        self.name_key.push(f.actor.name.to_ascii_lowercase());
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

    /// The group's search keys counted by (key, day, severity) (`search::search_keys`), in
    /// that order (the count table's own: its index is then updated page after page).
    fn search_key_counts(&self) -> Vec<((&str, i64, i64), i64)> {
        let mut counts: HashMap<(&str, i64, i64), i64> = HashMap::new();
        for ((words, day), severity) in self.words.iter().zip(&self.day).zip(&self.severity) {
            for key in search_keys(words.split(' ')) {
                *counts.entry((key, *day, *severity)).or_default() += 1;
            }
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_unstable();
        counts
    }

    /// Appends the rows after the head `(head_seq, head_hash)` in one statement, which
    /// commits when sent outside a transaction (`sent_alone` says what its failure means).
    async fn append(&self, conn: &mut PgConnection, (head_seq, head_hash): (i64, [u8; 32])) -> Result<(), sqlx::Error> {
        let keys = self.search_key_counts();
        sqlx::query(
            "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)",
        )
        .bind(head_seq)
        .bind(head_hash.as_slice())
        .bind(&self.seq)
        .bind(&self.ts)
        .bind(&self.day)
        .bind(&self.event_type)
        .bind(&self.severity)
        .bind(&self.actor_type)
        .bind(&self.actor_id)
        .bind(&self.actor_name)
        .bind(&self.id_key)
        .bind(&self.name_key)
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
        .bind(keys.iter().map(|(k, _)| k.0).collect::<Vec<_>>())
        .bind(keys.iter().map(|(k, _)| k.1).collect::<Vec<_>>())
        .bind(keys.iter().map(|(k, _)| k.2).collect::<Vec<_>>())
        .bind(keys.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        .bind(&self.tree_seq)
        .bind(&self.tree_hashes)
        .execute(conn)
        .await
        .map(drop)
    }
}

/// Why an append sent on its own (it commits as it ends) failed.
fn sent_alone(error: sqlx::Error) -> AppendError {
    match error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some(HEAD_MOVED) => AppendError::HeadMoved,
        // The server refused the statement, or it was never sent: nothing is stored.
        e @ (sqlx::Error::Database(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => {
            AppendError::Store(e.into())
        }
        // Sent, and then the connection failed: it may have committed.
        e => AppendError::Store(StoreError::backend(CommitUnknown(e))),
    }
}

/// What `audit_append` answers when the head is not the one the entries were chained to.
const HEAD_MOVED: &str = "40001";

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
