//! The users and API tokens pages' twins for scripts: `/admin/users` and `/admin/tokens`
//! (JSON; an `admin`-scope token or an admin's session). Each change goes through the same
//! services as the pages and the command line, and is recorded with the caller as actor.

use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::accounts::{Role, User, UserStatus};
use app::token_admin::{self, IssueToken};
use app::tokens::{Scope, TokenInfo};
use app::users::{self, ChangeUser, CreateUser};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

type ErrorBody = crate::http::openapi::ErrorBody;

/// A JSON body, or a 400 that says what is wrong with it (and where).
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let reader = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(reader).map_err(|e| {
        let at = e.path().to_string();
        let place = if at == "." { String::new() } else { format!(" at {at}") };
        ApiError::bad_request(format!("the JSON body is not valid{place}: {}", e.into_inner()))
    })
}

/// An id in the path: a number, or there is no such thing (404).
fn id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::NoSuch(format!("no {what} has the id '{text}'")))
}

/// A user in the path: their id, or their username.
async fn user_id(state: &AppState, text: &str) -> Result<i64, ApiError> {
    match text.parse() {
        Ok(id) => Ok(id),
        Err(_) => Ok(users::named(&state.store, text).await?.id),
    }
}

/// A user as the API shows one: with their status now (active, locked or disabled).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    user: User,
    status: UserStatus,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        let status = user.status(Utc::now());
        UserView { user, status }
    }
}

/// A user to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    role: Role,
    /// The initial password: 12 to 256 characters, not a common one.
    password: String,
}

/// Changes to a user; a field left out stays as it is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    role: Option<Role>,
    /// A new password (a reset); recorded only as "password changed".
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    /// `true` ends a lockout now.
    #[serde(default)]
    unlock: bool,
}

/// Every user, by username.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user with their status (never a password or its hash)", body = Vec<UserView>),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn users(State(state): State<AppState>) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(state.accounts.users().await?.into_iter().map(UserView::from).collect()))
}

/// One user, by id or username.
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id, or their username")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user with their status", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn user(State(state): State<AppState>, Path(user): Path<String>) -> Result<Json<UserView>, ApiError> {
    let id = user_id(&state, &user).await?;
    let found = state.accounts.user(id).await?.ok_or_else(|| ApiError::NoSuch(format!("no user has the id {id}")))?;
    Ok(Json(found.user.into()))
}

/// Creates a user; recorded as `user.created`.
#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    request_body = NewUserBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The user created", body = UserView),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new: NewUserBody = body(&bytes)?;
    let request =
        CreateUser { username: new.username, display_name: new.display_name, role: new.role, password: new.password };
    let user = users::create(&state.store, request, caller.principal.actor()).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Changes a user (role, display name, password reset, disable or enable, unlock);
/// recorded as `user.updated` with each changed field's old and new value.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id, or their username")),
    request_body = UserChangeBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "It would leave no active admin", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn change_user(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(user): Path<String>,
    bytes: Bytes,
) -> Result<Json<UserView>, ApiError> {
    let user = user_id(&state, &user).await?;
    let change: UserChangeBody = body(&bytes)?;
    let change = ChangeUser {
        display_name: change.display_name,
        role: change.role,
        password: change.password,
        disabled: change.disabled,
        unlock: change.unlock,
    };
    Ok(Json(users::change(&state.store, user, change, caller.principal.actor()).await?.into()))
}

/// Deletes a user and ends their sessions; recorded as `user.deleted`.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id, or their username")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user deleted", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last active admin", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(user): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = user_id(&state, &user).await?;
    Ok(Json(users::delete(&state.store, user, caller.principal.actor()).await?.into()))
}

/// A token to issue.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
    scopes: Vec<Scope>,
    /// When it stops working (RFC 3339); left out: never.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// A token just issued: its secret, shown this once, and how it is listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The bearer token: keep it now, it is never shown again.
    token: String,
    #[serde(flatten)]
    info: TokenInfo,
}

/// Every API token, oldest first (never a secret).
#[utoipa::path(
    get,
    path = "/admin/tokens",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every token: name, scopes, created by and when, last used, expiry", body = Vec<TokenInfo>),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(token_admin::list(&state.store).await?))
}

/// Issues a token; recorded as `token.created` (without the secret).
#[utoipa::path(
    post,
    path = "/admin/tokens",
    tag = "admin",
    request_body = NewTokenBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The token, with its secret shown this once", body = IssuedToken),
        (status = 400, description = "A field is not acceptable; `field` names it", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn issue_token(
    State(state): State<AppState>,
    Who(caller): Who,
    bytes: Bytes,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let new: NewTokenBody = body(&bytes)?;
    let request = IssueToken { name: new.name, scopes: new.scopes, expires_at: new.expires_at };
    let issued = token_admin::issue(&state.store, request, caller.principal.actor()).await?;
    Ok((StatusCode::CREATED, Json(IssuedToken { token: issued.secret, info: issued.info })))
}

/// Revokes a token: it is refused from the next request on. Recorded as `token.revoked`.
#[utoipa::path(
    delete,
    path = "/admin/tokens/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "The token's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token revoked", body = TokenInfo),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 401, description = "No valid bearer token or session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(token): Path<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    let token = id(&token, "API token")?;
    Ok(Json(token_admin::revoke(&state.store, token, caller.principal.actor()).await?))
}
