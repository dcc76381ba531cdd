//! The Audit tab as HTTP: its pages rendered on the server, its server functions, the
//! site's static files, and the answer for anything else.

use super::html::escape;
use crate::state::AppState;
use app::access::{Caller, Permission, Person};
use app::accounts::Role;
use app::shell;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use leptos::prelude::provide_context;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// What server functions (and pages rendering on the server) find in their context: the
/// log, the whole store (for the admin pages' services), and the [`Caller`] the route table's middleware worked out, from which anything
/// they record takes its actor.
fn provide_app_context(state: &AppState, caller: Option<Caller>) {
    provide_context(state.log.clone());
    provide_context(state.store.clone());
    provide_context(state.signing.clone());
    provide_context(state.purging.clone());
    if let Some(caller) = caller {
        provide_context(caller);
    }
}

fn caller_of(request: &Request) -> Option<Caller> {
    request.extensions().get::<Caller>().cloned()
}

/// A page: rendered whole on the server (the rows are in the HTML), then hydrated.
pub async fn render(State(state): State<AppState>, request: Request) -> Response {
    let options = state.leptos_options.clone();
    let caller = caller_of(&request);
    let handler = leptos_axum::render_app_async_with_context(
        move || provide_app_context(&state, caller.clone()),
        move || shell(options.clone()),
    );
    handler(request).await
}

/// The site's root: the Audit tab is the product's page.
pub async fn home() -> Redirect {
    Redirect::temporary("/audit")
}

/// A server function of the pages (its path is declared in the route table).
pub async fn server_fn(State(state): State<AppState>, request: Request) -> Response {
    let caller = caller_of(&request);
    leptos_axum::handle_server_fns_with_context(move || provide_app_context(&state, caller.clone()), request)
        .await
        .into_response()
}

/// A file of the built site (`target/site`): the script, the WASM, the stylesheet, the
/// icon; sent as stored compressed (brotli or gzip) when the client accepts it. Files
/// named for their content may be kept for a year (a new build brings new names);
/// others are checked again on each use.
pub async fn asset(State(state): State<AppState>, request: Request) -> Response {
    let options = &state.leptos_options;
    let hashed = options.output_name.contains('.')
        && request.uri().path().starts_with(&format!("/{}/{}", options.site_pkg_dir, options.output_name));
    let files = ServeDir::new(options.site_root.to_string()).precompressed_br().precompressed_gzip();
    let mut response = match files.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(infallible) => match infallible {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let cache = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        // The same name is sent as brotli, gzip or plain by what the client accepts: a
        // shared cache must keep them apart.
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// A page the signed-in person's role does not reach (403): said plainly, with the way
/// back and the way to sign in as someone else.
pub fn not_allowed(state: &AppState, person: &Person, needed: Permission) -> Response {
    let options = &state.leptos_options;
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    let who = escape(&person.display_name);
    let role = person.role;
    let needs = match needed {
        Permission::SignedIn(Role::Admin) | Permission::Scope(_) => "This page is for admins.",
        _ => "Your account cannot open this page.",
    };
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"{stylesheet}\"><title>Not allowed · CertifyClouds Audit</title></head>\
         <body><header class=\"topbar\"><a class=\"brand\" href=\"/audit\">CertifyClouds</a>\
         <nav aria-label=\"Main\"><a href=\"/audit\">Audit</a></nav></header>\
         <main><section class=\"not-allowed\"><h1>Not allowed</h1>\
         <p>{needs} You are signed in as <strong>{who}</strong>, with the role <strong>{role}</strong>.</p>\
         <p><a href=\"/audit\">Go to the Audit tab</a></p>\
         <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>\
         </section></main></body></html>"
    );
    let mut response = (StatusCode::FORBIDDEN, Html(page)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Anything the route table does not declare.
pub async fn not_found(request: Request) -> Response {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head>\
                    <body><h1>Page not found</h1><p><a href=\"/audit\">Go to the Audit tab</a></p></body></html>";
        (StatusCode::NOT_FOUND, Html(page)).into_response()
    } else {
        let mut response =
            (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": "no such route"}))).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
