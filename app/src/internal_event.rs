//! The one way the product makes its own events (an export, a purge, the seed's demo data
//! and every later internal event): from the catalogue, which gives the severity and the
//! description's template, with the actor taken from whoever acted. What it builds passes
//! the same checks as an ingested entry, and carries its provenance like one: received
//! when it was recorded, by no token.

use crate::access::Principal;
use crate::catalogue::{lookup, EventSpec};
use crate::entry::{Actor, ActorType, Resource};
use crate::ingest::{check_fields, check_required, describe, ValidEntry};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

/// An internal event the product could not build: a defect of the caller, never of input.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EventError {
    #[error("'{0}' is not in the event catalogue")]
    Unknown(String),
    #[error("{event_type}: {field}: {message}")]
    Invalid { event_type: &'static str, field: String, message: String },
}

/// The actor of the product's own scheduled work.
pub fn system_actor() -> Actor {
    Actor { kind: ActorType::System, id: "system".to_owned(), name: "system".to_owned() }
}

/// An internal event being built.
#[derive(Clone, Debug)]
#[must_use]
pub struct InternalEvent {
    spec: &'static EventSpec,
    actor: Actor,
    resource: Option<Resource>,
    details: Map<String, Value>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    timestamp: Option<DateTime<Utc>>,
}

impl InternalEvent {
    /// An event of a catalogued type, by the system until said otherwise.
    pub fn new(event_type: &str) -> Result<Self, EventError> {
        let spec = lookup(event_type).ok_or_else(|| EventError::Unknown(event_type.to_owned()))?;
        Ok(InternalEvent {
            spec,
            actor: system_actor(),
            resource: None,
            details: Map::new(),
            ip_address: None,
            user_agent: None,
            timestamp: None,
        })
    }

    /// Done by this principal.
    pub fn by(self, principal: &Principal) -> Self {
        self.actor(principal.actor())
    }

    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn details(mut self, details: Map<String, Value>) -> Self {
        self.details.extend(details);
        self
    }

    /// Where the request that caused it came from.
    pub fn from(mut self, ip_address: Option<String>, user_agent: Option<String>) -> Self {
        self.ip_address = ip_address;
        self.user_agent = user_agent;
        self
    }

    /// When it happened, if not when it is recorded (the seed's past events).
    pub fn at(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The entry, recorded at `now`: its severity and description from the catalogue.
    pub fn build(self, now: DateTime<Utc>) -> Result<ValidEntry, EventError> {
        let spec = self.spec;
        let invalid = |(field, message)| EventError::Invalid { event_type: spec.name, field, message };
        check_fields(
            &self.actor,
            self.resource.as_ref(),
            self.ip_address.as_deref(),
            self.user_agent.as_deref(),
            &self.details,
        )
        .map_err(invalid)?;
        check_required(spec, &self.details, self.ip_address.as_deref(), self.user_agent.as_deref()).map_err(invalid)?;
        let description = describe(Some(spec), None, &self.details).map_err(invalid)?;
        Ok(ValidEntry {
            timestamp: self.timestamp.unwrap_or(now),
            event_type: spec.name.to_owned(),
            actor: self.actor,
            resource: self.resource,
            description,
            details: self.details,
            severity: spec.severity,
            ip_address: self.ip_address,
            user_agent: self.user_agent,
            received_at: now,
            ingested_by: None,
        })
    }
}

/// Records `event` (or says why it cannot be) as done by `by` at `now`: how a change made
/// by a person or a token gets its one entry. The error is a sentence, for the caller to
/// wrap in its own (a change that cannot be recorded is undone).
pub async fn record(
    store: &crate::store::Store,
    event: Result<InternalEvent, EventError>,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let entry = event.and_then(|e| e.actor(by.clone()).build(now)).map_err(|e| e.to_string())?;
    store.log.append(vec![entry]).await.map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Severity;

    fn now() -> DateTime<Utc> {
        "2025-03-01T12:00:00Z".parse().expect("time")
    }

    #[test]
    fn severity_and_description_come_from_the_catalogue() {
        let entry = InternalEvent::new("audit.export.aborted")
            .expect("catalogued")
            .by(&Principal::Anonymous)
            .detail("export_id", "audit-7")
            .detail("format", "csv")
            .detail("rows", 10)
            .detail("bytes", 2048)
            .detail("reason", "the client went away")
            .build(now())
            .expect("valid");
        assert_eq!(entry.severity, Severity::Warning);
        assert_eq!(entry.description, "Export audit-7 aborted after 10 entries (2048 bytes): the client went away");
        assert_eq!(entry.actor, Principal::Anonymous.actor());
        assert_eq!((entry.timestamp, entry.received_at, entry.ingested_by), (now(), now(), None));
    }

    #[test]
    fn a_missing_detail_or_unknown_type_is_a_defect_said_plainly() {
        assert_eq!(InternalEvent::new("no.such.event").err(), Some(EventError::Unknown("no.such.event".into())));
        let err =
            InternalEvent::new("retention.purge.completed").expect("catalogued").build(now()).expect_err("missing");
        assert!(err.to_string().contains("details.retention_days"), "{err}");
        let err = InternalEvent::new("task.run.failed")
            .expect("catalogued")
            .detail("task", "nightly")
            .detail("error", "\u{202E}spoof")
            .build(now())
            .expect_err("bidi");
        assert!(err.to_string().contains("description"), "{err}");
    }
}
