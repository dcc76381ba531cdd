//! The API's errors and their one mapping to HTTP: always JSON `{"error": "…"}`; server
//! faults are logged and never described to the client.

use app::audit::service::QueryError;
use app::filter::FilterError;
use app::ingest::IngestError;
use app::store::StoreError;
use app::tokens::Scope;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error(transparent)]
    BadQuery(#[from] FilterError),
    #[error(transparent)]
    BadEvents(#[from] IngestError),
    #[error("{message}")]
    BadBody { status: StatusCode, message: String },
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("this token lacks the '{0}' scope")]
    Forbidden(Scope),
    #[error("no audit entry with id '{0}'")]
    NotFound(String),
    #[error("internal error")]
    Store(#[from] StoreError),
    /// A report could not be written (the cause is logged, not sent).
    #[error("internal error")]
    Report(String),
    #[error("the server is shutting down")]
    Unavailable,
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadQuery(e) => ApiError::BadQuery(e),
            QueryError::Store(e) => ApiError::Store(e),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadQuery(_) | ApiError::BadEvents(_) => StatusCode::BAD_REQUEST,
            ApiError::BadBody { status, .. } => *status,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(_) | ApiError::Report(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Store(e) => tracing::error!(error = %e, "audit store failed"),
            ApiError::Report(e) => tracing::error!(error = %e, "PDF report failed"),
            _ => {}
        }
        let mut body = json!({ "error": self.to_string() });
        if let ApiError::BadEvents(IngestError::Invalid { index, field, .. }) = &self {
            body["index"] = json!(index);
            body["field"] = json!(field);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
