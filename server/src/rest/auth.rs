//! Bearer-token authorisation.

use super::ApiError;
use app::store::AuditStore;
use app::tokens::{self, Scope};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Lets the request through only with a known token that has `scope` (or `admin`).
pub async fn require_scope(
    State((store, scope)): State<(Arc<dyn AuditStore>, Scope)>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = presented else {
        return ApiError::Unauthorized.into_response();
    };
    match store.find_token(&tokens::hash(token)).await {
        Ok(Some(record)) if record.allows(scope) => {
            tracing::debug!(token = %record.name, %scope, "authorised");
            // Handlers that record who acted (the export) read the token from here.
            request.extensions_mut().insert(record);
            next.run(request).await
        }
        Ok(Some(_)) => ApiError::Forbidden(scope).into_response(),
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(e) => ApiError::Store(e).into_response(),
    }
}
