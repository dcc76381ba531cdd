//! `GET /healthz`: whether the database answers (for load balancers and orchestrators).

use app::store::Maintenance;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// Liveness: whether the database answers. Needs no token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers: `{\"status\": \"ok\"}`"),
        (status = 503, description = "The database does not answer")
    )
)]
pub async fn check(State(maintenance): State<Arc<dyn Maintenance>>) -> (StatusCode, Json<Value>) {
    match maintenance.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
    }
}
