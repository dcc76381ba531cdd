//! The hash chain: each entry's hash covers its canonical form and the previous entry's
//! hash, so changing, removing or reordering any stored entry breaks every later link.

use crate::integrity::EntryFields;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// SHA-256 over the previous hash and the entry's canonical JSON (fixed key order,
/// details' keys sorted at every depth, no white space). Provenance (`received_at_us`,
/// `ingested_by`) follows `user_agent` in every entry that records it.
pub fn entry_hash(prev: &[u8; 32], fields: &EntryFields<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical(fields).as_bytes());
    hasher.finalize().into()
}

fn canonical(f: &EntryFields<'_>) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "{{\"sequence\":{},\"timestamp_us\":{},\"event_type\":", f.sequence, f.timestamp_micros);
    push_str(&mut out, f.event_type);
    out.push_str(",\"severity\":");
    push_str(&mut out, f.severity.as_str());
    out.push_str(",\"actor\":[");
    push_str(&mut out, f.actor.kind.as_str());
    out.push(',');
    push_str(&mut out, &f.actor.id);
    out.push(',');
    push_str(&mut out, &f.actor.name);
    out.push_str("],\"resource\":");
    match f.resource {
        Some(r) => {
            out.push('[');
            push_str(&mut out, &r.kind);
            out.push(',');
            push_str(&mut out, &r.id);
            out.push(',');
            push_opt(&mut out, r.name.as_deref());
            out.push(']');
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"description\":");
    push_str(&mut out, f.description);
    out.push_str(",\"details\":");
    push_object(&mut out, f.details);
    out.push_str(",\"ip_address\":");
    push_opt(&mut out, f.ip_address);
    out.push_str(",\"user_agent\":");
    push_opt(&mut out, f.user_agent);
    if let Some(received) = f.received_at_micros {
        let _ = write!(out, ",\"received_at_us\":{received},\"ingested_by\":");
        match f.ingested_by {
            Some(token) => {
                let _ = write!(out, "[{},", token.id);
                push_str(&mut out, &token.name);
                out.push(']');
            }
            None => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

fn push_str(out: &mut String, s: &str) {
    // Most strings need no escape: written as they are (what serde_json writes for them),
    // without its allocation; `verify` hashes every string of every entry.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Serializing a &str to JSON cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

fn push_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

fn push_object(out: &mut String, map: &Map<String, Value>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, key);
        out.push(':');
        push_value(out, &map[key]);
    }
    out.push('}');
}

fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => push_object(out, map),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, ActorType, IngestToken, Severity};
    use serde_json::json;

    fn actor() -> Actor {
        Actor { kind: ActorType::User, id: "u1".into(), name: "a@b.c".into() }
    }

    fn fields<'a>(actor: &'a Actor, details: &'a Map<String, Value>) -> EntryFields<'a> {
        EntryFields {
            sequence: 1,
            timestamp_micros: 1_700_000_000_000_000,
            event_type: "auth.logout",
            severity: Severity::Info,
            actor,
            resource: None,
            description: "bye",
            details,
            ip_address: None,
            user_agent: None,
            received_at_micros: Some(1_700_000_000_500_000),
            ingested_by: None,
        }
    }

    #[test]
    fn strings_are_written_exactly_as_serde_json_writes_them() {
        for s in ["plain", "with \"quote\"", "back\\slash", "ctl\u{1}\n", "é ü \u{1F600}", "\u{7f} /", ""] {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).expect("json"), "{s:?}");
        }
    }

    #[test]
    fn key_order_of_details_does_not_matter() {
        let a = actor();
        let d1 = json!({"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}});
        let d2: Map<String, Value> =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}"#).expect("json");
        let d1 = d1.as_object().cloned().unwrap_or_default();
        assert_eq!(entry_hash(&GENESIS_HASH, &fields(&a, &d1)), entry_hash(&GENESIS_HASH, &fields(&a, &d2)));
        assert_eq!(canonical(&fields(&a, &d2)).matches("\"a\":{\"x\":null,\"y\":[1,{\"p\":2,\"q\":1}]}").count(), 1);
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let a = actor();
        let d = Map::new();
        let base = entry_hash(&GENESIS_HASH, &fields(&a, &d));
        assert_ne!(base, entry_hash(&[1; 32], &fields(&a, &d)));
        let mut f = fields(&a, &d);
        f.sequence = 2;
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f));
        let mut f = fields(&a, &d);
        f.timestamp_micros += 1;
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f));
        let mut f = fields(&a, &d);
        f.description = "bye!";
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f));
        let mut f = fields(&a, &d);
        f.ip_address = Some("");
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f), "null and empty differ");
        let mut f = fields(&a, &d);
        f.severity = Severity::Error;
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f));
        let mut f = fields(&a, &d);
        f.received_at_micros = Some(1_700_000_000_500_001);
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f), "when it was received is hashed");
        let token = IngestToken { id: 3, name: "rotation".into() };
        let mut f = fields(&a, &d);
        f.ingested_by = Some(&token);
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f), "which token posted it is hashed");
    }

    #[test]
    fn entries_stored_before_provenance_keep_their_canonical_form() {
        let a = actor();
        let d = Map::new();
        let mut f = fields(&a, &d);
        f.received_at_micros = None;
        assert!(canonical(&f).ends_with(",\"user_agent\":null}"), "{}", canonical(&f));
        let token = IngestToken { id: 3, name: "rotation".into() };
        let mut f = fields(&a, &d);
        f.ingested_by = Some(&token);
        let text = canonical(&f);
        assert!(text.ends_with(",\"received_at_us\":1700000000500000,\"ingested_by\":[3,\"rotation\"]}"), "{text}");
    }
}
