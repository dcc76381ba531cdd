//! The HTTP client every sender shares, and how a receiver's answer reads: one client per
//! process (its connections are kept and reused), rustls with the Web PKI's roots, no
//! redirects (a destination names where its entries go; a redirect could take them, and
//! their credentials, elsewhere), and errors that never carry the address (its path or
//! query may hold a token).

use std::sync::OnceLock;
use std::time::Duration;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take, the receiver's answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of a receiver's answer is kept (for the health view and `delivery.failed`).
const ANSWER_BYTES: usize = 500;

pub fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("CertifyClouds-Audit/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot make an HTTP client: {}", e.without_url()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A failed request, said without its address, with its causes (a connection reset, a
/// certificate refused).
pub fn failure(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let e = e.without_url();
    let mut text = format!("the request {kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A receiver's answer as kept: its status and the start of its body, control characters
/// and all, made printable.
pub fn answer(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&body[..body.len().min(ANSWER_BYTES)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    match text.is_empty() {
        true => format!("HTTP {status}"),
        false => format!("HTTP {status}: {text}"),
    }
}

/// The seconds of a `Retry-After` header, if it gives them (at most an hour).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}
