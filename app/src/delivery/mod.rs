//! Delivering the log to its destinations, at least once and in order: each destination
//! has a cursor over the log's sequence, moved only after its receiver accepted what came
//! before it ([`worker`]); a receiver that fails is tried again with a backoff that grows
//! to a circuit's pause, never skipping what it has not taken, and each change between
//! failing and recovered is one entry in the log. How entries travel is the destination
//! kind's [`Sender`] (standard output: [`stdout`]).

pub mod hec;
mod http;
pub mod stdout;
pub mod webhook;
pub mod worker;

use crate::destination_changes::{self, ChangeError};
use crate::destinations::{
    pattern_matches, DestinationConfig, DestinationError, DestinationHealth, DestinationKind, TestDelivery,
};
use crate::entry::{Actor, AuditEntry, Severity};
use crate::filter::EntryFilter;
use crate::store::{DeliveryState, Store, StoredDestination};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What a receiver made of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Taken (or acknowledged): the cursor moves past the batch.
    Accepted,
    /// Not taken, for now: the same batch again after a backoff (or `retry_after`, when
    /// the receiver said how long).
    Retry { error: String, retry_after: Option<Duration> },
    /// Refused until someone changes something (a token refused, a channel unknown): tried
    /// again only every [`Policy::paused_probe`], and said so.
    Pause { reason: String },
    /// Refused as bad data: the entry at `index` of the batch (or, when the receiver did not
    /// say which, the batch's only entry) is set aside with the reason and the rest sent
    /// again; a batch of several without an index is sent again one entry at a time.
    Park { index: Option<usize>, reason: String },
}

/// How entries travel to one kind of destination.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends a batch (in sequence order) and says what the receiver made of it.
    async fn send(&self, batch: &[AuditEntry]) -> Outcome;
}

/// The sender for a destination, or why it has none in this version.
pub fn sender_for(destination: &StoredDestination) -> Result<Box<dyn Sender>, String> {
    match destination.kind {
        DestinationKind::Stdout => Ok(Box::new(stdout::Stdout::new(&destination.name))),
        DestinationKind::Webhook => {
            let url = destination.config.url.as_deref().ok_or("the webhook has no address")?;
            let secret = destination.secret.as_deref().ok_or("the webhook has no signing secret")?;
            Ok(Box::new(webhook::Webhook::new(destination.id, url, secret, &destination.config.headers)))
        }
        DestinationKind::SplunkHec => {
            let url = destination.config.url.as_deref().ok_or("the collector has no address")?;
            let token = destination.secret.as_deref().ok_or("the collector has no HEC token")?;
            Ok(Box::new(hec::Hec::new(destination.id, url, token, &destination.config.hec)))
        }
    }
}

/// How delivery waits and gives up waiting.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How often an idle destination looks for new entries without being woken.
    pub poll: Duration,
    /// The first backoff; each failure in a row doubles its bound, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failures in a row the destination is failing: recorded once as
    /// `delivery.failed`.
    pub failing_after: u32,
    /// After this many the circuit opens: one try every `max_backoff` until one succeeds.
    pub open_after: u32,
    /// A paused destination (its token refused) is tried again this often.
    pub paused_probe: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            poll: Duration::from_secs(2),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            failing_after: 3,
            open_after: 8,
            paused_probe: Duration::from_secs(300),
        }
    }
}

impl Policy {
    /// The wait before try `attempt` (1 for the first retry): "full jitter", a uniform
    /// draw up to `base · 2^(attempt-1)` capped at `max_backoff`, so that many instances
    /// or destinations failing at once do not retry in step. `unit` is the draw, in [0, 1).
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let bound = self.base_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.max_backoff);
        bound.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// The entries a destination wants: its event types (every one for `audit.*`) at its
/// minimum severity or above.
pub fn filter_of(config: &DestinationConfig) -> EntryFilter {
    EntryFilter {
        event_types: pattern_matches(&config.event_types).unwrap_or_default(),
        severities: Severity::ALL.into_iter().filter(|s| *s >= config.min_severity).collect(),
        ..EntryFilter::default()
    }
}

/// What a destination's worker reads: what it wants, and the alerts, which a rule may
/// address to it whatever its own filter (the worker keeps those addressed to it).
pub fn read_filter(config: &DestinationConfig) -> EntryFilter {
    let mut wide = filter_of(config);
    if !wide.event_types.is_empty() {
        wide.event_types.push(crate::filter::EventTypeMatch::Exact(crate::alerting::TRIGGERED.into()));
    }
    wide.severities.clear();
    wide
}

/// A receiver's answer with the destination's secret and header values taken out: a
/// proxy that echoes the request would otherwise put them in the health view and the log.
pub(crate) fn redact(text: &str, destination: &StoredDestination) -> String {
    let mut out = text.to_owned();
    let secrets = destination.secret.iter().chain(destination.config.headers.values());
    for secret in secrets.filter(|s| s.len() >= 4) {
        out = out.replace(secret.as_str(), "[redacted]");
    }
    out
}

/// The health of destination `id` (as in its address) now.
pub async fn health_of(store: &Store, id: &str) -> Result<DestinationHealth, ChangeError> {
    let destination = destination_changes::stored(store, id).await?;
    let Some(state) = store.delivery.delivery_state(destination.id).await? else {
        return Err(DestinationError::NotFound(id.to_owned()).into());
    };
    Ok(health(&destination, &state, destination_changes::head(store).await?))
}

/// Sends destination `id` one test entry (`delivery.test`, not in the log) from `by`, and
/// says what its receiver made of it.
pub async fn send_test(store: &Store, id: &str, by: &Actor, now: DateTime<Utc>) -> Result<TestDelivery, ChangeError> {
    let destination = destination_changes::stored(store, id).await?;
    let sender = match sender_for(&destination) {
        Ok(sender) => sender,
        Err(why) => return Ok(TestDelivery { delivered: false, answer: why }),
    };
    let entry = AuditEntry {
        id: format!("test-{}", now.timestamp_micros()),
        sequence: 0,
        timestamp: now,
        received_at: Some(now),
        event_type: "delivery.test".into(),
        severity: Severity::Info,
        actor: by.clone(),
        resource: None,
        description: format!("Test event for destination {} sent by {}", destination.name, by.name),
        details: serde_json::Map::new(),
        ip_address: None,
        user_agent: None,
        ingested_by: None,
        prev_hash: String::new(),
        hash: String::new(),
    };
    Ok(match sender.send(std::slice::from_ref(&entry)).await {
        Outcome::Accepted => TestDelivery { delivered: true, answer: "accepted".into() },
        Outcome::Retry { error, .. } => TestDelivery { delivered: false, answer: redact(&error, &destination) },
        Outcome::Pause { reason } | Outcome::Park { reason, .. } => {
            TestDelivery { delivered: false, answer: redact(&reason, &destination) }
        }
    })
}

/// A destination's health as shown: where its delivery stands against the log's head.
pub fn health(destination: &StoredDestination, state: &DeliveryState, head: u64) -> DestinationHealth {
    DestinationHealth {
        id: destination.id,
        name: destination.name.clone(),
        kind: destination.kind,
        enabled: destination.config.enabled,
        state: if destination.config.enabled { state.state.clone() } else { "disabled".to_owned() },
        cursor: state.cursor,
        head,
        backlog: head.saturating_sub(state.cursor),
        delivered: state.delivered,
        failing: state.failing,
        failing_since: state.failing_since,
        attempts: state.attempts,
        last_success_at: state.last_success_at,
        last_error_at: state.last_error_at,
        last_error: state.last_error.clone(),
        next_retry_at: state.next_retry_at,
        parked: state.parked,
        last_parked: state.last_parked.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_its_bound_up_to_the_cap_with_jitter_below_it() {
        let policy = Policy::default();
        assert_eq!(policy.backoff(1, 0.999_999).as_millis(), 999);
        assert_eq!(policy.backoff(3, 0.5), Duration::from_secs(2));
        assert_eq!(policy.backoff(30, 0.5), Duration::from_secs(150), "capped at 300 s");
        assert_eq!(policy.backoff(4, 0.0), Duration::ZERO);
        assert!(policy.backoff(u32::MAX, 1.0) <= policy.max_backoff);
    }

    #[test]
    fn a_destination_wants_its_types_at_its_severity_or_above() {
        let config = DestinationConfig {
            url: None,
            event_types: vec!["auth.*".into()],
            min_severity: Severity::Warning,
            enabled: true,
            hec: Default::default(),
            headers: Default::default(),
            max_events: 10,
            max_bytes: 4096,
        };
        let filter = filter_of(&config);
        assert_eq!(filter.severities, vec![Severity::Warning, Severity::Error]);
        assert_eq!(filter.event_types.len(), 1);
        let every = filter_of(&DestinationConfig { event_types: vec!["audit.*".into()], ..config });
        assert!(every.event_types.is_empty(), "audit.* is every event");
    }
}
