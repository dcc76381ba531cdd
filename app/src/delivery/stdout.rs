//! Log Analytics (container stdout): each entry as one compact JSON line on standard
//! output, for a container log collector (Azure Monitor's Container Insights) to pick up.
//!
//! Every line starts with the marker `{"certifyclouds_audit":"v1",` so that a collector
//! (or a query) tells it from the application's own logs, which go to standard error. A
//! line is kept under 16 KiB (container runtimes split longer lines into pieces): an
//! entry too long loses its details first, then the ends of its long texts, and the line
//! says so in `truncated`; the whole entry stays at `GET /audit/entries/{id}`.

use super::{Outcome, Sender};
use crate::entry::AuditEntry;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// The longest line written, its newline included.
pub const MAX_LINE: usize = 16 * 1024;
/// What long texts are cut to when a line would be too long.
const CUT_TEXT: usize = 1024;

/// Where the lines go.
#[derive(Clone)]
enum Out {
    Process,
    /// Lines kept in memory, for tests.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

pub struct Stdout {
    destination: String,
    out: Out,
}

impl Stdout {
    pub fn new(destination: &str) -> Self {
        Stdout { destination: destination.to_owned(), out: Out::Process }
    }

    /// A sender whose lines are kept in the buffer answered, not printed.
    pub fn captured(destination: &str) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (Stdout { destination: destination.to_owned(), out: Out::Buffer(buffer.clone()) }, buffer)
    }
}

#[async_trait]
impl Sender for Stdout {
    async fn send(&self, batch: &[AuditEntry]) -> Outcome {
        let mut text = String::new();
        for entry in batch {
            text.push_str(&line(entry, &self.destination));
            text.push('\n');
        }
        let out = self.out.clone();
        // One write for the batch, off the async threads: a pipe that is full blocks.
        let written = tokio::task::spawn_blocking(move || match out {
            Out::Process => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
            }
            Out::Buffer(buffer) => {
                buffer.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(text.as_bytes());
                Ok(())
            }
        })
        .await;
        match written {
            Ok(Ok(())) => Outcome::Accepted,
            Ok(Err(e)) => {
                Outcome::Retry { error: format!("writing to standard output failed: {e}"), retry_after: None }
            }
            Err(e) => Outcome::Retry { error: format!("writing to standard output failed: {e}"), retry_after: None },
        }
    }
}

/// An entry as one line (no newline), under [`MAX_LINE`] bytes with its newline.
pub fn line(entry: &AuditEntry, destination: &str) -> String {
    let mut value = serde_json::to_value(entry).unwrap_or(Value::Null);
    let mut truncated: Vec<&str> = Vec::new();
    let make = |value: &Value, truncated: &[&str]| {
        let marker = json!(destination);
        match truncated.is_empty() {
            true => format!(r#"{{"certifyclouds_audit":"v1","destination":{marker},"entry":{value}}}"#),
            false => format!(
                r#"{{"certifyclouds_audit":"v1","destination":{marker},"truncated":{},"entry":{value}}}"#,
                json!(truncated)
            ),
        }
    };
    let mut text = make(&value, &truncated);
    if text.len() < MAX_LINE {
        return text;
    }
    let details_bytes = value.get("details").map_or(0, |d| d.to_string().len());
    value["details"] = json!({"truncated": true, "bytes": details_bytes});
    truncated.push("details");
    text = make(&value, &truncated);
    for field in ["description", "user_agent"] {
        if text.len() < MAX_LINE {
            return text;
        }
        if let Some(long) = value.get(field).and_then(Value::as_str).filter(|t| t.len() > CUT_TEXT) {
            value[field] = json!(cut(long));
            truncated.push(field);
            text = make(&value, &truncated);
        }
    }
    for (outer, inner) in [("actor", "name"), ("resource", "name")] {
        if text.len() < MAX_LINE {
            return text;
        }
        if let Some(long) = value[outer].get(inner).and_then(Value::as_str).filter(|t| t.len() > CUT_TEXT) {
            value[outer][inner] = json!(cut(long));
            truncated.push(if outer == "actor" { "actor.name" } else { "resource.name" });
            text = make(&value, &truncated);
        }
    }
    if text.len() < MAX_LINE {
        return text;
    }
    // Nothing else is long by itself; keep what identifies the entry.
    let stub = json!({
        "id": entry.id, "sequence": entry.sequence, "timestamp": entry.timestamp,
        "event_type": entry.event_type, "severity": entry.severity,
    });
    make(&stub, &["entry"])
}

/// The first [`CUT_TEXT`] bytes of a text (on a character's boundary) and a mark.
fn cut(text: &str) -> String {
    let mut end = CUT_TEXT.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated]", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, ActorType, Severity};

    fn entry(description: &str, details: Value) -> AuditEntry {
        AuditEntry {
            id: "audit-7".into(),
            sequence: 7,
            timestamp: "2025-01-15T10:30:00Z".parse().expect("time"),
            received_at: Some("2025-01-15T10:30:01Z".parse().expect("time")),
            event_type: "secret.read".into(),
            severity: Severity::Info,
            actor: Actor { kind: ActorType::User, id: "u1".into(), name: "ada".into() },
            resource: None,
            description: description.into(),
            details: details.as_object().cloned().unwrap_or_default(),
            ip_address: None,
            user_agent: None,
            ingested_by: None,
            prev_hash: "00".repeat(32),
            hash: "11".repeat(32),
        }
    }

    #[test]
    fn a_line_is_marked_compact_and_parses_back_to_the_entry() {
        let e = entry("Secret read", json!({"vault": "kv-prod"}));
        let text = line(&e, "la");
        assert!(text.starts_with(r#"{"certifyclouds_audit":"v1","destination":"la","entry":{"#), "{text}");
        assert!(!text.contains('\n'));
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(parsed["entry"], serde_json::to_value(&e).expect("JSON"));
        assert!(parsed.get("truncated").is_none());
    }

    #[test]
    fn an_entry_too_long_loses_its_details_then_the_ends_of_its_texts_and_says_so() {
        let big = json!({"blob": "x".repeat(64 * 1024)});
        let text = line(&entry("Secret read", big), "la");
        assert!(text.len() < MAX_LINE);
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(parsed["truncated"], json!(["details"]));
        assert_eq!(parsed["entry"]["details"]["truncated"], true);
        assert_eq!(parsed["entry"]["id"], "audit-7");

        // Four-byte characters: the cut never splits one.
        let long = "𝄞".repeat(5000);
        let text = line(&entry(&long, json!({"blob": "y".repeat(20_000)})), "la");
        assert!(text.len() < MAX_LINE, "{}", text.len());
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(parsed["truncated"], json!(["details", "description"]));
        assert!(parsed["entry"]["description"].as_str().is_some_and(|d| d.ends_with("[truncated]")));
    }

    #[tokio::test]
    async fn a_batch_is_written_as_one_line_per_entry() {
        let (stdout, buffer) = Stdout::captured("la");
        let batch = [entry("one", json!({})), entry("two", json!({}))];
        assert_eq!(stdout.send(&batch).await, Outcome::Accepted);
        let text = String::from_utf8(buffer.lock().expect("lock").clone()).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let second: Value = serde_json::from_str(lines[1]).expect("JSON");
        assert_eq!(second["entry"]["description"], "two");
    }
}
