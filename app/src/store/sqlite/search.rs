//! Search: the words of a query resolved against the words the index holds, and a page of
//! a search with no other filter found without collecting every match. For the page,
//! matches are read from the search index newest sequence first, and `ts_high` (the latest
//! time of any entry up to a sequence) tells when no earlier entry can still belong to
//! the page. Entries mostly arrive in time order, so this usually stops after one small
//! read; late-arriving old entries only make it read further, never give a wrong page.

use crate::entry::Severity;
use crate::search::PREFIX_MIN_CHARS;
use crate::store::sql::{search_word, MAX_EXPANSIONS};
use crate::store::StoreError;
use sqlx::SqliteConnection;
use std::collections::HashSet;

/// A filter's search, resolved against the words the index holds.
pub(super) enum Search {
    /// No search words.
    Any,
    /// A word that no entry holds: nothing can match.
    Nothing,
    Fts(Fts),
}

/// A search as an FTS5 query, with what the per-word counts say of its size.
#[derive(Clone)]
pub(super) struct Fts {
    pub expr: String,
    /// At most this many entries match: the entries holding its rarest word
    /// (`u64::MAX` when a word is left as a prefix query and its count is unknown).
    pub estimate: u64,
    /// The one indexed word the whole search stands for, if it is one: its total and
    /// timeline then come from the per-word counts.
    pub term: Option<String>,
}

impl Search {
    pub(super) fn fts(&self) -> Option<&str> {
        match self {
            Search::Fts(fts) => Some(&fts.expr),
            _ => None,
        }
    }

    pub(super) fn term(&self) -> Option<&str> {
        match self {
            Search::Fts(fts) => fts.term.as_deref(),
            _ => None,
        }
    }
}

/// The word the search index holds for an entry of this severity, beside its own words
/// (none for info, the common case: an info search is "neither of the others"). `§` is
/// a word character to the index's tokenizer but never part of a search word, so no
/// search can name these words, nor find entries by them.
pub(super) fn severity_word(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Info => None,
        Severity::Warning => Some("§warning"),
        Severity::Error => Some("§error"),
    }
}

/// What the index holds for an entry: its search words and its severity's word.
pub(super) fn indexed_text(words: &str, severity: Severity) -> String {
    match severity_word(severity) {
        Some(word) if words.is_empty() => word.to_owned(),
        Some(word) => format!("{words} {word}"),
        None => words.to_owned(),
    }
}

/// A search narrowed to entries of some severities, in the index itself; `None` when
/// the severities narrow nothing (none named, or every one).
pub(super) fn with_severities(expr: &str, severities: &[Severity]) -> Option<String> {
    if severities.is_empty() || Severity::ALL.iter().all(|s| severities.contains(s)) {
        return None;
    }
    let quoted = |s: &Severity| severity_word(*s).map(|w| format!("\"{w}\""));
    Some(if severities.contains(&Severity::Info) {
        let left_out: Vec<String> =
            Severity::ALL.iter().filter(|s| !severities.contains(s)).filter_map(quoted).collect();
        format!("({expr}) NOT ({})", left_out.join(" OR "))
    } else {
        let named: Vec<String> = severities.iter().filter_map(quoted).collect();
        format!("({}) AND ({expr})", named.join(" OR "))
    })
}

/// Expands each search word long enough to be a prefix into the indexed words it begins
/// (one range of the per-word counts per word); shorter words stay whole words.
pub(super) async fn resolve_search(conn: &mut SqliteConnection, words: &[String]) -> Result<Search, StoreError> {
    if words.is_empty() {
        return Ok(Search::Any);
    }
    // (entries holding the word, its FTS5 expression, the one term it stands for)
    let mut parts: Vec<(u64, String, Option<String>)> = Vec::with_capacity(words.len());
    for word in words {
        if word.chars().count() < PREFIX_MIN_CHARS {
            // A whole word: a word the index lacks matches nothing.
            let docs: Option<i64> =
                sqlx::query_scalar("SELECT SUM(n) FROM audit_search_terms WHERE term = ?1 HAVING SUM(n) > 0")
                    .bind(word)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some(docs) = docs else { return Ok(Search::Nothing) };
            let expr = search_word(word, std::slice::from_ref(word));
            parts.push((u64::try_from(docs).unwrap_or(0), expr, Some(word.clone())));
            continue;
        }
        // U+10FFFF sorts after every character that can follow the prefix.
        let terms: Vec<(String, i64)> = sqlx::query_as(
            "SELECT term, SUM(n) FROM audit_search_terms WHERE term >= ?1 AND term < ?1 || char(1114111) \
             GROUP BY term HAVING SUM(n) > 0 LIMIT ?2",
        )
        .bind(word)
        .bind(i64::try_from(MAX_EXPANSIONS + 1).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
        if terms.is_empty() {
            return Ok(Search::Nothing);
        }
        let names: Vec<String> = terms.iter().map(|(t, _)| t.clone()).collect();
        // A word left as a prefix query (too many expansions) is likely common: put it last.
        let docs = if names.len() > MAX_EXPANSIONS {
            u64::MAX
        } else {
            terms.iter().map(|(_, d)| u64::try_from(*d).unwrap_or(0)).sum()
        };
        let single = (names.len() == 1).then(|| names[0].clone());
        parts.push((docs, search_word(word, &names), single));
    }
    // FTS5 intersects fastest when the rarest word leads (measured: about twice as fast).
    parts.sort_by_key(|(docs, _, _)| *docs);
    let estimate = parts.first().map_or(u64::MAX, |(docs, _, _)| *docs);
    let term = match parts.as_slice() {
        [(_, _, Some(term))] => Some(term.clone()),
        _ => None,
    };
    let parts: Vec<String> = parts.into_iter().map(|(_, expr, _)| expr).collect();
    Ok(Search::Fts(Fts { expr: parts.join(" AND "), estimate, term }))
}

/// How many entries the search matches, counted in the search index up to `bound`:
/// `(bound, false)` when more match.
pub async fn bounded_count(conn: &mut SqliteConnection, fts: &str, bound: u64) -> Result<(u64, bool), StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT rowid FROM audit_search WHERE audit_search MATCH ?1 LIMIT ?2)",
    )
    .bind(fts)
    .bind(i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX))
    .fetch_one(&mut *conn)
    .await?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(if n > bound { (bound, false) } else { (n, true) })
}

/// Which of `seqs` the search matches. Nearby sequence numbers are looked up as one range
/// of the index's list (reading a match costs far less than a seek), distant ones apart:
/// `density` (the share of entries the search may match) says how far apart is distant.
pub async fn members(
    conn: &mut SqliteConnection,
    fts: &str,
    seqs: &[i64],
    density: f64,
) -> Result<HashSet<i64>, StoreError> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    // A seek costs about as much as reading this many matches of a list.
    let gap = (SEEK_COST_IN_MATCHES / density.clamp(1e-9, 1.0)).min(i64::MAX as f64) as i64;
    let mut found = HashSet::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = i;
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] - last <= gap {
            i += 1;
            last = sorted[i];
        }
        i += 1;
        // Only the candidates come back: the range's other matches stay in SQLite. (`+ 0`:
        // as a constraint FTS5 would look each candidate up alone, a hundred times slower.)
        let cluster = serde_json::to_string(&sorted[start..i]).unwrap_or_default();
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM audit_search WHERE audit_search MATCH ?1 AND rowid >= ?2 AND rowid <= ?3 \
             AND (rowid + 0) IN (SELECT value FROM json_each(?4))",
        )
        .bind(fts)
        .bind(first)
        .bind(last)
        .bind(cluster)
        .fetch_all(&mut *conn)
        .await?;
        found.extend(rows);
    }
    Ok(found)
}

const SEEK_COST_IN_MATCHES: f64 = 1500.0;

/// The smallest sequence number whose `ts_high` is at least `at` (one past the newest
/// when none is): every entry before it is older than `at`. `ts_high` never decreases
/// along the chain, so a binary search over sequence numbers finds it.
pub async fn first_seq_reaching(conn: &mut SqliteConnection, at: i64, head: i64) -> Result<i64, StoreError> {
    let (mut lo, mut hi) = (1_i64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The first entry at or after `mid` (the oldest may have been purged).
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT seq, ts_high FROM audit_entries WHERE seq >= ?1 ORDER BY seq LIMIT 1")
                .bind(mid)
                .fetch_optional(&mut *conn)
                .await?;
        match row {
            Some((seq, high)) if high < at => lo = seq + 1,
            Some(_) => hi = mid,
            None => hi = mid,
        }
    }
    Ok(lo)
}

const FIRST_CHUNK: i64 = 256;

/// The sequence numbers of entries `offset..offset + limit` among the search's matches,
/// newest first (by time, then sequence).
pub async fn page_keys(
    conn: &mut SqliteConnection,
    fts: &str,
    offset: u64,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
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
        .fetch_all(&mut *conn)
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
