//! Bearer tokens for the REST API. A token is shown once when created; only its SHA-256
//! is stored, which is enough for 256-bit random secrets (no salt or slow hash needed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a token may do. `admin` may do everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List, read and export entries.
    Read,
    /// Post events.
    Ingest,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Ingest, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| format!("unknown scope '{s}': use read, ingest or admin"))
    }
}

/// A stored token, as far as authorisation and provenance need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// The store's key: names may be reused once a token is revoked, ids never are.
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// A token as the tokens page and `GET /admin/tokens` list it: what it may do and its
/// lifecycle, never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// Who created it: a person's username, or anyone else as `name (actor id)` (the
    /// command line's `root (os:root)`, a token's `splunk (token-3)`); absent for tokens
    /// created before this was kept.
    pub created_by: Option<String>,
    /// When it stops working; absent: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    pub fn record(&self) -> TokenRecord {
        TokenRecord { id: self.id, name: self.name.clone(), scopes: self.scopes.clone() }
    }
}

/// A token as the store keeps it: what copying a store whole carries over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub info: TokenInfo,
    /// The SHA-256 of the token (the token itself is never stored).
    pub token_hash: Vec<u8>,
}

/// A token's name: what it is for ("splunk-forwarder"), 1 to 64 characters, no control
/// characters.
pub fn check_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a token needs a name".to_owned());
    }
    if name.chars().count() > 64 {
        return Err("a token's name is at most 64 characters".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("a token's name cannot hold control characters".to_owned());
    }
    Ok(name)
}

impl TokenRecord {
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|s| *s == needed || *s == Scope::Admin)
    }

    /// The actor id under which this token's own actions (an export, say) are recorded.
    pub fn actor_id(&self) -> String {
        format!("token-{}", self.id)
    }
}

#[cfg(feature = "ssr")]
pub use secret::{generate, hash};

#[cfg(feature = "ssr")]
mod secret {
    use rand::RngCore;
    use sha2::{Digest, Sha256};

    const PREFIX: &str = "cca_";

    /// A new random token: a recognisable prefix (so secret scanners can spot leaks) and
    /// 256 random bits in hex.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        format!("{PREFIX}{}", hex::encode(bytes))
    }

    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_others_only_themselves() {
        let admin = TokenRecord { id: 1, name: "a".into(), scopes: vec![Scope::Admin] };
        let reader = TokenRecord { id: 2, name: "r".into(), scopes: vec![Scope::Read] };
        for s in Scope::ALL {
            assert!(admin.allows(s));
        }
        assert!(reader.allows(Scope::Read));
        assert!(!reader.allows(Scope::Ingest));
        assert!(!reader.allows(Scope::Admin));
    }

    #[test]
    fn scopes_parse_and_refuse_unknown_names() {
        assert_eq!(" ingest".parse::<Scope>(), Ok(Scope::Ingest));
        assert!("write".parse::<Scope>().is_err());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("cca_") && a.len() == 68);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
