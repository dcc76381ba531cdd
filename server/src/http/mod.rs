//! Everything HTTP: the route table and the router built from it, who is asking, the
//! errors, and the handlers (REST API, page twins, pages, operations).

pub mod caller;
mod entries;
pub mod error;
mod events;
mod export;
mod health;
mod live;
pub mod metrics;
mod observe;
pub mod openapi;
mod pages;
pub mod routes;

use crate::state::AppState;
use axum::middleware::from_fn_with_state;
use axum::Router;

/// The whole application: every route of the route table, observed.
pub fn app(state: AppState) -> Router {
    // Pages render on the server with Leptos, which spawns its work on tokio.
    let _ = any_spawner::Executor::init_tokio();
    routes::router(&state).layer(from_fn_with_state(state.clone(), observe::observe)).with_state(state)
}
