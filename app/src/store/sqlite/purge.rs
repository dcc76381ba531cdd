//! The retention purge on SQLite ([`crate::store::Retention`]): one small transaction a
//! step, on its own connection (`BEGIN IMMEDIATE` waits its turn with the writer's
//! commits, and a step of a few thousand rows holds the lock for milliseconds). Each step
//! records the runs it removes, then deletes the entries with their search words, per-word
//! counts and per-day and per-actor counts, and moves the start of each day's sequence
//! range that lost its first entry.

use super::append::search_words;
use super::search::indexed_text;
use crate::entry::Severity;
use crate::store::retention::{check_cutoff, PurgeStep, PurgedRange, PurgedRow, PURGED_ROWS};
use crate::store::rows::seq_u64;
use crate::store::sql::DAY_MICROS;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A step that took longer than this is logged with where its time went.
const SLOW_STEP: std::time::Duration = std::time::Duration::from_millis(100);

/// An entry due, as the step reads it.
struct Due {
    seq: i64,
    ts: i64,
    ts_high: i64,
    event_type: String,
    severity: i64,
    actor_type: String,
    actor_ref: i64,
    words: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl Due {
    fn severity(&self) -> Result<Severity, StoreError> {
        Severity::from_code(self.severity).ok_or_else(|| StoreError::Corrupt {
            seq: seq_u64(self.seq),
            reason: format!("severity code {}", self.severity),
        })
    }
}

/// One step: at most `limit` entries older than `cutoff`, never the newest entry, on the
/// writer's connection (the writer runs it between appends: they wait for one short step,
/// never for a lock held by another connection).
pub fn step(
    conn: &mut Connection,
    cutoff: DateTime<Utc>,
    below: Option<u64>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<PurgeStep, StoreError> {
    check_cutoff(cutoff)?;
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Words are taken out by their text, made by this process's search rules: an index
    // another version made (rebuilt by it while this one runs) would be left with words
    // no entry holds.
    let made_by: Option<String> = tx.query_row(super::reindex::RULES, [], |r| r.get(0)).optional()?;
    if made_by != Some(super::reindex::search_rules()) {
        return Err(StoreError::Conflict(
            "the search index was made by other search rules (another version of certifyclouds): nothing is purged \
             until this version's server has opened the store and made it again"
                .into(),
        ));
    }
    let cutoff = cutoff.timestamp_micros();
    let head: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_entries", [], |r| r.get(0))?;
    // Proofs for what is kept need the tree's rows of what goes: a tree behind the log
    // (damaged, see store/sqlite/tree.rs) must be looked at before anything is deleted.
    let tree: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_tree", [], |r| r.get(0))?;
    if tree < head {
        return Err(StoreError::Conflict(format!(
            "the Merkle tree holds {tree} entries but the log {head}: nothing is purged until `verify` is run and \
             the store repaired"
        )));
    }
    // Never the newest entry, nor one numbered from `below` on.
    let head = below.and_then(|b| i64::try_from(b).ok()).map_or(head, |b| b.min(head));
    let due = {
        let mut statement = tx.prepare(
            "SELECT seq, ts, ts_high, event_type, severity, actor_type, actor_ref, actor_name, description, \
             resource_name, prev_hash, hash FROM audit_entries WHERE ts < ?1 AND seq < ?2 ORDER BY ts LIMIT ?3",
        )?;
        let rows = statement.query_map(params![cutoff, head, limit], |r| {
            let (event_type, actor_name, description, resource_name): (String, String, String, Option<String>) =
                (r.get(3)?, r.get(7)?, r.get(8)?, r.get(9)?);
            Ok(Due {
                seq: r.get(0)?,
                ts: r.get(1)?,
                ts_high: r.get(2)?,
                words: search_words(&event_type, &actor_name, &description, resource_name.as_deref()),
                event_type,
                severity: r.get(4)?,
                actor_type: r.get(5)?,
                actor_ref: r.get(6)?,
                prev_hash: r.get(10)?,
                hash: r.get(11)?,
            })
        })?;
        rows.collect::<Result<Vec<Due>, _>>()?
    };
    if due.is_empty() {
        return Ok(PurgeStep { took: started.elapsed(), ..PurgeStep::default() });
    }
    let read = started.elapsed();
    record_runs(&tx, &due, cutoff, now.timestamp_micros())?;
    {
        let mut delete = tx.prepare_cached("DELETE FROM audit_entries WHERE seq = ?")?;
        for entry in &due {
            delete.execute([entry.seq])?;
        }
    }
    let deleted = started.elapsed();
    subtract_counts(&tx, &due)?;
    move_day_starts(&tx, &due)?;
    let counted = started.elapsed();
    // The search words last, after every statement that opens a statement savepoint (a
    // delete firing triggers, the counts' updates): FTS5 writes what it holds in memory to
    // a new segment at each savepoint, and merges segments as it does, so words taken out
    // between row deletes made a segment, and a merge, per entry. Last, they are written
    // once, at the commit. The index keeps no copy of the words: FTS5 takes them out given
    // the very text the append indexed (migrations/sqlite/0016 says why not by rowid).
    {
        let mut unindex =
            tx.prepare_cached("INSERT INTO audit_search (audit_search, rowid, words) VALUES ('delete', ?, ?)")?;
        for entry in &due {
            unindex.execute(params![entry.seq, indexed_text(&entry.words, entry.severity()?)])?;
        }
    }
    let unindexed = started.elapsed();
    let more: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE ts < ?1 AND seq < ?2)",
        params![cutoff, head],
        |r| r.get(0),
    )?;
    let checked = started.elapsed();
    tx.commit()?;
    let took = started.elapsed();
    if took > SLOW_STEP {
        // Where a slow step's time went: reading what is due, deleting the rows, the counts
        // and day ranges, the search words, the check for more, or the commit (the disk, the
        // search index's write-out and merges, or a checkpoint run inside it).
        tracing::warn!(
            took_ms = took.as_millis(),
            entries = due.len(),
            read_ms = read.as_millis(),
            delete_ms = (deleted - read).as_millis(),
            counts_ms = (counted - deleted).as_millis(),
            search_ms = (unindexed - counted).as_millis(),
            more_ms = (checked - unindexed).as_millis(),
            commit_ms = (took - checked).as_millis(),
            "a purge step was slow"
        );
    }
    Ok(PurgeStep {
        deleted: due.len() as u64,
        first: due.iter().map(|e| seq_u64(e.seq)).min(),
        last: due.iter().map(|e| seq_u64(e.seq)).max(),
        more,
        took,
    })
}

/// How many entries are due: older than `cutoff`, the newest entry aside.
pub fn due(path: &Path, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    let conn = super::writer::connect(path)?;
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM audit_entries WHERE ts < ?1 AND seq < (SELECT COALESCE(MAX(seq), 0) FROM audit_entries)",
        [cutoff.timestamp_micros()],
        |r| r.get(0),
    )?;
    Ok(seq_u64(n))
}

/// The runs removed, in sequence order.
pub fn ranges(conn: &Connection) -> Result<Vec<PurgedRange>, StoreError> {
    let mut statement = conn.prepare(PURGED_ROWS)?;
    let rows = statement.query_map([], |r| {
        Ok(PurgedRow {
            first_seq: r.get(0)?,
            last_seq: r.get(1)?,
            prev_hash: r.get(2)?,
            last_hash: r.get(3)?,
            purged_at: r.get(4)?,
            cutoff: r.get(5)?,
        })
    })?;
    rows.map(|row| row?.try_into()).collect()
}

/// Records each run of consecutive sequence numbers due, with the hashes at its ends.
fn record_runs(tx: &rusqlite::Transaction<'_>, due: &[Due], cutoff: i64, now: i64) -> Result<(), StoreError> {
    let mut by_seq: Vec<&Due> = due.iter().collect();
    by_seq.sort_unstable_by_key(|e| e.seq);
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit_purged (first_seq, last_seq, prev_hash, last_hash, ts_high, purged_at, cutoff) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    let mut start = 0;
    for end in 1..=by_seq.len() {
        if end == by_seq.len() || by_seq[end].seq != by_seq[end - 1].seq + 1 {
            let (first, last) = (by_seq[start], by_seq[end - 1]);
            insert.execute(params![first.seq, last.seq, first.prev_hash, last.hash, last.ts_high, now, cutoff])?;
            start = end;
        }
    }
    Ok(())
}

/// Takes the entries out of the per-day, per-actor and per-word counts; a count that
/// reaches zero goes.
fn subtract_counts(tx: &rusqlite::Transaction<'_>, due: &[Due]) -> Result<(), StoreError> {
    let mut daily: BTreeMap<(i64, &str, i64, &str), i64> = BTreeMap::new();
    let mut per_actor: BTreeMap<(i64, i64, &str, i64), i64> = BTreeMap::new();
    let mut terms: BTreeMap<(&str, i64, i64), i64> = BTreeMap::new();
    for e in due {
        let day = e.ts.div_euclid(DAY_MICROS);
        *daily.entry((day, &e.event_type, e.severity, &e.actor_type)).or_default() += 1;
        *per_actor.entry((e.actor_ref, day, &e.event_type, e.severity)).or_default() += 1;
        for word in e.words.split(' ').filter(|w| !w.is_empty()) {
            *terms.entry((word, day, e.severity)).or_default() += 1;
        }
    }
    for ((day, event_type, severity, actor_type), n) in daily {
        let key: [&dyn ToSql; 4] = [&day, &event_type, &severity, &actor_type];
        subtract(tx, "audit_daily_counts", ["day", "event_type", "severity", "actor_type"].as_slice(), &key, n)?;
    }
    for ((actor_ref, day, event_type, severity), n) in per_actor {
        let key: [&dyn ToSql; 4] = [&actor_ref, &day, &event_type, &severity];
        subtract(tx, "audit_actor_counts", ["actor_ref", "day", "event_type", "severity"].as_slice(), &key, n)?;
    }
    for ((term, day, severity), n) in terms {
        let key: [&dyn ToSql; 3] = [&term, &day, &severity];
        subtract(tx, "audit_search_terms", ["term", "day", "severity"].as_slice(), &key, n)?;
    }
    Ok(())
}

/// Takes `n` from the count of `table` at `key` (its key columns' values), and removes
/// the row when nothing is left.
fn subtract(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    columns: &[&str],
    key: &[&dyn ToSql],
    n: i64,
) -> Result<(), StoreError> {
    let at: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 2)).collect();
    let at = at.join(" AND ");
    let mut values: Vec<&dyn ToSql> = vec![&n];
    values.extend_from_slice(key);
    tx.prepare_cached(&format!("UPDATE {table} SET n = n - ?1 WHERE {at}"))?.execute(values.as_slice())?;
    values[0] = &0i64;
    tx.prepare_cached(&format!("DELETE FROM {table} WHERE {at} AND n <= ?1"))?.execute(values.as_slice())?;
    Ok(())
}

/// A day's range of sequence numbers (by `ts_high`) begins at its first entry kept; a day
/// with none left has no range.
fn move_day_starts(tx: &rusqlite::Transaction<'_>, due: &[Due]) -> Result<(), StoreError> {
    let days: BTreeSet<i64> = due.iter().map(|e| e.ts_high.div_euclid(DAY_MICROS)).collect();
    for day in days {
        // The day's range runs from its recorded start to the next day's (by rowid: no
        // index on ts_high is needed).
        let first: Option<i64> = tx
            .query_row(
                "SELECT MIN(seq) FROM audit_entries WHERE seq >= (SELECT first_seq FROM audit_day_seqs WHERE day = ?1) \
                 AND seq < COALESCE((SELECT MIN(first_seq) FROM audit_day_seqs WHERE day > ?1), 9223372036854775807)",
                [day],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        match first {
            Some(first) => {
                tx.execute("UPDATE audit_day_seqs SET first_seq = ?2 WHERE day = ?1", params![day, first])?
            }
            None => tx.execute("DELETE FROM audit_day_seqs WHERE day = ?1", [day])?,
        };
    }
    Ok(())
}
