//! Work a migration leaves for the store, done when it opens: rebuilding the search index
//! from the entries when the search rules changed (SQL alone cannot apply them: the words
//! are made by the Rust search rules).

use super::append::search_words;
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const OWED: &str = "SELECT value FROM audit_meta WHERE key = 'search_index'";

pub fn settle(conn: &mut Connection) -> Result<(), StoreError> {
    if conn.query_row(OWED, [], |r| r.get::<_, String>(0)).optional()?.is_none() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have done it meanwhile.
    if tx.query_row(OWED, [], |r| r.get::<_, String>(0)).optional()?.is_none() {
        return Ok(());
    }
    tx.execute("INSERT INTO audit_search (audit_search) VALUES ('delete-all')", [])?;
    let mut indexed = 0u64;
    {
        let mut read = tx.prepare(
            "SELECT seq, event_type, actor_name, description, resource_name FROM audit_entries ORDER BY seq",
        )?;
        let mut index = tx.prepare("INSERT INTO audit_search (rowid, words) VALUES (?, ?)")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let (event_type, actor_name, description): (String, String, String) =
                (row.get(1)?, row.get(2)?, row.get(3)?);
            let resource_name: Option<String> = row.get(4)?;
            let words = search_words(&event_type, &actor_name, &description, resource_name.as_deref());
            index.execute(params![row.get::<_, i64>(0)?, words])?;
            indexed += 1;
        }
    }
    tx.execute("DELETE FROM audit_meta WHERE key = 'search_index'", [])?;
    tx.commit()?;
    if indexed > 0 {
        tracing::info!(entries = indexed, secs = started.elapsed().as_secs_f64(), "rebuilt the search index");
    }
    Ok(())
}
