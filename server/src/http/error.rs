//! The HTTP errors and their one mapping to a response: always JSON `{"error": "…"}`;
//! server faults are logged and never described to the client; a store that is
//! overloaded answers 503 with `Retry-After`.

use app::access::{Denied, Permission};
use app::accounts::Role;
use app::alert_rule_changes::ChangeError as RuleChange;
use app::alert_rules::RuleError;
use app::audit::service::QueryError;
use app::destination_changes::ChangeError as DestinationChange;
use app::destinations::DestinationError;
use app::filter::FilterError;
use app::ingest::IngestError;
use app::settings::SettingError;
use app::store::StoreError;
use app::subscription_changes::ChangeError as SubscriptionChange;
use app::subscriptions::SubscriptionError;
use app::users::AccountError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error(transparent)]
    BadQuery(#[from] FilterError),
    #[error(transparent)]
    BadEvents(#[from] IngestError),
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    /// No valid credentials; the reason goes to the log, not to the client.
    #[error("a valid bearer token (Authorization: Bearer <token>) or a signed-in session is required")]
    Unauthorized { reason: &'static str },
    #[error("{}", forbidden(.0))]
    Forbidden(Permission),
    #[error("no audit entry with id '{0}'")]
    NotFound(String),
    /// Too much at once: the client should try again after a while.
    #[error("{reason}")]
    Busy { reason: String, retry_after: Duration },
    #[error("internal error")]
    Store(#[source] StoreError),
    /// A report could not be written (the cause is logged, not sent).
    #[error("internal error")]
    Report(String),
    #[error("the server is shutting down")]
    Unavailable,
    /// Signing in or out could not be done or recorded (the cause is logged, not sent).
    #[error("internal error")]
    SignIn(String),
    /// A state-changing request sent from another site's page (CSRF).
    #[error("cross-site request refused: send it from this site's own pages")]
    CrossSite,
    /// Something the path names does not exist.
    #[error("{0}")]
    NoSuch(String),
    /// A change to a user or an API token was refused, or could not be made.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A setting was refused, or its change could not be made.
    #[error(transparent)]
    Setting(SettingError),
    /// A subscription was refused, or its change could not be made.
    #[error(transparent)]
    Subscription(SubscriptionChange),
    /// A delivery destination was refused, or its change could not be made.
    #[error(transparent)]
    Destination(DestinationChange),
    /// An alert rule was refused, or its change could not be made.
    #[error(transparent)]
    AlertRule(RuleChange),
    /// Too many sign-in attempts from one address.
    #[error("too many sign-in attempts from this address: wait a minute and try again")]
    TooManyAttempts { retry_after: Duration },
}

fn forbidden(permission: &Permission) -> String {
    match permission {
        Permission::Scope(scope) => format!("this token lacks the '{scope}' scope"),
        Permission::SignedIn(Role::Admin) => "only an admin may do this".to_owned(),
        Permission::SignedIn(Role::Auditor) => "sign in to use the pages: API tokens are for the REST API".to_owned(),
        Permission::Public => "refused".to_owned(),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded { reason, retry_after } => ApiError::Busy { reason, retry_after },
            e => ApiError::Store(e),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadQuery(e) => ApiError::BadQuery(e),
            QueryError::Store(e) => e.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => ApiError::Unauthorized { reason: "no credentials" },
            Denied::Forbidden(permission) => ApiError::Forbidden(permission),
        }
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadQuery(_) | ApiError::BadEvents(_) => StatusCode::BAD_REQUEST,
            ApiError::BadRequest { status, .. } => *status,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Store(_) | ApiError::Report(_) | ApiError::SignIn(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Busy { .. } | ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::CrossSite => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoSuch(_) => StatusCode::NOT_FOUND,
            ApiError::Account(e) => match e {
                AccountError::Invalid { .. } | AccountError::Password(_) => StatusCode::BAD_REQUEST,
                AccountError::NotFound(_) => StatusCode::NOT_FOUND,
                AccountError::Conflict(_) => StatusCode::CONFLICT,
                AccountError::Store(StoreError::Overloaded { .. }) => StatusCode::SERVICE_UNAVAILABLE,
                AccountError::Undone(_) => StatusCode::SERVICE_UNAVAILABLE,
                AccountError::Store(_) | AccountError::Unrecorded(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Subscription(e) => match e {
                SubscriptionChange::Refused(SubscriptionError::Invalid { .. }) => StatusCode::BAD_REQUEST,
                SubscriptionChange::Refused(SubscriptionError::Duplicate(_)) => StatusCode::CONFLICT,
                SubscriptionChange::Refused(SubscriptionError::NotFound(_)) => StatusCode::NOT_FOUND,
                SubscriptionChange::Store(StoreError::Overloaded { .. }) => StatusCode::SERVICE_UNAVAILABLE,
                SubscriptionChange::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::AlertRule(e) => match e {
                RuleChange::Refused(RuleError::Invalid { .. }) => StatusCode::BAD_REQUEST,
                RuleChange::Refused(RuleError::Duplicate(_) | RuleError::Builtin(_)) => StatusCode::CONFLICT,
                RuleChange::Refused(RuleError::NotFound(_)) => StatusCode::NOT_FOUND,
                RuleChange::Store(StoreError::Overloaded { .. }) | RuleChange::Undone(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                RuleChange::Store(_) | RuleChange::Unrecorded(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Destination(e) => match e {
                DestinationChange::Refused(DestinationError::Invalid { .. }) => StatusCode::BAD_REQUEST,
                DestinationChange::Refused(DestinationError::Duplicate(_)) => StatusCode::CONFLICT,
                DestinationChange::Refused(DestinationError::NotFound(_)) => StatusCode::NOT_FOUND,
                DestinationChange::Store(StoreError::Overloaded { .. }) | DestinationChange::Undone(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                DestinationChange::Store(_) | DestinationChange::Unrecorded(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Setting(e) => match e {
                SettingError::Unknown(_) | SettingError::Invalid { .. } => StatusCode::BAD_REQUEST,
                SettingError::Store(StoreError::Overloaded { .. }) => StatusCode::SERVICE_UNAVAILABLE,
                SettingError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// Why the request was refused, for the request log (401 and 403 only).
    pub fn denial(&self) -> Option<String> {
        match self {
            ApiError::Unauthorized { reason } => Some((*reason).to_owned()),
            ApiError::Forbidden(_) | ApiError::CrossSite => Some(self.to_string()),
            _ => None,
        }
    }
}

/// Recorded on a response for the request log: why a request was denied.
#[derive(Clone, Debug)]
pub struct DenialReason(pub String);

/// Recorded on a response for the metrics: the kind of store failure behind it.
#[derive(Clone, Copy, Debug)]
pub struct StoreFailure(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let failure = match &self {
            ApiError::Store(e) => {
                tracing::error!(error = %e, "audit store failed");
                Some(match e {
                    StoreError::Corrupt { .. } => "corrupt",
                    StoreError::NotFound(_) => "not_found",
                    StoreError::Conflict(_) => "conflict",
                    _ => "backend",
                })
            }
            ApiError::Busy { reason, .. } => {
                tracing::warn!(reason = %reason, "refused for now: busy");
                Some("overloaded")
            }
            ApiError::Report(e) => {
                tracing::error!(error = %e, "PDF report failed");
                None
            }
            ApiError::SignIn(e) => {
                tracing::error!(error = %e, "signing in or out failed");
                None
            }
            ApiError::Account(e @ (AccountError::Store(_) | AccountError::Unrecorded(_) | AccountError::Undone(_))) => {
                tracing::error!(error = %e, "a change to an account failed");
                Some("backend")
            }
            ApiError::Setting(e @ SettingError::Store(_)) => {
                tracing::error!(error = %e, "a change to a setting failed");
                Some("backend")
            }
            ApiError::Subscription(e @ SubscriptionChange::Store(_)) => {
                tracing::error!(error = %e, "a change to the subscriptions failed");
                Some("backend")
            }
            ApiError::AlertRule(e @ (RuleChange::Store(_) | RuleChange::Unrecorded(_) | RuleChange::Undone(_))) => {
                tracing::error!(error = %e, "a change to the alert rules failed");
                Some("backend")
            }
            ApiError::Destination(
                e @ (DestinationChange::Store(_) | DestinationChange::Unrecorded(_) | DestinationChange::Undone(_)),
            ) => {
                tracing::error!(error = %e, "a change to the delivery destinations failed");
                Some("backend")
            }
            _ => None,
        };
        // A conflict is the client's to resolve: say what it is.
        let message = match &self {
            ApiError::Store(StoreError::Conflict(what)) => what.clone(),
            // The store's failure stays in the server's log; the change's fate is said.
            ApiError::Account(AccountError::Store(_)) => "internal error".to_owned(),
            ApiError::Account(AccountError::Unrecorded(_)) => {
                "the change was made but could not be recorded in the audit log; the server's log says why".to_owned()
            }
            ApiError::Account(AccountError::Undone(_)) => {
                "the change was not made: it could not be recorded in the audit log; try again shortly".to_owned()
            }
            ApiError::Setting(SettingError::Store(_)) | ApiError::Subscription(SubscriptionChange::Store(_)) => {
                "internal error".to_owned()
            }
            ApiError::Destination(DestinationChange::Store(_)) | ApiError::AlertRule(RuleChange::Store(_)) => {
                "internal error".to_owned()
            }
            ApiError::AlertRule(RuleChange::Undone(_)) => {
                "the change was not made: it could not be recorded in the audit log; try again shortly".to_owned()
            }
            ApiError::AlertRule(RuleChange::Unrecorded(_)) => {
                "the change was made but could not be recorded in the audit log; the server's log says why".to_owned()
            }
            ApiError::Destination(DestinationChange::Undone(_)) => {
                "the change was not made: it could not be recorded in the audit log; try again shortly".to_owned()
            }
            ApiError::Destination(DestinationChange::Unrecorded(_)) => {
                "the change was made but could not be recorded in the audit log; the server's log says why".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": message });
        match &self {
            ApiError::BadEvents(IngestError::Invalid { index, field, .. }) => {
                body["index"] = json!(index);
                body["field"] = json!(field);
            }
            ApiError::Account(AccountError::Invalid { field, .. }) => body["field"] = json!(field),
            ApiError::Account(AccountError::Password(_)) => body["field"] = json!("password"),
            ApiError::Setting(SettingError::Invalid { field, .. }) => body["field"] = json!(field),
            ApiError::Setting(SettingError::Unknown(name)) => body["field"] = json!(name),
            ApiError::Subscription(SubscriptionChange::Refused(SubscriptionError::Invalid { field, .. })) => {
                body["field"] = json!(field)
            }
            ApiError::AlertRule(RuleChange::Refused(e)) => {
                if let Some(field) = e.field() {
                    body["field"] = json!(field)
                }
            }
            ApiError::Destination(DestinationChange::Refused(e)) => {
                if let Some(field) = e.field() {
                    body["field"] = json!(field)
                }
            }
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Busy { retry_after, .. } | ApiError::TooManyAttempts { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
            }
            _ => {}
        }
        if let Some(reason) = self.denial() {
            response.extensions_mut().insert(DenialReason(reason));
        }
        if let Some(kind) = failure {
            response.extensions_mut().insert(StoreFailure(kind));
        }
        response
    }
}
