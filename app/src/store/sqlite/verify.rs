//! `verify` on SQLite, on a read-only connection of its own: the chain over every stored
//! row in sequence order, then the structures that decide what lists and searches show:
//! the search index (each entry's words, against the words the index holds for it), the
//! per-day and per-actor counts, the actor each entry is filed under, and `ts_high`.

use super::append::search_words;
use super::scan::{raw, reader};
use super::search::indexed_text;
use crate::entry::AuditEntry;
use crate::integrity::StoredRows;
use crate::store::retention::{self, PurgedGap};
use crate::store::rows::COLUMNS;
use crate::store::sql::DAY_MICROS;
use crate::store::verify::{ChainWalk, Head, Problem, VerifyReport};
use crate::store::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;

pub async fn verify(
    pool: &SqlitePool,
    expect_head: Option<&Head>,
    tree_sizes: &[u64],
) -> Result<VerifyReport, StoreError> {
    let path = pool.connect_options().get_filename().to_owned();
    let expect_head = expect_head.cloned();
    let tree_sizes = tree_sizes.to_vec();
    tokio::task::spawn_blocking(move || run(&path, expect_head.as_ref(), tree_sizes))
        .await
        .map_err(StoreError::backend)?
}

fn run(path: &Path, expect_head: Option<&Head>, tree_sizes: Vec<u64>) -> Result<VerifyReport, StoreError> {
    let db = reader(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // The index check builds a temporary table: in memory, never a file beside the store.
    db.pragma_update(None, "temp_store", "memory")?;
    // One snapshot for every check, so that appends meanwhile cannot look like damage.
    db.execute_batch("BEGIN")?;
    let words = WordSets::new();
    let mut counted = Counted::default();
    // Where the time goes, for `RUST_LOG=app=debug` (docs/integrity.md: 1M entries).
    let mut clock = std::time::Instant::now();
    let mut took = |phase: &str| {
        tracing::debug!(phase, secs = clock.elapsed().as_secs_f64(), "verify phase");
        clock = std::time::Instant::now();
    };
    let (gaps, lost) = purged_gaps(&db)?;
    let (mut report, mut words) = walk_chain(&db, words, &mut counted, tree_sizes, gaps)?;
    report.problems.extend(lost);
    took("chain, tree and words");
    report.problems.extend(check_ts_high(&db)?);
    report.problems.extend(check_day_seqs(&db)?);
    took("time order and day ranges");
    report.problems.extend(check_search_terms(&db, &mut words)?);
    took("per-word counts");
    report.problems.extend(check_search_index(&db, words)?);
    took("search index");
    report.problems.extend(check_counts(&db, counted)?);
    took("per-day and per-actor counts");
    report.problems.extend(check_actors(&db)?);
    took("actors");
    if let Some(expected) = expect_head {
        let seq = i64::try_from(expected.sequence).unwrap_or(i64::MAX);
        let hash: Option<Vec<u8>> =
            db.query_row("SELECT hash FROM audit_entries WHERE seq = ?", [seq], |r| r.get(0)).optional()?;
        report.check_head(expected, hash.map(hex::encode));
    }
    db.execute_batch("COMMIT")?;
    Ok(report)
}

/// The runs the retention purge recorded, each with the Merkle tree after it (from the
/// tree's rows, which are kept), read in the verification's snapshot.
fn purged_gaps(db: &Connection) -> Result<(Vec<PurgedGap>, Vec<Problem>), StoreError> {
    let ranges = super::purge::ranges(db)?;
    let mut rows = StoredRows::default();
    for chunk in retention::rows_needed(&ranges).chunks(500) {
        let sql = format!("SELECT seq, hashes FROM audit_tree WHERE seq IN ({})", vec!["?"; chunk.len()].join(", "));
        let mut statement = db.prepare(&sql)?;
        let found = statement.query_map(rusqlite::params_from_iter(chunk.iter().map(|r| *r as i64)), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        for row in found {
            let (seq, hashes) = row?;
            rows.0.insert(crate::store::rows::seq_u64(seq), hashes);
        }
    }
    Ok(retention::gaps(ranges, &rows))
}

/// Each entry's set of words against the set the index holds for it, as one digest per
/// entry: the sum of a keyed hash of each distinct word. Comparing sets per entry (not
/// each word's number of entries) also finds a word moved from one entry to another,
/// which hides the first from searches while every count stays right. The hash keys are
/// new for each run, so no one can choose words whose digests collide.
struct WordSets {
    keys: RandomState,
    /// Per sequence number: (the entry's digest minus the index's, whether the entry exists).
    entries: HashMap<i64, (u64, bool)>,
    /// Rows that cannot be read: the chain walk reports them; their words are not compared.
    unreadable: Vec<i64>,
    /// Per day: the keyed hashes of (word, day, severity) over every entry's words, minus
    /// those the per-word counts record (each times its count). Zero when they agree.
    term_days: HashMap<i64, u64>,
}

impl WordSets {
    fn new() -> Self {
        WordSets {
            keys: RandomState::new(),
            entries: HashMap::new(),
            unreadable: Vec::new(),
            term_days: HashMap::new(),
        }
    }

    fn digest<'a>(&self, words: impl Iterator<Item = &'a str>) -> u64 {
        let mut distinct: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.iter().fold(0u64, |sum, word| sum.wrapping_add(self.keys.hash_one(word)))
    }

    fn held(&mut self, seq: i64, words: &str) {
        let digest = self.digest(words.split(' '));
        let slot = self.entries.entry(seq).or_insert((0, true));
        *slot = (slot.0.wrapping_add(digest), true);
    }

    /// An entry's words as the per-word counts should count them.
    fn counted(&mut self, words: &str, ts: i64, severity: i64) {
        let day = ts.div_euclid(DAY_MICROS);
        let sum = words
            .split(' ')
            .filter(|w| !w.is_empty())
            .fold(0u64, |sum, w| sum.wrapping_add(self.keys.hash_one((w, day, severity))));
        let slot = self.term_days.entry(day).or_default();
        *slot = slot.wrapping_add(sum);
    }

    /// A row of the per-word counts.
    fn recorded(&mut self, term: &str, day: i64, severity: i64, n: i64) {
        let hash = self.keys.hash_one((term, day, severity)).wrapping_mul(n as u64);
        let slot = self.term_days.entry(day).or_default();
        *slot = slot.wrapping_sub(hash);
    }

    fn indexed(&mut self, seq: i64, word: &str) {
        let digest = self.keys.hash_one(word);
        let slot = self.entries.entry(seq).or_insert((0, false));
        slot.0 = slot.0.wrapping_sub(digest);
    }
}

/// The column of the entry's tree row, after [`COLUMNS`], and of its actor's reference.
const TREE_ROW: usize = 19;
const ACTOR_REF: usize = 20;

/// The per-day and per-actor counts as the entries make them, counted while the walk
/// reads every row anyway (two `GROUP BY`s over the table took longer than the walk).
/// Keys hold small numbers for the event type and the actor kind, named in `names`.
#[derive(Default)]
struct Counted {
    names: Vec<String>,
    ids: HashMap<String, i64>,
    /// (day, event type, severity, actor kind) → entries.
    daily: HashMap<[i64; 4], i64>,
    /// (actor ref, day, event type, severity) → entries.
    per_actor: HashMap<[i64; 4], i64>,
}

impl Counted {
    fn id(&mut self, name: &str) -> i64 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as i64;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Counts a row by its stored columns, as the append counted it, whether or not the
    /// row reads as an entry (the walk reports one that does not). A value of the wrong
    /// type leaves the row out of the counts it keys: the mismatch is then reported.
    fn add(&mut self, row: &rusqlite::Row<'_>) -> Result<(), StoreError> {
        use rusqlite::types::ValueRef;
        let (ts, event_type, severity, kind, actor_ref) =
            (row.get_ref(1)?, row.get_ref(2)?, row.get_ref(3)?, row.get_ref(4)?, row.get_ref(ACTOR_REF)?);
        let (ValueRef::Integer(ts), ValueRef::Text(event_type), ValueRef::Integer(severity), ValueRef::Text(kind)) =
            (ts, event_type, severity, kind)
        else {
            return Ok(());
        };
        let day = ts.div_euclid(crate::store::sql::DAY_MICROS);
        let event_type = self.id(&String::from_utf8_lossy(event_type));
        let kind = self.id(&String::from_utf8_lossy(kind));
        *self.daily.entry([day, event_type, severity, kind]).or_default() += 1;
        if let ValueRef::Integer(actor_ref) = actor_ref {
            *self.per_actor.entry([actor_ref, day, event_type, severity]).or_default() += 1;
        }
        Ok(())
    }
}

/// Every row, whatever its sequence number: one stored out of place is reported, not
/// skipped. The walk stops checking at the first broken link (every later one depends on
/// it) but reads on to note the words every entry holds.
fn walk_chain(
    db: &Connection,
    mut words: WordSets,
    counted: &mut Counted,
    tree_sizes: Vec<u64>,
    gaps: Vec<PurgedGap>,
) -> Result<(VerifyReport, WordSets), StoreError> {
    let mut statement = db.prepare(&format!(
        "SELECT {COLUMNS}, audit_tree.hashes, audit_entries.actor_ref FROM audit_entries \
         LEFT JOIN audit_tree USING (seq) ORDER BY seq"
    ))?;
    let mut rows = statement.query([])?;
    // Two cores: this thread reads the rows and checks their words; another hashes them
    // (the chain, the leaf and the tree), which is most of the work.
    let (send, receive) = std::sync::mpsc::sync_channel::<Visit>(WALK_QUEUE);
    std::thread::scope(|scope| {
        let walker = scope.spawn(move || {
            let mut walk = ChainWalk::wanting(tree_sizes).across(gaps);
            for (seq, entry, tree_row) in receive {
                walk.visit_entry(seq, entry, tree_row.as_deref());
            }
            walk.finish()
        });
        let read = (|| -> Result<(), StoreError> {
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let entry = raw(row);
                counted.add(row)?;
                match &entry {
                    Ok(e) => {
                        let held = search_words(e.event_type, e.actor_name, e.description, e.resource_name);
                        words.held(seq, &indexed_text(&held, e.severity));
                        words.counted(&held, e.timestamp.timestamp_micros(), e.severity.code());
                    }
                    Err(_) => {
                        words.held(seq, "");
                        words.unreadable.push(seq);
                    }
                }
                // A value that is not bytes is no tree row: reported as missing.
                let tree_row = row.get_ref(TREE_ROW)?.as_blob_or_null().unwrap_or(None).map(<[u8]>::to_vec);
                if send.send((seq, entry.and_then(|e| e.to_entry()), tree_row)).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(send);
        let report = walker.join().map_err(|_| StoreError::backend("the chain walk failed"))?;
        read.map(|()| (report, words))
    })
}

/// A row handed to the walking thread: its stored sequence number, the entry (or why it
/// cannot be read) and its tree row.
type Visit = (i64, Result<AuditEntry, StoreError>, Option<Vec<u8>>);

/// Rows read ahead of the walk, at most.
const WALK_QUEUE: usize = 4096;

/// The per-word counts (a search's vocabulary, and one-word totals and timelines)
/// against the words of the entries, day by day.
fn check_search_terms(db: &Connection, words: &mut WordSets) -> Result<Option<Problem>, StoreError> {
    let mut statement = db.prepare("SELECT term, day, severity, n FROM audit_search_terms")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let term: String = row.get(0)?;
        words.recorded(&term, row.get(1)?, row.get(2)?, row.get(3)?);
    }
    let mut wrong: Vec<i64> = words.term_days.iter().filter(|(_, diff)| **diff != 0).map(|(day, _)| *day).collect();
    if wrong.is_empty() || !words.unreadable.is_empty() {
        // An unreadable row's words are unknown: the chain walk reports it.
        return Ok(None);
    }
    wrong.sort_unstable();
    let days: Vec<String> = wrong.iter().take(5).map(|d| show("day", rusqlite::types::Value::Integer(*d))).collect();
    Ok(Some(Problem::Counts {
        table: "audit_search_terms",
        detail: format!("the word counts of {} do not match the entries' words", days.join(", ")),
    }))
}

/// `ts_high` is the latest time up to each entry: searches rely on it to stop early.
fn check_ts_high(db: &Connection) -> Result<Option<Problem>, StoreError> {
    // Purged entries still count: after a purged run, the latest time is at least the
    // run's own (recorded with it).
    let wrong: Option<i64> = db
        .query_row(
            "SELECT seq FROM (SELECT seq, ts_high, MAX(ts) OVER (ORDER BY seq) AS kept FROM audit_entries) AS e \
             WHERE ts_high IS NOT MAX(kept, COALESCE((SELECT p.ts_high FROM audit_purged p WHERE p.last_seq < e.seq \
             ORDER BY p.last_seq DESC LIMIT 1), kept)) ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(wrong.map(|seq| Problem::SearchIndex(format!("entry audit-{seq} has a wrong ts_high"))))
}

/// Where each day's range of sequence numbers begins: a search's timeline counts the
/// index day by day over these ranges.
fn check_day_seqs(db: &Connection) -> Result<Option<Problem>, StoreError> {
    let wrong: Option<i64> = db
        .query_row(
            "WITH expected AS (SELECT ts_high / 86400000000 AS day, MIN(seq) AS first_seq FROM audit_entries GROUP BY 1) \
             SELECT coalesce(r.day, e.day) FROM audit_day_seqs r FULL JOIN expected e ON r.day = e.day \
             WHERE r.first_seq IS NOT e.first_seq ORDER BY 1 LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(wrong.map(|day| {
        Problem::SearchIndex(format!(
            "the sequence range of {} is recorded wrongly",
            show("day", rusqlite::types::Value::Integer(day))
        ))
    }))
}

/// The index against the entries, entry by entry: an entry missing from the index
/// (hidden from searches), indexed with words it does not hold, or a word indexed for a
/// sequence number that holds no entry.
fn check_search_index(db: &Connection, mut words: WordSets) -> Result<Option<Problem>, StoreError> {
    // A temporary table: allowed on a read-only connection, gone when it closes.
    db.execute_batch("CREATE VIRTUAL TABLE temp.verify_instances USING fts5vocab(main, audit_search, instance)")?;
    let mut statement = db.prepare("SELECT term, doc FROM temp.verify_instances")?;
    let mut rows = statement.query([])?;
    let mut last: Option<(String, i64)> = None;
    while let Some(row) = rows.next()? {
        let (term, doc): (String, i64) = (row.get(0)?, row.get(1)?);
        // Rows come by word, then entry: a word counts once per entry.
        if last.as_ref().is_some_and(|(t, d)| *t == term && *d == doc) {
            continue;
        }
        words.indexed(doc, &term);
        last = Some((term, doc));
    }
    drop(rows);
    drop(statement);
    db.execute_batch("DROP TABLE temp.verify_instances")?;
    for seq in &words.unreadable {
        words.entries.remove(seq);
    }
    let mut wrong: Vec<(i64, bool)> =
        words.entries.into_iter().filter(|(_, (diff, _))| *diff != 0).map(|(seq, (_, exists))| (seq, exists)).collect();
    if wrong.is_empty() {
        return Ok(None);
    }
    wrong.sort_unstable();
    let shown: Vec<String> = wrong
        .iter()
        .take(5)
        .map(|(seq, exists)| {
            if *exists {
                format!("entry audit-{seq} is not indexed with exactly its words")
            } else {
                format!("words are indexed for audit-{seq}, which is no entry")
            }
        })
        .collect();
    let more = if wrong.len() > 5 { format!(" (and {} more entries)", wrong.len() - 5) } else { String::new() };
    Ok(Some(Problem::SearchIndex(format!("{}{more}", shown.join("; ")))))
}

/// Each count table against a count of the entries themselves.
fn check_counts(db: &Connection, mut counted: Counted) -> Result<Vec<Problem>, StoreError> {
    let tables: [(&'static str, [&str; 4], usize, usize); 2] = [
        // The table, its key columns, and which of them are text (an event type, an actor kind).
        ("audit_daily_counts", ["day", "event_type", "severity", "actor_type"], 1, 3),
        ("audit_actor_counts", ["actor_ref", "day", "event_type", "severity"], 2, 2),
    ];
    let mut problems = Vec::new();
    for (table, key, first_text, last_text) in tables {
        let mut expected =
            std::mem::take(if table == "audit_daily_counts" { &mut counted.daily } else { &mut counted.per_actor });
        let shown = |k: &[rusqlite::types::Value; 4]| -> String {
            key.iter()
                .zip(k)
                .map(|(name, v)| format!("{name} {}", show(name, v.clone())))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut statement = db.prepare(&format!("SELECT {}, n FROM {table} WHERE n <> 0", key.join(", ")))?;
        let mut rows = statement.query([])?;
        let mut found = None;
        while let Some(row) = rows.next()? {
            let values: [rusqlite::types::Value; 4] = [row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?];
            let recorded: i64 = row.get(4)?;
            let mut ids = [0i64; 4];
            let mut known = true;
            for (i, value) in values.iter().enumerate() {
                ids[i] = match value {
                    rusqlite::types::Value::Integer(n) if i != first_text && i != last_text => *n,
                    // Names only where the table keeps names: a name in a number column
                    // (the tables are not STRICT) is a key no entry makes.
                    rusqlite::types::Value::Text(text) if i == first_text || i == last_text => {
                        match counted.ids.get(text) {
                            Some(id) => *id,
                            None => {
                                known = false;
                                0
                            }
                        }
                    }
                    _ => {
                        known = false;
                        0
                    }
                };
            }
            let entries = if known { expected.remove(&ids).unwrap_or(0) } else { 0 };
            if entries != recorded {
                found = Some(format!("{}: it records {recorded} entries, the entries count {entries}", shown(&values)));
                break;
            }
        }
        if found.is_none() {
            // Entries no row of the table counts.
            if let Some((ids, entries)) = expected.into_iter().min() {
                let mut values = ids.map(rusqlite::types::Value::Integer);
                for i in [first_text, last_text] {
                    if let Some(name) = usize::try_from(ids[i]).ok().and_then(|i| counted.names.get(i)) {
                        values[i] = rusqlite::types::Value::Text(name.clone());
                    }
                }
                found = Some(format!("{}: it records 0 entries, the entries count {entries}", shown(&values)));
            }
        }
        if let Some(detail) = found {
            problems.push(Problem::Counts { table, detail });
        }
    }
    Ok(problems)
}

/// A key column's value as people read it.
fn show(column: &str, value: rusqlite::types::Value) -> String {
    use rusqlite::types::Value;
    match (column, value) {
        ("day", Value::Integer(day)) => chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0)
            .map_or_else(|| day.to_string(), |t| t.date_naive().to_string()),
        ("severity", Value::Integer(code)) => {
            crate::entry::Severity::from_code(code).map_or_else(|| code.to_string(), |s| s.as_str().to_owned())
        }
        (_, Value::Integer(n)) => n.to_string(),
        (_, Value::Text(text)) => text,
        (_, other) => format!("{other:?}"),
    }
}

/// The actor filter finds entries through `actor_ref`: an entry filed under another
/// actor (or none) would be hidden from it.
fn check_actors(db: &Connection) -> Result<Option<Problem>, StoreError> {
    let wrong: Option<i64> = db
        .query_row(
            "SELECT e.seq FROM audit_entries e LEFT JOIN audit_actors a ON a.ref = e.actor_ref \
             WHERE a.ref IS NULL OR a.id_key IS NOT lower(e.actor_id) OR a.name_key IS NOT lower(e.actor_name) \
             ORDER BY e.seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(wrong.map(|seq| Problem::ActorIndex { seq: u64::try_from(seq).unwrap_or(0) }))
}

#[cfg(test)]
mod tests {
    use crate::store::conformance::samples;
    use crate::store::{AuditLog, Problem, SqliteStore};
    use sqlx::SqlitePool;

    fn words(e: &crate::entry::AuditEntry) -> String {
        super::search_words(
            &e.event_type,
            &e.actor.name,
            &e.description,
            e.resource.as_ref().and_then(|r| r.name.as_deref()),
        )
    }

    /// Takes an entry's words out of the search index, the only way the index allows: FTS5's
    /// 'delete' given exactly the text indexed.
    async fn unindex(store: &SqliteStore, seq: u64) {
        let e = store.get(seq).await.expect("reads").expect("the entry");
        let text = super::indexed_text(&words(&e), e.severity);
        sqlx::query("INSERT INTO audit_search (audit_search, rowid, words) VALUES ('delete', ?, ?)")
            .bind(seq as i64)
            .bind(text)
            .execute(store.pool())
            .await
            .expect("unindexed");
    }

    async fn store_of(n: i64) -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.expect("opens");
        store.append(samples(0..n)).await.expect("appends");
        (store, dir)
    }

    /// A row written straight into the table, as an attacker with the file would.
    async fn insert_raw(pool: &SqlitePool, verb: &str, seq: i64, prev_hash: &[u8], ts_high: i64) -> Result<(), String> {
        sqlx::query(&format!(
            "{verb} INTO audit_entries (seq, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, \
             actor_ref, description, details, prev_hash, hash) \
             VALUES (?, 1741000000000000, ?, 'auth.logout', 0, 'user', 'm', 'mallory', 1, 'forged', '{{}}', ?, zeroblob(32))"
        ))
        .bind(seq)
        .bind(ts_high)
        .bind(prev_hash)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn head(pool: &SqlitePool) -> (Vec<u8>, i64) {
        sqlx::query_as("SELECT hash, ts_high FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("head")
    }

    #[tokio::test]
    async fn the_database_refuses_rows_anywhere_but_at_the_head() {
        let (store, _dir) = store_of(3).await;
        let pool = store.pool();
        let (hash, ts_high) = head(pool).await;
        let zero = [0u8; 32];
        for (verb, seq, prev) in [
            ("INSERT", 0, &zero[..]),
            ("INSERT", -1, &zero[..]),
            ("INSERT", 5, &hash[..]),
            ("INSERT", 3, &hash[..]),
            ("INSERT OR REPLACE", 2, &zero[..]),
            ("REPLACE", 3, &hash[..]),
            ("INSERT OR IGNORE", 1, &zero[..]),
            ("INSERT", 4, &zero[..]),
        ] {
            let refused = insert_raw(pool, verb, seq, prev, ts_high.max(1741000000000000)).await;
            if verb == "INSERT OR IGNORE" {
                // IGNORE turns the refusal into silence: still nothing is written.
                continue;
            }
            let err = refused.expect_err(&format!("{verb} seq {seq}"));
            assert!(err.contains("appended at the head of the chain only"), "{verb} {seq}: {err}");
        }
        let wrong_high = insert_raw(pool, "INSERT", 4, &hash, 5).await.expect_err("ts_high below the running latest");
        assert!(wrong_high.contains("head of the chain only"), "{wrong_high}");
        let report = store.verify(None).await.expect("verifies");
        assert!(report.is_intact() && report.entries == 3, "{report:?}");

        // At the head and linked, a forged row gets in: its hash gives it away.
        insert_raw(pool, "INSERT", 4, &hash, ts_high.max(1741000000000000)).await.expect("at the head");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            matches!(&report.problems[0], Problem::BrokenLink { seq: 4, reason } if reason.contains("hash")),
            "{:?}",
            report.problems
        );
        assert_eq!(report.entries, 3);
    }

    #[tokio::test]
    async fn rows_stored_out_of_place_behind_the_triggers_are_reported_not_skipped() {
        for seq in [-5, 0, 9] {
            let (store, _dir) = store_of(4).await;
            let pool = store.pool();
            sqlx::query("DROP TRIGGER audit_entries_at_head_only").execute(pool).await.expect("drop");
            insert_raw(pool, "INSERT", seq, &[0; 32], i64::MAX).await.expect("no trigger now");
            let report = store.verify(None).await.expect("verifies");
            let expected = if seq > 0 { 5 } else { 1 };
            assert!(
                report.problems.contains(&Problem::OutOfPlace { stored_seq: seq, expected }),
                "{seq}: {:?}",
                report.problems
            );
        }
    }

    #[tokio::test]
    async fn an_entry_hidden_from_search_is_reported() {
        let (store, _dir) = store_of(20).await;
        unindex(&store, 7).await;
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.iter().any(
                |p| matches!(p, Problem::SearchIndex(d) if d.contains("entry audit-7 is not indexed with exactly its words"))
            ),
            "{:?}",
            report.problems
        );
        assert_eq!(report.entries, 20, "the chain itself is intact");

        // Words an entry does not hold, slipped into the index, are found too.
        let (store, _dir) = store_of(5).await;
        unindex(&store, 3).await;
        sqlx::query("INSERT INTO audit_search (rowid, words) VALUES (3, 'mallory')")
            .execute(store.pool())
            .await
            .expect("invent");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.iter().any(|p| matches!(p, Problem::SearchIndex(d) if d.contains("entry audit-3 is not indexed with exactly its words"))),
            "{:?}",
            report.problems
        );
    }

    #[tokio::test]
    async fn an_index_made_by_other_search_rules_is_made_again_when_the_store_opens() {
        let (store, dir) = store_of(10).await;
        unindex(&store, 4).await;
        assert!(!store.verify(None).await.expect("verifies").is_intact(), "entry 4 is missing from the index");
        let recorded = sqlx::query("UPDATE audit_meta SET value = 'words 0' WHERE key = 'search_rules'")
            .execute(store.pool())
            .await
            .expect("updates");
        assert_eq!(recorded.rows_affected(), 1, "the rules the index was made by are recorded");
        // Until it is made again, nothing is purged (words go by their text) and a
        // read-only open is told to wait for a writing one.
        let cutoff = chrono::Utc::now() - chrono::Duration::days(40);
        let refused = crate::store::Retention::purge_step(&store, cutoff, None, 100, chrono::Utc::now()).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("other search rules")));
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let read_only = crate::store::open_read_only(&url).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(read_only.contains("start the server once"), "{read_only}");
        crate::store::Maintenance::close(&store).await;
        let reopened = SqliteStore::open(&url).await.expect("opens");
        assert!(reopened.verify(None).await.expect("verifies").is_intact(), "made again by today's rules");
    }

    #[tokio::test]
    async fn entries_whose_index_rows_were_swapped_are_reported_though_every_count_holds() {
        let (store, _dir) = store_of(10).await;
        let pool = store.pool();
        let (a, b) = (store.get(4).await.expect("reads").expect("4"), store.get(5).await.expect("reads").expect("5"));
        assert_ne!(words(&a), words(&b), "the samples differ");
        unindex(&store, 4).await;
        unindex(&store, 5).await;
        for (rowid, held) in [(4, words(&b)), (5, words(&a))] {
            sqlx::query("INSERT INTO audit_search (rowid, words) VALUES (?, ?)")
                .bind(rowid)
                .bind(held)
                .execute(pool)
                .await
                .expect("swap");
        }
        let report = store.verify(None).await.expect("verifies");
        let found: Vec<&str> = report
            .problems
            .iter()
            .filter_map(|p| match p {
                Problem::SearchIndex(d) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(found, ["entry audit-4 is not indexed with exactly its words; entry audit-5 is not indexed with exactly its words"]);

        // Words for a sequence number that holds no entry are found too.
        let (store, _dir) = store_of(3).await;
        sqlx::query("INSERT INTO audit_search (rowid, words) VALUES (99, 'ghost')")
            .execute(store.pool())
            .await
            .expect("ghost");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.contains(&Problem::SearchIndex("words are indexed for audit-99, which is no entry".into())),
            "{:?}",
            report.problems
        );
    }

    #[tokio::test]
    async fn word_counts_that_differ_from_the_entries_words_are_reported() {
        let (store, _dir) = store_of(30).await;
        assert!(store.verify(None).await.expect("verifies").is_intact());
        // A word's count moved from one severity to another: every total still adds up.
        sqlx::query(
            "UPDATE audit_search_terms SET severity = 2 - severity \
             WHERE (term, day, severity) = (SELECT term, day, severity FROM audit_search_terms WHERE severity <> 1 LIMIT 1)",
        )
        .execute(store.pool())
        .await
        .expect("misfile a count");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.iter().any(|p| matches!(p, Problem::Counts { table: "audit_search_terms", detail } if detail.contains("do not match"))),
            "{:?}",
            report.problems
        );
    }

    #[tokio::test]
    async fn a_day_range_that_begins_at_the_wrong_entry_is_reported() {
        let (store, _dir) = store_of(30).await;
        assert!(store.verify(None).await.expect("verifies").is_intact());
        let (day, first): (i64, i64) = sqlx::query_as("SELECT day, first_seq FROM audit_day_seqs ORDER BY day LIMIT 1")
            .fetch_one(store.pool())
            .await
            .expect("a range");
        sqlx::query("UPDATE audit_day_seqs SET first_seq = first_seq + 1 WHERE day = ?")
            .bind(day)
            .execute(store.pool())
            .await
            .expect("move its start");
        let report = store.verify(None).await.expect("verifies");
        let shown = chrono::DateTime::from_timestamp(day * 86_400, 0).expect("day").date_naive().to_string();
        assert_eq!(
            report.problems,
            [Problem::SearchIndex(format!("the sequence range of {shown} is recorded wrongly"))],
            "range starting at {first}"
        );
    }

    /// The count tables are not STRICT: a name where a number belongs (here, an event
    /// type's name as the severity) is a key no entry makes, however the check names keys.
    #[tokio::test]
    async fn a_name_in_a_number_column_of_the_counts_is_reported() {
        let (store, _dir) = store_of(30).await;
        sqlx::query(
            "UPDATE audit_daily_counts SET severity = event_type WHERE (day, event_type, severity, actor_type) = \
             (SELECT day, event_type, severity, actor_type FROM audit_daily_counts LIMIT 1)",
        )
        .execute(store.pool())
        .await
        .expect("tampers");
        sqlx::query(
            "UPDATE audit_actor_counts SET actor_ref = 'x' WHERE (actor_ref, day, event_type, severity) = \
             (SELECT actor_ref, day, event_type, severity FROM audit_actor_counts LIMIT 1)",
        )
        .execute(store.pool())
        .await
        .expect("tampers");
        let report = store.verify(None).await.expect("verifies: a wrong value is a finding, not a failure");
        let tables: Vec<&str> = report
            .problems
            .iter()
            .filter_map(|p| if let Problem::Counts { table, .. } = p { Some(*table) } else { None })
            .collect();
        assert_eq!(tables, ["audit_daily_counts", "audit_actor_counts"], "{:?}", report.problems);
    }

    #[tokio::test]
    async fn miscounted_entries_and_a_misfiled_actor_are_reported() {
        let (store, _dir) = store_of(30).await;
        let pool = store.pool();
        sqlx::query("UPDATE audit_daily_counts SET n = n - 1 WHERE (day, event_type) IN (SELECT day, event_type FROM audit_daily_counts LIMIT 1)")
            .execute(pool)
            .await
            .expect("miscount");
        sqlx::query("DELETE FROM audit_actor_counts WHERE actor_ref = (SELECT MIN(actor_ref) FROM audit_actor_counts)")
            .execute(pool)
            .await
            .expect("drop a count");
        let report = store.verify(None).await.expect("verifies");
        let tables: Vec<&str> = report
            .problems
            .iter()
            .filter_map(|p| if let Problem::Counts { table, .. } = p { Some(*table) } else { None })
            .collect();
        assert_eq!(tables, ["audit_daily_counts", "audit_actor_counts"], "{:?}", report.problems);
        assert!(report.problems[0].to_string().contains("it records"), "{}", report.problems[0]);

        sqlx::query("DROP TRIGGER audit_entries_no_update").execute(pool).await.expect("drop");
        sqlx::query("UPDATE audit_entries SET actor_ref = actor_ref % 4 + 1 WHERE seq = 12")
            .execute(pool)
            .await
            .expect("misfile");
        let report = store.verify(None).await.expect("verifies");
        assert!(report.problems.contains(&Problem::ActorIndex { seq: 12 }), "{:?}", report.problems);
        sqlx::query("UPDATE audit_entries SET ts_high = 0 WHERE seq = 20").execute(pool).await.expect("ts_high");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.iter().any(|p| matches!(p, Problem::SearchIndex(d) if d.contains("audit-20"))),
            "{:?}",
            report.problems
        );
    }
}
