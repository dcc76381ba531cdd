//! Work a migration leaves for the store, done when it opens: rebuilding the search index
//! and the per-word counts from the entries when the search rules changed, or filling the
//! counts when they are new (SQL alone cannot do either: the words are made by the Rust
//! search rules).

use super::append::{search_words, TermCounts};
use super::search::indexed_text;
use crate::entry::Severity;
use crate::store::rows::seq_u64;
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

const OWED: &str = "SELECT group_concat(key) FROM audit_meta WHERE key IN ('search_index', 'search_terms')";

/// Per-word counts are written out after this many distinct keys, to bound memory.
const FLUSH_KEYS: usize = 200_000;

/// The search rules the index was made by (app/src/search.rs): their own version, and the
/// Unicode tables they decompose and lower-case with (a new crate or toolchain may bring
/// new ones). The purge takes an entry's words out of the index by their text, made by the
/// rules of the day: an index made by other rules is made again first, or the purge would
/// leave the old words behind.
pub(super) fn search_rules() -> String {
    let (a, b, c) = unicode_normalization::UNICODE_VERSION;
    let (d, e, f) = char::UNICODE_VERSION;
    format!("words 1; decomposition {a}.{b}.{c}; lower case {d}.{e}.{f}")
}

/// The rules the index was made by, as recorded.
pub(super) const RULES: &str = "SELECT value FROM audit_meta WHERE key = 'search_rules'";

pub fn settle(conn: &mut Connection) -> Result<(), StoreError> {
    let rules = search_rules();
    // What is owed: the work a migration left, and the index again when it was made by
    // other rules.
    let owed = |conn: &Connection| -> Result<Option<bool>, StoreError> {
        let work: Option<String> = conn.query_row(OWED, [], |r| r.get(0)).optional()?.flatten();
        let made_by: Option<String> = conn.query_row(RULES, [], |r| r.get(0)).optional()?;
        let index =
            made_by.as_deref() != Some(rules.as_str()) || work.as_deref().is_some_and(|w| w.contains("search_index"));
        Ok((index || work.is_some()).then_some(index))
    };
    if owed(conn)?.is_none() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have done it meanwhile.
    let Some(index) = owed(&tx)? else { return Ok(()) };
    let indexed = rebuild(&tx, index)?;
    tx.execute("DELETE FROM audit_meta WHERE key IN ('search_index', 'search_terms')", [])?;
    tx.execute("INSERT OR REPLACE INTO audit_meta (key, value) VALUES ('search_rules', ?)", [&rules])?;
    tx.commit()?;
    if indexed > 0 {
        tracing::info!(entries = indexed, index, secs = started.elapsed().as_secs_f64(), "rebuilt search words");
    }
    Ok(())
}

/// Counts every entry's words again, and indexes them again when `index` is set.
fn rebuild(tx: &Transaction<'_>, index: bool) -> Result<u64, StoreError> {
    if index {
        tx.execute("INSERT INTO audit_search (audit_search) VALUES ('delete-all')", [])?;
    }
    tx.execute("DELETE FROM audit_search_terms", [])?;
    let mut indexed = 0u64;
    let mut read = tx.prepare(
        "SELECT seq, event_type, actor_name, description, resource_name, ts, severity FROM audit_entries ORDER BY seq",
    )?;
    let mut insert = tx.prepare("INSERT INTO audit_search (rowid, words) VALUES (?, ?)")?;
    let mut terms = TermCounts::default();
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let (event_type, actor_name, description): (String, String, String) = (row.get(1)?, row.get(2)?, row.get(3)?);
        let resource_name: Option<String> = row.get(4)?;
        let words = search_words(&event_type, &actor_name, &description, resource_name.as_deref());
        let (seq, code): (i64, i64) = (row.get(0)?, row.get(6)?);
        if index {
            let severity = Severity::from_code(code)
                .ok_or_else(|| StoreError::Corrupt { seq: seq_u64(seq), reason: format!("severity code {code}") })?;
            insert.execute(params![seq, indexed_text(&words, severity)])?;
        }
        terms.add(&words, row.get(5)?, code);
        if terms.len() >= FLUSH_KEYS {
            std::mem::take(&mut terms).write(tx)?;
        }
        indexed += 1;
    }
    terms.write(tx)?;
    Ok(indexed)
}
