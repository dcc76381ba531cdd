//! Who is asking, worked out in one place for every route: the bearer token (if any) or
//! else the session cookie becomes the [`Principal`], the connection (or, behind a trusted proxy, its
//! `X-Forwarded-For`) gives the client's address. The route's permission is checked here;
//! handlers and server functions receive the [`Caller`] and take every audited action's
//! actor from it.

use super::error::{ApiError, DenialReason};
use super::login::{self, session_cookie};
use super::pages;
use super::routes::{Kind, Route};
use crate::state::{AppState, TrustedProxies};
use app::access::{Caller, Permission, Person, Principal};
use app::signin;
use app::tokens;
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// The route and principal of an answered request, for the request log and the metrics.
#[derive(Clone, Debug)]
pub struct Served {
    pub route: &'static str,
    pub principal: String,
}

/// Identifies the caller, checks the route's permission and hands the [`Caller`] on.
pub async fn authorize(
    State((state, route)): State<(AppState, &'static Route)>,
    mut request: Request,
    next: Next,
) -> Response {
    let (principal, refused) = match identify(&state, request.headers(), route.permission).await {
        Ok(principal) => {
            let mut refused = principal.check(route.permission).err().map(ApiError::from);
            // A cookie rides along with any request the browser sends, whichever site's
            // page made it: a change made by a signed-in person must come from ours.
            let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
            if refused.is_none()
                && changes
                && matches!(principal, Principal::Person(_))
                && !same_site(request.headers())
            {
                refused = Some(ApiError::CrossSite);
            }
            (principal, refused)
        }
        Err(error) => (Principal::Anonymous, Some(error)),
    };
    let served = Served { route: route.path, principal: principal.label() };
    let mut response = match refused {
        Some(error) => refusal(&state, &request, route.kind, &principal, error),
        None => {
            let caller = Caller {
                principal,
                ip: client_ip(&request, &state.proxies),
                user_agent: user_agent(request.headers()),
            };
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
    };
    response.extensions_mut().insert(served);
    response
}

/// A refusal as the kind of route is answered: a page visitor who is not signed in is sent
/// to sign in and brought back afterwards, and one whose role does not reach the page is
/// told so on a page of its own; a page's server function says that the session has
/// ended in the error type the page reads; everything else gets the JSON error.
fn refusal(state: &AppState, request: &Request, kind: Kind, principal: &Principal, error: ApiError) -> Response {
    let reason = error.denial().map(DenialReason);
    let mut response = match (kind, &error, principal) {
        (Kind::Page, ApiError::Unauthorized { .. }, _) => {
            let here = request.uri().path_and_query().map_or("/", |p| p.as_str());
            login::to_sign_in(here)
        }
        (Kind::Page, ApiError::Forbidden(permission), Principal::Person(person)) => {
            pages::not_allowed(state, person, *permission)
        }
        (Kind::ServerFn, ApiError::Unauthorized { .. }, _) => {
            let mut response = (error.status(), app::access::SIGNED_OUT_REPLY).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        _ => return error.into_response(),
    };
    if let Some(reason) = reason {
        response.extensions_mut().insert(reason);
    }
    response
}

/// The principal the request's credentials name. Public routes ignore credentials (a
/// load balancer's health check may carry any); elsewhere a credential that is presented
/// must be valid.
async fn identify(state: &AppState, headers: &HeaderMap, permission: Permission) -> Result<Principal, ApiError> {
    if permission == Permission::Public {
        return Ok(Principal::Anonymous);
    }
    // Only a Bearer credential is ours: a proxy in front may add its own (Basic, say),
    // and then the session cookie still counts.
    let bearer = headers.get(AUTHORIZATION).and_then(|value| {
        let value = value.to_str().unwrap_or_default().trim_start();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let Some(token) = bearer else {
        return signed_in(state, headers).await;
    };
    if token.is_empty() {
        return Err(ApiError::Unauthorized { reason: "malformed Authorization header" });
    }
    match state.tokens.find_token(&tokens::hash(token)).await? {
        Some(record) => {
            state.token_uses.note(&state.tokens, record.id);
            Ok(Principal::Token(record))
        }
        None => Err(ApiError::Unauthorized { reason: "unknown bearer token" }),
    }
}

/// The person the session cookie names, if it names a session still open.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let Some(token) = session_cookie(headers) else {
        return Ok(Principal::Anonymous);
    };
    let session = signin::session(&state.store, token, &state.sign_in.timeouts, chrono::Utc::now())
        .await
        .map_err(super::login::sign_in_failed)?;
    Ok(session.map_or(Principal::Anonymous, |s| {
        Principal::Person(Person {
            id: s.user.id,
            username: s.user.username,
            display_name: s.user.display_name,
            role: s.user.role,
        })
    }))
}

/// Whether a request that changes something was sent by this site's own pages: the
/// browser says so in `Sec-Fetch-Site`, or failing that its `Origin` names the host the
/// request went to. A request with neither comes from no browser page at all (a script,
/// `curl`), which a cookie attack cannot make.
pub fn same_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
            !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
        }
    }
}

/// The connection's peer. Tests stand in for the connection with axum's `MockConnectInfo`.
fn peer(request: &Request) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|MockConnectInfo(addr)| addr.ip()))
}

/// Whether the client reached the server over HTTPS: only a trusted proxy can say so
/// (`X-Forwarded-Proto`), as the server itself speaks plain HTTP.
pub fn served_over_https(request: &Request, proxies: &TrustedProxies) -> bool {
    peer(request).is_some_and(|ip| proxies.contains(ip))
        && request.headers().get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// The `User-Agent` as an entry may record it: at most as long as ingest allows, tabs as
/// spaces. A client's odd header is shortened, never a reason to refuse what it asked for
/// (an export must still be recorded).
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let text = headers.get(USER_AGENT).and_then(|v| v.to_str().ok())?;
    let text: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(app::ingest::MAX_USER_AGENT).collect();
    Some(text).filter(|v| !v.trim().is_empty())
}

/// The client's address: the connection's peer, unless the peer is a trusted proxy; then
/// the nearest address in `X-Forwarded-For` that is not itself a trusted proxy (addresses
/// further left were written by the client, and anyone can write anything there).
fn client_ip(request: &Request, proxies: &TrustedProxies) -> Option<IpAddr> {
    let peer = peer(request)?;
    if !proxies.contains(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !proxies.contains(ip) {
                    break;
                }
            }
            // Garbage in the header: believe no further.
            Err(_) => break,
        }
    }
    Some(client)
}

/// Handlers name the [`Caller`] in their signature; [`authorize`] put it there.
pub struct Who(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Every route is built from the route table with `authorize` in front of it.
        parts.extensions.get::<Caller>().cloned().map(Who).ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler ran without the route table's authorisation");
            ApiError::Unavailable
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(peer: &str, forwarded: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/");
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(Body::empty()).expect("request");
        let addr: SocketAddr = format!("{peer}:4000").parse().expect("addr");
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("proxies");
        // An untrusted peer's header is ignored: anyone can send it.
        assert_eq!(client_ip(&request("192.0.2.9", &["203.0.113.5"]), &proxies), ip("192.0.2.9"));
        // Behind a trusted proxy: the last address it was given.
        assert_eq!(client_ip(&request("10.0.0.2", &["203.0.113.5"]), &proxies), ip("203.0.113.5"));
        // A spoofed address to the left is not believed; chained trusted proxies are skipped.
        assert_eq!(client_ip(&request("10.0.0.2", &["6.6.6.6, 203.0.113.5", "10.0.0.7"]), &proxies), ip("203.0.113.5"));
        assert_eq!(client_ip(&request("10.0.0.2", &["junk, 203.0.113.5"]), &proxies), ip("203.0.113.5"));
        assert_eq!(client_ip(&request("10.0.0.2", &["203.0.113.5, junk"]), &proxies), ip("10.0.0.2"));
        assert_eq!(client_ip(&request("10.0.0.2", &[]), &proxies), ip("10.0.0.2"));
        assert_eq!(client_ip(&request("10.0.0.2", &["203.0.113.5"]), &TrustedProxies::default()), ip("10.0.0.2"));
        let no_peer = Request::builder().body(Body::empty()).expect("request");
        assert_eq!(client_ip(&no_peer, &proxies), None);
    }
}
