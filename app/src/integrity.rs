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

use crate::entry::{Actor, AuditEntry, IngestToken, Resource, Severity};
use crate::ingest::ValidEntry;
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value};
use std::fmt;
use tlog_tiles::{
    check_record, check_tree, node_hash, prove_record, prove_tree, record_hash, split_stored_hash_index, tree_hash,
    Hash, HashReader, EMPTY_HASH,
};

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

/// The fields of an entry that its chain hash and its leaf cover, borrowed from wherever
/// the entry lives (a new entry about to be appended, a stored one, a served one).
pub struct EntryFields<'a> {
    pub sequence: u64,
    pub timestamp_micros: i64,
    pub event_type: &'a str,
    pub severity: Severity,
    pub actor: &'a Actor,
    pub resource: Option<&'a Resource>,
    pub description: &'a str,
    pub details: &'a Map<String, Value>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// When the server received the entry; `None` only for entries stored before
    /// provenance was recorded, whose canonical form has neither provenance field.
    pub received_at_micros: Option<i64>,
    pub ingested_by: Option<&'a IngestToken>,
}

impl<'a> EntryFields<'a> {
    /// The fields of an entry about to be appended at `sequence`.
    pub fn of_new(entry: &'a ValidEntry, sequence: u64) -> Self {
        EntryFields {
            sequence,
            timestamp_micros: entry.timestamp.timestamp_micros(),
            event_type: &entry.event_type,
            severity: entry.severity,
            actor: &entry.actor,
            resource: entry.resource.as_ref(),
            description: &entry.description,
            details: &entry.details,
            ip_address: entry.ip_address.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            received_at_micros: Some(entry.received_at.timestamp_micros()),
            ingested_by: entry.ingested_by.as_ref(),
        }
    }

    /// The fields of a stored entry, to check its hash.
    pub fn of_stored(entry: &'a AuditEntry) -> Self {
        EntryFields {
            sequence: entry.sequence,
            timestamp_micros: entry.timestamp.timestamp_micros(),
            event_type: &entry.event_type,
            severity: entry.severity,
            actor: &entry.actor,
            resource: entry.resource.as_ref(),
            description: &entry.description,
            details: &entry.details,
            ip_address: entry.ip_address.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            received_at_micros: entry.received_at.map(|t| t.timestamp_micros()),
            ingested_by: entry.ingested_by.as_ref(),
        }
    }
}

/// An entry's canonical bytes: its [`LEAF_MEMBERS`] as the API serves them, in RFC 8785
/// (JCS) form. Written directly rather than through a JSON value and a generic
/// canonicaliser (about ten times the work, measured in `make bench`); a test holds it to
/// the generic canonicaliser on entries made to be awkward. Members are written in JCS
/// order: keys sorted by their UTF-16 code units.
pub fn canonical_bytes(f: &EntryFields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"actor\":{\"id\":");
    string(&mut out, &f.actor.id);
    out.extend_from_slice(b",\"name\":");
    string(&mut out, &f.actor.name);
    out.extend_from_slice(b",\"type\":");
    string(&mut out, f.actor.kind.as_str());
    out.extend_from_slice(b"},\"description\":");
    string(&mut out, f.description);
    out.extend_from_slice(b",\"details\":");
    object(&mut out, f.details);
    out.extend_from_slice(b",\"event_type\":");
    string(&mut out, f.event_type);
    out.extend_from_slice(format!(",\"id\":\"audit-{}\",\"ingested_by\":", f.sequence).as_bytes());
    match f.ingested_by {
        Some(token) => {
            out.extend_from_slice(format!("{{\"id\":{},\"name\":", token.id).as_bytes());
            string(&mut out, &token.name);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"ip_address\":");
    optional(&mut out, f.ip_address);
    out.extend_from_slice(b",\"received_at\":");
    match f.received_at_micros {
        Some(micros) => time(&mut out, micros),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"resource\":");
    match f.resource {
        Some(r) => {
            out.extend_from_slice(b"{\"id\":");
            string(&mut out, &r.id);
            // The API leaves out a resource's name when it has none.
            if let Some(name) = &r.name {
                out.extend_from_slice(b",\"name\":");
                string(&mut out, name);
            }
            out.extend_from_slice(b",\"type\":");
            string(&mut out, &r.kind);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(format!(",\"sequence\":{},\"severity\":", f.sequence).as_bytes());
    string(&mut out, f.severity.as_str());
    out.extend_from_slice(b",\"timestamp\":");
    time(&mut out, f.timestamp_micros);
    out.extend_from_slice(b",\"user_agent\":");
    optional(&mut out, f.user_agent);
    out.push(b'}');
    out
}

/// A JSON string. serde_json escapes exactly what JCS does (`"`, `\\`, the control
/// characters, the short forms where they exist, `\u00xx` in lower case) and nothing else.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn optional(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A time as the API serves it: RFC 3339 in UTC (`Z`), with 0, 3 or 6 digits of
/// fraction, as few as hold it exactly.
fn time(out: &mut Vec<u8>, micros: i64) {
    match DateTime::from_timestamp_micros(micros) {
        Some(at) => string(out, &at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        // A stored time is always in chrono's range (it was read as one); were it not,
        // the number itself is still a commitment to it.
        None => out.extend_from_slice(micros.to_string().as_bytes()),
    }
}

/// A details object, its keys in JCS order (UTF-16 code units, which differs from
/// Rust's byte order only for keys with characters past U+FFFF).
fn object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        json(out, value);
    }
    out.push(b'}');
}

/// The largest integer JCS writes digit for digit (beyond it, a number is an IEEE double).
const EXACT_INTEGER: u64 = (1 << 53) - 1;

fn json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => object(out, map),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(out, item);
            }
            out.push(b']');
        }
        Value::String(s) => string(out, s),
        Value::Number(n) if n.as_i64().is_some_and(|i| i.unsigned_abs() <= EXACT_INTEGER) => {
            out.extend_from_slice(n.to_string().as_bytes());
        }
        // Fractions and huge integers as ECMAScript writes doubles: the canonicaliser's
        // job. It cannot fail on a number serde_json holds (never NaN or infinite).
        Value::Number(n) => match serde_json_canonicalizer::to_vec(n) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(_) => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

/// An entry's leaf hash: SHA-256(0x00 ‖ its canonical bytes).
pub fn leaf_hash(fields: &EntryFields<'_>) -> [u8; 32] {
    record_hash(&canonical_bytes(fields)).0
}

/// A served (or stored) entry's leaf hash.
pub fn entry_leaf_hash(entry: &AuditEntry) -> [u8; 32] {
    leaf_hash(&EntryFields::of_stored(entry))
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
/// first), merged as equal ones meet, and folded from the right for the root. Held by a
/// writer, it is also the frontier from which each new leaf's stored hashes are made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeBuilder {
    size: u64,
    /// (height, root) of each perfect subtree, largest first.
    subtrees: Vec<(u8, Hash)>,
}

impl TreeBuilder {
    /// Adds the next leaf, by its leaf hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        self.grow(leaf, |_| {});
    }

    /// Adds the next leaf and appends to `row` the hashes it completes (its stored row,
    /// see [`stored_at`]): the leaf, then each perfect subtree it closes, smallest first.
    pub fn push_stored(&mut self, leaf: [u8; 32], row: &mut Vec<u8>) {
        self.grow(leaf, |hash| row.extend_from_slice(&hash.0));
    }

    fn grow(&mut self, leaf: [u8; 32], mut completed: impl FnMut(Hash)) {
        let mut node = (0, Hash(leaf));
        completed(node.1);
        while let Some(&(height, left)) = self.subtrees.last() {
            if height != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (height + 1, node_hash(left, node.1));
            completed(node.1);
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn head(&self) -> TreeHead {
        let root = self.subtrees.iter().rev().map(|(_, hash)| *hash).reduce(|right, left| node_hash(left, right));
        TreeHead { size: self.size, root: root.unwrap_or(EMPTY_HASH).0 }
    }

    /// Where the frontier of a tree of `size` leaves is stored: (row, offset) of each
    /// perfect subtree, largest first.
    pub fn frontier_at(size: u64) -> Vec<(u64, usize)> {
        let mut start = 0;
        let mut places = Vec::new();
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                places.push(stored_at(level, start >> level));
                start += 1 << level;
            }
        }
        places
    }

    /// The builder of a tree of `size` leaves from its frontier's hashes, in the order
    /// [`TreeBuilder::frontier_at`] gives their places.
    pub fn from_frontier(size: u64, hashes: &[[u8; 32]]) -> Option<Self> {
        let levels = (0..64u8).rev().filter(|level| size & (1 << level) != 0);
        let subtrees: Vec<(u8, Hash)> = levels.zip(hashes).map(|(level, hash)| (level, Hash(*hash))).collect();
        (subtrees.len() == hashes.len() && subtrees.len() == size.count_ones() as usize)
            .then_some(TreeBuilder { size, subtrees })
    }
}

/// Where a stored hash lives: the hash of the perfect subtree of height `level` with
/// index `j` (covering leaves `j·2^level` to `(j+1)·2^level − 1`) is completed by the
/// entry whose sequence number is `(j+1)·2^level`, and kept in that entry's row of the
/// tree table at offset `level` (in hashes). An entry's row holds
/// `trailing_zeros(sequence) + 1` hashes: about two per entry.
pub fn stored_at(level: u8, j: u64) -> (u64, usize) {
    ((j + 1) << level, usize::from(level))
}

/// Stored rows of the tree table by sequence number, read for one computation.
#[derive(Debug, Default)]
pub struct StoredRows(pub std::collections::HashMap<u64, Vec<u8>>);

impl StoredRows {
    fn hash(&self, (row, offset): (u64, usize)) -> Option<Hash> {
        let bytes = self.0.get(&row)?.get(offset * 32..offset * 32 + 32)?;
        Some(Hash(bytes.try_into().ok()?))
    }

    /// The frontier hashes of a tree of `size` leaves, if every row is here.
    pub fn frontier(&self, size: u64) -> Option<TreeBuilder> {
        let hashes: Option<Vec<[u8; 32]>> =
            TreeBuilder::frontier_at(size).into_iter().map(|place| self.hash(place).map(|h| h.0)).collect();
        TreeBuilder::from_frontier(size, &hashes?)
    }
}

impl HashReader for StoredRows {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                let (level, j) = split_stored_hash_index(index);
                self.hash(stored_at(level, j)).ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Records which rows a computation reads and answers zeros: which hashes a proof or a
/// root needs depends only on the sizes, never on the hashes' values, so one dry run
/// names every row to fetch (O(log n) of them) before the real run.
#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut rows = self.0.borrow_mut();
        for &index in indexes {
            let (level, j) = split_stored_hash_index(index);
            rows.push(stored_at(level, j).0);
        }
        Ok(vec![Hash([0; 32]); indexes.len()])
    }
}

impl Recorder {
    fn rows(self) -> Vec<u64> {
        let mut rows = self.0.into_inner();
        rows.sort_unstable();
        rows.dedup();
        rows
    }
}

/// What can be asked of the stored tree: each answer is computed from the rows that
/// [`TreeQuery::rows`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeQuery {
    /// The root of the first `size` leaves.
    Root { size: u64 },
    /// The inclusion proof of leaf `index` (from 0) in the tree of `size` leaves.
    Inclusion { index: u64, size: u64 },
    /// The consistency proof of the tree of `from` leaves with the tree of `to`.
    Consistency { from: u64, to: u64 },
}

impl TreeQuery {
    /// The rows the answer is computed from.
    pub fn rows(self) -> Result<Vec<u64>, tlog_tiles::Error> {
        let recorder = Recorder::default();
        self.run(&recorder)?;
        Ok(recorder.rows())
    }

    /// The answer from stored rows: the root alone, or the proof's hashes in order.
    pub fn answer(self, rows: &StoredRows) -> Result<Vec<[u8; 32]>, tlog_tiles::Error> {
        Ok(self.run(rows)?.into_iter().map(|h| h.0).collect())
    }

    fn run<R: HashReader>(self, reader: &R) -> Result<Vec<Hash>, tlog_tiles::Error> {
        match self {
            TreeQuery::Root { size } => Ok(vec![tree_hash(size, reader)?]),
            TreeQuery::Inclusion { index, size } => prove_record(size, index, reader),
            // An empty tree is a prefix of every tree, with nothing to prove.
            TreeQuery::Consistency { from: 0, .. } => Ok(Vec::new()),
            TreeQuery::Consistency { from, to } => prove_tree(to, from, reader),
        }
    }
}

/// Checks an inclusion proof: that the leaf with `leaf_hash` is leaf `index` of the tree
/// of `size` leaves whose root is `root`.
pub fn check_inclusion(proof: &[[u8; 32]], index: u64, size: u64, root: [u8; 32], leaf: [u8; 32]) -> bool {
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_record(&proof, size, Hash(root), index, Hash(leaf)).is_ok()
}

/// Checks a consistency proof: that the tree `from` is a prefix of the tree `to`.
pub fn check_consistency(proof: &[[u8; 32]], from: TreeHead, to: TreeHead) -> bool {
    if from.size == 0 {
        return proof.is_empty();
    }
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_tree(&proof, to.size, Hash(to.root), from.size, Hash(from.root)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ActorType;
    use tlog_tiles::stored_hashes_for_record_hash;

    /// The stored hashes in the Go sumdb layout, as `tlog_tiles` keeps them: a second,
    /// independent way to the same roots and rows.
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
    fn roots_and_stored_rows_match_an_independent_rfc_6962_implementation_at_every_size() {
        let stored = Stored(std::cell::RefCell::new(Vec::new()));
        let mut builder = TreeBuilder::default();
        let mut rows = StoredRows::default();
        assert_eq!(builder.head(), TreeHead { size: 0, root: EMPTY_HASH.0 }, "no entries: SHA-256 of nothing");
        for n in 0..300u64 {
            let more = stored_hashes_for_record_hash(n, Hash(leaf(n)), &stored).expect("stored hashes");
            let mut row = Vec::new();
            builder.push_stored(leaf(n), &mut row);
            assert_eq!(row, more.iter().flat_map(|h| h.0).collect::<Vec<u8>>(), "row of entry {}", n + 1);
            assert_eq!(row.len(), 32 * ((n + 1).trailing_zeros() as usize + 1));
            stored.0.borrow_mut().extend(more);
            rows.0.insert(n + 1, row);
            let expected = tree_hash(n + 1, &stored).expect("root");
            assert_eq!(builder.head(), TreeHead { size: n + 1, root: expected.0 }, "size {}", n + 1);
            assert_eq!(rows.frontier(n + 1).as_ref(), Some(&builder), "the frontier is read back from the rows");
            let root = TreeQuery::Root { size: n + 1 };
            assert_eq!(root.answer(&rows).expect("root"), vec![expected.0]);
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
    fn proofs_read_only_the_rows_they_name_and_check() {
        let mut builder = TreeBuilder::default();
        let mut all = StoredRows::default();
        let mut heads = vec![builder.head()];
        for n in 0..100u64 {
            let mut row = Vec::new();
            builder.push_stored(leaf(n), &mut row);
            all.0.insert(n + 1, row);
            heads.push(builder.head());
        }
        // Only the named rows: a proof that needed another would fail here.
        let only = |query: TreeQuery| {
            let rows = query.rows().expect("rows");
            assert!(rows.len() <= 2 * 8, "{query:?} reads {} rows", rows.len());
            StoredRows(rows.iter().map(|r| (*r, all.0[r].clone())).collect())
        };
        for size in [1u64, 2, 3, 7, 8, 64, 65, 99, 100] {
            for index in [0, size / 2, size - 1] {
                let query = TreeQuery::Inclusion { index, size };
                let proof = query.answer(&only(query)).expect("proof");
                let root = heads[size as usize].root;
                assert!(check_inclusion(&proof, index, size, root, leaf(index)), "{index} in {size}");
                assert!(!check_inclusion(&proof, index, size, root, leaf(index + 1)), "another leaf");
            }
            for from in [0, 1, size / 2, size] {
                let query = TreeQuery::Consistency { from, to: size };
                let proof = query.answer(&only(query)).expect("proof");
                let (old, new) = (heads[from as usize], heads[size as usize]);
                assert!(check_consistency(&proof, old, new), "{from} to {size}");
                if from > 0 && from < size {
                    let forged = TreeHead { root: leaf(7), ..old };
                    assert!(!check_consistency(&proof, forged, new), "another old root");
                }
            }
        }
        assert!(TreeQuery::Inclusion { index: 5, size: 5 }.rows().is_err(), "no leaf 5 in 5 leaves");
        assert!(TreeQuery::Consistency { from: 6, to: 5 }.rows().is_err(), "a tree does not shrink");
    }

    fn served(entry: &AuditEntry) -> Vec<u8> {
        let serde_json::Value::Object(mut served) = serde_json::to_value(entry).expect("served") else {
            panic!("an entry is an object")
        };
        let leaf: Map<String, Value> =
            LEAF_MEMBERS.iter().map(|m| ((*m).to_owned(), served.remove(*m).expect("member"))).collect();
        serde_json_canonicalizer::to_vec(&leaf).expect("jcs")
    }

    fn awkward(i: u64) -> AuditEntry {
        let texts = [
            "",
            "plain",
            "Zoë \u{1F600} \u{E000}",
            "quote \" back \\ slash /",
            "\u{0}\u{1f}\u{7f}\n\t\r\u{8}\u{c}",
            "<&>'",
        ];
        let text = |k: u64| texts[((i + k) % texts.len() as u64) as usize].to_owned();
        let details = serde_json::json!({
            text(1): text(2), "\u{10000}": 1, "\u{FFFF}": 2, "n": [1.5, -0.0, 1e21, 1e-7, 100.0, -9007199254740991i64,
            9007199254740993u64, 0.1, 5e-324], "deep": {"b": {"z": null, "a": true}, "a": false}, "i": i
        });
        let micros = [0i64, 123_000, 123_456][(i % 3) as usize];
        AuditEntry {
            id: format!("audit-{i}"),
            timestamp: DateTime::from_timestamp_micros(1_767_225_600_000_000 + micros).expect("time"),
            event_type: "user.created".into(),
            actor: Actor { kind: ActorType::User, id: text(3), name: text(4) },
            resource: match i % 3 {
                0 => None,
                1 => Some(Resource { kind: "secret".into(), id: text(5), name: None }),
                _ => Some(Resource { kind: "secret".into(), id: text(5), name: Some(text(6)) }),
            },
            description: text(7),
            details: details.as_object().cloned().expect("object"),
            severity: Severity::Warning,
            ip_address: i.is_multiple_of(2).then(|| "10.0.0.1".into()),
            user_agent: (i % 2 == 1).then(|| text(8)),
            received_at: (!i.is_multiple_of(4))
                .then(|| DateTime::from_timestamp_micros(1_767_225_601_000_000 + micros))
                .flatten(),
            ingested_by: i.is_multiple_of(2).then(|| IngestToken { id: 4, name: text(9) }),
            sequence: i,
            prev_hash: "00".into(),
            hash: "ff".into(),
        }
    }

    #[test]
    fn canonical_bytes_are_the_served_members_as_a_generic_jcs_canonicaliser_writes_them() {
        for i in 1..40 {
            let entry = awkward(i);
            let direct = canonical_bytes(&EntryFields::of_stored(&entry));
            assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&served(&entry)), "entry {i}");
        }
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
        let bytes = String::from_utf8(canonical_bytes(&EntryFields::of_stored(&entry))).expect("utf-8");
        assert_eq!(
            bytes,
            r#"{"actor":{"id":"user-1","name":"Zoë","type":"user"},"description":"made","details":{"a":[true,null,1.5],"b":1,"é":"x"},"event_type":"user.created","id":"audit-7","ingested_by":null,"ip_address":null,"received_at":"2026-01-02T03:04:06Z","resource":null,"sequence":7,"severity":"info","timestamp":"2026-01-02T03:04:05.123456Z","user_agent":null}"#
        );
        let mut other = entry.clone();
        other.hash = "00".into();
        assert_eq!(entry_leaf_hash(&other), entry_leaf_hash(&entry), "the chain's fields are not content");
        other.details.insert("b".into(), serde_json::json!(2));
        assert_ne!(entry_leaf_hash(&other), entry_leaf_hash(&entry));
    }
}
