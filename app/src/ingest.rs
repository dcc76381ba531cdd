//! Validation of events posted by other components: a batch is accepted whole or
//! refused whole, and a refusal names the entry and the field that were wrong.

use crate::catalogue::{is_internal, is_well_formed, lookup, render_template, EventSpec};
use crate::entry::{Actor, ActorType, IngestToken, Resource, Severity};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use thiserror::Error;

pub const MAX_BATCH: usize = 1000;
pub const MAX_TEXT: usize = 4096;
pub const MAX_NAME: usize = 256;
pub const MAX_USER_AGENT: usize = 1024;
const MAX_DETAILS_BYTES: usize = 64 * 1024;
/// Clocks drift; an event stamped further ahead than this is refused rather than pinned
/// to the top of a newest-first log.
const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

/// An event as another component posts it. The server assigns `id` and `sequence`.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// RFC 3339, any offset; default: when the server receives it. At most five minutes ahead.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// `word.word[.word]`: a catalogued type (`GET /audit/event-types`) or a custom one.
    pub event_type: String,
    /// `user` or `service` (`system` is the product itself).
    pub actor: Actor,
    #[serde(default)]
    pub resource: Option<Resource>,
    /// Default: the catalogue's template filled from the details (required for custom types).
    #[serde(default)]
    pub description: Option<String>,
    /// Must hold what the event type's catalogue entry requires.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub details: Option<Map<String, Value>>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// An entry ready to append: every field checked, defaults filled in from the catalogue,
/// and its provenance (when it arrived, from which token) attached.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidEntry {
    pub timestamp: DateTime<Utc>,
    pub event_type: String,
    pub actor: Actor,
    pub resource: Option<Resource>,
    pub description: String,
    pub details: Map<String, Value>,
    pub severity: Severity,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub received_at: DateTime<Utc>,
    pub ingested_by: Option<IngestToken>,
}

/// Where and when a batch arrived: stamped on every entry of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub received_at: DateTime<Utc>,
    pub token: Option<IngestToken>,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("request body must be an event object or an array of events")]
    NotAnEvent,
    #[error("a batch must hold from 1 to {MAX_BATCH} events, not {0}")]
    BatchSize(usize),
    #[error("entry {index}: {field}: {message}")]
    Invalid { index: usize, field: String, message: String },
}

impl IngestError {
    fn at(index: usize, field: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError::Invalid { index, field: field.into(), message: message.into() }
    }
}

/// Parses a request body (one event or an array) and validates every entry.
pub fn parse_batch(body: &[u8], receipt: &Receipt) -> Result<Vec<ValidEntry>, IngestError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| IngestError::NotJson(e.to_string()))?;
    let items = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(IngestError::NotAnEvent),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(IngestError::BatchSize(items.len()));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let entry: NewEntry = serde_path_to_error::deserialize(item).map_err(|e| {
                let (path, message) = (e.path().to_string(), e.into_inner().to_string());
                IngestError::at(index, error_field(&path, &message), message)
            })?;
            entry.validate(receipt).map_err(|(field, message)| IngestError::at(index, field, message))
        })
        .collect()
}

/// The field a deserialization error is about: serde reports a missing field at its
/// parent, so its name is taken from the message.
fn error_field(path: &str, message: &str) -> String {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "entry".to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    }
}

/// A field that is wrong, and what is wrong with it.
pub type FieldError = (String, String);

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    (field.to_owned(), message.into())
}

/// Characters that reorder the text around them (the "Trojan Source" overrides and
/// isolates): in a log they can make a line read differently from what it says.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The checks every text of an entry passes, whoever wrote it: not blank (unless
/// allowed), at most `max` characters, no control characters but newline and tab, no
/// bidirectional overrides.
pub fn check_text(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<(), FieldError> {
    if !allow_empty && value.trim().is_empty() {
        return Err(field_err(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(field_err(field, format!("is longer than {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(field_err(field, "contains control characters"));
    }
    if value.chars().any(is_bidi_control) {
        return Err(field_err(field, "contains bidirectional override characters"));
    }
    Ok(())
}

/// What an entry of a catalogued type must carry (the spec's "Details Captured").
pub fn check_required(
    spec: &EventSpec,
    details: &Map<String, Value>,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), FieldError> {
    for required in spec.required {
        let present = match required.strip_prefix("details.") {
            Some(key) => details.contains_key(key),
            None => match *required {
                "ip_address" => ip_address.is_some(),
                "user_agent" => user_agent.is_some(),
                _ => true,
            },
        };
        if !present {
            return Err(field_err(required, format!("is required for {} events", spec.name)));
        }
    }
    Ok(())
}

/// The description of an entry: the one given, or the type's template filled from the
/// details. Either way it passes the same checks, so a template cannot smuggle in what
/// an explicit description could not.
pub fn describe(
    spec: Option<&EventSpec>,
    given: Option<String>,
    details: &Map<String, Value>,
) -> Result<String, FieldError> {
    match (given, spec) {
        (Some(d), _) => {
            check_text("description", &d, MAX_TEXT, false)?;
            Ok(d)
        }
        (None, Some(spec)) => {
            let rendered = render_template(spec.template, details);
            check_text("description", &rendered, MAX_TEXT, false).map_err(|(field, message)| {
                (field, format!("{message} (as rendered from the details by the {} template)", spec.name))
            })?;
            Ok(rendered)
        }
        (None, None) => Err(field_err("description", "is required for custom event types")),
    }
}

/// The checks of the fields every entry has, whoever records it.
pub fn check_fields(
    actor: &Actor,
    resource: Option<&Resource>,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
    details: &Map<String, Value>,
) -> Result<(), FieldError> {
    check_text("actor.id", &actor.id, MAX_NAME, false)?;
    check_text("actor.name", &actor.name, MAX_NAME, false)?;
    if let Some(resource) = resource {
        check_text("resource.type", &resource.kind, MAX_NAME, false)?;
        check_text("resource.id", &resource.id, MAX_NAME, false)?;
        if let Some(name) = &resource.name {
            check_text("resource.name", name, MAX_NAME, false)?;
        }
    }
    if let Some(ip) = ip_address {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| field_err("ip_address", format!("'{ip}' is not an IPv4 or IPv6 address")))?;
    }
    if let Some(ua) = user_agent {
        check_text("user_agent", ua, MAX_USER_AGENT, false)?;
    }
    if serde_json::to_vec(details).map_or(0, |v| v.len()) > MAX_DETAILS_BYTES {
        return Err(field_err("details", format!("is larger than {MAX_DETAILS_BYTES} bytes")));
    }
    for (key, value) in details {
        check_exact(value, &mut format!("details.{key}"))?;
    }
    Ok(())
}

/// The largest integer every JSON reader holds exactly (I-JSON, RFC 7493). The log's
/// Merkle tree reads numbers as doubles (RFC 8785), so a larger one would not be committed
/// to exactly: two entries differing only in it would have the same leaf.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// Refuses integers beyond ±[`MAX_EXACT_INTEGER`] anywhere in a detail.
fn check_exact(value: &Value, path: &mut String) -> Result<(), FieldError> {
    match value {
        Value::Number(n) => {
            let beyond = n.as_u64().is_some_and(|v| v > MAX_EXACT_INTEGER)
                || n.as_i64().is_some_and(|v| v.unsigned_abs() > MAX_EXACT_INTEGER);
            if beyond {
                return Err(field_err(
                    path,
                    format!("{n} is beyond ±{MAX_EXACT_INTEGER}, which JSON numbers hold exactly: send it as a string"),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_exact(item, path)?;
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_exact(member, path)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

impl NewEntry {
    /// Checks every field; on failure returns the field's path and what is wrong.
    pub fn validate(self, receipt: &Receipt) -> Result<ValidEntry, FieldError> {
        let now = receipt.received_at;
        let timestamp = match self.timestamp.as_deref() {
            None => now,
            Some(text) => {
                let t = DateTime::parse_from_rfc3339(text)
                    .map_err(|_| {
                        field_err(
                            "timestamp",
                            format!("'{text}' is not an RFC 3339 date-time such as 2025-01-15T10:30:00Z"),
                        )
                    })?
                    .with_timezone(&Utc);
                if t > now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
                    return Err(field_err("timestamp", "is in the future"));
                }
                if t.timestamp() < 946_684_800 {
                    return Err(field_err("timestamp", "is before the year 2000"));
                }
                t
            }
        };

        if !is_well_formed(&self.event_type) {
            return Err(field_err(
                "event_type",
                format!(
                    "'{}' is malformed: use two or three dot-separated lower-case words, e.g. rotation.failed",
                    self.event_type
                ),
            ));
        }
        // The log's own account of itself (exports, purges, …) cannot be forged by a token.
        if is_internal(&self.event_type) {
            return Err(field_err(
                "event_type",
                format!("'{}' is recorded by CertifyClouds itself and cannot be ingested", self.event_type),
            ));
        }
        if self.actor.kind == ActorType::System {
            return Err(field_err(
                "actor.type",
                "'system' is the product itself and cannot be ingested: report a component as 'service'",
            ));
        }
        let details = self.details.unwrap_or_default();
        check_fields(
            &self.actor,
            self.resource.as_ref(),
            self.ip_address.as_deref(),
            self.user_agent.as_deref(),
            &details,
        )?;
        let spec = lookup(&self.event_type);
        if let Some(spec) = spec {
            check_required(spec, &details, self.ip_address.as_deref(), self.user_agent.as_deref())?;
        }
        let description = describe(spec, self.description, &details)?;
        let severity = self.severity.or(spec.map(|s| s.severity)).unwrap_or(Severity::Info);

        Ok(ValidEntry {
            timestamp,
            event_type: self.event_type,
            actor: self.actor,
            resource: self.resource,
            description,
            details,
            severity,
            ip_address: self.ip_address,
            user_agent: self.user_agent,
            received_at: now,
            ingested_by: receipt.token.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2025-01-15T12:00:00Z".parse().expect("time")
    }

    fn login() -> Value {
        json!({
            "timestamp": "2025-01-15T10:30:00+02:00",
            "event_type": "auth.login.success",
            "actor": {"type": "user", "id": "user-1", "name": "admin@company.com"},
            "details": {"username": "admin@company.com"},
            "ip_address": "192.0.2.50",
            "user_agent": "Mozilla/5.0"
        })
    }

    fn receipt() -> Receipt {
        Receipt { received_at: now(), token: Some(IngestToken { id: 4, name: "rotation".into() }) }
    }

    fn parse(v: Value) -> Result<Vec<ValidEntry>, IngestError> {
        parse_batch(v.to_string().as_bytes(), &receipt())
    }

    #[test]
    fn integers_json_cannot_hold_exactly_are_refused_wherever_they_are() {
        for (details, field) in [
            (json!({"username": "a", "n": 9_007_199_254_740_992u64}), "details.n"),
            (json!({"username": "a", "n": -9_007_199_254_740_992i64}), "details.n"),
            (json!({"username": "a", "deep": {"list": [1, 12_345_678_901_234_567_890u64]}}), "details.deep.list[1]"),
        ] {
            let mut v = login();
            v["details"] = details;
            match parse(v) {
                Err(IngestError::Invalid { field: f, message, .. }) => {
                    assert_eq!(f, field);
                    assert!(message.contains("send it as a string"), "{message}");
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut v = login();
        v["details"] =
            json!({"username": "a", "max": 9_007_199_254_740_991u64, "min": -9_007_199_254_740_991i64, "f": 1e300});
        assert!(parse(v).is_ok(), "the exact range and doubles are fine");
    }

    #[test]
    fn accepts_one_event_and_fills_defaults() {
        let entries = parse(login()).expect("valid");
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.timestamp, "2025-01-15T08:30:00Z".parse::<DateTime<Utc>>().expect("time"));
        assert_eq!(e.severity, Severity::Info);
        assert_eq!(e.description, "admin@company.com logged in");
        assert_eq!((e.received_at, e.ingested_by.as_ref().map(|t| t.id)), (now(), Some(4)));
    }

    #[test]
    fn the_products_own_events_and_actor_cannot_be_ingested() {
        for event_type in ["audit.exported", "audit.export.completed", "retention.purge.completed", "retention.purge.x"]
        {
            let v = json!({"event_type": event_type, "actor": {"type": "service", "id": "s", "name": "s"}, "description": "d"});
            let err = parse(v).expect_err(event_type);
            assert_eq!(field_of(err.clone()), (0, "event_type".into()), "{event_type}");
            assert!(err.to_string().contains("recorded by CertifyClouds itself"), "{err}");
        }
        let mut v = login();
        v["actor"]["type"] = json!("system");
        let err = parse(v).expect_err("system actor");
        assert_eq!(field_of(err.clone()), (0, "actor.type".into()));
        assert!(err.to_string().contains("the product itself"), "{err}");
        // Nor in another spelling: types are lower-case words, actor types exact names.
        for event_type in ["Audit.Exported", "audit.exported ", " audit.exported", "AUDIT.export.completed"] {
            let v = json!({"event_type": event_type, "actor": {"type": "service", "id": "s", "name": "s"}, "description": "d"});
            assert_eq!(field_of(parse(v).expect_err(event_type)), (0, "event_type".into()), "{event_type:?}");
        }
        for actor_type in ["System", "SYSTEM", "system "] {
            let mut v = login();
            v["actor"]["type"] = json!(actor_type);
            assert_eq!(field_of(parse(v).expect_err(actor_type)), (0, "actor.type".into()), "{actor_type:?}");
        }
    }

    #[test]
    fn a_description_from_a_template_passes_the_same_checks_as_a_given_one() {
        for (bad, why) in [("\u{202E}evil", "bidirectional"), ("a\u{7}b", "control"), (&*"x".repeat(5000), "longer")] {
            let mut v = login();
            v["details"]["username"] = json!(bad);
            let err = parse(v).expect_err(why);
            assert_eq!(field_of(err.clone()), (0, "description".into()), "{why}");
            assert!(err.to_string().contains(why) && err.to_string().contains("template"), "{err}");
            let mut v = login();
            v["description"] = json!(bad);
            assert_eq!(field_of(parse(v).expect_err(why)), (0, "description".into()), "{why}");
        }
        let mut v = login();
        v["actor"]["name"] = json!("admin\u{2067}moc.ynapmoc");
        assert_eq!(field_of(parse(v).expect_err("bidi name")), (0, "actor.name".into()));
    }

    #[test]
    fn accepts_custom_types_with_a_description() {
        let v = json!({"event_type": "backup.completed", "actor": {"type": "service", "id": "svc-1", "name": "backup"}, "description": "Backup done"});
        let e = parse(v).expect("valid");
        assert_eq!(e[0].timestamp, now());
        let v =
            json!({"event_type": "backup.completed", "actor": {"type": "service", "id": "svc-1", "name": "backup"}});
        assert_eq!(parse(v), Err(IngestError::at(0, "description", "is required for custom event types")));
    }

    fn field_of(err: IngestError) -> (usize, String) {
        match err {
            IngestError::Invalid { index, field, .. } => (index, field),
            other => panic!("expected a field error, got {other}"),
        }
    }

    #[test]
    fn names_the_entry_and_field_that_is_wrong() {
        let mutate = |f: &dyn Fn(&mut Value)| {
            let mut bad = login();
            f(&mut bad);
            field_of(parse(json!([login(), bad])).expect_err("invalid"))
        };
        assert_eq!(mutate(&|v| v["event_type"] = json!("Auth.Login")), (1, "event_type".into()));
        assert_eq!(mutate(&|v| v["actor"]["type"] = json!("robot")), (1, "actor.type".into()));
        assert_eq!(mutate(&|v| v["actor"]["name"] = json!("  ")), (1, "actor.name".into()));
        assert_eq!(mutate(&|v| v["timestamp"] = json!("yesterday")), (1, "timestamp".into()));
        assert_eq!(mutate(&|v| v["timestamp"] = json!("2030-01-01T00:00:00Z")), (1, "timestamp".into()));
        assert_eq!(mutate(&|v| v["ip_address"] = json!("300.1.1.1")), (1, "ip_address".into()));
        assert_eq!(mutate(&|v| v["severity"] = json!("fatal")), (1, "severity".into()));
        assert_eq!(mutate(&|v| v["colour"] = json!("red")), (1, "colour".into()));
        assert_eq!(
            mutate(&|v| {
                v.as_object_mut().map(|o| o.remove("event_type"));
            }),
            (1, "event_type".into())
        );
        assert_eq!(
            mutate(&|v| {
                v["actor"].as_object_mut().map(|o| o.remove("id"));
            }),
            (1, "actor.id".into())
        );
        assert_eq!(mutate(&|v| v["actor"]["role"] = json!("x")), (1, "actor.role".into()));
        assert_eq!(
            mutate(&|v| {
                v["details"] = json!({});
            }),
            (1, "details.username".into())
        );
        assert_eq!(
            mutate(&|v| {
                v.as_object_mut().map(|o| o.remove("user_agent"));
            }),
            (1, "user_agent".into())
        );
        assert_eq!(mutate(&|v| v["description"] = json!("a\u{0}b")), (1, "description".into()));
    }

    #[test]
    fn refuses_bodies_that_are_not_batches() {
        assert!(matches!(parse_batch(b"{", &receipt()), Err(IngestError::NotJson(_))));
        assert_eq!(parse(json!("text")), Err(IngestError::NotAnEvent));
        assert_eq!(parse(json!([])), Err(IngestError::BatchSize(0)));
        let many: Vec<Value> = (0..=MAX_BATCH).map(|_| login()).collect();
        assert_eq!(parse(Value::Array(many)), Err(IngestError::BatchSize(MAX_BATCH + 1)));
    }
}
