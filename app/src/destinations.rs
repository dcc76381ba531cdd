//! Where the log is delivered (Settings > Integrations and `/admin/destinations`): a
//! Splunk HTTP Event Collector, a signed webhook, or JSON lines on standard output for a
//! container log collector (Azure Log Analytics), each with an event filter. What a
//! destination accepts is shared with the browser, so that the form refuses a bad one
//! before sending it, with the server's own message; changing them is
//! `destination_changes.rs`, delivering them `delivery/`.
//!
//! A destination's secret (the HEC token, the webhook's signing secret) and its custom
//! header values are never part of what is shown: [`Destination`] carries their
//! fingerprints only.

use crate::entry::Severity;
use crate::filter::{parse_event_type, EventTypeMatch};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// How entries reach a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A Splunk HTTP Event Collector (`/services/collector/event`).
    SplunkHec,
    /// An HTTPS endpoint that gets JSON arrays of entries, signed with HMAC-SHA256.
    Webhook,
    /// One JSON line per entry on the server's standard output, for a container log
    /// collector (Azure Log Analytics).
    Stdout,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 3] =
        [DestinationKind::SplunkHec, DestinationKind::Webhook, DestinationKind::Stdout];

    /// As stored and sent: `splunk_hec`, `webhook`, `stdout`.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::SplunkHec => "splunk_hec",
            DestinationKind::Webhook => "webhook",
            DestinationKind::Stdout => "stdout",
        }
    }

    /// As people name it.
    pub fn label(self) -> &'static str {
        match self {
            DestinationKind::SplunkHec => "Splunk HEC",
            DestinationKind::Webhook => "Webhook",
            DestinationKind::Stdout => "Log Analytics (stdout)",
        }
    }

    /// What its secret is called, if it has one.
    pub fn secret_name(self) -> Option<&'static str> {
        match self {
            DestinationKind::SplunkHec => Some("token"),
            DestinationKind::Webhook => Some("secret"),
            DestinationKind::Stdout => None,
        }
    }
}

impl std::str::FromStr for DestinationKind {
    type Err = DestinationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DestinationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| invalid("kind", "use splunk_hec, webhook or stdout"))
    }
}

/// The Splunk HEC envelope's fields and indexer acknowledgement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HecOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcetype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Whether an event counts as delivered only once the indexers acknowledge it.
    #[serde(default)]
    pub ack: bool,
}

/// A destination's settings as stored (its secret apart): what delivery needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationConfig {
    pub url: Option<String>,
    /// Event-type patterns: exact types, prefixes (`auth.*`), or `audit.*` (or `*`) for
    /// every event.
    pub event_types: Vec<String>,
    pub min_severity: Severity,
    pub enabled: bool,
    #[serde(default)]
    pub hec: HecOptions,
    /// Extra request headers (webhooks): their values are kept like secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// At most this many entries in one request.
    pub max_events: u32,
    /// At most this many bytes in one request's body.
    pub max_bytes: u32,
}

/// A destination as shown: never its secret nor its header values, only their
/// fingerprints (`sha256:` and 16 hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Destination {
    pub id: i64,
    pub name: String,
    pub kind: DestinationKind,
    pub url: Option<String>,
    pub event_types: Vec<String>,
    pub min_severity: Severity,
    pub enabled: bool,
    pub hec: HecOptions,
    /// Header names with their values' fingerprints.
    pub headers: BTreeMap<String, String>,
    pub max_events: u32,
    pub max_bytes: u32,
    /// The fingerprint of the HEC token or webhook secret (none for stdout).
    pub secret_fingerprint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// Goes up by one with each change.
    pub version: i64,
}

/// Where a destination's delivery stands, as `GET /admin/destinations/{id}/health` and the
/// health view show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DestinationHealth {
    pub id: i64,
    pub name: String,
    pub kind: DestinationKind,
    pub enabled: bool,
    /// `idle` (caught up), `delivering`, `retrying`, `circuit_open` (one try every few
    /// minutes), `paused` (refused until changed, e.g. a token refused) or `disabled`.
    pub state: String,
    /// The last sequence number delivered or passed over.
    pub cursor: u64,
    /// The log's newest sequence number.
    pub head: u64,
    /// Entries not yet looked at: `head - cursor` (those the filter does not want are
    /// passed over, not delivered).
    pub backlog: u64,
    /// Entries delivered so far.
    pub delivered: u64,
    /// Whether delivery is failing (`delivery.failed` recorded, no `delivery.recovered` yet).
    pub failing: bool,
    pub failing_since: Option<DateTime<Utc>>,
    /// Attempts in a row that failed.
    pub attempts: u32,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The last error, with the receiver's answer when there was one.
    pub last_error: Option<String>,
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Entries the receiver refused as bad data (Splunk HEC codes 5, 6, 7, 12, 13), set
    /// aside so that the rest goes on (each one a `delivery.parked` entry), and why the last
    /// one was.
    pub parked: u64,
    pub last_parked: Option<String>,
}

/// A destination just added, and its secret when the server made it (a webhook's signing
/// secret): shown this once, never again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Created {
    pub destination: Destination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Where a new destination's delivery starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// With the entries recorded after it was added (the default).
    Now,
    /// With the log's first entry still kept.
    Beginning,
}

/// A destination to add, as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDestination {
    /// 1 to 100 characters, unique ignoring case.
    pub name: String,
    /// `splunk_hec`, `webhook` or `stdout`.
    pub kind: String,
    /// The collector's or endpoint's `http(s)://` address (not for stdout). For Splunk,
    /// the collector's base address (scheme, host and port 8088) or its full event endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// Splunk: the HEC token, sent as `Authorization: Splunk <token>`.
    #[serde(default)]
    pub token: Option<String>,
    /// Webhook: the signing secret (16 to 256 characters); made by the server and shown
    /// once when left out.
    #[serde(default)]
    pub secret: Option<String>,
    /// Webhook: extra request headers.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Splunk: the envelope's `index`, `source`, `sourcetype` and `host`.
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    /// Splunk: wait for indexer acknowledgement.
    #[serde(default)]
    pub ack: Option<bool>,
    /// Event-type patterns (default `["audit.*"]`: every event).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `info` (default), `warning` or `error`.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Entries per request, 1 to 1000 (default 100).
    #[serde(default)]
    pub max_events: Option<u32>,
    /// Bytes per request, 1 KiB to 10 MiB (default 1 MiB).
    #[serde(default)]
    pub max_bytes: Option<u32>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `now` (default: entries recorded from now on) or `beginning` (every entry kept).
    #[serde(default)]
    pub start: Option<String>,
}

/// A change to a destination: only what is given changes (an empty text clears an
/// optional one). The kind cannot change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Splunk: a new HEC token.
    #[serde(default)]
    pub token: Option<String>,
    /// Webhook: a new signing secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// Webhook: `true` makes a new signing secret, answered this once.
    #[serde(default)]
    pub rotate_secret: Option<bool>,
    /// Webhook: the extra headers, all of them (replacing the ones there were).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub ack: Option<bool>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub min_severity: Option<String>,
    #[serde(default)]
    pub max_events: Option<u32>,
    #[serde(default)]
    pub max_bytes: Option<u32>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Where a replay starts: one of a sequence number or a time (entries received from then
/// on).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliver again from this entry's sequence number on (1 or more).
    #[serde(default)]
    pub from_sequence: Option<u64>,
    /// Deliver again the entries received from this time on (RFC 3339, such as
    /// `2025-01-15T10:30:00Z`).
    #[serde(default)]
    pub from_time: Option<String>,
}

/// A replay done: the cursor moved back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Replayed {
    pub destination_id: i64,
    /// The first sequence number delivered again.
    pub from_sequence: u64,
    /// Where the cursor was.
    pub previous_cursor: u64,
}

/// What a test event did: whether the receiver took it, and what it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestDelivery {
    pub delivered: bool,
    /// The receiver's answer, or why it was not taken.
    pub answer: String,
}

/// Why a destination or a change was refused; the message is what the client sees.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("a destination named '{0}' already exists")]
    Duplicate(String),
    #[error("no destination {0}")]
    NotFound(String),
}

impl DestinationError {
    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            DestinationError::Invalid { field, .. } => Some(field),
            DestinationError::Duplicate(_) => Some("name"),
            DestinationError::NotFound(_) => None,
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> DestinationError {
    DestinationError::Invalid { field: field.to_owned(), message: message.into() }
}

pub const DEFAULT_PATTERNS: [&str; 1] = ["audit.*"];
pub const MAX_PATTERNS: usize = 50;
pub const DEFAULT_MAX_EVENTS: u32 = 100;
pub const MAX_EVENTS: u32 = 1000;
pub const DEFAULT_MAX_BYTES: u32 = 1024 * 1024;
pub const MIN_BYTES: u32 = 1024;
pub const MAX_BYTES: u32 = 10 * 1024 * 1024;
const MAX_NAME: usize = 100;
const MAX_URL: usize = 2000;
const MAX_HEADERS: usize = 20;
/// Headers the product sets itself on a webhook's requests.
pub const RESERVED_HEADERS: [&str; 8] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "x-certifyclouds-timestamp",
    "x-certifyclouds-signature",
    "x-certifyclouds-delivery",
];

/// A name, trimmed: 1 to 100 characters, none of them control characters.
pub fn check_name(name: &str) -> Result<String, DestinationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("name", "give the destination a name"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(invalid("name", format!("at most {MAX_NAME} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "control characters are not allowed"));
    }
    Ok(name.to_owned())
}

/// An `http://` or `https://` address with a host, no credentials in it (they would be
/// shown), no spaces.
pub fn check_url(url: &str) -> Result<String, DestinationError> {
    let url = url.trim();
    let bad = |why: &str| invalid("url", why);
    if url.len() > MAX_URL {
        return Err(bad("at most 2000 characters"));
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") => rest,
        _ => return Err(bad("use an http:// or https:// address")),
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("spaces and control characters are not allowed"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad("put no user name or password in the address: use the token, secret or headers"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err(bad("the host is not a valid address")),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !host_ok {
        return Err(bad("the host is missing or not a valid name or address"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().ok().filter(|p| *p > 0).is_none() {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
    }
    Ok(url.to_owned())
}

/// The scheme, host and port of an address, in lower case.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase())
}

/// A secret (HEC token or signing secret): printable ASCII without spaces.
fn check_secret(field: &str, value: &str, min: usize) -> Result<String, DestinationError> {
    if value.len() < min || value.len() > 256 {
        return Err(invalid(field, format!("use {min} to 256 characters")));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(field, "use printable characters without spaces"));
    }
    Ok(value.to_owned())
}

/// The event-type patterns, trimmed: each an exact type, a prefix (`auth.*`), or `*` or
/// `audit.*` for every event.
pub fn check_patterns(patterns: &[String]) -> Result<Vec<String>, DestinationError> {
    if patterns.is_empty() {
        return Err(invalid("event_types", "name at least one event type, or audit.* for every event"));
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(invalid("event_types", format!("at most {MAX_PATTERNS} patterns")));
    }
    let mut out: Vec<String> = Vec::new();
    for pattern in patterns {
        let pattern = pattern.trim();
        if pattern != "*" && pattern != "audit.*" && parse_event_type(pattern).is_err() {
            return Err(invalid(
                "event_types",
                format!("'{pattern}' is not an event type (auth.login.failed), a prefix (auth.*) or audit.*"),
            ));
        }
        if !out.iter().any(|p| p == pattern) {
            out.push(pattern.to_owned());
        }
    }
    Ok(out)
}

/// What the patterns select: `None` for every event.
pub fn pattern_matches(patterns: &[String]) -> Option<Vec<EventTypeMatch>> {
    if patterns.iter().any(|p| p == "*" || p == "audit.*") {
        return None;
    }
    Some(patterns.iter().filter_map(|p| parse_event_type(p).ok()).collect())
}

fn check_severity(value: &str) -> Result<Severity, DestinationError> {
    value.trim().parse::<Severity>().map_err(|()| invalid("min_severity", "use info, warning or error"))
}

fn check_max_events(n: u32) -> Result<u32, DestinationError> {
    (1..=MAX_EVENTS).contains(&n).then_some(n).ok_or_else(|| invalid("max_events", "use 1 to 1000"))
}

fn check_max_bytes(n: u32) -> Result<u32, DestinationError> {
    (MIN_BYTES..=MAX_BYTES)
        .contains(&n)
        .then_some(n)
        .ok_or_else(|| invalid("max_bytes", format!("use {MIN_BYTES} to {MAX_BYTES} bytes")))
}

/// Header names of letters, digits and `-`, none the product sets itself; values of
/// printable characters.
fn check_headers(headers: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, DestinationError> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid("headers", format!("at most {MAX_HEADERS} headers")));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name.len() > 100 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("headers", format!("'{name}' is not a header name (letters, digits and -)")));
        }
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid("headers", format!("{name} is set by CertifyClouds itself")));
        }
        if value.len() > 4096 || !value.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) {
            return Err(invalid("headers", format!("the value of {name} must be printable text (at most 4096)")));
        }
        out.insert(name, value.trim().to_owned());
    }
    Ok(out)
}

/// An optional HEC field: empty clears it; at most 200 printable characters.
fn check_hec_field(field: &str, value: &str) -> Result<Option<String>, DestinationError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(invalid(field, "at most 200 characters, no control characters"));
    }
    Ok(Some(value.to_owned()))
}

/// Refuses a field given for a kind it does not apply to.
fn not_for(kind: DestinationKind, field: &str, given: bool) -> Result<(), DestinationError> {
    match given {
        true => Err(invalid(field, format!("does not apply to a {} destination", kind.as_str()))),
        false => Ok(()),
    }
}

/// A destination checked: its name, kind, settings, secret (for a webhook without one
/// given: `None`, the server makes it) and where delivery starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub name: String,
    pub kind: DestinationKind,
    pub config: DestinationConfig,
    pub secret: Option<String>,
    pub start: Start,
}

impl NewDestination {
    /// Checks every field; the first problem found is reported.
    pub fn check(&self) -> Result<Checked, DestinationError> {
        let name = check_name(&self.name)?;
        let kind: DestinationKind = self.kind.parse()?;
        let hec_given = [&self.index, &self.source, &self.sourcetype, &self.host].iter().any(|f| f.is_some());
        let url = match (kind, self.url.as_deref()) {
            (DestinationKind::Stdout, url) => {
                not_for(kind, "url", url.is_some())?;
                None
            }
            (_, None) => return Err(invalid("url", "give the receiver's address")),
            (_, Some(url)) => Some(check_url(url)?),
        };
        let secret = match kind {
            DestinationKind::SplunkHec => {
                not_for(kind, "secret", self.secret.is_some())?;
                not_for(kind, "headers", self.headers.is_some())?;
                match self.token.as_deref() {
                    None | Some("") => return Err(invalid("token", "give the HEC token")),
                    Some(token) => Some(check_secret("token", token.trim(), 1)?),
                }
            }
            DestinationKind::Webhook => {
                not_for(kind, "token", self.token.is_some())?;
                not_for(kind, "index", hec_given)?;
                not_for(kind, "ack", self.ack.is_some())?;
                self.secret.as_deref().map(|s| check_secret("secret", s, 16)).transpose()?
            }
            DestinationKind::Stdout => {
                for (field, given) in [
                    ("token", self.token.is_some()),
                    ("secret", self.secret.is_some()),
                    ("headers", self.headers.is_some()),
                    ("index", hec_given),
                    ("ack", self.ack.is_some()),
                ] {
                    not_for(kind, field, given)?;
                }
                None
            }
        };
        let patterns = match &self.event_types {
            Some(patterns) => check_patterns(patterns)?,
            None => DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect(),
        };
        let hec = HecOptions {
            index: self.index.as_deref().map(|v| check_hec_field("index", v)).transpose()?.flatten(),
            source: self.source.as_deref().map(|v| check_hec_field("source", v)).transpose()?.flatten(),
            sourcetype: self.sourcetype.as_deref().map(|v| check_hec_field("sourcetype", v)).transpose()?.flatten(),
            host: self.host.as_deref().map(|v| check_hec_field("host", v)).transpose()?.flatten(),
            ack: self.ack.unwrap_or(false),
        };
        let config = DestinationConfig {
            url,
            event_types: patterns,
            min_severity: self.min_severity.as_deref().map(check_severity).transpose()?.unwrap_or(Severity::Info),
            enabled: self.enabled.unwrap_or(true),
            hec,
            headers: self.headers.as_ref().map(check_headers).transpose()?.unwrap_or_default(),
            max_events: self.max_events.map(check_max_events).transpose()?.unwrap_or(DEFAULT_MAX_EVENTS),
            max_bytes: self.max_bytes.map(check_max_bytes).transpose()?.unwrap_or(DEFAULT_MAX_BYTES),
        };
        let start = match self.start.as_deref().map(str::trim) {
            None | Some("") | Some("now") => Start::Now,
            Some("beginning") => Start::Beginning,
            Some(_) => return Err(invalid("start", "use now or beginning")),
        };
        Ok(Checked { name, kind, config, secret, start })
    }
}

/// A change applied to what a destination was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub name: String,
    pub config: DestinationConfig,
    /// The secret after the change (`None` for stdout).
    pub secret: Option<String>,
    /// Whether the server is to make a new secret (`rotate_secret`).
    pub rotate: bool,
}

impl DestinationChange {
    /// Applies the change to a destination of `kind` named `name` with `config` and
    /// `secret`, checking every field given.
    pub fn apply(
        &self,
        kind: DestinationKind,
        name: &str,
        config: &DestinationConfig,
        secret: Option<&str>,
    ) -> Result<Applied, DestinationError> {
        let mut config = config.clone();
        let name = self.name.as_deref().map(check_name).transpose()?.unwrap_or_else(|| name.to_owned());
        let mut secret = secret.map(str::to_owned);
        let hec_given = [&self.index, &self.source, &self.sourcetype, &self.host].iter().any(|f| f.is_some());
        match kind {
            DestinationKind::Stdout => {
                for (field, given) in [
                    ("url", self.url.is_some()),
                    ("token", self.token.is_some()),
                    ("secret", self.secret.is_some() || self.rotate_secret.is_some()),
                    ("headers", self.headers.is_some()),
                    ("index", hec_given),
                    ("ack", self.ack.is_some()),
                ] {
                    not_for(kind, field, given)?;
                }
            }
            DestinationKind::SplunkHec => {
                not_for(kind, "secret", self.secret.is_some() || self.rotate_secret.is_some())?;
                not_for(kind, "headers", self.headers.is_some())?;
                if let Some(token) = &self.token {
                    secret = Some(check_secret("token", token.trim(), 1)?);
                }
            }
            DestinationKind::Webhook => {
                not_for(kind, "token", self.token.is_some())?;
                not_for(kind, "index", hec_given)?;
                not_for(kind, "ack", self.ack.is_some())?;
                if self.secret.is_some() && self.rotate_secret == Some(true) {
                    return Err(invalid("rotate_secret", "give a secret or rotate it, not both"));
                }
                if let Some(given) = &self.secret {
                    secret = Some(check_secret("secret", given, 16)?);
                }
            }
        }
        if let Some(url) = &self.url {
            let url = check_url(url)?;
            // Credentials given for one host are not sent to another unless given again.
            let moved = config.url.as_deref().map(origin) != Some(origin(&url));
            if moved {
                if let Some(name) = kind.secret_name() {
                    let given = self.token.is_some() || self.secret.is_some() || self.rotate_secret == Some(true);
                    if !given {
                        return Err(invalid(
                            name,
                            format!("give the {name} again when the address moves to another host"),
                        ));
                    }
                }
                if !config.headers.is_empty() && self.headers.is_none() {
                    return Err(invalid("headers", "give the headers again when the address moves to another host"));
                }
            }
            config.url = Some(url);
        }
        if let Some(patterns) = &self.event_types {
            config.event_types = check_patterns(patterns)?;
        }
        if let Some(severity) = &self.min_severity {
            config.min_severity = check_severity(severity)?;
        }
        if let Some(enabled) = self.enabled {
            config.enabled = enabled;
        }
        if let Some(headers) = &self.headers {
            config.headers = check_headers(headers)?;
        }
        for (field, given, slot) in [
            ("index", &self.index, &mut config.hec.index),
            ("source", &self.source, &mut config.hec.source),
            ("sourcetype", &self.sourcetype, &mut config.hec.sourcetype),
            ("host", &self.host, &mut config.hec.host),
        ] {
            if let Some(value) = given {
                *slot = check_hec_field(field, value)?;
            }
        }
        if let Some(ack) = self.ack {
            config.hec.ack = ack;
        }
        if let Some(n) = self.max_events {
            config.max_events = check_max_events(n)?;
        }
        if let Some(n) = self.max_bytes {
            config.max_bytes = check_max_bytes(n)?;
        }
        Ok(Applied { name, config, secret, rotate: self.rotate_secret == Some(true) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splunk() -> NewDestination {
        NewDestination {
            name: " splunk ".into(),
            kind: "splunk_hec".into(),
            url: Some("https://splunk:8088".into()),
            token: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
            ..NewDestination::default()
        }
    }

    fn field_of(new: &NewDestination) -> String {
        new.check().expect_err("refused").field().unwrap_or_default().to_owned()
    }

    #[test]
    fn a_splunk_destination_takes_its_defaults_and_keeps_its_token_apart() {
        let checked = splunk().check().expect("valid");
        assert_eq!(checked.name, "splunk");
        assert_eq!(checked.kind, DestinationKind::SplunkHec);
        assert_eq!(checked.secret.as_deref(), Some("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert_eq!(checked.config.event_types, vec!["audit.*"]);
        assert_eq!(checked.config.min_severity, Severity::Info);
        assert_eq!((checked.config.max_events, checked.config.max_bytes), (100, 1024 * 1024));
        assert!(checked.config.enabled && !checked.config.hec.ack);
        assert_eq!(checked.start, Start::Now);
    }

    #[test]
    fn bad_fields_are_refused_naming_the_field() {
        let cases: Vec<(NewDestination, &str)> = vec![
            (NewDestination { name: "  ".into(), ..splunk() }, "name"),
            (NewDestination { name: "x".repeat(101), ..splunk() }, "name"),
            (NewDestination { kind: "kafka".into(), ..splunk() }, "kind"),
            (NewDestination { url: None, ..splunk() }, "url"),
            (NewDestination { url: Some("ftp://splunk".into()), ..splunk() }, "url"),
            (NewDestination { url: Some("https://".into()), ..splunk() }, "url"),
            (NewDestination { url: Some("https://admin:pw@splunk:8088".into()), ..splunk() }, "url"),
            (NewDestination { url: Some("https://splunk:99999".into()), ..splunk() }, "url"),
            (NewDestination { url: Some("https://spl unk".into()), ..splunk() }, "url"),
            (NewDestination { token: None, ..splunk() }, "token"),
            (NewDestination { token: Some("a b".into()), ..splunk() }, "token"),
            (NewDestination { secret: Some("s".repeat(20)), ..splunk() }, "secret"),
            (NewDestination { event_types: Some(vec![]), ..splunk() }, "event_types"),
            (NewDestination { event_types: Some(vec!["Auth.*".into()]), ..splunk() }, "event_types"),
            (NewDestination { min_severity: Some("critical".into()), ..splunk() }, "min_severity"),
            (NewDestination { max_events: Some(0), ..splunk() }, "max_events"),
            (NewDestination { max_bytes: Some(10), ..splunk() }, "max_bytes"),
            (NewDestination { start: Some("yesterday".into()), ..splunk() }, "start"),
            (NewDestination { index: Some("a\u{7}".into()), ..splunk() }, "index"),
        ];
        for (new, field) in cases {
            assert_eq!(field_of(&new), field, "{new:?}");
        }
    }

    #[test]
    fn each_kind_refuses_what_is_not_its_own() {
        let stdout = NewDestination { name: "la".into(), kind: "stdout".into(), ..NewDestination::default() };
        assert!(stdout.check().is_ok());
        assert_eq!(field_of(&NewDestination { url: Some("https://x".into()), ..stdout.clone() }), "url");
        assert_eq!(field_of(&NewDestination { token: Some("t".into()), ..stdout.clone() }), "token");
        let hook = NewDestination {
            name: "hook".into(),
            kind: "webhook".into(),
            url: Some("https://hooks.example.com/audit".into()),
            ..NewDestination::default()
        };
        let checked = hook.check().expect("valid");
        assert_eq!(checked.secret, None, "the server makes it");
        assert_eq!(field_of(&NewDestination { token: Some("t".into()), ..hook.clone() }), "token");
        assert_eq!(field_of(&NewDestination { secret: Some("short".into()), ..hook.clone() }), "secret");
        let reserved = BTreeMap::from([("X-CertifyClouds-Signature".to_owned(), "v".to_owned())]);
        assert_eq!(field_of(&NewDestination { headers: Some(reserved), ..hook.clone() }), "headers");
        let headers = BTreeMap::from([("X-Api-Key".to_owned(), "k".to_owned())]);
        let checked = NewDestination { headers: Some(headers), ..hook }.check().expect("valid");
        assert_eq!(checked.config.headers.get("x-api-key").map(String::as_str), Some("k"));
    }

    #[test]
    fn patterns_select_every_event_with_audit_star_and_otherwise_what_they_name() {
        assert_eq!(pattern_matches(&["audit.*".into()]), None);
        assert_eq!(pattern_matches(&["*".into(), "auth.*".into()]), None);
        let some = pattern_matches(&["auth.*".into(), "secret.read".into()]).expect("some");
        assert!(some.iter().any(|m| m.matches("auth.login.failed")));
        assert!(some.iter().any(|m| m.matches("secret.read")));
        assert!(!some.iter().any(|m| m.matches("secret.created")));
        assert_eq!(check_patterns(&[" auth.* ".into(), "auth.*".into()]).expect("valid"), vec!["auth.*"]);
    }

    #[test]
    fn a_change_applies_only_what_it_gives_and_checks_it() {
        let checked = splunk().check().expect("valid");
        let change = DestinationChange {
            min_severity: Some("warning".into()),
            index: Some("audit".into()),
            ..Default::default()
        };
        let applied =
            change.apply(checked.kind, &checked.name, &checked.config, checked.secret.as_deref()).expect("ok");
        assert_eq!(applied.name, "splunk");
        assert_eq!(applied.config.min_severity, Severity::Warning);
        assert_eq!(applied.config.hec.index.as_deref(), Some("audit"));
        assert_eq!(applied.secret, checked.secret);
        let cleared = DestinationChange { index: Some(String::new()), ..Default::default() }
            .apply(checked.kind, "splunk", &applied.config, None)
            .expect("ok");
        assert_eq!(cleared.config.hec.index, None);
        let refused = DestinationChange { headers: Some(BTreeMap::new()), ..Default::default() }
            .apply(checked.kind, "splunk", &checked.config, None)
            .expect_err("no headers for splunk");
        assert_eq!(refused.field(), Some("headers"));
        let moved = DestinationChange { url: Some("https://evil.example".into()), ..Default::default() }
            .apply(checked.kind, "splunk", &checked.config, Some("old"))
            .expect_err("the token is not sent to another host unless given again");
        assert_eq!(moved.field(), Some("token"));
        let same_host = DestinationChange {
            url: Some("https://SPLUNK:8088/services/collector/event".into()),
            ..Default::default()
        }
        .apply(checked.kind, "splunk", &checked.config, Some("old"))
        .expect("the same host");
        assert_eq!(same_host.secret.as_deref(), Some("old"));
        let token = DestinationChange { token: Some("new-token".into()), ..Default::default() }
            .apply(checked.kind, "splunk", &checked.config, Some("old"))
            .expect("ok");
        assert_eq!(token.secret.as_deref(), Some("new-token"));
    }
}
