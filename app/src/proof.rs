//! What the integrity API and the Integrity page show of the tree, its checkpoints and its
//! proofs: one definition for the server and the browser. Hashes are base64 (standard, with
//! padding), as checkpoints write the root.

use crate::entry::AuditEntry;
use serde::{Deserialize, Serialize};

/// The log's public key, in the forms verifiers take.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyView {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The log's origin: the first line of its checkpoints and its key's name.
    pub origin: String,
    /// The signed-note key id (hex).
    pub key_id: String,
    /// `<origin>+<key id>+<base64 of 0x01 ‖ key>`: what signed-note tools take.
    pub verifier_key: String,
    /// The raw 32-byte key, base64.
    pub public_key: String,
    /// The key as PEM (SubjectPublicKeyInfo), for `openssl pkeyutl -verify`.
    pub public_key_pem: String,
}

/// A signed checkpoint.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointView {
    /// How many entries the tree holds (entries `audit-1` to `audit-<size>`).
    pub size: u64,
    /// The tree's root hash.
    pub root: String,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
    /// The C2SP signed note: `<origin>\n<size>\n<root>\n\n— <origin> <signature>\n`.
    pub note: String,
}

/// Checkpoints after a tree size, smallest first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointList {
    pub checkpoints: Vec<CheckpointView>,
    /// The `after` for the next page, when there may be more.
    pub next_after: Option<u64>,
}

/// That an entry is in the tree of a given size (RFC 6962 audit path).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProofView {
    /// The entry's id (`audit-N`); its leaf index is N − 1.
    pub id: String,
    pub leaf_index: u64,
    /// SHA-256(0x00 ‖ the entry's canonical bytes).
    pub leaf_hash: String,
    /// The size of the tree the proof is against.
    pub tree_size: u64,
    /// That tree's root.
    pub root: String,
    /// The audit path, from the leaf's sibling up.
    pub proof: Vec<String>,
    /// The signed checkpoint of that size, when one was signed.
    pub checkpoint: Option<CheckpointView>,
}

/// That the tree of `from` entries is a prefix of the tree of `to` (RFC 6962).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProofView {
    pub from: u64,
    pub to: u64,
    pub from_root: String,
    pub to_root: String,
    pub proof: Vec<String>,
    pub from_checkpoint: Option<CheckpointView>,
    pub to_checkpoint: Option<CheckpointView>,
}

/// One verification run, as recorded in the log (`integrity.verified` or
/// `integrity.failed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    /// The entry that records it (`audit-N`).
    pub entry_id: String,
    /// When it ran (RFC 3339).
    pub at: String,
    pub intact: bool,
    /// Entries checked.
    pub entries: u64,
    /// Entries the retention purge removed and recorded (gone, not missing), and their
    /// runs (`audit-1 to audit-500, …`).
    pub purged: u64,
    pub purged_runs: Option<String>,
    /// The tree's root over them (base64), when intact.
    pub root: Option<String>,
    pub checkpoints_checked: u64,
    /// The latest checkpoint the log matched, when intact: its size and when it was signed.
    pub checkpoint_size: Option<u64>,
    pub checkpoint_signed_at: Option<String>,
    /// What was found wrong, each in a sentence (at most 20).
    pub problems: Vec<String>,
    pub problem_count: u64,
    /// `scheduled` or `on demand`.
    pub trigger: String,
    pub verified_by: String,
}

/// What the Integrity page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityOverview {
    pub key: PublicKeyView,
    pub tree_size: u64,
    pub latest_checkpoint: Option<CheckpointView>,
    pub last_run: Option<RunView>,
    /// The latest failed run, while no admin has acknowledged it.
    pub open_failure: Option<RunView>,
    /// Whether the person may sign checkpoints and acknowledge failures (admins).
    pub may_act: bool,
}

/// An entry as the API serves it, with its inclusion proof when one was asked for
/// (`GET /audit/entries/{id}?proof=true`, and each entry of an evidence pack).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryWithProof {
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// That the entry is in the tree of a signed checkpoint (for `?proof=true`: the latest
    /// one, or the whole tree as it is now when the entry came after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProofView>,
}
