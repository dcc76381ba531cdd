//! Which key the copied checkpoints need. The signing key lives in a file beside the
//! source, never in the database, so `migrate-store` cannot carry it. A server started on
//! the target without it makes a key of its own, and its checkpoints are then not
//! checkable with the key that signed the copied ones. So once the copy verifies, the key
//! the source's server would use (`--signing-key`, or its default beside the source) is
//! checked against the newest copied checkpoint, and the command says what to do.

use app::checkpoint::{KeyError, LogKey};
use app::store::{PgStore, StoreError, TreeStore};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum KeyCheckError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The copy holds no checkpoint: any key may sign the first.
    NoCheckpoints,
    /// The key at `path` signed the newest copied checkpoint.
    Signs { path: PathBuf, key_id: String },
    /// There is no key at `path`.
    Missing { path: PathBuf },
    /// The key at `path` did not sign the newest copied checkpoint (another log's key).
    Other { path: PathBuf, key_id: String },
}

/// Checks the key at `path` against the newest checkpoint the target holds.
pub async fn check(target: &PgStore, path: &Path) -> Result<KeyCheck, KeyCheckError> {
    let Some(newest) = target.latest_checkpoint().await? else {
        return Ok(KeyCheck::NoCheckpoints);
    };
    let path = path.to_path_buf();
    Ok(match LogKey::load(&path)? {
        None => KeyCheck::Missing { path },
        Some(key) => match key.open(&newest.note) {
            Ok(_) => KeyCheck::Signs { path, key_id: key.key_id() },
            Err(_) => KeyCheck::Other { path, key_id: key.key_id() },
        },
    })
}

impl KeyCheck {
    /// What `migrate-store` prints about it (none when there is nothing to say).
    pub fn advice(&self) -> Option<String> {
        match self {
            KeyCheck::NoCheckpoints => None,
            KeyCheck::Signs { path, key_id } => Some(format!(
                "Signing key: {} (key {key_id}) signed the copied checkpoints. Start the target's server with \
                 --signing-key {0} (or copy that file, mode 0600, to its default data/signing-key).",
                path.display()
            )),
            KeyCheck::Missing { path } => Some(format!(
                "Warning: no signing key at {}. Give the target's server the key file that signed the copied \
                 checkpoints (--signing-key): a server without it makes a new key, whose checkpoints cannot be \
                 checked with the old one. Pass --signing-key to migrate-store to check a file.",
                path.display()
            )),
            KeyCheck::Other { path, key_id } => Some(format!(
                "Warning: the key at {} (key {key_id}) did not sign the copied checkpoints. Give the target's \
                 server the key file that did (--signing-key), not this one.",
                path.display()
            )),
        }
    }
}
