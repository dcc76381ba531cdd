//! Which key the copied checkpoints need. The signing key lives in a file beside the
//! source, never in the database, so `migrate-store` cannot carry it. A server started on
//! the target without it makes a key of its own, and its checkpoints are then not
//! checkable with the key that signed the copied ones. So once the copy verifies, the key
//! the source's server would use (`--signing-key`, or its default beside the source) is
//! checked against the newest copied checkpoint, and the command says what to do. Nothing
//! found here fails the command: the copy is whole either way.

use app::checkpoint::LogKey;
use app::store::{PgStore, TreeStore};
use std::path::{Path, PathBuf};

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The copy holds no checkpoint: any key may sign the first.
    NoCheckpoints,
    /// The key at `path` signed the newest copied checkpoint.
    Signs { path: PathBuf, key_id: String },
    /// There is no key at `path` (`given`: the path was named, not the default).
    Missing { path: PathBuf, given: bool },
    /// The key at `path` did not sign the newest copied checkpoint (another log's key).
    Other { path: PathBuf, key_id: String },
    /// The file at `path` cannot be read as a key.
    Unreadable { path: PathBuf, reason: String },
    /// The target's checkpoints could not be read to check against.
    Unchecked { reason: String },
}

/// Checks the key at `path` (`given` when named by `--signing-key` or its variable)
/// against the newest checkpoint the target holds.
pub async fn check(target: &PgStore, path: &Path, given: bool) -> KeyCheck {
    let newest = match target.latest_checkpoint().await {
        Ok(Some(newest)) => newest,
        Ok(None) => return KeyCheck::NoCheckpoints,
        Err(e) => return KeyCheck::Unchecked { reason: e.to_string() },
    };
    // Told in full: the advice is followed on another host, or from another directory.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match LogKey::load(&path) {
        Ok(None) => KeyCheck::Missing { path, given },
        Ok(Some(key)) => match key.open(&newest.note) {
            Ok(_) => KeyCheck::Signs { path, key_id: key.key_id() },
            Err(_) => KeyCheck::Other { path, key_id: key.key_id() },
        },
        Err(e) => KeyCheck::Unreadable { path, reason: e.to_string() },
    }
}

impl KeyCheck {
    /// What `migrate-store` prints about it (none when there is nothing to say).
    pub fn advice(&self) -> Option<String> {
        const KEEP: &str = "a server without it makes a new key, whose checkpoints cannot be checked with the old one";
        match self {
            KeyCheck::NoCheckpoints => None,
            KeyCheck::Signs { path, key_id } => Some(format!(
                "Signing key: {} (key {key_id}) signed the copied checkpoints. Give that file (mode 0600) to the \
                 target's server: --signing-key with its path on that host, or at the default there, \
                 data/signing-key.",
                path.display()
            )),
            KeyCheck::Missing { path, given } => Some(format!(
                "Warning: no signing key at {}. Give the target's server the key file that signed the copied \
                 checkpoints (--signing-key): {KEEP}.{}",
                path.display(),
                if *given { "" } else { " Pass --signing-key to migrate-store to check the file you have." }
            )),
            KeyCheck::Other { path, key_id } => Some(format!(
                "Warning: the key at {} (key {key_id}) did not sign the copied checkpoints. Give the target's \
                 server the key file that did (--signing-key), not this one: {KEEP}.",
                path.display()
            )),
            KeyCheck::Unchecked { reason } => Some(format!(
                "Warning: the signing key could not be checked: the target's checkpoints could not be read \
                 ({reason}). Give the target's server the key file that signed them (--signing-key): {KEEP}."
            )),
            KeyCheck::Unreadable { path, reason } => Some(format!(
                "Warning: the signing key at {} could not be checked ({reason}). Give the target's server the key \
                 file that signed the copied checkpoints (--signing-key): {KEEP}.",
                path.display()
            )),
        }
    }
}
