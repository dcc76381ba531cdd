//! Search on PostgreSQL: the words of a query as a `tsquery` over the entries' stored
//! words, and per-day counts of search keys (`audit_search_keys`) that answer a one-word
//! search's total and timeline without reading its matches. A GIN index finds the
//! matching entries but cannot count them without visiting each one (hundreds of
//! milliseconds for a common word in a million entries); the counts are read in one
//! index range per word.
//!
//! A search word of three characters or more matches every word it begins (the rules of
//! `crate::search`), so the counts hold, for each entry, every word of it and every
//! beginning of one from three to [`KEY_PREFIX_MAX_CHARS`] characters, each once: the
//! count of key `rot` is the number of entries holding any word that begins with `rot`,
//! which is the number of entries the search `rot` matches. A longer search word is
//! counted exactly only when no longer word begins with it.

use crate::entry::Severity;
use crate::filter::EntryFilter;
use crate::search::PREFIX_MIN_CHARS;
use crate::store::StoreError;
use sqlx::{PgConnection, Postgres, QueryBuilder};

/// PostgreSQL's limit on one lexeme's length, in bytes.
pub const MAX_LEXEME_BYTES: usize = 2047;

/// The longest word beginning that has counts of its own. Longer search words are rarer,
/// and an entry's keys grow with this (about four more per word for each character).
pub const KEY_PREFIX_MAX_CHARS: usize = 8;

/// The search keys of an entry's words (its lexemes): each word, and each of its
/// beginnings of [`PREFIX_MIN_CHARS`] to [`KEY_PREFIX_MAX_CHARS`] characters, once.
/// Sorted (a sorted vector: appends make some thirty per entry, and a set per entry cost
/// more than the rest of the append's own work).
pub fn search_keys<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut keys = Vec::new();
    for word in words.into_iter().filter(|w| !w.is_empty()) {
        keys.push(word);
        for (chars, (end, _)) in word.char_indices().enumerate().skip(PREFIX_MIN_CHARS) {
            if chars > KEY_PREFIX_MAX_CHARS {
                break;
            }
            keys.push(&word[..end]);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// An entry's search words as PostgreSQL stores them: the words both engines index
/// (distinct, space-separated), each cut to the longest lexeme PostgreSQL keeps.
pub fn lexemes(event_type: &str, actor_name: &str, description: &str, resource_name: Option<&str>) -> String {
    let text = crate::search::index_text(&[event_type, actor_name, description, resource_name.unwrap_or("")]);
    if text.split(' ').all(|w| !w.is_empty() && w.len() <= MAX_LEXEME_BYTES) {
        return text;
    }
    // A word can fold to nothing (a combining mark that is also a letter, such as U+0345,
    // starts a word and folds away); PostgreSQL refuses an empty lexeme.
    text.split(' ').filter(|w| !w.is_empty()).map(|w| cut(w, MAX_LEXEME_BYTES)).collect::<Vec<_>>().join(" ")
}

/// The longest prefix of `word` of at most `bytes` bytes that ends on a character.
pub fn cut(word: &str, bytes: usize) -> &str {
    if word.len() <= bytes {
        return word;
    }
    let mut end = bytes;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    &word[..end]
}

/// A filter's search, resolved against the search keys the log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// No search words.
    Any,
    /// A word no entry holds: nothing matches.
    Nothing,
    Words {
        /// The search as a `tsquery` (see [`tsquery`]).
        query: String,
        /// The one key whose counts are exactly the search's matches, if there is one.
        key: Option<String>,
        /// Of several words, the one held by the fewest entries, as a `tsquery` of its own.
        lead: Option<String>,
        /// About how many entries hold the rarest word (a long word's is estimated from
        /// the words it begins), to choose how a search with other filters is counted.
        rarest: u64,
    },
}

impl Resolved {
    /// The key that counts the filter's matches exactly: a one-word search with nothing
    /// but time and severity besides (the counts are per day and severity).
    pub fn counting_key<'a>(&'a self, filter: &EntryFilter) -> Option<&'a str> {
        match self {
            Resolved::Words { key: Some(key), .. }
                if filter.event_types.is_empty() && filter.actor.is_none() && filter.up_to.is_none() =>
            {
                Some(key)
            }
            _ => None,
        }
    }

    /// Writes the search's condition on the entries (` AND …`), for reading every match:
    /// the index intersects the words' entries itself.
    pub fn push_condition(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        match self {
            Resolved::Any => {}
            Resolved::Nothing => {
                qb.push(" AND false");
            }
            Resolved::Words { query, .. } => {
                qb.push(" AND words @@ ").push_bind(query.clone()).push("::tsquery");
            }
        }
    }

    /// Writes the search's condition for a page, the newest matches first. Of several
    /// words, the index is asked for the rarest and every word is checked through
    /// `ts_match_vq` (the function behind `@@`), which the planner does not estimate as a
    /// text search. Estimating all of them together, it multiplies the words' shares as if
    /// words occurred independently, while the words of one search usually come together
    /// (`kv prod payments`: 278 entries estimated, 23,618 found): it then collected and
    /// sorted every match for a page instead of walking the newest entries (1.5 s cold,
    /// 90 ms warm, against 36 ms).
    pub fn push_page_condition(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        match self {
            Resolved::Words { query, lead: Some(lead), .. } => {
                qb.push(" AND words @@ ").push_bind(lead.clone()).push("::tsquery");
                qb.push(" AND ts_match_vq(words, ").push_bind(query.clone()).push("::tsquery)");
            }
            _ => self.push_condition(qb),
        }
    }
}

/// Resolves a filter's search words: whether every word is held by some entry, which key,
/// if any, counts the whole search exactly, and which word is the rarest.
pub async fn resolve(conn: &mut PgConnection, words: &[String]) -> Result<Resolved, StoreError> {
    if words.is_empty() {
        return Ok(Resolved::Any);
    }
    let mut exact_key = None;
    // (entries holding the word, or at most that many, the word)
    let mut held_by: Vec<(i64, &String)> = Vec::with_capacity(words.len());
    for word in words {
        let cut_word = cut(word, MAX_LEXEME_BYTES);
        let chars = cut_word.chars().count();
        // A word up to the longest counted beginning is its own key; a longer one is the
        // beginning of the words it stands for (their counts are an upper bound).
        let entries: i64 = if chars <= KEY_PREFIX_MAX_CHARS {
            sqlx::query_scalar("SELECT coalesce(sum(n), 0)::int8 FROM audit_search_keys WHERE key = $1")
                .bind(cut_word)
                .fetch_one(&mut *conn)
                .await?
        } else {
            sqlx::query_scalar(
                "SELECT coalesce(sum(n), 0)::int8 FROM (SELECT n FROM audit_search_keys \
                 WHERE key >= $1 AND key < $1 || chr(1114111) LIMIT $2) AS words",
            )
            .bind(cut_word)
            .bind(LONG_WORD_ROWS)
            .fetch_one(&mut *conn)
            .await?
        };
        if entries <= 0 {
            return Ok(Resolved::Nothing);
        }
        held_by.push((entries, word));
        if words.len() == 1 {
            let whole_only = chars > KEY_PREFIX_MAX_CHARS && {
                let longer: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM audit_search_keys \
                     WHERE key > $1 AND key < $1 || chr(1114111) AND n > 0)",
                )
                .bind(cut_word)
                .fetch_one(&mut *conn)
                .await?;
                longer
            };
            if !whole_only {
                exact_key = Some(cut_word.to_owned());
            }
        }
    }
    let rarest = held_by.iter().map(|(n, _)| u64::try_from(*n).unwrap_or(0)).min().unwrap_or(0);
    let lead = (words.len() > 1)
        .then(|| held_by.iter().min_by_key(|(n, _)| *n).map(|(_, w)| tsquery(std::slice::from_ref(*w))))
        .flatten();
    Ok(Resolved::Words { query: tsquery(words), key: exact_key, lead, rarest })
}

/// How many count rows a long word's upper bound sums at most.
const LONG_WORD_ROWS: i64 = 10_000;

/// A search's words as a `tsquery`: every word must match; words of three characters or
/// more as prefixes, shorter ones whole (the rules of `crate::search`). The words are
/// quoted lexemes, so PostgreSQL neither splits nor folds them again.
pub fn tsquery(words: &[String]) -> String {
    let terms: Vec<String> = words
        .iter()
        .map(|w| {
            let quoted = format!("'{}'", cut(w, MAX_LEXEME_BYTES).replace('\\', "\\\\").replace('\'', "''"));
            if w.chars().count() >= PREFIX_MIN_CHARS {
                format!("{quoted}:*")
            } else {
                quoted
            }
        })
        .collect();
    terms.join(" & ")
}

/// The severities a filter keeps, as codes (every one when it names none).
fn severity_codes(filter: &EntryFilter) -> Vec<i64> {
    if filter.severities.is_empty() {
        Severity::ALL.iter().map(|s| s.code()).collect()
    } else {
        filter.severities.iter().map(|s| s.code()).collect()
    }
}

/// The key's matches in the whole days `[first_day, end_day)` (either end open), by day
/// and severity code.
pub async fn key_counts(
    conn: &mut PgConnection,
    key: &str,
    filter: &EntryFilter,
    first_day: Option<i64>,
    end_day: Option<i64>,
) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&of_key("day, severity, n"))
        .bind(key)
        .bind(first_day.unwrap_or(i64::MIN))
        .bind(end_day.unwrap_or(i64::MAX))
        .bind(severity_codes(filter))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows)
}

/// The key's matches in the whole days `[first_day, end_day)`.
pub async fn key_total(
    conn: &mut PgConnection,
    key: &str,
    filter: &EntryFilter,
    first_day: Option<i64>,
    end_day: Option<i64>,
) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(&of_key("coalesce(sum(n), 0)::int8"))
        .bind(key)
        .bind(first_day.unwrap_or(i64::MIN))
        .bind(end_day.unwrap_or(i64::MAX))
        .bind(severity_codes(filter))
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The key's matches by day in the whole days `[first_day, end_day)`, newest first:
/// `key_counts` summed over severities, so the counts are bound in one place.
pub async fn key_days(
    conn: &mut PgConnection,
    key: &str,
    filter: &EntryFilter,
    first_day: Option<i64>,
    end_day: Option<i64>,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut by_day = std::collections::BTreeMap::<i64, i64>::new();
    for (day, _severity, n) in key_counts(conn, key, filter, first_day, end_day).await? {
        *by_day.entry(day).or_default() += n;
    }
    Ok(by_day.into_iter().rev().collect())
}

/// A query of `columns` over one key's counts in days `[$2, $3)` of severities `$4`.
fn of_key(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM audit_search_keys \
         WHERE key = $1 AND day >= $2 AND day < $3 AND severity = ANY($4) AND n > 0"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_match_whole_and_longer_ones_as_prefixes() {
        let words = vec!["kv".to_owned(), "müller".to_owned(), "it's".to_owned()];
        assert_eq!(tsquery(&words), "'kv' & 'müller':* & 'it''s':*");
    }

    #[test]
    fn long_words_are_cut_on_a_character_boundary() {
        assert_eq!(cut("abc", 2047), "abc");
        let long = "é".repeat(1500);
        let kept = cut(&long, MAX_LEXEME_BYTES);
        assert_eq!(kept.len(), 2046, "1023 two-byte characters");
        let words = lexemes("a.b", "x", &format!("short {long}"), None);
        assert!(words.split(' ').all(|w| w.len() <= MAX_LEXEME_BYTES), "{}", words.len());
        assert!(words.split(' ').any(|w| w == "short"));
    }

    #[test]
    fn keys_are_each_word_and_its_beginnings_up_to_eight_characters() {
        let keys: Vec<&str> = search_keys(["kv", "rotation", "rotated", "müllerstraße"]).into_iter().collect();
        assert_eq!(
            keys,
            [
                "kv",
                "mül",
                "müll",
                "mülle",
                "müller",
                "müllers",
                "müllerst",
                "müllerstraße",
                "rot",
                "rota",
                "rotat",
                "rotate",
                "rotated",
                "rotati",
                "rotatio",
                "rotation"
            ]
        );
        assert!(search_keys([""]).is_empty());
        assert_eq!(search_keys(["abc"]).into_iter().collect::<Vec<_>>(), ["abc"], "a whole word is its own key");
    }
}
