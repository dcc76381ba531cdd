//! The evidence pack: one zip an assessor checks offline, without the server or its
//! database. It holds the PDF report, the CSV, the JSON (each entry with its inclusion
//! proof against the pack's checkpoint), the signed checkpoint, the log's public key, a
//! README, a verifier in Python, and a manifest (the SHA-256 of every other file, the
//! filters, the period, the counts, who generated it and when) whose digest is signed
//! with the log's key in `manifest.sig`.
//!
//! `manifest.sig` is a C2SP signed note, like the checkpoints, whose text names what it
//! signs (its first line can never be a checkpoint's) and the manifest's SHA-256. So a
//! changed byte anywhere is pinned to its file: `manifest.sig` itself no longer verifies;
//! `manifest.json` no longer has the digest the note signs; any other file no longer has
//! the digest the manifest lists ([`verify`]).

mod verify;
mod write;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use verify::{verify_pack, PackCheck, PackProblem};
pub use write::{write_pack, PackContents, PackError};

/// What a manifest says it is; a verifier refuses any other.
pub const FORMAT: &str = "certifyclouds-evidence-pack/1";
/// The first line of the manifest's signed note.
pub const MANIFEST_NOTE_TITLE: &str = "CertifyClouds evidence pack manifest";

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIG: &str = "manifest.sig";
pub const README: &str = "README.txt";
pub const REPORT: &str = "report.pdf";
pub const CSV: &str = "entries.csv";
pub const JSON: &str = "entries.json";
pub const CHECKPOINT: &str = "checkpoint.txt";
pub const PUBLIC_KEY_PEM: &str = "public-key.pem";
pub const VERIFIER_KEY: &str = "verifier-key.txt";

/// The Python verifier and the Ed25519 routine it uses, shipped in every pack for
/// convenience: the files of `docs/` (one copy of each). A careful assessor runs the
/// published ones, not a pack's: a forger could replace these.
pub const SCRIPTS: [(&str, &str); 2] = [
    ("verify_pack.py", include_str!("../../../docs/verify_pack.py")),
    ("ed25519.py", include_str!("../../../docs/ed25519.py")),
];

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// RFC 3339.
    pub generated_at: String,
    /// Who asked for the pack (`alice (admin)`, `token ci-export`).
    pub generated_by: String,
    /// The period, in words.
    pub period: String,
    pub filters: ManifestFilters,
    pub entries: ManifestEntries,
    pub checkpoint: ManifestCheckpoint,
    /// The SHA-256 (hex) of every file of the pack but the manifest and its signature.
    pub files: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFilters {
    /// The export's query string (without `format`), as it was asked.
    pub query: String,
    /// Each filter as the Audit tab shows it.
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntries {
    /// Entries in `entries.json` and `entries.csv` (rows after the header).
    pub count: u64,
    /// The first and last entry ids, when there are entries.
    pub first: Option<String>,
    pub last: Option<String>,
}

/// The checkpoint every proof in the pack is against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCheckpoint {
    pub origin: String,
    pub key_id: String,
    pub size: u64,
    /// Base64, as the checkpoint writes it.
    pub root: String,
    /// RFC 3339.
    pub signed_at: String,
}

/// The text the manifest's signed note signs.
pub fn manifest_note_text(manifest: &[u8]) -> String {
    format!("{MANIFEST_NOTE_TITLE}\nsha256 {}\n", sha256_hex(manifest))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::checkpoint::LogKey;
    use app::integrity::TreeHead;

    fn pack(key: &LogKey, json: &[u8]) -> Vec<u8> {
        let head = TreeHead { size: 0, root: [0; 32] };
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            generated_at: "2025-01-01T00:00:00Z".to_owned(),
            generated_by: "test".to_owned(),
            period: "From the first entry up to the time of this report".to_owned(),
            filters: ManifestFilters { query: String::new(), labels: Vec::new() },
            entries: ManifestEntries { count: 0, first: None, last: None },
            checkpoint: ManifestCheckpoint {
                origin: key.origin().to_owned(),
                key_id: key.key_id(),
                size: 0,
                root: app::checkpoint::b64(&head.root),
                signed_at: "2025-01-01T00:00:00Z".to_owned(),
            },
            files: BTreeMap::new(),
        };
        let contents = PackContents {
            pdf: b"%PDF-".to_vec(),
            csv: b"id\r\n".to_vec(),
            json: json.to_vec(),
            checkpoint_note: key.sign(head).expect("signs"),
            manifest,
            generated_at: "2025-01-01T00:00:00Z".parse().expect("time"),
        };
        write_pack(contents, key).expect("written")
    }

    #[test]
    fn a_pack_verifies_with_its_key_and_names_what_does_not_hold() {
        let key = LogKey::ephemeral("audit.example/log").expect("key");
        let bytes = pack(&key, b"[]\n");
        let checked = verify_pack(&bytes, Some(key.verifier_key())).expect("verifies");
        assert!(checked.key_given && checked.manifest.files.len() == 9);
        // The same pack is the same bytes: the zip is dated when the pack was generated.
        assert_eq!(bytes, pack(&key, b"[]\n"), "a pack is reproducible");

        // A signed pack whose JSON is not entries with proofs (a bug, not tampering: its
        // digest is signed) is refused, naming the file.
        let other = pack(&key, b"[{}]\n");
        let refused = verify_pack(&other, None).expect_err("not a list of entries");
        assert!(refused.to_string().starts_with("entries.json: is not a list of entries"), "{refused}");
    }

    #[test]
    fn the_python_verifier_is_short_uses_the_standard_library_and_is_in_the_docs() {
        let script = SCRIPTS[0].1;
        let lines = script.lines().count();
        assert!(lines <= 100, "docs/verify_pack.py has {lines} lines: at most 100");
        let imports: Vec<&str> =
            script.lines().filter(|l| l.starts_with("import ") || l.starts_with("from ")).collect();
        assert_eq!(
            imports,
            [
                "import base64, hashlib, json, sys, zipfile",
                "from decimal import Decimal",
                "from ed25519 import ed25519_ok"
            ],
            "the standard library and the one Ed25519 routine only"
        );
        // docs/integrity.md holds the verifier itself, the same text.
        let docs = include_str!("../../../docs/integrity.md");
        let block =
            docs.split("```python\n").nth(1).and_then(|rest| rest.split("\n```").next()).expect("a python block");
        assert_eq!(format!("{block}\n"), script, "docs/integrity.md's verifier is docs/verify_pack.py");
    }
}
