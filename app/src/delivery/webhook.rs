//! Webhooks: each batch is POSTed as a JSON array of entries (as the API serves them),
//! signed so that the receiver knows it came from this log and was not replayed later:
//!
//! - `X-CertifyClouds-Timestamp`: Unix seconds when it was sent;
//! - `X-CertifyClouds-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the
//!   destination's secret (its UTF-8 bytes), of the timestamp, a `.`, and the body exactly
//!   as sent;
//! - `X-CertifyClouds-Delivery`: the destination and the batch's sequence range
//!   (`3-1200-1299`), the same on a retry of the same batch.
//!
//! docs/delivery.md shows a receiver checking them. Any 2xx takes the batch; 408, 425, 429
//! and 5xx (and a connection that fails) are tried again, after `Retry-After` if it says;
//! anything else (401, 403, 404, a redirect) pauses the destination with the answer, until
//! someone changes it.

use super::http;
use super::{Outcome, Sender};
use crate::entry::AuditEntry;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

pub const TIMESTAMP_HEADER: &str = "x-certifyclouds-timestamp";
pub const SIGNATURE_HEADER: &str = "x-certifyclouds-signature";
pub const DELIVERY_HEADER: &str = "x-certifyclouds-delivery";

pub struct Webhook {
    destination: i64,
    url: String,
    secret: String,
    headers: BTreeMap<String, String>,
}

impl Webhook {
    pub fn new(destination: i64, url: &str, secret: &str, headers: &BTreeMap<String, String>) -> Self {
        Webhook { destination, url: url.to_owned(), secret: secret.to_owned(), headers: headers.clone() }
    }
}

/// `v1=` and the hex HMAC-SHA256 of `timestamp.body` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // An HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl Sender for Webhook {
    async fn send(&self, batch: &[AuditEntry]) -> Outcome {
        let client = match http::client() {
            Ok(client) => client,
            Err(why) => return Outcome::Retry { error: why, retry_after: None },
        };
        let body = match serde_json::to_vec(batch) {
            Ok(body) => body,
            Err(e) => return Outcome::Retry { error: format!("cannot write the batch: {e}"), retry_after: None },
        };
        let timestamp = chrono::Utc::now().timestamp();
        let (first, last) = (batch.first().map_or(0, |e| e.sequence), batch.last().map_or(0, |e| e.sequence));
        let mut request = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, timestamp, &body))
            .header(DELIVERY_HEADER, format!("{}-{first}-{last}", self.destination));
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => return Outcome::Retry { error: http::failure(e), retry_after: None },
        };
        let status = response.status();
        let wait = http::retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return Outcome::Accepted;
        }
        let answer = http::answer(status, &body);
        match status.as_u16() {
            408 | 425 | 429 | 500..=599 => Outcome::Retry { error: answer, retry_after: wait },
            401 | 403 => Outcome::Pause { reason: format!("the receiver refused the credentials: {answer}") },
            300..=399 => Outcome::Pause { reason: format!("the receiver redirects (not followed): {answer}") },
            _ => Outcome::Pause { reason: format!("the receiver refused the entries: {answer}") },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // RFC 4231, test case 2: the HMAC the signature is made with.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let a = signature("whsec_test", 1_700_000_000, b"[]");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64, "{a}");
        assert_ne!(a, signature("whsec_test", 1_700_000_001, b"[]"), "the time is signed");
        assert_ne!(a, signature("whsec_test", 1_700_000_000, b"[ ]"), "the body is signed");
        assert_ne!(a, signature("whsec_other", 1_700_000_000, b"[]"), "the secret keys it");
    }
}
