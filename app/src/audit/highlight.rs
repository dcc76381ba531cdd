//! Marking the search words in a row, by the rules the store matches them with.

use crate::search::{fold, prefix_end, word_matches, word_ranges};

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
    let mut at = 0;
    for (start, end) in word_ranges(text) {
        push(&text[at..start], false);
        let word = &text[start..end];
        let folded = fold(word);
        let matched = terms.iter().filter(|t| word_matches(t, &folded)).map(|t| t.chars().count()).max();
        match matched {
            Some(chars) => {
                let cut = prefix_end(word, chars);
                push(&word[..cut], true);
                push(&word[cut..], false);
            }
            None => push(word, false),
        }
        at = end;
    }
    push(&text[at..], false);
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
        assert_eq!(marked("Élan élan", &["ela"]), "[Éla]n [éla]n");
        assert_eq!(marked("Zahlung an Müller", &["mull"]), "Zahlung an [Müll]er");
        assert_eq!(marked("nothing here", &["zzz"]), "nothing here");
        assert_eq!(marked("plain", &[]), "plain");
        assert_eq!(marked("", &["a"]), "");
    }
}
