//! The second data profile: descriptions written from a small vocabulary of template
//! words, as many products write them ("Rotation of certificate in vault eu-prod
//! failed"). Each part is drawn independently from a few choices, so "rotation",
//! "vault" and "failed" each appear in about a third of all entries, and any two of them
//! together in about a ninth: the common words a search must stay fast for.

use super::draw::Draw;

const OPERATIONS: &[&str] = &["Rotation", "Access", "Sync"];
const OBJECTS: &[&str] = &["of secret", "of certificate", "of key", "request", "job", "policy check"];
const PLACES: &[&str] = &["in vault", "on host", "for tenant"];
const NAMES: &[&str] = &["eu-prod", "us-prod", "staging", "shared", "payments", "identity", "edge", "batch"];
const OUTCOMES: &[&str] = &["failed", "completed", "started"];

/// A description from the template vocabulary.
pub fn description(draw: &mut Draw) -> String {
    let operation = draw.pick(OPERATIONS);
    let object = draw.pick(OBJECTS);
    let place = draw.pick(PLACES);
    let name = draw.pick(NAMES);
    let outcome = draw.pick(OUTCOMES);
    format!("{operation} {object} {place} {name} {outcome}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_common_word_is_in_about_a_third_of_the_descriptions() {
        let mut draw = Draw::new(7);
        let texts: Vec<String> = (0..30_000).map(|_| description(&mut draw)).collect();
        for word in ["rotation", "vault", "failed"] {
            let n = texts.iter().filter(|t| t.to_lowercase().split(' ').any(|w| w == word)).count();
            let share = n as f64 / texts.len() as f64;
            assert!((0.30..0.37).contains(&share), "{word}: {share}");
        }
        let both = texts.iter().filter(|t| t.contains("vault") && t.ends_with("failed")).count();
        let share = both as f64 / texts.len() as f64;
        assert!((0.09..0.13).contains(&share), "vault and failed: {share}");
    }
}
