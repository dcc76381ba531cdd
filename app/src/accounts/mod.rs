//! The people who sign in: their roles, the rules for their names, and a user as the
//! users page and the API show one (never a password or its hash). Shared by the pages
//! and the server; the password rules and hashing are the server's (`password`).

#[cfg(feature = "ssr")]
pub mod password;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a person may do: `admin` everything, `auditor` read, search and export the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("unknown role '{s}': use admin or auditor"))
    }
}

/// A user as shown: who they are, what they may do and how their sign-ins stand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    /// The store's key: never reused, so a deleted user's sessions and records cannot pass
    /// to someone created later under the same name.
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Failed sign-ins since the last success, within the lockout window.
    pub failed_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// How a user's account stands at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Locked,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Locked => "locked",
            UserStatus::Disabled => "disabled",
        }
    }
}

impl User {
    pub fn status(&self, now: DateTime<Utc>) -> UserStatus {
        if self.disabled {
            UserStatus::Disabled
        } else if self.locked_until.is_some_and(|until| until > now) {
            UserStatus::Locked
        } else {
            UserStatus::Active
        }
    }

    /// An admin who can sign in (locked for a while still counts): the kind the product
    /// must always keep at least one of.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

/// When failed sign-ins lock an account: `attempts` failures within `window` lock it for
/// `lock_for`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    pub attempts: u32,
    pub window: chrono::Duration,
    pub lock_for: chrono::Duration,
}

impl Default for Lockout {
    /// Five failures within 15 minutes lock the account for 15 minutes.
    fn default() -> Self {
        Lockout { attempts: 5, window: chrono::Duration::minutes(15), lock_for: chrono::Duration::minutes(15) }
    }
}

impl Lockout {
    /// The user after one more failed sign-in at `now`, counted since `since` (the first
    /// failure of the current window, if any), and when that window began. An account
    /// already locked stays as it is: failures while locked neither count nor make the
    /// lock longer, so nobody can keep another person locked out for ever.
    pub fn fail(&self, user: &User, since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (User, DateTime<Utc>) {
        let mut after = user.clone();
        if user.locked_until.is_some_and(|until| until > now) {
            return (after, since.unwrap_or(now));
        }
        let since = match since {
            Some(first) if now - first <= self.window && user.failed_attempts > 0 => {
                after.failed_attempts = user.failed_attempts.saturating_add(1);
                first
            }
            _ => {
                after.failed_attempts = 1;
                now
            }
        };
        if after.failed_attempts >= self.attempts {
            after.locked_until = Some(now + self.lock_for);
        }
        (after, since)
    }
}

/// The longest username and display name, in characters.
pub const USERNAME_MAX: usize = 64;
pub const DISPLAY_NAME_MAX: usize = 128;

/// A username as given, checked: 1 to 64 letters, digits and `.`, `_`, `-`, `@`, starting
/// with a letter or digit (an e-mail address is a valid username). Names are unique
/// whatever their case.
pub fn check_username(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the username is empty".into());
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(format!("the username is longer than {USERNAME_MAX} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("the username must start with a letter or a digit".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))) {
        return Err(format!("the username may hold letters, digits, '.', '_', '-' and '@', not '{c}'"));
    }
    Ok(name)
}

/// A display name as given, checked: at most 128 characters, no control characters; empty
/// means "use the username".
pub fn check_display_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.chars().count() > DISPLAY_NAME_MAX {
        return Err(format!("the display name is longer than {DISPLAY_NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("the display name holds a control character".into());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        for good in ["alice", "a", "bob.smith", "ops_1", "x-y", "carol@example.com", "  dave  "] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        assert_eq!(check_username("  dave ").expect("valid"), "dave");
        for bad in ["", "   ", ".alice", "-x", "al ice", "bob/../x", "ålice", "a\u{0}b", &"a".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_username(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn display_names_are_checked() {
        assert_eq!(check_display_name(" Zoë Müller ").expect("valid"), "Zoë Müller");
        assert_eq!(check_display_name("").expect("valid"), "");
        assert!(check_display_name("a\nb").is_err());
        assert!(check_display_name(&"é".repeat(129)).is_err());
    }

    #[test]
    fn failures_within_the_window_lock_and_a_lock_is_never_extended() {
        let lockout = Lockout::default();
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let minutes = |m| t0 + chrono::Duration::minutes(m);
        let mut user = User {
            id: 1,
            username: "bob".into(),
            display_name: "Bob".into(),
            role: Role::Auditor,
            disabled: false,
            created_at: t0,
            last_login_at: None,
            failed_attempts: 0,
            locked_until: None,
        };
        let mut since = None;
        for attempt in 1..=4 {
            let (after, first) = lockout.fail(&user, since, minutes(attempt));
            assert_eq!((after.failed_attempts, after.locked_until, first), (attempt as u32, None, minutes(1)));
            (user, since) = (after, Some(first));
        }
        let (locked, first) = lockout.fail(&user, since, minutes(14));
        assert_eq!(
            (locked.failed_attempts, locked.locked_until),
            (5, Some(minutes(29))),
            "the fifth within 15 minutes"
        );
        let (still, _) = lockout.fail(&locked, Some(first), minutes(20));
        assert_eq!(still, locked, "failures while locked change nothing");
        // After the lock, and for failures spread wider than the window, counting starts over.
        let (after, first) = lockout.fail(&locked, Some(first), minutes(30));
        assert_eq!((after.failed_attempts, first), (1, minutes(30)));
        let slow = User { failed_attempts: 4, ..user.clone() };
        let (after, _) = lockout.fail(&slow, Some(minutes(1)), minutes(17));
        assert_eq!((after.failed_attempts, after.locked_until), (1, None), "the first failure is out of the window");
    }

    #[test]
    fn roles_and_status() {
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert!("root".parse::<Role>().is_err());
        assert_eq!(serde_json::to_string(&Role::Admin).expect("json"), "\"admin\"");
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let mut user = User {
            id: 1,
            username: "alice".into(),
            display_name: "Alice".into(),
            role: Role::Admin,
            disabled: false,
            created_at: now,
            last_login_at: None,
            failed_attempts: 0,
            locked_until: Some(now + chrono::Duration::minutes(1)),
        };
        assert_eq!(user.status(now), UserStatus::Locked);
        assert_eq!(user.status(now + chrono::Duration::minutes(2)), UserStatus::Active);
        assert!(user.is_active_admin(), "a locked admin is still an admin");
        user.disabled = true;
        assert_eq!(user.status(now), UserStatus::Disabled);
        assert!(!user.is_active_admin());
    }
}
