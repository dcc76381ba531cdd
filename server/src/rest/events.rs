//! `POST /audit/events`: other components report what they did.

use super::{ApiError, MAX_INGEST_BYTES};
use app::entry::entry_id;
use app::ingest::parse_batch;
use app::store::AuditStore;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn ingest(
    State(store): State<Arc<dyn AuditStore>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body is larger than {MAX_INGEST_BYTES} bytes: send fewer events per request")
        } else {
            format!("cannot read the request body: {rejection}")
        };
        ApiError::BadBody { status, message }
    })?;
    let entries = parse_batch(&body, chrono::Utc::now())?;
    let receipt = store.append(&entries).await?;
    let ids: Vec<String> = receipt.sequences.iter().map(|s| entry_id(*s)).collect();
    Ok((StatusCode::CREATED, Json(json!({ "count": ids.len(), "ids": ids, "head_hash": receipt.head_hash }))))
}
