//! Signing in and out over HTTP: `POST /login` from the plain form of the `/login` page
//! (it works without JavaScript) and `POST /logout`. The session travels in a cookie that
//! scripts cannot read (`HttpOnly`), that other sites' pages send only with a link
//! followed (`SameSite=Lax`; every change is also checked to come from this site),
//! and that goes only over HTTPS when the server is reached that way (`Secure`). Every
//! sign-in gets a new session id, and one the browser still held is ended. Sign-in
//! attempts are limited per client address, beyond the per-account lockout.

use super::caller::{same_site, served_over_https, Who};
use super::error::ApiError;
use crate::state::AppState;
use app::signin::{self, Client, SignInError};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use std::time::Instant;

/// The session cookie's name; over HTTPS with the `__Host-` prefix, which browsers accept
/// only from this very host, secure and for the whole site: a neighbouring subdomain
/// cannot plant one.
pub const COOKIE: &str = "cc_session";
const HOST_COOKIE: &str = "__Host-cc_session";

/// Where a sign-in goes when it was not sent from another page.
const HOME: &str = "/audit";

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// The session a request's cookie carries, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let named = |wanted: &str| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    };
    named(HOST_COOKIE).or_else(|| named(COOKIE))
}

/// A page of this site to go to after signing in: a path of ours, never another site
/// (`//host`, `/\host` and absolute URLs are refused), else the Audit tab.
pub fn next_page(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control() || c == '\\')
                && path != "/login"
                && !path.starts_with("/login?") =>
        {
            path
        }
        _ => HOME,
    }
}

/// A redirect to a path of this site; characters a header may not hold (a search for
/// `café`) are percent-encoded.
fn see_other(location: &str) -> Response {
    let mut encoded = String::with_capacity(location.len());
    for c in location.chars() {
        if c.is_ascii_graphic() {
            encoded.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    let value = HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(HOME));
    response.headers_mut().insert(header::LOCATION, value);
    response
}

/// Where a page visitor who is not signed in is sent: the sign-in page, which comes back
/// to `here` afterwards.
pub fn to_sign_in(here: &str) -> Response {
    let query: String =
        form_urlencoded::Serializer::new(String::new()).append_pair("next", next_page(Some(here))).finish();
    see_other(&format!("/login?{query}"))
}

fn cookie(value: &str, https: bool, max_age: Option<u32>) -> HeaderValue {
    let name = if https { HOST_COOKIE } else { COOKIE };
    // Lax, not Strict: a link to an entry from a ticket or an e-mail opens it signed in.
    // Lax sends the cookie only with top-level GETs from other sites, which change
    // nothing here; every state-changing request is also checked to come from this site.
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if https {
        cookie.push_str("; Secure");
    }
    // The value is our own hex secret or empty: always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /login`: signs in and goes on to `next`; a refusal goes back to the form, which
/// says the same whatever the reason.
pub async fn sign_in(State(state): State<AppState>, Who(caller): Who, request: Request) -> Result<Response, ApiError> {
    let https = served_over_https(&request, &state.proxies);
    if !same_site(request.headers()) {
        return Err(ApiError::CrossSite);
    }
    let old = session_cookie(request.headers()).map(str::to_owned);
    let form: Result<Form<LoginForm>, FormRejection> = Form::from_request(request, &state).await;
    let Form(form) = form.map_err(|e| ApiError::bad_request(format!("the sign-in form could not be read: {e}")))?;
    if let Some(retry_after) = caller.ip.and_then(|ip| state.sign_in.attempts.refuse(ip, Instant::now())) {
        return Err(ApiError::TooManyAttempts { retry_after });
    }
    let next = next_page(form.next.as_deref()).to_owned();
    let now = chrono::Utc::now();
    let client = Client { ip_address: caller.ip.map(|ip| ip.to_string()), user_agent: caller.user_agent.clone() };
    let policy = &state.sign_in;
    match signin::sign_in(&state.store, &form.username, &form.password, &client, &policy.lockout, now).await {
        Ok(signed_in) => {
            // A session the browser already held ends: the new one has a new id. (Only
            // now: a mistyped password must not sign out the tabs that were working.)
            if let Some(old) = old {
                signin::sign_out(&state.store, &old, now).await.map_err(sign_in_failed)?;
            }
            let mut response = see_other(&next);
            response.headers_mut().insert(header::SET_COOKIE, cookie(&signed_in.token, https, None));
            Ok(response)
        }
        Err(SignInError::Refused(_)) => {
            if let Some(ip) = caller.ip {
                state.sign_in.attempts.failed(ip, Instant::now());
            }
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("failed", "1")
                .append_pair("next", &next)
                .finish();
            Ok(see_other(&format!("/login?{query}")))
        }
        Err(e) => Err(sign_in_failed(e)),
    }
}

/// `POST /logout`: ends the session on the server and forgets the cookie.
pub async fn sign_out(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if !same_site(request.headers()) {
        return Err(ApiError::CrossSite);
    }
    if let Some(token) = session_cookie(request.headers()) {
        signin::sign_out(&state.store, token, chrono::Utc::now()).await.map_err(sign_in_failed)?;
    }
    let mut response = see_other("/login");
    let https = served_over_https(&request, &state.proxies);
    response.headers_mut().insert(header::SET_COOKIE, cookie("", https, Some(0)));
    Ok(response)
}

pub(super) fn sign_in_failed(e: SignInError) -> ApiError {
    match e {
        SignInError::Store(e) => e.into(),
        other => ApiError::SignIn(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_pages_are_gone_to_after_signing_in() {
        for ours in ["/audit", "/audit?q=vault&severity=error", "/audit/audit-7", "/"] {
            assert_eq!(next_page(Some(ours)), ours);
        }
        for theirs in ["//evil.example/x", "https://evil.example", "/\\evil.example", "evil", "", "/login", "/a\nb"] {
            assert_eq!(next_page(Some(theirs)), "/audit", "{theirs:?}");
        }
        assert_eq!(next_page(None), "/audit");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("tz=Europe/Paris; cc_session=ccs_abc ; x=1"));
        assert_eq!(session_cookie(&headers), Some("ccs_abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("cc_session=; tz=UTC"));
        assert_eq!(session_cookie(&headers), None);
        assert_eq!(session_cookie(&HeaderMap::new()), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("cc_session=planted; __Host-cc_session=ours"));
        assert_eq!(session_cookie(&headers), Some("ours"), "the host-only cookie wins");
    }

    #[test]
    fn redirects_carry_any_search_percent_encoded() {
        let response = see_other("/audit?q=café société");
        assert_eq!(response.headers()[header::LOCATION], "/audit?q=caf%C3%A9%20soci%C3%A9t%C3%A9");
    }
}
