//! Signed checkpoints: the tree head (size and root) written as a C2SP `tlog-checkpoint`
//! (origin line, size, base64 root) and signed as a C2SP `signed-note` with the log's
//! Ed25519 key. A checkpoint someone kept lets them prove later that the log was not
//! rewritten or cut back, with nothing but the public key: the database cannot sign.
//!
//! The key lives in a file outside the database (`PRIVATE+KEY+<name>+<id>+<base64>`, the
//! Go `note` package's encoding, which `signed_note` reads), created with mode 0600 on
//! first start. Its name is the log's origin line. Crates: `signed_note` for the note
//! format and signatures (maintained by Cloudflare for their CT logs), `tlog_tiles` for
//! the checkpoint body.

use crate::integrity::{TreeHead, TreeQuery};
use crate::proof::{CheckpointView, PublicKeyView};
use crate::store::{tree_answer, StoreError, StoredCheckpoint, TreeStore};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use signed_note::{Note, Signer, StandardSigner, StandardVerifier, VerifierList};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;
use tlog_tiles::{Checkpoint, Hash};

/// The origin (and key name) of a log whose operator named none.
pub const DEFAULT_ORIGIN: &str = "certifyclouds.local/audit";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read the log's signing key {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot create the log's signing key {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("{path} is not a signing key (expected one line PRIVATE+KEY+<name>+<id>+<key>, Ed25519)")]
    Malformed { path: String },
    #[error("'{0}' cannot name a log: it must be non-empty, without spaces or '+'")]
    Name(String),
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
    #[error("cannot write the checkpoint to {path}: {source}")]
    Publish { path: String, source: std::io::Error },
    #[error("the log is empty: there is no tree to sign yet")]
    Empty,
    #[error("{0}")]
    WrongKey(String),
    #[error("not signed: the checkpoint directory holds a tree this log does not extend ({0}); run verify")]
    Diverged(String),
}

/// Why a signed checkpoint was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("it is not a signed note: {0}")]
    Malformed(String),
    #[error("its signature does not verify with the log's public key {0}")]
    BadSignature(String),
    #[error("it is not a checkpoint of this log: {0}")]
    NotACheckpoint(String),
}

/// The log's signing key.
pub struct LogKey {
    signer: StandardSigner,
    /// `<name>+<id>+<base64 of 0x01 ‖ public key>`: what verifies its notes.
    verifier: String,
    public: [u8; 32],
}

impl std::fmt::Debug for LogKey {
    /// The public half only: the private key is never written anywhere but its file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

/// Writes `skey` to a new file at `path` (mode 0600, refused if it exists), on disk before
/// this returns.
fn write_new(path: &Path, skey: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{skey}\n").as_bytes())?;
    file.sync_all()
}

impl LogKey {
    /// The key in `path`, created there (mode 0600, its directory made if need be) under
    /// the name `origin` when there is none. An existing key keeps its own name. Returns
    /// whether it was created.
    pub fn load_or_create(path: &Path, origin: &str) -> Result<(LogKey, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                let key = LogKey::parse(text.trim()).ok_or_else(|| KeyError::Malformed { path: shown(path) })?;
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LogKey::create(path, origin),
            Err(source) => Err(KeyError::Read { path: shown(path), source }),
        }
    }

    /// The key in `path`, if there is one (nothing is created).
    pub fn load(path: &Path) -> Result<Option<LogKey>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => LogKey::parse(text.trim()).map(Some).ok_or_else(|| KeyError::Malformed { path: shown(path) }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read { path: shown(path), source }),
        }
    }

    /// A key that lives only in memory (tests and benchmarks).
    pub fn ephemeral(origin: &str) -> Result<LogKey, KeyError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(KeyError::Name(origin.to_owned()));
        }
        let (skey, _) = signed_note::generate_key(&mut rand::rngs::OsRng, origin);
        LogKey::parse(&skey).ok_or_else(|| KeyError::Malformed { path: "(generated)".into() })
    }

    /// A new key in `path`, or the one another process put there first: instances started
    /// together on one database (and one key path) end up with the same key. The key is
    /// written whole to a file of this process's own, then linked into place, which fails
    /// if `path` exists: nobody ever reads a half-written key.
    fn create(path: &Path, origin: &str) -> Result<(LogKey, bool), KeyError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(KeyError::Name(origin.to_owned()));
        }
        let failed = |source| KeyError::Create { path: shown(path), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let (skey, _) = signed_note::generate_key(&mut rand::rngs::OsRng, origin);
        let key = LogKey::parse(&skey).ok_or_else(|| KeyError::Malformed { path: shown(path) })?;
        let mut own = path.as_os_str().to_owned();
        own.push(format!(".{}-{:016x}.new", std::process::id(), rand::random::<u64>()));
        let own = std::path::PathBuf::from(own);
        write_new(&own, &skey).map_err(failed)?;
        let linked = std::fs::hard_link(&own, path);
        let _ = std::fs::remove_file(&own);
        match linked {
            Ok(()) => Ok((key, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => LogKey::load_or_create(path, origin),
            // A file system without hard links: created in place (only one creator wins).
            Err(_) => write_new(path, &skey).map(|()| (key, true)).map_err(failed),
        }
    }

    /// Reads `PRIVATE+KEY+<name>+<id>+<base64 of 0x01 ‖ seed>`.
    fn parse(skey: &str) -> Option<LogKey> {
        let signer = StandardSigner::new(skey).ok()?;
        // PRIVATE, KEY, name, id, then the key, whose base64 may itself hold '+'.
        let encoded = skey.splitn(5, '+').nth(4)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let seed: [u8; 32] = bytes.get(1..)?.try_into().ok()?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier = signed_note::new_ed25519_verifier_key(signer.name(), &public);
        Some(LogKey { signer, verifier, public: public.to_bytes() })
    }

    /// The log's origin line: the key's name.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The key id of signed notes (the first 4 bytes of SHA-256 over the name, a newline,
    /// 0x01 and the public key), in hex.
    pub fn key_id(&self) -> String {
        format!("{:08x}", self.signer.key_id())
    }

    /// The verifier key (`<name>+<id>+<base64>`), what `signed-note` tools take.
    pub fn verifier_key(&self) -> &str {
        &self.verifier
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The public key as a PEM SubjectPublicKeyInfo, for `openssl pkeyutl -verify`.
    pub fn public_key_pem(&self) -> String {
        // RFC 8410: the DER prefix of an Ed25519 SubjectPublicKeyInfo, then the key.
        let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        der.extend_from_slice(&self.public);
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
    }

    /// The signed note of a tree head.
    pub fn sign(&self, head: TreeHead) -> Result<String, CheckpointError> {
        let body = checkpoint_body(self.origin(), head).map_err(CheckpointError::Sign)?;
        self.sign_text(&body)
    }

    /// A signed note of any text (an evidence pack's manifest digest): the same format and
    /// key as the checkpoints, so one verifier checks both. `text` ends with a newline.
    pub fn sign_text(&self, text: &str) -> Result<String, CheckpointError> {
        let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| CheckpointError::Sign(e.to_string()))?;
        note.add_sigs(&[&self.signer]).map_err(|e| CheckpointError::Sign(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| CheckpointError::Sign(e.to_string()))
    }

    /// The tree head a signed note of this log's states, once its signature verifies.
    pub fn open(&self, note: &str) -> Result<TreeHead, NoteError> {
        open_note(note, &self.verifier)
    }
}

/// The checkpoint body: origin, size and base64 root, each on its line.
fn checkpoint_body(origin: &str, head: TreeHead) -> Result<String, String> {
    let checkpoint = Checkpoint::new(origin, head.size, Hash(head.root), "").map_err(|e| e.to_string())?;
    String::from_utf8(checkpoint.to_bytes()).map_err(|e| e.to_string())
}

/// The tree head a signed note states, once its signature verifies with `verifier_key`
/// and its origin is the key's name.
pub fn open_note(note: &str, verifier_key: &str) -> Result<TreeHead, NoteError> {
    let (origin, text) = open_signed_text(note, verifier_key)?;
    let checkpoint = Checkpoint::from_bytes(&text).map_err(|e| NoteError::NotACheckpoint(e.to_string()))?;
    if checkpoint.origin() != origin {
        return Err(NoteError::NotACheckpoint(format!("its origin is '{}', not '{origin}'", checkpoint.origin())));
    }
    Ok(TreeHead { size: checkpoint.size(), root: checkpoint.hash().0 })
}

/// That a verifier key is well formed: its name, its key id (which hashes the name and the
/// key, so a changed character shows) and its Ed25519 key.
pub fn check_verifier_key(verifier_key: &str) -> Result<(), NoteError> {
    StandardVerifier::new(verifier_key).map(|_| ()).map_err(|e| NoteError::Malformed(e.to_string()))
}

/// The text of a signed note and the name of the key that signed it, once its signature
/// verifies with `verifier_key`.
pub fn open_signed_text(note: &str, verifier_key: &str) -> Result<(String, Vec<u8>), NoteError> {
    let verifier = StandardVerifier::new(verifier_key).map_err(|e| NoteError::Malformed(e.to_string()))?;
    let name = signed_note::Verifier::name(&verifier).to_owned();
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))?;
    parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| NoteError::BadSignature(format!("{verifier_key} ({e})")))?;
    Ok((name, parsed.text().to_vec()))
}

/// Where checkpoints are published besides the database, and how often.
#[derive(Clone, Debug)]
pub struct CheckpointPolicy {
    /// At most this often while the log grows.
    pub every: std::time::Duration,
    /// A directory each checkpoint is also written to (`checkpoint-<size>` and `latest`),
    /// e.g. storage the database's host cannot rewrite.
    pub directory: Option<PathBuf>,
    /// How often the whole log is verified against the checkpoints.
    pub verify_every: std::time::Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every: std::time::Duration::from_secs(5 * 60),
            directory: None,
            verify_every: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

/// What [`checkpoint_now`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpointed {
    pub checkpoint: StoredCheckpoint,
    /// `false` when the tree had not grown since the latest checkpoint, which stands.
    pub new: bool,
}

/// Signs the tree as it stands, unless the latest checkpoint already covers it, stores the
/// checkpoint and publishes it to the policy's directory (again, when the directory is
/// behind). Refuses when the log's checkpoints were signed with another key, and when the
/// directory holds a tree this one does not extend (the database was rolled back or
/// rewritten: signing would bury the evidence).
pub async fn checkpoint_now(
    tree: &dyn TreeStore,
    key: &LogKey,
    policy: &CheckpointPolicy,
    now: DateTime<Utc>,
) -> Result<Checkpointed, CheckpointError> {
    let size = tree.tree_size().await?;
    let latest = tree.latest_checkpoint().await?;
    if let Some(latest) = &latest {
        if let Err(e) = key.open(&latest.note) {
            return Err(CheckpointError::WrongKey(format!(
                "key {} does not verify the log's latest checkpoint ({e}): give the log's own key file",
                key.key_id()
            )));
        }
    }
    // The directory is checked before a new tree is signed; an old checkpoint, before it is
    // published again.
    let mut checked = false;
    let done = match latest {
        Some(latest) if latest.head.size >= size => Checkpointed { checkpoint: latest, new: false },
        _ if size == 0 => return Err(CheckpointError::Empty),
        _ => {
            let root = tree_answer(tree, TreeQuery::Root { size }).await?;
            let head = TreeHead { size, root: root.first().copied().unwrap_or(tlog_tiles::EMPTY_HASH.0) };
            if let Some(dir) = &policy.directory {
                check_directory(dir, key, tree, head).await?;
                checked = true;
            }
            let checkpoint = StoredCheckpoint { head, signed_at: now, note: key.sign(head)? };
            match tree.add_checkpoint(&checkpoint).await? {
                true => Checkpointed { checkpoint, new: true },
                // Another instance signed the same tree meanwhile: its checkpoint stands.
                false => Checkpointed { checkpoint: tree.latest_checkpoint().await?.unwrap_or(checkpoint), new: false },
            }
        }
    };
    if let Some(dir) = &policy.directory {
        if !checked {
            check_directory(dir, key, tree, done.checkpoint.head).await?;
        }
        publish(dir, &done.checkpoint)?;
    }
    Ok(done)
}

/// That the directory's `latest` is a tree `head` extends: no larger, and with the root
/// the stored tree has at its size.
async fn check_directory(
    dir: &Path,
    key: &LogKey,
    tree: &dyn TreeStore,
    head: TreeHead,
) -> Result<(), CheckpointError> {
    let latest = dir.join("latest");
    let note = match std::fs::read_to_string(&latest) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(CheckpointError::Publish { path: shown(&latest), source }),
    };
    let diverged = |why: String| CheckpointError::Diverged(format!("{}: {why}", shown(&latest)));
    let published = key.open(&note).map_err(|e| diverged(e.to_string()))?;
    if published.size > head.size {
        return Err(diverged(format!("it signs {} entries, the log holds {}", published.size, head.size)));
    }
    let root = tree_answer(tree, TreeQuery::Root { size: published.size }).await?;
    if root.first() != Some(&published.root) {
        return Err(diverged(format!("the log's first {} entries no longer hash to its root", published.size)));
    }
    Ok(())
}

/// Writes a checkpoint to `dir` as `checkpoint-<size>` (never replacing another note of
/// that size) and as `latest`, each through a temporary file, so that a reader never
/// sees half a note.
fn publish(dir: &Path, checkpoint: &StoredCheckpoint) -> Result<(), CheckpointError> {
    let failed = |path: &Path| {
        let path = shown(path);
        move |source| CheckpointError::Publish { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let numbered = format!("checkpoint-{:012}", checkpoint.head.size);
    match std::fs::read_to_string(dir.join(&numbered)) {
        Ok(existing) if existing == checkpoint.note => {}
        Ok(_) => {
            return Err(CheckpointError::Diverged(format!(
                "{} holds another checkpoint of {} entries",
                shown(&dir.join(&numbered)),
                checkpoint.head.size
            )))
        }
        Err(_) => write_whole(dir, &numbered, &checkpoint.note).map_err(failed(&dir.join(&numbered)))?,
    }
    write_whole(dir, "latest", &checkpoint.note).map_err(failed(&dir.join("latest")))
}

fn write_whole(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, dir.join(name))
}

/// Every checkpoint published in `dir` (`latest` and each `checkpoint-<size>`), with the
/// file it came from.
pub fn published(dir: &Path) -> Vec<(String, String)> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(String, String)> = listing
        .filter_map(Result::ok)
        .filter(|f| {
            let name = f.file_name().to_string_lossy().into_owned();
            name == "latest" || name.starts_with("checkpoint-")
        })
        .filter_map(|f| Some((shown(&f.path()), std::fs::read_to_string(f.path()).ok()?)))
        .collect();
    found.sort();
    found
}

/// A hash as the integrity API and checkpoints write it: base64, standard, padded.
pub fn b64(hash: &[u8; 32]) -> String {
    Hash(*hash).to_string()
}

impl StoredCheckpoint {
    pub fn view(&self) -> CheckpointView {
        CheckpointView {
            size: self.head.size,
            root: b64(&self.head.root),
            signed_at: self.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            note: self.note.clone(),
        }
    }
}

impl LogKey {
    pub fn view(&self) -> PublicKeyView {
        PublicKeyView {
            algorithm: "Ed25519".into(),
            origin: self.origin().to_owned(),
            key_id: self.key_id(),
            verifier_key: self.verifier_key().to_owned(),
            public_key: b64(&self.public_key()),
            public_key_pem: self.public_key_pem(),
        }
    }
}

/// The log's key and how its checkpoints are made: what the server holds to sign.
#[derive(Debug)]
pub struct Signing {
    pub key: LogKey,
    pub policy: CheckpointPolicy,
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A key file others may read is worth a warning: whoever reads it can sign checkpoints.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"),
                    "the log's signing key can be read by others than its owner: chmod 600 it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64, byte: u8) -> TreeHead {
        TreeHead { size, root: [byte; 32] }
    }

    #[test]
    fn instances_starting_together_share_one_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.key");
        let keys: Vec<(String, bool)> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let (key, created) = LogKey::load_or_create(&path, "audit.example/log").expect("a key");
                        (key.verifier_key().to_owned(), created)
                    })
                })
                .collect();
            starts.into_iter().map(|s| s.join().expect("ran")).collect()
        });
        assert_eq!(keys.iter().filter(|(_, created)| *created).count(), 1, "one made it: {keys:?}");
        assert!(keys.iter().all(|(k, _)| *k == keys[0].0), "the others read it: {keys:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("lists").collect();
        assert_eq!(left.len(), 1, "no file of their own left behind");
    }

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_read_back_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keys").join("log.key");
        let (key, created) = LogKey::load_or_create(&path, "audit.example/log").expect("creates");
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (again, created) = LogKey::load_or_create(&path, "another/name").expect("reads");
        assert!(!created);
        assert_eq!((again.verifier_key(), again.origin()), (key.verifier_key(), "audit.example/log"));
        assert!(key.verifier_key().starts_with(&format!("audit.example/log+{}+", key.key_id())));
        assert!(!format!("{key:?}").contains("PRIVATE"), "the private key is never shown");
        std::fs::write(&path, "not a key").expect("writes");
        assert!(matches!(LogKey::load_or_create(&path, "x"), Err(KeyError::Malformed { .. })));
        assert!(matches!(LogKey::ephemeral("two words"), Err(KeyError::Name(_))));
    }

    #[test]
    fn a_checkpoint_is_a_c2sp_signed_note_that_opens_with_the_public_key_only() {
        let key = LogKey::ephemeral("audit.example/log").expect("key");
        let note = key.sign(head(12, 7)).expect("signs");
        let root = tlog_tiles::Hash([7; 32]).to_string();
        let (body, signature) = note.split_once("\n\n").expect("a blank line before the signatures");
        assert_eq!(body, format!("audit.example/log\n12\n{root}"));
        assert!(signature.starts_with("— audit.example/log "), "{signature}");
        assert!(signature.ends_with('\n'));
        assert_eq!(open_note(&note, key.verifier_key()), Ok(head(12, 7)));
        assert_eq!(key.open(&note), Ok(head(12, 7)));

        let other = LogKey::ephemeral("audit.example/log").expect("key");
        assert!(matches!(other.open(&note), Err(NoteError::BadSignature(_))), "another key of the same name");
        let forged = note.replacen("\n12\n", "\n13\n", 1);
        assert!(matches!(key.open(&forged), Err(NoteError::BadSignature(_))), "a changed size");
        assert!(matches!(key.open("hello"), Err(NoteError::Malformed(_))));
    }

    #[test]
    fn the_public_key_pem_is_an_ed25519_subject_public_key_info() {
        let key = LogKey::ephemeral("audit.example/log").expect("key");
        let pem = key.public_key_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
        assert_eq!(der.len(), 44);
        assert_eq!(&der[12..], &key.public_key());
        // A note's signature is a bare Ed25519 one (after its 4-byte key id) over the text:
        // what `openssl pkeyutl -verify` checks with this PEM.
        let note = key.sign_text("manifest\n").expect("signs");
        let line = note.lines().last().expect("signature line");
        let signature = base64::engine::general_purpose::STANDARD
            .decode(line.rsplit(' ').next().expect("signature"))
            .expect("base64");
        let public = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).expect("key");
        let signature = ed25519_dalek::Signature::from_slice(&signature[4..]).expect("64 bytes");
        assert!(public.verify_strict(b"manifest\n", &signature).is_ok());
        assert_eq!(open_signed_text(&note, key.verifier_key()).expect("opens").1, b"manifest\n");
        assert!(matches!(open_note(&note, key.verifier_key()), Err(NoteError::NotACheckpoint(_))));
    }
}
