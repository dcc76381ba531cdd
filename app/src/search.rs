//! The search rules, defined once here for every place that searches: the store indexes
//! the words this module makes (it does not tokenize on its own), the live stream and the
//! Audit tab's highlighting match with the same functions. So `müller`, `Muller` and
//! `MÜLLER` find the same entries in the list, the count, the timeline, the export and
//! the live stream alike.
//!
//! A word is a run of letters and digits (a combining mark continues the word it
//! follows). Words are folded: decomposed (Unicode NFD), their marks dropped, lower-cased;
//! so `Crème` is `creme` and `Ærø` is `ærø` (letters that are not a base letter with
//! marks stay as they are).

use unicode::{is_combining_mark, strip_marks};

/// Search words shorter than this match whole words only: a one- or two-letter prefix
/// stands for thousands of words (so it would be slow and match nearly everything),
/// while short whole words such as `kv` or `id` are exactly what people look for.
pub const PREFIX_MIN_CHARS: usize = 3;

/// At most this many words of a query are used.
pub const MAX_QUERY_WORDS: usize = 16;

/// A word as the index holds it.
pub fn fold(word: &str) -> String {
    // Most words are ASCII, where folding is lower-casing: skip the Unicode tables.
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    strip_marks(word).chars().flat_map(char::to_lowercase).collect()
}

/// Unicode decomposition and the combining marks: on the server from the crate's tables;
/// in the browser from its own (`String.prototype.normalize`, `\p{M}`), so that the page
/// need not carry them (they would be a tenth of the WASM).
#[cfg(not(feature = "hydrate"))]
mod unicode {
    pub use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;

    /// The word decomposed, without its marks.
    pub fn strip_marks(word: &str) -> String {
        word.nfd().filter(|c| !is_combining_mark(*c)).collect()
    }
}

#[cfg(feature = "hydrate")]
mod unicode {
    use js_sys::{JsString, RegExp};

    pub fn strip_marks(word: &str) -> String {
        let marks = RegExp::new("\\p{M}", "gu");
        JsString::from(word).normalize("NFD").replace_by_pattern(&marks, "").into()
    }

    pub fn is_combining_mark(c: char) -> bool {
        RegExp::new("^\\p{M}$", "u").test(c.encode_utf8(&mut [0; 4]))
    }
}

/// The byte ranges of the words of `text`, unfolded.
pub fn word_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let continues = c.is_alphanumeric() || (start.is_some() && !c.is_ascii() && is_combining_mark(c));
        match (continues, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// The folded words of `text`, in order (repeats kept).
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    word_ranges(text).into_iter().map(move |(s, e)| fold(&text[s..e]))
}

/// The words of a search query: folded, without repeats, at most [`MAX_QUERY_WORDS`].
pub fn query_words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words(q) {
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out.truncate(MAX_QUERY_WORDS);
    out
}

/// Whether a (folded) search word matches a (folded) word of an entry: as a prefix once
/// it is [`PREFIX_MIN_CHARS`] long (so results follow the typing), whole before that.
pub fn word_matches(term: &str, word: &str) -> bool {
    if term.chars().count() >= PREFIX_MIN_CHARS {
        word.starts_with(term)
    } else {
        word == term
    }
}

/// Whether every search word matches a word of one of the texts.
pub fn all_match(terms: &[String], texts: &[&str]) -> bool {
    if terms.is_empty() {
        return true;
    }
    let words: Vec<String> = texts.iter().flat_map(|t| words(t)).collect();
    terms.iter().all(|term| words.iter().any(|w| word_matches(term, w)))
}

/// What the index holds for an entry's searchable texts: its distinct folded words,
/// separated by spaces. Every word consists of letters and digits, so the index's own
/// tokenizer (ASCII rules, every other character part of a word) splits it back into
/// exactly these words.
pub fn index_text(texts: &[&str]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for word in texts.iter().flat_map(|t| words(t)) {
        if !seen.contains(&word) {
            seen.push(word);
        }
    }
    seen.join(" ")
}

/// Where, in an unfolded word, the part that folds to its first `folded_chars`
/// characters ends (for highlighting a matched prefix).
pub fn prefix_end(word: &str, folded_chars: usize) -> usize {
    let mut count = 0;
    for (i, c) in word.char_indices() {
        if count >= folded_chars && !is_combining_mark(c) {
            return i;
        }
        count += fold(c.encode_utf8(&mut [0; 4])).chars().count();
    }
    word.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_fold_and_case_folds() {
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("MÜLLER"), "muller");
        assert_eq!(fold("Crème"), "creme");
        assert_eq!(fold("Ærø"), "ærø");
        assert_eq!(fold("Ἄλφα"), "αλφα");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("Mu\u{308}ller"), "muller", "decomposed text folds the same");
    }

    #[test]
    fn words_are_runs_of_letters_and_digits_and_marks_continue_them() {
        let w: Vec<String> = words("Zahlung an Müller: kv-prod-payments, admin@company.com").collect();
        assert_eq!(w, ["zahlung", "an", "muller", "kv", "prod", "payments", "admin", "company", "com"]);
        let w: Vec<String> = words("Mu\u{308}ller \u{301}x").collect();
        assert_eq!(w, ["muller", "x"], "a leading mark is no word");
    }

    #[test]
    fn queries_fold_dedup_and_are_capped() {
        assert_eq!(query_words("Müller muller MULLER kv"), ["muller", "kv"]);
        let long: String = (0..40).map(|i| format!("w{i} ")).collect();
        assert_eq!(query_words(&long).len(), MAX_QUERY_WORDS);
    }

    #[test]
    fn short_words_match_whole_words_and_longer_ones_prefixes() {
        assert!(word_matches("kv", "kv"));
        assert!(!word_matches("kv", "kvault"));
        assert!(!word_matches("ro", "rotation"));
        assert!(word_matches("rot", "rotation"));
        assert!(!word_matches("rotations", "rotation"));
        // Characters, not bytes: "éé" is two letters, so it stays a whole word.
        assert!(!word_matches("éé", "ééx"));
        assert!(word_matches("ééé", "éééx"));
        assert!(all_match(&query_words("müller zahl"), &["Zahlung an Muller"]));
        assert!(!all_match(&query_words("müller x"), &["Zahlung an Muller"]));
    }

    #[test]
    fn the_index_text_splits_back_into_the_same_words() {
        let text = index_text(&["auth.login.failed", "Müller", "Login failed for MÜLLER (kv-prod)", ""]);
        assert_eq!(text, "auth login failed muller for kv prod");
        assert!(text.split(' ').all(|w| w.chars().all(char::is_alphanumeric)));
    }

    #[test]
    fn a_matched_prefix_ends_where_its_folded_letters_do() {
        assert_eq!(prefix_end("Müller", 3), "Mül".len());
        assert_eq!(prefix_end("Mu\u{308}ller", 3), "Mu\u{308}l".len());
        assert_eq!(prefix_end("abc", 5), 3);
    }
}
