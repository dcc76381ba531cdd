//! Builds the router and its state; tests bind it to port 0.

use crate::rest;
use app::store::AuditStore;
use app::{shell, App};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// The name of the site's WASM/JS/CSS files (cargo-leptos's `name`).
pub const OUTPUT_NAME: &str = "certifyclouds";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn AuditStore>,
}

impl AppState {
    pub fn new(store: Arc<dyn AuditStore>, site_root: &str) -> Self {
        // `cargo leptos watch` tells the page where its live-reload socket listens.
        let reload_port = std::env::var("LEPTOS_RELOAD_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001);
        let leptos_options = LeptosOptions::builder()
            .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| OUTPUT_NAME.to_owned()))
            .site_root(site_root)
            .reload_port(reload_port)
            .build();
        Self { leptos_options, store }
    }
}

/// The whole application: REST API, health check, pages, server functions and assets.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let store = state.store.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .merge(rest::router(&state))
        .route("/healthz", get(health))
        .route(app::audit::live::LIVE_PATH, get(crate::live::stream))
        .route(app::export::PAGE_EXPORT_PATH, get(crate::export::export))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(store.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await
}

/// Ctrl-C or SIGTERM (as sent by service managers and container runtimes) stops the
/// server after in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn health(State(store): State<Arc<dyn AuditStore>>) -> (StatusCode, Json<serde_json::Value>) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable"})))
        }
    }
}
