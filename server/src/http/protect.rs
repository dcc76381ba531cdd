//! What every answer carries for the browser's protection, and the hosts the server
//! answers for.
//!
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` and framing refused
//!   (`X-Frame-Options: DENY`, and `frame-ancestors 'none'` in the policy).
//! - `Cache-Control: no-store` on everything that does not say otherwise (the site's
//!   files do): pages, API answers and downloads hold audit data, which no cache keeps.
//! - A Content-Security-Policy on HTML. The app's pages set their own, with the nonce of
//!   their one inline script ([`app::page_policy`]); the server's own small pages (not
//!   allowed, not found, the API description) get one without any script.
//! - A request naming a host this server does not serve is refused (421): a page on
//!   another site whose name was rebound to this address (DNS rebinding) sends its own
//!   name, never ours. Ours are the address listened on (every address when listening
//!   on all), loopback and `localhost`, and the names the operator lists
//!   (`--allowed-hosts`).

use crate::state::AllowedHosts;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The policy of HTML the server writes itself: styles, images and forms of this site,
/// no script at all.
const SERVER_PAGE_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The host a request names: its `Host` header, or the authority of its target (HTTP/2).
fn requested_host(request: &Request) -> Option<String> {
    match request.headers().get(header::HOST) {
        Some(value) => Some(value.to_str().map(str::to_owned).unwrap_or_default()),
        None => request.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// Refuses requests for another host, and adds the protective headers to every answer.
pub async fn protect(State(hosts): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    if let Some(host) = requested_host(&request).filter(|h| !hosts.allows(h)) {
        tracing::warn!(host = %host.chars().take(100).collect::<String>(), "request for a host this server does not serve");
        let body = serde_json::json!({
            "error": "this server does not answer for that host name (an operator may add it with --allowed-hosts)"
        });
        let mut response = (StatusCode::MISDIRECTED_REQUEST, axum::Json(body)).into_response();
        guard(response.headers_mut());
        return response;
    }
    let mut response = next.run(request).await;
    guard(response.headers_mut());
    response
}

fn guard(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let html =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SERVER_PAGE_POLICY));
    }
}
