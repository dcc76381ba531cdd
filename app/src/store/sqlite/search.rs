//! A page of a search with no other filter, without collecting every match: matches are
//! read from the search index newest sequence first, and `ts_high` (the latest time of
//! any entry up to a sequence) tells when no earlier entry can still belong to the page.
//! Entries mostly arrive in time order, so this usually stops after one small read;
//! late-arriving old entries only make it read further, never give a wrong page.

use crate::store::StoreError;
use sqlx::SqlitePool;

const FIRST_CHUNK: i64 = 256;

/// The sequence numbers of entries `offset..offset + limit` among the search's matches,
/// newest first (by time, then sequence).
pub async fn page_keys(pool: &SqlitePool, fts: &str, offset: u64, limit: u32) -> Result<Vec<i64>, StoreError> {
    let wanted = usize::try_from(offset + u64::from(limit)).unwrap_or(usize::MAX);
    // (ts, seq) of the best matches so far, kept sorted newest first and cut to `wanted`.
    let mut best: Vec<(i64, i64)> = Vec::new();
    let mut below = i64::MAX;
    let mut chunk = FIRST_CHUNK.max(i64::try_from(wanted).unwrap_or(i64::MAX).saturating_mul(2));
    loop {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT e.seq, e.ts, e.ts_high FROM audit_entries e JOIN \
             (SELECT rowid FROM audit_search WHERE audit_search MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3) m \
             ON e.seq = m.rowid ORDER BY e.seq DESC",
        )
        .bind(fts)
        .bind(below)
        .bind(chunk)
        .fetch_all(pool)
        .await?;
        let Some(&(lowest_seq, _, lowest_high)) = rows.last() else { break };
        let exhausted = i64::try_from(rows.len()).unwrap_or(i64::MAX) < chunk;
        best.extend(rows.iter().map(|&(seq, ts, _)| (ts, seq)));
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.truncate(wanted);
        // Every unread match has a smaller sequence, so a time no later than `lowest_high`;
        // one with the same time as the last kept entry sorts after it (smaller sequence).
        let full = best.len() >= wanted && best.last().is_some_and(|&(ts, _)| ts >= lowest_high);
        if exhausted || full {
            break;
        }
        below = lowest_seq;
        chunk = chunk.saturating_mul(4);
    }
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    Ok(best.into_iter().skip(skip).map(|(_, seq)| seq).collect())
}
