//! Server functions of the users and API tokens pages: thin wrappers over the services
//! the REST twins and the command line use too, with the admin signed in as the actor.

use crate::accounts::{Role, User};
use crate::tokens::{Scope, TokenInfo};
use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What an admin page is told when a change is refused or fails.
#[derive(Clone, Debug, Error, PartialEq, Serialize, Deserialize)]
pub enum AdminError {
    /// A field that is not acceptable, named as the form labels it.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// It contradicts what is stored: a name taken, the last admin.
    #[error("{0}")]
    Conflict(String),
    #[error("{0} no longer exists")]
    NotFound(String),
    #[error("only an admin may do this")]
    NotAllowed,
    /// The session ended: the server's 401 reply ([`crate::access::SIGNED_OUT_REPLY`]).
    #[error("your session has ended: sign in again")]
    SignedOut,
    #[error("the change could not be made or recorded; try again shortly")]
    Unavailable,
    #[error("the server could not be reached: {0}")]
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for AdminError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AdminError::Transport(value)
    }
}

/// A token just created: the secret, shown once, and its listing.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSecret {
    pub secret: String,
    pub info: TokenInfo,
}

// Written out so that the secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret").field("secret", &"(hidden)").field("info", &self.info).finish()
    }
}

#[server(endpoint = "admin_users")]
pub async fn list_users() -> Result<Vec<User>, AdminError> {
    let (store, _) = admin()?;
    store.accounts.users().await.map_err(|e| failed(e.into()))
}

#[server(endpoint = "admin_add_user", input = Json)]
pub async fn add_user(
    username: String,
    display_name: String,
    role: Role,
    password: String,
) -> Result<User, AdminError> {
    let (store, actor) = admin()?;
    let request = crate::users::CreateUser { username, display_name: Some(display_name), role, password };
    crate::users::create(&store, request, actor).await.map_err(failed)
}

/// Changes a user; a field left `None` (and `unlock: false`) stays as it is.
#[server(endpoint = "admin_edit_user", input = Json)]
pub async fn edit_user(
    id: i64,
    display_name: Option<String>,
    role: Option<Role>,
    password: Option<String>,
    disabled: Option<bool>,
    unlock: bool,
) -> Result<User, AdminError> {
    let (store, actor) = admin()?;
    let change = crate::users::ChangeUser { display_name, role, password, disabled, unlock };
    crate::users::change(&store, id, change, actor).await.map_err(failed)
}

#[server(endpoint = "admin_remove_user", input = Json)]
pub async fn remove_user(id: i64) -> Result<User, AdminError> {
    let (store, actor) = admin()?;
    crate::users::delete(&store, id, actor).await.map_err(failed)
}

#[server(endpoint = "admin_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AdminError> {
    let (store, _) = admin()?;
    crate::token_admin::list(&store).await.map_err(failed)
}

/// Creates a token that expires `expires_in_days` from now (or never).
#[server(endpoint = "admin_create_token", input = Json)]
pub async fn create_token(
    name: String,
    scopes: Vec<Scope>,
    expires_in_days: Option<u32>,
) -> Result<NewSecret, AdminError> {
    let (store, actor) = admin()?;
    let expires_at = match expires_in_days {
        Some(days @ 1..=3650) => Some(chrono::Utc::now() + chrono::Duration::days(i64::from(days))),
        Some(_) => {
            return Err(answer(AdminError::Invalid {
                field: "expires_in_days".into(),
                message: "the expiry is 1 to 3650 days away, or left empty for none".into(),
            }))
        }
        None => None,
    };
    let request = crate::token_admin::IssueToken { name, scopes, expires_at };
    let issued = crate::token_admin::issue(&store, request, actor).await.map_err(failed)?;
    Ok(NewSecret { secret: issued.secret, info: issued.info })
}

#[server(endpoint = "admin_revoke_token", input = Json)]
pub async fn revoke_token(id: i64) -> Result<TokenInfo, AdminError> {
    let (store, actor) = admin()?;
    crate::token_admin::revoke(&store, id, actor).await.map_err(failed)
}

/// The store and the admin signed in. The route table lets only admins call these; this
/// says so again, so that a function added to the pages without its route is no hole.
#[cfg(feature = "ssr")]
fn admin() -> Result<(crate::store::Store, crate::entry::Actor), AdminError> {
    use crate::access::{Caller, Principal};
    let caller = use_context::<Caller>();
    match caller.as_ref().map(|c| &c.principal) {
        Some(Principal::Person(person)) if person.role == Role::Admin => {}
        Some(Principal::Person(_)) => return Err(answer(AdminError::NotAllowed)),
        _ => return Err(answer(AdminError::SignedOut)),
    }
    let store = use_context::<crate::store::Store>().ok_or_else(|| {
        tracing::error!("no store in the server function's context");
        answer(AdminError::Unavailable)
    })?;
    let actor = caller.map(|c| c.principal.actor()).ok_or(AdminError::SignedOut)?;
    Ok((store, actor))
}

/// The store and the person signed in, admin or auditor (the pages every signed-in person
/// sees). The route table admits only signed-in people; this says so again, so that a
/// function without its route is no hole.
#[cfg(feature = "ssr")]
pub(crate) fn signed_in_person() -> Result<(crate::store::Store, crate::access::Person), AdminError> {
    use crate::access::{Caller, Principal};
    let person = match use_context::<Caller>().map(|c| c.principal) {
        Some(Principal::Person(person)) => person,
        _ => return Err(answer(AdminError::SignedOut)),
    };
    match use_context::<crate::store::Store>() {
        Some(store) => Ok((store, person)),
        None => {
            tracing::error!("no store in the server function's context");
            Err(answer(AdminError::Unavailable))
        }
    }
}

/// Refuses anyone but an admin (the route table does too).
#[cfg(feature = "ssr")]
pub(crate) fn admin_only(person: &crate::access::Person) -> Result<(), AdminError> {
    if person.role == Role::Admin {
        Ok(())
    } else {
        Err(answer(AdminError::NotAllowed))
    }
}

/// A refused or failed change as the page is told it (a failure's cause goes to the log).
#[cfg(feature = "ssr")]
fn failed(e: crate::users::AccountError) -> AdminError {
    use crate::users::AccountError;
    answer(match e {
        AccountError::Invalid { field, message } => AdminError::Invalid { field: field.to_owned(), message },
        AccountError::Password(e) => AdminError::Invalid { field: "password".to_owned(), message: e.to_string() },
        AccountError::Conflict(m) => AdminError::Conflict(m),
        AccountError::NotFound(what) => AdminError::NotFound(what),
        e @ (AccountError::Store(_) | AccountError::Unrecorded(_) | AccountError::Undone(_)) => {
            tracing::error!(error = %e, "a change to an account failed");
            AdminError::Unavailable
        }
    })
}

/// Answers with the status the error means.
#[cfg(feature = "ssr")]
pub(crate) fn answer(error: AdminError) -> AdminError {
    use http::StatusCode;
    let status = match &error {
        AdminError::Invalid { .. } => StatusCode::BAD_REQUEST,
        AdminError::Conflict(_) => StatusCode::CONFLICT,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::NotAllowed => StatusCode::FORBIDDEN,
        AdminError::SignedOut => StatusCode::UNAUTHORIZED,
        AdminError::Unavailable | AdminError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    error
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_servers_signed_out_reply_reads_as_signed_out() {
        let read: super::AdminError = serde_json::from_str(crate::access::SIGNED_OUT_REPLY).expect("JSON");
        assert_eq!(read, super::AdminError::SignedOut);
    }
}
