//! Search: the words of a query resolved against the words the index holds, and a page of
//! a search with no other filter found without collecting every match. For the page,
//! matches are read from the search index newest sequence first, and `ts_high` (the latest
//! time of any entry up to a sequence) tells when no earlier entry can still belong to
//! the page. Entries mostly arrive in time order, so this usually stops after one small
//! read; late-arriving old entries only make it read further, never give a wrong page.

use crate::search::PREFIX_MIN_CHARS;
use crate::store::sql::{search_word, MAX_EXPANSIONS};
use crate::store::StoreError;
use sqlx::SqlitePool;

/// A filter's search, resolved against the words the index holds.
pub(super) enum Search {
    /// No search words.
    Any,
    /// A word that no entry holds: nothing can match.
    Nothing,
    Fts(String),
}

impl Search {
    pub(super) fn fts(&self) -> Option<&str> {
        match self {
            Search::Fts(q) => Some(q),
            _ => None,
        }
    }
}

/// Expands each search word long enough to be a prefix into the indexed words it begins
/// (one lookup in the vocabulary per word); shorter words stay whole words.
pub(super) async fn resolve_search(pool: &SqlitePool, words: &[String]) -> Result<Search, StoreError> {
    if words.is_empty() {
        return Ok(Search::Any);
    }
    // (entries holding the word, its FTS5 expression)
    let mut parts: Vec<(i64, String)> = Vec::with_capacity(words.len());
    for word in words {
        if word.chars().count() < PREFIX_MIN_CHARS {
            // A whole word: nothing to expand. Short words tend to be common, so they
            // follow the expanded words whose rarity is known.
            parts.push((i64::MAX - 1, search_word(word, std::slice::from_ref(word))));
            continue;
        }
        // U+10FFFF sorts after every character that can follow the prefix.
        let terms: Vec<(String, i64)> = sqlx::query_as(
            "SELECT term, doc FROM audit_search_vocab WHERE term >= ?1 AND term < ?1 || char(1114111) \
             ORDER BY term LIMIT ?2",
        )
        .bind(word)
        .bind(i64::try_from(MAX_EXPANSIONS + 1).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
        if terms.is_empty() {
            return Ok(Search::Nothing);
        }
        let names: Vec<String> = terms.iter().map(|(t, _)| t.clone()).collect();
        // A word left as a prefix query (too many expansions) is likely common: put it last.
        let docs = if names.len() > MAX_EXPANSIONS { i64::MAX } else { terms.iter().map(|(_, d)| d).sum() };
        parts.push((docs, search_word(word, &names)));
    }
    // FTS5 intersects fastest when the rarest word leads (measured: about twice as fast).
    parts.sort_by_key(|(docs, _)| *docs);
    let parts: Vec<String> = parts.into_iter().map(|(_, expr)| expr).collect();
    Ok(Search::Fts(parts.join(" AND ")))
}

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
