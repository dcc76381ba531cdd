//! `POST /audit/events`: other components report what they did. Each entry records, in
//! its hashed content, the token that posted it and when the server received it.

use super::caller::Who;
use super::error::ApiError;
use super::routes::MAX_INGEST_BYTES;
use crate::state::AppState;
use app::access::Principal;
use app::entry::{entry_id, IngestToken};
use app::ingest::{parse_batch, Receipt};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Appends one event or an array of up to 1000, all or nothing.
#[utoipa::path(
    post,
    path = "/audit/events",
    tag = "ingest",
    request_body(content = Vec<app::ingest::NewEntry>, description = "One event object, or an array of 1 to 1000"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored, durably, in this order", body = crate::http::openapi::IngestReply),
        (status = 400, description = "An entry is invalid (nothing is written); the error names its index and field", body = crate::http::openapi::ErrorBody),
        (status = 413, description = "The body is over 4 MiB", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "The store is busy; try again after `Retry-After` seconds", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    Who(caller): Who,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = to_bytes(body, MAX_INGEST_BYTES).await.map_err(|e| {
        let cause = e.into_inner();
        if cause.is::<http_body_util::LengthLimitError>() {
            ApiError::BadRequest {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("request body is larger than {MAX_INGEST_BYTES} bytes: send fewer events per request"),
            }
        } else {
            ApiError::bad_request(format!("cannot read the request body: {cause}"))
        }
    })?;
    let token = match &caller.principal {
        Principal::Token(token) => Some(IngestToken { id: token.id, name: token.name.clone() }),
        Principal::Person(_) | Principal::Anonymous => None,
    };
    let receipt = Receipt { received_at: chrono::Utc::now(), token };
    let entries = parse_batch(&body, &receipt)?;
    let count = entries.len() as u64;
    let appended = state.log.append(entries).await?;
    state.metrics.ingested(count);
    let ids: Vec<String> = appended.sequences.iter().map(|s| entry_id(*s)).collect();
    Ok((StatusCode::CREATED, Json(json!({ "count": ids.len(), "ids": ids, "head_hash": appended.head_hash }))))
}
