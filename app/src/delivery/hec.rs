//! Splunk HTTP Event Collector: each batch is POSTed to `/services/collector/event` as HEC
//! envelopes one after the other (concatenated JSON objects, not an array), with
//! `Authorization: Splunk <token>`:
//!
//! `{"time":1736937000.123456,"host":…,"source":…,"sourcetype":…,"index":…,"event":{…entry…}}`
//!
//! `time` is the entry's timestamp in epoch seconds with six decimals, written as a plain
//! decimal (HEC refuses other number forms); `event` is the entry as the API serves it;
//! the other fields are sent only when set. With indexer acknowledgement on, every request
//! names the destination's channel (`X-Splunk-Request-Channel`) and a batch counts as
//! delivered only once `/services/collector/ack` says its `ackId` is indexed.
//!
//! Answers, by HEC's code: 0 taken; 8, 9 (busy), 429 and any 5xx tried again; 5, 6, 7, 12,
//! 13 (the data) set aside, the entry `invalid-event-number` names or one at a time;
//! 1 to 4 (the token), 10, 11 (the channel), 14 (acknowledgement off) and anything else
//! pause the destination with the answer.

use super::http;
use super::{Outcome, Sender};
use crate::destinations::HecOptions;
use crate::entry::AuditEntry;
use async_trait::async_trait;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How often, and how long at most, an acknowledgement is waited for.
pub const ACK_POLL: Duration = Duration::from_secs(1);
pub const ACK_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Hec {
    endpoint: String,
    ack_endpoint: String,
    token: String,
    options: HecOptions,
    channel: String,
    ack_poll: Duration,
    ack_timeout: Duration,
}

impl Hec {
    /// `url` is the collector's base address, or its full event endpoint.
    pub fn new(destination: i64, url: &str, token: &str, options: &HecOptions) -> Self {
        let base = url.trim_end_matches('/');
        let base = base.strip_suffix("/services/collector/event").unwrap_or(base);
        let base = base.strip_suffix("/services/collector").unwrap_or(base);
        Hec {
            endpoint: format!("{base}/services/collector/event"),
            ack_endpoint: format!("{base}/services/collector/ack"),
            token: token.to_owned(),
            options: options.clone(),
            channel: channel(destination, token),
            ack_poll: ACK_POLL,
            ack_timeout: ACK_TIMEOUT,
        }
    }

    /// Acknowledgements polled every `poll`, waited for at most `timeout` (tests).
    pub fn with_ack_timing(mut self, poll: Duration, timeout: Duration) -> Self {
        (self.ack_poll, self.ack_timeout) = (poll, timeout);
        self
    }

    /// The body of a batch: its envelopes, one after the other.
    pub fn body(&self, batch: &[AuditEntry]) -> Vec<u8> {
        let mut body = Vec::new();
        for entry in batch {
            let micros = entry.timestamp.timestamp_micros();
            let time = format!("{}.{:06}", micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
            let mut envelope = serde_json::Map::new();
            // A plain decimal, exactly: serde would write a float.
            envelope.insert("time".into(), Value::Number(time.parse().unwrap_or_else(|_| 0.into())));
            for (key, value) in [
                ("host", &self.options.host),
                ("source", &self.options.source),
                ("sourcetype", &self.options.sourcetype),
                ("index", &self.options.index),
            ] {
                if let Some(value) = value {
                    envelope.insert(key.into(), json!(value));
                }
            }
            envelope.insert("event".into(), serde_json::to_value(entry).unwrap_or(Value::Null));
            let _ = serde_json::to_writer(&mut body, &envelope);
            body.push(b'\n');
        }
        body
    }

    async fn acknowledged(&self, client: &reqwest::Client, ack: u64) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        loop {
            tokio::time::sleep(self.ack_poll).await;
            let asked = client
                .post(&self.ack_endpoint)
                .header(reqwest::header::AUTHORIZATION, format!("Splunk {}", self.token))
                .header("X-Splunk-Request-Channel", &self.channel)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json!({ "acks": [ack] }).to_string())
                .send()
                .await;
            match asked {
                Ok(response) if response.status().is_success() => {
                    let body = response.bytes().await.unwrap_or_default();
                    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if answer["acks"][ack.to_string()] == Value::Bool(true) {
                        return Outcome::Accepted;
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    return classify(status, &body, None);
                }
                // The batch may be indexed or not: sent again (receivers drop repeats by id).
                Err(e) => return Outcome::Retry { error: http::failure(e), retry_after: None },
            }
            if tokio::time::Instant::now() >= deadline {
                return Outcome::Retry {
                    error: format!("not acknowledged within {} s: sent again", self.ack_timeout.as_secs()),
                    retry_after: None,
                };
            }
        }
    }
}

/// The destination's indexer-acknowledgement channel: a GUID of its own, the same on every
/// instance and restart (acknowledgement ids count per channel), another with another token.
pub fn channel(destination: i64, token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"certifyclouds hec channel\0")
        .chain_update(destination.to_be_bytes())
        .chain_update(token.as_bytes())
        .finalize();
    let h = hex::encode(&digest[..16]);
    format!("{}-{}-4{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// What an answer other than success means.
fn classify(status: reqwest::StatusCode, body: &[u8], wait: Option<Duration>) -> Outcome {
    let answer = http::answer(status, body);
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = parsed["code"].as_i64();
    let index = parsed["invalid-event-number"].as_u64().and_then(|n| usize::try_from(n).ok());
    match (code, status.as_u16()) {
        (Some(8 | 9), _) | (_, 429 | 500..=599) => Outcome::Retry { error: answer, retry_after: wait },
        (Some(5 | 6 | 7 | 12 | 13), _) => Outcome::Park { index, reason: answer },
        (Some(1..=4), _) | (_, 401 | 403) => Outcome::Pause { reason: format!("the HEC token was refused: {answer}") },
        (Some(10 | 11), _) => Outcome::Pause { reason: format!("the acknowledgement channel was refused: {answer}") },
        (Some(14), _) => Outcome::Pause {
            reason: format!("indexer acknowledgement is off for this token: turn it on, or ack off here: {answer}"),
        },
        _ => Outcome::Pause { reason: format!("the collector refused the request: {answer}") },
    }
}

#[async_trait]
impl Sender for Hec {
    async fn send(&self, batch: &[AuditEntry]) -> Outcome {
        let client = match http::client() {
            Ok(client) => client,
            Err(why) => return Outcome::Retry { error: why, retry_after: None },
        };
        let mut request = client
            .post(&self.endpoint)
            .header(reqwest::header::AUTHORIZATION, format!("Splunk {}", self.token))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if self.options.ack {
            request = request.header("X-Splunk-Request-Channel", &self.channel);
        }
        let response = match request.body(self.body(batch)).send().await {
            Ok(response) => response,
            Err(e) => return Outcome::Retry { error: http::failure(e), retry_after: None },
        };
        let status = response.status();
        let wait = http::retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return classify(status, &body, wait);
        }
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if parsed["code"].as_i64().is_some_and(|code| code != 0) {
            return classify(status, &body, wait);
        }
        if !self.options.ack {
            return Outcome::Accepted;
        }
        match parsed["ackId"].as_u64().or_else(|| parsed["ackID"].as_u64()) {
            Some(ack) => self.acknowledged(client, ack).await,
            None => Outcome::Pause {
                reason: format!(
                    "acknowledgement is on here but the collector gave no ackId (is useACK on for the token?): {}",
                    http::answer(status, &body)
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, ActorType, Severity};

    fn entry(micros: i64) -> AuditEntry {
        AuditEntry {
            id: "audit-1".into(),
            sequence: 1,
            timestamp: chrono::DateTime::from_timestamp_micros(micros).expect("time"),
            received_at: None,
            event_type: "secret.read".into(),
            severity: Severity::Info,
            actor: Actor { kind: ActorType::User, id: "u".into(), name: "ada".into() },
            resource: None,
            description: "read".into(),
            details: Default::default(),
            ip_address: None,
            user_agent: None,
            ingested_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_body_is_envelopes_one_after_the_other_with_an_exact_time() {
        let options = HecOptions { index: Some("audit".into()), ..HecOptions::default() };
        let hec = Hec::new(3, "https://splunk:8088/", "t", &options);
        assert_eq!(hec.endpoint, "https://splunk:8088/services/collector/event");
        assert_eq!(Hec::new(3, "https://splunk:8088/services/collector/event", "t", &options).endpoint, hec.endpoint);
        let body = hec.body(&[entry(1_736_937_000_123_456), entry(1_736_937_000_000_001)]);
        let text = String::from_utf8(body.clone()).expect("UTF-8");
        assert!(text.contains(r#""time":1736937000.123456"#), "{text}");
        assert!(text.contains(r#""time":1736937000.000001"#), "{text}");
        assert!(!text.trim_start().starts_with('['), "not an array");
        let envelopes: Vec<Value> =
            serde_json::Deserializer::from_slice(&body).into_iter::<Value>().collect::<Result<_, _>>().expect("JSON");
        assert_eq!(envelopes.len(), 2);
        assert_eq!(envelopes[0]["index"], "audit");
        assert!(envelopes[0].get("host").is_none(), "only what is set");
        assert_eq!(envelopes[0]["event"]["id"], "audit-1");
    }

    #[test]
    fn answers_are_read_by_their_code() {
        let read = |status: u16, body: &str| {
            classify(reqwest::StatusCode::from_u16(status).expect("status"), body.as_bytes(), None)
        };
        assert!(matches!(read(503, r#"{"text":"Server is busy","code":9}"#), Outcome::Retry { .. }));
        assert!(matches!(read(500, r#"{"text":"Internal server error","code":8}"#), Outcome::Retry { .. }));
        assert!(matches!(read(502, "bad gateway"), Outcome::Retry { .. }));
        assert!(matches!(read(429, ""), Outcome::Retry { .. }));
        assert_eq!(
            read(400, r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#),
            Outcome::Park {
                index: Some(2),
                reason: r#"HTTP 400 Bad Request: {"text":"Invalid data format","code":6,"invalid-event-number":2}"#
                    .into()
            }
        );
        assert!(matches!(read(400, r#"{"text":"Incorrect index","code":7}"#), Outcome::Park { index: None, .. }));
        let Outcome::Pause { reason } = read(403, r#"{"text":"Invalid token","code":4}"#) else { panic!("paused") };
        assert!(reason.contains("token was refused") && reason.contains("Invalid token"), "{reason}");
        assert!(matches!(read(400, r#"{"text":"Data channel is missing","code":10}"#), Outcome::Pause { .. }));
        assert!(matches!(read(400, r#"{"text":"ACK is disabled","code":14}"#), Outcome::Pause { .. }));
    }

    #[test]
    fn a_channel_is_a_stable_guid_per_destination_and_token() {
        let a = channel(3, "t");
        assert_eq!(a, channel(3, "t"));
        assert_ne!(a, channel(4, "t"));
        assert_ne!(a, channel(3, "u"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12], "{a}");
    }
}
