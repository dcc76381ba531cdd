//! Appending a group of entries: one transaction that extends the hash chain, inserts the
//! rows, indexes their words for search and adds them to the per-day counts. It runs on
//! the writer's own thread and connection (rusqlite, prepared statements kept), so that a
//! commit costs SQLite's work and the disk's, not a channel hop per statement.

use super::search::indexed_text;
use crate::ingest::ValidEntry;
use crate::integrity::{leaf_hash, EntryFields, TreeBuilder};
use crate::store::chain::{entry_hash, GENESIS_HASH};
use crate::store::rows::{seq_u64, INSERT_COLUMNS};
use crate::store::sql::DAY_MICROS;
use crate::store::{AppendPhases, StoreError};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// The actor key the actor filter compares: ASCII case folded, as SQLite's `lower()`.
pub type ActorKey = (String, String);

/// Actors already registered, by key. Refs never change once given, so what a committed
/// transaction registered can be remembered for good.
#[derive(Default)]
pub struct Actors {
    known: HashMap<ActorKey, i64>,
}

impl Actors {
    /// Remembers the actors registered by a transaction that committed.
    pub fn learn(&mut self, registered: HashMap<ActorKey, i64>) {
        self.known.extend(registered);
    }
}

/// What an append did: each entry's sequence number and hash, in order, and the actors
/// it registered (to remember once the transaction commits).
pub struct Appended {
    pub chained: Vec<(u64, [u8; 32])>,
    pub registered: HashMap<ActorKey, i64>,
    /// The Merkle tree with the group's entries: this writer's once the commit succeeds
    /// (`None` while the tree does not match the log: see [`super::tree::at_head`]).
    pub tree: Option<TreeBuilder>,
}

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
/// the chain head read here cannot change before the commit. Adds the time each phase
/// took to `phases` (a few clock reads per group, not per entry).
pub fn append(
    tx: &Transaction<'_>,
    actors: &Actors,
    tree: Option<&TreeBuilder>,
    entries: &[&ValidEntry],
    phases: &mut AppendPhases,
) -> Result<Appended, StoreError> {
    let clock = Instant::now();
    let head: Option<(i64, Vec<u8>, i64)> = tx
        .prepare_cached("SELECT seq, hash, ts_high FROM audit_entries ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (mut seq, mut prev, mut ts_high) = match head {
        Some((seq, hash, ts_high)) => {
            let prev: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt { seq: seq_u64(seq), reason: "hash is not 32 bytes".into() })?;
            (seq, prev, ts_high)
        }
        None => (0, GENESIS_HASH, i64::MIN),
    };
    let (head_ts_high, head_seq) = (ts_high, seq);
    let mut registered = HashMap::new();
    let mut rows = Vec::with_capacity(entries.len());
    for &entry in entries {
        let actor_ref = actor_ref(tx, actors, &mut registered, entry)?;
        seq += 1;
        ts_high = ts_high.max(entry.timestamp.timestamp_micros());
        let hash = entry_hash(&prev, &EntryFields::of_new(entry, seq_u64(seq)));
        // Serialising a map of JSON values cannot fail.
        let details = serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".into());
        rows.push(ChainedRow { seq, ts_high, actor_ref, entry, details, prev_hash: prev, hash });
        prev = hash;
    }
    let clock = lap(clock, &mut phases.chain);
    // A tree that does not match the log is left as it is (the evidence verification
    // names) and the entries are appended without it: an audit log that stopped
    // recording once someone damaged it would serve whoever did.
    let mut tree = match super::tree::at_head(tx, tree, seq_u64(head_seq)) {
        Ok(tree) => Some(tree),
        Err(e @ StoreError::Corrupt { .. }) => {
            tracing::error!(error = %e, "appending without the Merkle tree: run verify");
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(tree) = tree.as_mut() {
        let mut insert = tx.prepare_cached("INSERT INTO audit_tree (seq, hashes) VALUES (?, ?)")?;
        let mut hashes = Vec::with_capacity(64);
        for row in &rows {
            hashes.clear();
            tree.push_stored(leaf_hash(&EntryFields::of_new(row.entry, seq_u64(row.seq))), &mut hashes);
            insert.execute(params![row.seq, hashes])?;
        }
    }
    let clock = lap(clock, &mut phases.tree);
    mark_new_days(tx, head_ts_high, &rows)?;

    let mut insert =
        tx.prepare_cached(&format!("INSERT INTO audit_entries ({INSERT_COLUMNS}) VALUES ({})", placeholders(21)))?;
    for row in &rows {
        let e = row.entry;
        let resource = e.resource.as_ref();
        insert.execute(params![
            row.seq,
            e.timestamp.timestamp_micros(),
            row.ts_high,
            e.event_type,
            e.severity.code(),
            e.actor.kind.as_str(),
            e.actor.id,
            e.actor.name,
            row.actor_ref,
            resource.map(|r| r.kind.as_str()),
            resource.map(|r| r.id.as_str()),
            resource.and_then(|r| r.name.as_deref()),
            e.description,
            row.details,
            e.ip_address,
            e.user_agent,
            e.received_at.timestamp_micros(),
            e.ingested_by.as_ref().map(|t| t.id),
            e.ingested_by.as_ref().map(|t| t.name.as_str()),
            &row.prev_hash[..],
            &row.hash[..],
        ])?;
    }
    let clock = lap(clock, &mut phases.rows);
    // The search index after the rows, not between them: interleaved with the table's
    // inserts, FTS5's inserts cost twice as much (measured).
    let mut index = tx.prepare_cached("INSERT INTO audit_search (rowid, words) VALUES (?, ?)")?;
    let mut words = Vec::with_capacity(rows.len());
    for row in &rows {
        let e = row.entry;
        let resource_name = e.resource.as_ref().and_then(|r| r.name.as_deref());
        let text = search_words(&e.event_type, &e.actor.name, &e.description, resource_name);
        index.execute(params![row.seq, indexed_text(&text, e.severity)])?;
        words.push(text);
    }
    let clock = lap(clock, &mut phases.search);
    let mut terms = TermCounts::default();
    for (row, text) in rows.iter().zip(&words) {
        terms.add(text, row.entry.timestamp.timestamp_micros(), row.entry.severity.code());
    }
    terms.write(tx)?;
    let clock = lap(clock, &mut phases.terms);
    add_counts(tx, &rows)?;
    lap(clock, &mut phases.counts);
    Ok(Appended { chained: rows.iter().map(|r| (seq_u64(r.seq), r.hash)).collect(), registered, tree })
}

/// Records where each day's range of sequence numbers begins: at the first entry whose
/// `ts_high` reaches the day (see migrations/sqlite/0007). `ts_high` never decreases, so
/// each day is named once.
fn mark_new_days(tx: &Transaction<'_>, head_ts_high: i64, rows: &[ChainedRow<'_>]) -> Result<(), StoreError> {
    let mut day = (head_ts_high != i64::MIN).then(|| head_ts_high.div_euclid(DAY_MICROS));
    for row in rows {
        let this = row.ts_high.div_euclid(DAY_MICROS);
        if day != Some(this) {
            tx.prepare_cached("INSERT OR IGNORE INTO audit_day_seqs (day, first_seq) VALUES (?, ?)")?
                .execute(params![this, row.seq])?;
            day = Some(this);
        }
    }
    Ok(())
}

/// Adds the time since `since` to `phase` and starts the next phase's clock.
fn lap(since: Instant, phase: &mut std::time::Duration) -> Instant {
    let now = Instant::now();
    *phase += now - since;
    now
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The `audit_actors.ref` of an entry's actor, registering an actor not seen before.
fn actor_ref(
    tx: &Transaction<'_>,
    actors: &Actors,
    registered: &mut HashMap<ActorKey, i64>,
    entry: &ValidEntry,
) -> Result<i64, StoreError> {
    let key = (entry.actor.id.to_ascii_lowercase(), entry.actor.name.to_ascii_lowercase());
    if let Some(actor_ref) = actors.known.get(&key).or_else(|| registered.get(&key)) {
        return Ok(*actor_ref);
    }
    tx.prepare_cached(
        "INSERT INTO audit_actors (id_key, name_key) VALUES (?1, ?2) ON CONFLICT (id_key, name_key) DO NOTHING",
    )?
    .execute(params![key.0, key.1])?;
    let actor_ref: i64 = tx
        .prepare_cached("SELECT ref FROM audit_actors WHERE id_key = ?1 AND name_key = ?2")?
        .query_row(params![key.0, key.1], |r| r.get(0))?;
    registered.insert(key, actor_ref);
    Ok(actor_ref)
}

/// How many entries hold each search word, per day and severity, gathered for one write
/// per key (see migrations/sqlite/0004).
#[derive(Default)]
pub(super) struct TermCounts {
    counts: HashMap<(String, i64, i64), i64>,
}

impl TermCounts {
    /// Adds one entry's words (as [`search_words`] gives them: distinct, space-separated).
    pub fn add(&mut self, words: &str, ts: i64, severity: i64) {
        let day = ts.div_euclid(DAY_MICROS);
        for word in words.split(' ').filter(|w| !w.is_empty()) {
            *self.counts.entry((word.to_owned(), day, severity)).or_default() += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Adds the gathered counts to the table, in key order (cheaper for its B-tree).
    pub fn write(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO audit_search_terms (term, day, severity, n) VALUES (?, ?, ?, ?) \
             ON CONFLICT (term, day, severity) DO UPDATE SET n = n + excluded.n",
        )?;
        let mut counts: Vec<_> = self.counts.into_iter().collect();
        counts.sort_unstable();
        for ((term, day, severity), n) in counts {
            upsert.execute(params![term, day, severity, n])?;
        }
        Ok(())
    }
}

/// What the index holds for an entry.
pub(super) fn search_words(
    event_type: &str,
    actor_name: &str,
    description: &str,
    resource_name: Option<&str>,
) -> String {
    crate::search::index_text(&[event_type, actor_name, description, resource_name.unwrap_or("")])
}

/// One value of a count key, in the key columns' order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyPart<'a> {
    Int(i64),
    Text(&'a str),
}

impl rusqlite::ToSql for KeyPart<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            KeyPart::Int(v) => v.to_sql(),
            KeyPart::Text(v) => v.to_sql(),
        }
    }
}

type Counts<'a> = BTreeMap<[KeyPart<'a>; 4], i64>;

/// Adds the group to the per-day counts, aggregated here so that each key is written
/// once per commit.
fn add_counts(tx: &Transaction<'_>, rows: &[ChainedRow<'_>]) -> Result<(), StoreError> {
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
    upsert_counts(tx, "audit_daily_counts", "day, event_type, severity, actor_type", daily)?;
    upsert_counts(tx, "audit_actor_counts", "actor_ref, day, event_type, severity", per_actor)
}

fn upsert_counts(tx: &Transaction<'_>, table: &str, key_columns: &str, counts: Counts<'_>) -> Result<(), StoreError> {
    let mut upsert = tx.prepare_cached(&format!(
        "INSERT INTO {table} ({key_columns}, n) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT ({key_columns}) DO UPDATE SET n = n + excluded.n"
    ))?;
    for ([a, b, c, d], n) in counts {
        upsert.execute(params![a, b, c, d, n])?;
    }
    Ok(())
}
