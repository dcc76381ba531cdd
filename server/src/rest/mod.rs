//! The REST API under `/audit/…`. Every route sits behind a bearer-token check for the
//! scope it needs; the check runs before the body is read.

mod auth;
mod entries;
mod error;
mod events;

pub use error::ApiError;

use crate::startup::AppState;
use app::tokens::Scope;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

/// The largest ingest body: 1000 events of a few KiB each.
pub const MAX_INGEST_BYTES: usize = 4 * 1024 * 1024;

/// Every REST route with the scope it needs (the route test walks this list).
pub const ROUTES: &[(&str, &str, Scope)] = &[
    ("GET", "/audit/entries", Scope::Read),
    ("GET", "/audit/entries/{entry_id}", Scope::Read),
    ("GET", "/audit/event-types", Scope::Read),
    ("GET", "/audit/export", Scope::Read),
    ("POST", "/audit/events", Scope::Ingest),
];

pub fn router(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/audit/entries", get(entries::list))
        .route("/audit/entries/{entry_id}", get(entries::get_one))
        .route("/audit/event-types", get(entries::event_types))
        .route("/audit/export", get(crate::export::export))
        .route_layer(from_fn_with_state((state.store.clone(), Scope::Read), auth::require_scope));
    let ingest = Router::new()
        .route("/audit/events", post(events::ingest))
        .layer(DefaultBodyLimit::max(MAX_INGEST_BYTES))
        .route_layer(from_fn_with_state((state.store.clone(), Scope::Ingest), auth::require_scope));
    read.merge(ingest)
}
