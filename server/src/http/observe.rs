//! One log line per request (method, route, status, latency, principal) and the request
//! metrics. Denied requests (401, 403) log at warn with the reason; server errors at error.

use super::caller::Served;
use super::error::{DenialReason, StoreFailure};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status();
    let served = response.extensions().get::<Served>();
    let route = served.map_or(UNMATCHED, |s| s.route);
    let principal = served.map_or("anonymous", |s| s.principal.as_str());
    let ms = took.as_secs_f64() * 1000.0;
    if let Some(DenialReason(reason)) = response.extensions().get::<DenialReason>() {
        tracing::warn!(%method, route, %path, status = status.as_u16(), ms, principal, reason = %reason, "request denied");
    } else if status.is_server_error() {
        tracing::error!(%method, route, %path, status = status.as_u16(), ms, principal, "request failed");
    } else {
        tracing::info!(%method, route, status = status.as_u16(), ms, principal, "request");
    }
    state.metrics.request(method.as_str(), route, status.as_u16(), took);
    if let Some(StoreFailure(kind)) = response.extensions().get::<StoreFailure>() {
        state.metrics.store_error(kind);
    }
    response
}
