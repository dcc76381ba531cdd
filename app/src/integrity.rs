//! The log as a Merkle tree (RFC 6962): each entry is a leaf, in sequence order, and the
//! tree's root commits to every entry at once, so a signed root (a checkpoint) lets anyone
//! check an entry, or the whole log, without trusting the database. `docs/integrity.md`
//! says how to compute the same from an export.
//!
//! - An entry's canonical bytes: the members of [`LEAF_MEMBERS`] of the entry as the API
//!   serves it (not the hash chain's `prev_hash` and `hash`), canonicalised as RFC 8785
//!   (JCS) says. The list is fixed: a member the API serves in a later version is not in
//!   the leaf, so no published root ever changes.
//! - Leaf hash: SHA-256(0x00 ‖ canonical bytes); node: SHA-256(0x01 ‖ left ‖ right); the
//!   root of no entries is SHA-256 of nothing.

use crate::entry::AuditEntry;
use std::fmt;
use thiserror::Error;
use tlog_tiles::{node_hash, record_hash, Hash, EMPTY_HASH};

#[derive(Debug, Error)]
pub enum IntegrityError {
    #[error("entry {id} cannot be put in canonical form: {reason}")]
    Canonical { id: String, reason: String },
}

/// The members of a served entry that its leaf covers (docs/integrity.md), each always
/// present (`null` when empty).
pub const LEAF_MEMBERS: [&str; 13] = [
    "id",
    "timestamp",
    "event_type",
    "actor",
    "resource",
    "description",
    "details",
    "severity",
    "ip_address",
    "user_agent",
    "received_at",
    "ingested_by",
    "sequence",
];

/// An entry's canonical bytes: what its leaf hashes.
pub fn canonical_bytes(entry: &AuditEntry) -> Result<Vec<u8>, IntegrityError> {
    let failed = |reason: String| IntegrityError::Canonical { id: entry.id.clone(), reason };
    let mut served = match serde_json::to_value(entry).map_err(|e| failed(e.to_string()))? {
        serde_json::Value::Object(members) => members,
        _ => return Err(failed("an entry is not served as an object".into())),
    };
    let mut leaf = serde_json::Map::new();
    for name in LEAF_MEMBERS {
        let value = served.remove(name).ok_or_else(|| failed(format!("the member {name} is not served")))?;
        leaf.insert(name.to_owned(), value);
    }
    serde_json_canonicalizer::to_vec(&leaf).map_err(|e| failed(e.to_string()))
}

/// An entry's leaf hash: SHA-256(0x00 ‖ its canonical bytes).
pub fn leaf_hash(entry: &AuditEntry) -> Result<[u8; 32], IntegrityError> {
    Ok(record_hash(&canonical_bytes(entry)?).0)
}

/// A tree's size and root: what a checkpoint signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: [u8; 32],
}

impl fmt::Display for TreeHead {
    /// The size and the root in base64, as checkpoints write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "size {}, root {}", self.size, Hash(self.root))
    }
}

/// The root of a tree grown one leaf at a time, in O(log n) memory: the roots of the
/// perfect subtrees that make up the leaves so far (one per 1-bit of the size, largest
/// first), merged as equal ones meet, and folded from the right for the root.
#[derive(Clone, Debug, Default)]
pub struct TreeBuilder {
    size: u64,
    /// (height, root) of each perfect subtree, largest first.
    subtrees: Vec<(u32, Hash)>,
}

impl TreeBuilder {
    /// Adds the next leaf, by its leaf hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        let mut node = (0, Hash(leaf));
        while let Some(&(height, left)) = self.subtrees.last() {
            if height != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (height + 1, node_hash(left, node.1));
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    pub fn head(&self) -> TreeHead {
        let root = self.subtrees.iter().rev().map(|(_, hash)| *hash).reduce(|right, left| node_hash(left, right));
        TreeHead { size: self.size, root: root.unwrap_or(EMPTY_HASH).0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlog_tiles::{stored_hashes_for_record_hash, tree_hash, HashReader};

    /// The stored hashes of the Go sumdb layout, as `tlog_tiles` keeps them: a second,
    /// independent way to the same roots.
    struct Stored(std::cell::RefCell<Vec<Hash>>);

    impl HashReader for Stored {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
            let stored = self.0.borrow();
            Ok(indexes.iter().map(|&i| stored[i as usize]).collect())
        }
    }

    fn leaf(i: u64) -> [u8; 32] {
        record_hash(format!("entry {i}").as_bytes()).0
    }

    #[test]
    fn roots_match_an_independent_rfc_6962_implementation_at_every_size() {
        let stored = Stored(std::cell::RefCell::new(Vec::new()));
        let mut builder = TreeBuilder::default();
        assert_eq!(builder.head(), TreeHead { size: 0, root: EMPTY_HASH.0 }, "no entries: SHA-256 of nothing");
        for n in 0..300u64 {
            let more = stored_hashes_for_record_hash(n, Hash(leaf(n)), &stored).expect("stored hashes");
            stored.0.borrow_mut().extend(more);
            builder.push(leaf(n));
            let expected = tree_hash(n + 1, &stored).expect("root");
            assert_eq!(builder.head(), TreeHead { size: n + 1, root: expected.0 }, "size {}", n + 1);
        }
    }

    #[test]
    fn small_trees_are_the_rfc_6962_formulas() {
        let (a, b, c) = (leaf(0), leaf(1), leaf(2));
        let mut builder = TreeBuilder::default();
        builder.push(a);
        assert_eq!(builder.head().root, a, "one leaf: the leaf");
        builder.push(b);
        let ab = node_hash(Hash(a), Hash(b));
        assert_eq!(builder.head().root, ab.0);
        builder.push(c);
        assert_eq!(builder.head().root, node_hash(ab, Hash(c)).0, "an odd leaf joins at the top");
    }

    #[test]
    fn an_entrys_canonical_bytes_are_its_served_json_in_jcs_without_the_chain_fields() {
        let entry: AuditEntry = serde_json::from_value(serde_json::json!({
            "id": "audit-7", "timestamp": "2026-01-02T03:04:05.123456Z", "event_type": "user.created",
            "actor": {"type": "user", "id": "user-1", "name": "Zoë"},
            "resource": null, "description": "made", "details": {"b": 1, "a": [true, null, 1.5], "é": "x"},
            "severity": "info", "ip_address": null, "user_agent": null,
            "received_at": "2026-01-02T03:04:06Z", "ingested_by": null,
            "sequence": 7, "prev_hash": "00", "hash": "ff"
        }))
        .expect("an entry");
        let bytes = String::from_utf8(canonical_bytes(&entry).expect("canonical")).expect("utf-8");
        assert_eq!(
            bytes,
            r#"{"actor":{"id":"user-1","name":"Zoë","type":"user"},"description":"made","details":{"a":[true,null,1.5],"b":1,"é":"x"},"event_type":"user.created","id":"audit-7","ingested_by":null,"ip_address":null,"received_at":"2026-01-02T03:04:06Z","resource":null,"sequence":7,"severity":"info","timestamp":"2026-01-02T03:04:05.123456Z","user_agent":null}"#
        );
        let mut other = entry.clone();
        other.hash = "00".into();
        assert_eq!(
            leaf_hash(&other).expect("hash"),
            leaf_hash(&entry).expect("hash"),
            "the chain's fields are not content"
        );
        other.details.insert("b".into(), serde_json::json!(2));
        assert_ne!(leaf_hash(&other).expect("hash"), leaf_hash(&entry).expect("hash"));
    }
}
