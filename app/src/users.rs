//! Changing users, the one way every caller does it (the users page, its REST twins, the
//! command line): the input checked, a new password checked and hashed, the change stored
//! and then recorded in the log with whoever made it as the actor. A change that cannot
//! be recorded is undone where it can be (a user created is deleted again, a user changed
//! is changed back), so that the log does not miss what happened.

use crate::accounts::password::{self, PasswordError};
use crate::accounts::{check_display_name, check_username, Role, User};
use crate::entry::Actor;
use crate::internal_event::{EventError, InternalEvent};
use crate::store::{NewUser, Store, StoreError, UserUpdate};
use crate::user_events as events;
use chrono::Utc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccountError {
    /// A field that is not acceptable, named as the forms and the API name it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("password: {0}")]
    Password(#[from] PasswordError),
    #[error("no such user: {0}")]
    NotFound(String),
    /// It contradicts what is stored: a name taken, the last admin.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    /// The change was made but could not be recorded: said loudly, never dropped.
    #[error("the change was made but could not be recorded in the audit log: {0}")]
    Unrecorded(String),
    /// The change could not be recorded, and so was undone.
    #[error("the change was not made: it could not be recorded in the audit log: {0}")]
    Undone(String),
}

impl AccountError {
    /// A change that could not be recorded, once it has been undone.
    pub fn undone(self) -> Self {
        match self {
            AccountError::Unrecorded(why) => AccountError::Undone(why),
            other => other,
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AccountError::Conflict(m),
            StoreError::NotFound(m) => AccountError::NotFound(m),
            e => AccountError::Store(e),
        }
    }
}

impl From<EventError> for AccountError {
    fn from(e: EventError) -> Self {
        AccountError::Unrecorded(e.to_string())
    }
}

/// A user to create, as the form, the API or the command line gives it.
#[derive(Clone)]
pub struct CreateUser {
    pub username: String,
    /// Empty or missing: the username.
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
}

/// Changes to a user; `None` (and `unlock: false`) leaves a field as it is.
#[derive(Clone, Default)]
pub struct ChangeUser {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
    pub unlock: bool,
}

// Written out so that a password never reaches a log line through `{:?}`.
impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("password", &"(hidden)")
            .finish()
    }
}

impl std::fmt::Debug for ChangeUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeUser")
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("disabled", &self.disabled)
            .field("unlock", &self.unlock)
            .finish()
    }
}

fn invalid(field: &'static str) -> impl Fn(String) -> AccountError {
    move |message| AccountError::Invalid { field, message }
}

/// Records an account change (a user's or an API token's) in the log.
pub(crate) async fn record(store: &Store, event: InternalEvent) -> Result<(), AccountError> {
    let entry = event.build(Utc::now())?;
    store.log.append(vec![entry]).await.map_err(|e| AccountError::Unrecorded(e.to_string()))?;
    Ok(())
}

pub async fn create(store: &Store, request: CreateUser, by: Actor) -> Result<User, AccountError> {
    let username = check_username(&request.username).map_err(invalid("username"))?.to_owned();
    let display_name =
        check_display_name(request.display_name.as_deref().unwrap_or_default()).map_err(invalid("display_name"))?;
    let display_name = if display_name.is_empty() { username.clone() } else { display_name.to_owned() };
    password::check(&request.password, &[&username, &display_name])?;
    let password_hash = password::hash(request.password).await?;
    let new = NewUser { username, display_name, role: request.role, password_hash };
    let user = store.accounts.create_user(&new, Utc::now()).await?;
    if let Err(unrecorded) = record(store, events::created(&user, by)?).await {
        // Not recorded, not kept (a first admin cannot be deleted again: said as it is).
        return Err(match store.accounts.delete_user(user.id).await {
            Ok(_) => unrecorded.undone(),
            Err(e) => AccountError::Unrecorded(format!("{unrecorded}; the user was kept: {e}")),
        });
    }
    Ok(user)
}

/// Changes a user and records what changed (nothing when nothing did).
pub async fn change(store: &Store, id: i64, change: ChangeUser, by: Actor) -> Result<User, AccountError> {
    let current = store.accounts.user(id).await?.ok_or_else(|| AccountError::NotFound(format!("user {id}")))?;
    let display_name = match change.display_name.as_deref() {
        Some(name) => {
            let name = check_display_name(name).map_err(invalid("display_name"))?;
            Some(if name.is_empty() { current.user.username.clone() } else { name.to_owned() })
        }
        None => None,
    };
    let password_hash = match change.password {
        Some(new) => {
            let shown = display_name.as_deref().unwrap_or(&current.user.display_name);
            password::check(&new, &[&current.user.username, shown])?;
            Some(password::hash(new).await?)
        }
        None => None,
    };
    let password_changed = password_hash.is_some();
    let update =
        UserUpdate { display_name, role: change.role, password_hash, disabled: change.disabled, unlock: change.unlock };
    let (before, after) = store.accounts.update_user(id, &update).await?;
    if let Some(event) = events::updated(&before, &after, password_changed, by)? {
        if let Err(unrecorded) = record(store, event).await {
            let back = UserUpdate {
                display_name: Some(before.display_name.clone()),
                role: Some(before.role),
                password_hash: password_changed.then_some(current.password_hash),
                disabled: Some(before.disabled),
                unlock: false,
            };
            return Err(match store.accounts.update_user(id, &back).await {
                Ok(_) => unrecorded.undone(),
                Err(e) => AccountError::Unrecorded(format!("{unrecorded}; the change was kept: {e}")),
            });
        }
    }
    Ok(after)
}

pub async fn delete(store: &Store, id: i64, by: Actor) -> Result<User, AccountError> {
    let user = store.accounts.delete_user(id).await?;
    record(store, events::deleted(&user, by)?).await?;
    Ok(user)
}

/// The user of a name, for callers that name users rather than number them.
pub async fn named(store: &Store, username: &str) -> Result<User, AccountError> {
    let found = store.accounts.user_named(username).await?;
    found.map(|s| s.user).ok_or_else(|| AccountError::NotFound(format!("'{}'", username.trim())))
}

/// The first admin's username.
pub const FIRST_ADMIN: &str = "admin";

/// The admin created on a database that has never had a user.
pub struct FirstAdmin {
    pub user: User,
    /// The password made up for it, when none was given: to be shown once, to whoever
    /// started the server, and nowhere else.
    pub generated_password: Option<String>,
}

impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.generated_password.as_ref().map(|_| "(hidden)");
        f.debug_struct("FirstAdmin").field("user", &self.user).field("generated_password", &shown).finish()
    }
}

/// On a database without users, creates the `admin` account (recorded as
/// `user.created` by the system), with `password` or, without one, a random password of
/// about 140 bits. Nothing happens on a database that has users, or when another instance
/// starting at the same moment created the admin first.
pub async fn first_admin(store: &Store, password: Option<String>) -> Result<Option<FirstAdmin>, AccountError> {
    // Any user at all, not "an id ever given": a first admin whose creation was undone
    // (it could not be recorded) is tried again at the next start.
    if !store.accounts.users().await?.is_empty() {
        return Ok(None);
    }
    let generated_password = password.is_none().then(random_password);
    let request = CreateUser {
        username: FIRST_ADMIN.to_owned(),
        display_name: Some("Administrator".to_owned()),
        role: Role::Admin,
        password: password.or_else(|| generated_password.clone()).unwrap_or_default(),
    };
    match create(store, request, crate::internal_event::system_actor()).await {
        Ok(user) => Ok(Some(FirstAdmin { user, generated_password })),
        Err(AccountError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// 24 characters from an alphabet without look-alikes (no 0/O, 1/l/I): about 140 bits.
fn random_password() -> String {
    use rand::seq::SliceRandom;
    const ALPHABET: &[u8] = b"23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    (0..24).filter_map(|_| ALPHABET.choose(&mut rng).map(|&b| char::from(b))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{ActorType, AuditEntry};

    fn admin_actor() -> Actor {
        Actor { kind: ActorType::User, id: "user-1".into(), name: "alice".into() }
    }

    fn request(name: &str, role: Role) -> CreateUser {
        CreateUser { username: name.into(), display_name: None, role, password: "correct-horse-battery-staple".into() }
    }

    async fn recorded(store: &Store) -> Vec<AuditEntry> {
        store.log.entries_after(0, 1000).await.expect("reads")
    }

    #[tokio::test]
    async fn changes_and_deletions_are_recorded_and_refusals_leave_no_entry() {
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}/audit.db", dir.path().display())).await.expect("opens");
        let alice = create(&store, request("alice", Role::Admin), admin_actor()).await.expect("creates");
        assert_eq!(alice.display_name, "alice", "the username when no display name is given");
        let bob = create(&store, request("bob", Role::Admin), admin_actor()).await.expect("creates");

        let change_bob = ChangeUser {
            display_name: Some("Bob B.".into()),
            role: Some(Role::Auditor),
            disabled: Some(true),
            ..ChangeUser::default()
        };
        let after = change(&store, bob.id, change_bob, admin_actor()).await.expect("changes");
        assert_eq!((after.role, after.disabled, after.display_name.as_str()), (Role::Auditor, true, "Bob B."));
        let entries = recorded(&store).await;
        let updated = entries.last().expect("an entry");
        assert_eq!(updated.event_type, "user.updated");
        assert_eq!(
            updated.details["changes"],
            serde_json::json!({
                "display_name": {"old": "bob", "new": "Bob B."},
                "role": {"old": "admin", "new": "auditor"},
                "status": {"old": "enabled", "new": "disabled"},
            })
        );
        assert_eq!(updated.details["changed_fields"], serde_json::json!(["display_name", "role", "status"]));
        assert_eq!(updated.actor, admin_actor());

        // Refused: nothing changed, nothing recorded.
        let before = recorded(&store).await.len();
        let demote = ChangeUser { role: Some(Role::Auditor), ..ChangeUser::default() };
        let refused = change(&store, alice.id, demote, admin_actor()).await;
        assert!(matches!(&refused, Err(AccountError::Conflict(m)) if m.contains("last active admin")), "{refused:?}");
        let weak = ChangeUser { password: Some("password1234".into()), ..ChangeUser::default() };
        assert!(matches!(change(&store, bob.id, weak, admin_actor()).await, Err(AccountError::Password(_))));
        let bad = ChangeUser { display_name: Some("a\u{7}b".into()), ..ChangeUser::default() };
        let bad = change(&store, bob.id, bad, admin_actor()).await;
        assert!(matches!(&bad, Err(AccountError::Invalid { field: "display_name", .. })), "{bad:?}");
        assert!(matches!(delete(&store, alice.id, admin_actor()).await, Err(AccountError::Conflict(_))));
        assert!(matches!(delete(&store, 999, admin_actor()).await, Err(AccountError::NotFound(_))));
        let nothing = change(&store, bob.id, ChangeUser::default(), admin_actor()).await.expect("no change");
        assert_eq!(nothing, after);
        assert_eq!(recorded(&store).await.len(), before, "no entry for a refusal or for no change");

        let deleted = delete(&store, bob.id, admin_actor()).await.expect("deletes");
        let entry = recorded(&store).await.pop().expect("an entry");
        assert_eq!(
            (entry.event_type.as_str(), entry.description.as_str()),
            ("user.deleted", "User bob deleted by alice")
        );
        assert_eq!(deleted.id, bob.id);
    }

    #[tokio::test]
    async fn an_empty_database_gets_one_admin_and_only_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}/audit.db", dir.path().display())).await.expect("opens");
        let weak = first_admin(&store, Some("admin".into())).await;
        assert!(matches!(weak, Err(AccountError::Password(_))), "a weak given password is refused: {weak:?}");
        assert!(recorded(&store).await.is_empty(), "nothing created, nothing recorded");

        let made = first_admin(&store, None).await.expect("creates").expect("an admin");
        let password = made.generated_password.clone().expect("a password made up");
        assert_eq!(password.chars().count(), 24);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()), "{password}");
        assert_eq!((made.user.username.as_str(), made.user.role), (FIRST_ADMIN, Role::Admin));
        let stored = store.accounts.user_named(FIRST_ADMIN).await.expect("reads").expect("stored");
        assert!(crate::accounts::password::verify(stored.password_hash, password.clone()).await, "it signs in");
        let entries = recorded(&store).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].event_type, "user.created");
        assert_eq!(entries[0].actor, crate::internal_event::system_actor());
        assert!(!serde_json::to_string(&entries[0]).expect("json").contains(&password), "the password is not logged");

        // Once there are users, never again, whatever is given.
        assert!(first_admin(&store, None).await.expect("runs").is_none());
        assert!(first_admin(&store, Some("another-long-passphrase-here".into())).await.expect("runs").is_none());
        assert_eq!(recorded(&store).await.len(), 1);
        let other = first_admin(&fresh(&dir).await, Some("a-given-passphrase-for-admin".into())).await;
        assert!(
            other.expect("creates").expect("an admin").generated_password.is_none(),
            "a given password is not shown"
        );
    }

    async fn fresh(dir: &tempfile::TempDir) -> Store {
        crate::store::open(&format!("sqlite:{}/other.db", dir.path().display())).await.expect("opens")
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let shown = format!("{:?}", request("alice", Role::Admin));
        assert!(!shown.contains("correct-horse") && shown.contains("(hidden)"), "{shown}");
        let shown = format!("{:?}", ChangeUser { password: Some("correct-horse".into()), ..ChangeUser::default() });
        assert!(!shown.contains("correct-horse"), "{shown}");
    }
}
