//! Everything HTTP: the route table and the router built from it, who is asking, the
//! errors, and the handlers (REST API, page twins, pages, operations).

mod admin;
mod alert_rules;
pub mod caller;
mod destinations;
mod entries;
pub mod error;
mod events;
mod export;
mod health;
mod html;
mod integrity;
mod live;
pub mod login;
pub mod metrics;
mod observe;
pub mod openapi;
mod pages;
pub mod protect;
pub mod routes;
mod settings;
mod subscriptions;

use crate::state::AppState;
use axum::http::{header, HeaderMap, StatusCode, Version};
use axum::middleware::from_fn_with_state;
use axum::Router;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The whole application: every route of the route table, compressed where it pays,
/// observed.
pub fn app(state: AppState) -> Router {
    // Pages render on the server with Leptos, which spawns its work on tokio.
    let _ = any_spawner::Executor::init_tokio();
    routes::router(&state)
        .layer(compression())
        .layer(from_fn_with_state(state.hosts.clone(), protect::protect))
        .layer(from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}

/// Pages, server functions and API answers go out compressed (brotli or gzip, as the
/// client accepts). Not downloads: an export is streamed as it is read and may be a
/// gigabyte, which a client can compress on the wire itself if it must; not live streams
/// (SSE), which must reach the browser event by event; not the site's files, which are
/// stored compressed already.
fn compression() -> CompressionLayer<impl Predicate> {
    let not_a_download = |_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions| {
        !headers.contains_key(header::CONTENT_DISPOSITION)
    };
    // Quality 5: most of brotli's gain on HTML and JSON for a fraction of its top effort.
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(5))
        .compress_when(DefaultPredicate::new().and(not_a_download))
}
