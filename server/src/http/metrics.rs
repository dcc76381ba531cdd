//! `GET /metrics`: what the server counted ([`crate::metrics`]), as OpenMetrics text.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// `GET /metrics`: Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn serve(State(state): State<AppState>) -> Response {
    match state.metrics.render(state.maintenance.commits()) {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
