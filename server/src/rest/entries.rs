//! Reading the log: `GET /audit/entries`, `/audit/entries/{id}` and `/audit/event-types`.

use super::ApiError;
use app::audit::service;
use app::catalogue::{EventSpec, CATALOGUE};
use app::entry::{AuditEntry, EntryPage};
use app::filter::EntryQuery;
use app::store::AuditStore;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use std::sync::Arc;

pub async fn list(
    State(store): State<Arc<dyn AuditStore>>,
    RawQuery(query): RawQuery,
) -> Result<Json<EntryPage>, ApiError> {
    let query = EntryQuery::from_query_string(query.as_deref().unwrap_or_default())?;
    Ok(Json(service::list_entries(store.as_ref(), &query).await?))
}

pub async fn get_one(
    State(store): State<Arc<dyn AuditStore>>,
    Path(entry_id): Path<String>,
) -> Result<Json<AuditEntry>, ApiError> {
    service::get_entry(store.as_ref(), &entry_id).await?.map(Json).ok_or(ApiError::NotFound(entry_id))
}

pub async fn event_types() -> Json<&'static [EventSpec]> {
    Json(CATALOGUE)
}
