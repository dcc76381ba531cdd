//! Changing users, the one way every caller does it (the users page, its REST twins, the
//! command line): the input checked, a new password checked and hashed, the change stored
//! and then recorded in the log with whoever made it as the actor.

use crate::accounts::password::{self, PasswordError};
use crate::accounts::{check_display_name, check_username, events, Role, User};
use crate::entry::Actor;
use crate::internal_event::{EventError, InternalEvent};
use crate::store::{NewUser, Store, StoreError, UserUpdate};
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
#[derive(Clone, Debug)]
pub struct CreateUser {
    pub username: String,
    /// Empty or missing: the username.
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
}

/// Changes to a user; `None` (and `unlock: false`) leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ChangeUser {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
    pub unlock: bool,
}

fn invalid(field: &'static str) -> impl Fn(String) -> AccountError {
    move |message| AccountError::Invalid { field, message }
}

async fn record(store: &Store, event: InternalEvent) -> Result<(), AccountError> {
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
    record(store, events::created(&user, by)?).await?;
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
        record(store, event).await?;
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
