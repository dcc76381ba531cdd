//! Marking the search words in a row, by the rule the store matches them with.

use crate::filter::word_matches;

/// `text` cut into runs, each flagged when it is the part of a word a search term matched
/// (the term's length for a prefix, the whole word otherwise).
pub fn spans(text: &str, terms: &[String]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut push = |s: &str, marked: bool| {
        if s.is_empty() {
            return;
        }
        match out.last_mut() {
            Some((last, m)) if *m == marked => last.push_str(s),
            _ => out.push((s.to_owned(), marked)),
        }
    };
    if terms.is_empty() {
        push(text, false);
        return out;
    }
    let mut rest = text;
    while !rest.is_empty() {
        // The next word: a run of letters and digits, as the search splits text.
        let start = rest.find(char::is_alphanumeric).unwrap_or(rest.len());
        push(&rest[..start], false);
        rest = &rest[start..];
        let end = rest.find(|c: char| !c.is_alphanumeric()).unwrap_or(rest.len());
        let word = &rest[..end];
        let lower = word.to_lowercase();
        let matched = terms
            .iter()
            .filter(|t| word_matches(t, &lower))
            .map(|t| t.chars().count())
            .max()
            .map(|chars| word.char_indices().nth(chars).map_or(word.len(), |(i, _)| i));
        match matched {
            Some(cut) => {
                push(&word[..cut], true);
                push(&word[cut..], false);
            }
            None => push(word, false),
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, terms: &[&str]) -> String {
        let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
        spans(text, &terms).into_iter().map(|(s, m)| if m { format!("[{s}]") } else { s }).collect()
    }

    #[test]
    fn marks_prefixes_and_whole_short_words_ignoring_case() {
        assert_eq!(marked("Rotation of kv-prod-payments", &["rot", "kv"]), "[Rot]ation of [kv]-prod-payments");
        assert_eq!(marked("kvault kv", &["kv"]), "kvault [kv]");
        assert_eq!(marked("Élan élan", &["éla"]), "[Éla]n [éla]n");
        assert_eq!(marked("nothing here", &["zzz"]), "nothing here");
        assert_eq!(marked("plain", &[]), "plain");
        assert_eq!(marked("", &["a"]), "");
    }
}
