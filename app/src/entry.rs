//! The audit entry exactly as the spec shapes it: one definition for the REST API, the
//! server functions, the pages and (later) the exports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How serious an event is. Stored as a small integer so that it sorts and indexes cheaply.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", schema(example = "info"))]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The value stored in the database.
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// Who did it: a person, the product itself, or another component acting with a token.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    User,
    System,
    Service,
}

impl ActorType {
    pub const ALL: [ActorType; 3] = [ActorType::User, ActorType::System, ActorType::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::System => "system",
            ActorType::Service => "service",
        }
    }
}

impl FromStr for ActorType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: String,
    pub name: String,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The token that posted an entry through `POST /audit/events`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestToken {
    /// The token's key in the store (names can be reused after a token is revoked).
    pub id: i64,
    pub name: String,
}

impl fmt::Display for IngestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (token {})", self.name, self.id)
    }
}

/// One stored audit entry: the spec's fields, its provenance (when the server received it
/// and which token posted it), then the integrity fields that make the log tamper-evident
/// (`sequence`, `prev_hash`, `hash`). Provenance is part of the hashed content.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// `audit-` and the sequence number.
    #[cfg_attr(feature = "ssr", schema(example = "audit-123"))]
    pub id: String,
    /// When it happened, UTC.
    pub timestamp: DateTime<Utc>,
    pub event_type: String,
    pub actor: Actor,
    pub resource: Option<Resource>,
    pub description: String,
    /// What the event type's catalogue entry requires, and anything else the reporter sent.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Map<String, serde_json::Value>,
    pub severity: Severity,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// When the server received (or, for its own events, recorded) the entry. `null` only
    /// for entries stored before provenance was recorded.
    pub received_at: Option<DateTime<Utc>>,
    /// The token that posted the entry; `null` for the product's own events.
    pub ingested_by: Option<IngestToken>,
    /// The entry's place in the hash chain, from 1.
    pub sequence: u64,
    /// The previous entry's hash (hex; zeros for the first entry).
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` and the entry's canonical JSON (hex).
    pub hash: String,
}

/// Entry ids are the sequence number behind a readable prefix (`audit-123`), so a lookup
/// by id is a primary-key lookup.
pub const ENTRY_ID_PREFIX: &str = "audit-";

pub fn entry_id(sequence: u64) -> String {
    format!("{ENTRY_ID_PREFIX}{sequence}")
}

/// The sequence number behind an entry id, or `None` if the id is not one of ours.
pub fn parse_entry_id(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(ENTRY_ID_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// One page of entries, newest first, with the number of entries that match in all; or,
/// read with a pull cursor (`after`), the next matching entries oldest first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryPage {
    pub entries: Vec<AuditEntry>,
    /// How many entries match; when `total_exact` is false, at least this many.
    pub total: u64,
    /// False when counting stopped early: a search is counted up to
    /// [`SEARCH_TOTAL_BOUND`] matches (and a search combined with other filters within a
    /// fixed amount of reading), so that a common word costs no more than its page. The
    /// exact number is what an export holds (the export dialog counts it).
    #[serde(default = "exact")]
    pub total_exact: bool,
    pub limit: u32,
    pub offset: u64,
    /// Read with `after`: the cursor for the next request, the highest sequence number
    /// this one looked at (matching or not; the same as `after` when nothing newer was
    /// there yet). `total` then counts only this page's entries, exact once the cursor
    /// has caught up with the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

fn exact() -> bool {
    true
}

/// A search's total is counted up to this many matches; past it the page says "at
/// least" this many. Lower in the store's own tests, so that they cover bounded totals.
#[cfg(not(test))]
pub const SEARCH_TOTAL_BOUND: u64 = 10_000;
#[cfg(test)]
pub const SEARCH_TOTAL_BOUND: u64 = 40;

/// A search combined with other filters is counted along the page's own walk: at most
/// this many candidates past the page are read for its total (on either engine), past
/// which the page says "at least".
#[cfg(not(test))]
pub const SEARCH_CANDIDATE_BUDGET: usize = 4_000;
#[cfg(test)]
pub const SEARCH_CANDIDATE_BUDGET: usize = 300;

impl EntryPage {
    /// An empty page with an exact total of zero.
    pub fn empty(limit: u32, offset: u64) -> Self {
        EntryPage { entries: Vec::new(), total: 0, total_exact: true, limit, offset, next: None }
    }

    /// Whether another page follows this one.
    pub fn has_more(&self) -> bool {
        let next = self.offset + u64::from(self.limit);
        next < self.total || (!self.total_exact && self.entries.len() == self.limit as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_round_trip_and_reject_foreign_ids() {
        assert_eq!(entry_id(42), "audit-42");
        assert_eq!(parse_entry_id("audit-42"), Some(42));
        for bad in ["audit-", "audit-0", "audit-4x", "42", "audit--1", "AUDIT-1", "audit-99999999999999999999999"] {
            assert_eq!(parse_entry_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn severity_codes_and_names_round_trip() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_code(s.code()), Some(s));
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert_eq!(Severity::from_code(3), None);
        assert!("critical".parse::<Severity>().is_err());
    }

    #[test]
    fn entry_serializes_in_the_spec_shape() {
        let entry = AuditEntry {
            id: entry_id(7),
            timestamp: "2025-01-15T10:30:00Z".parse().expect("valid time"),
            event_type: "discovery.scan.completed".into(),
            actor: Actor { kind: ActorType::User, id: "user-456".into(), name: "admin@company.com".into() },
            resource: Some(Resource { kind: "scan".into(), id: "scan-789".into(), name: None }),
            description: "Discovery scan completed successfully".into(),
            details: serde_json::json!({"mode": "full"}).as_object().cloned().unwrap_or_default(),
            severity: Severity::Info,
            ip_address: Some("192.0.2.50".into()),
            user_agent: None,
            received_at: Some("2025-01-15T10:30:01Z".parse().expect("valid time")),
            ingested_by: Some(IngestToken { id: 3, name: "discovery".into() }),
            sequence: 7,
            prev_hash: "00".into(),
            hash: "ff".into(),
        };
        let json = serde_json::to_value(&entry).expect("serializes");
        assert_eq!(json["timestamp"], "2025-01-15T10:30:00Z");
        assert_eq!(json["actor"]["type"], "user");
        assert_eq!(json["resource"], serde_json::json!({"type": "scan", "id": "scan-789"}));
        assert_eq!(json["severity"], "info");
        assert_eq!(json["user_agent"], serde_json::Value::Null);
        assert_eq!(json["received_at"], "2025-01-15T10:30:01Z");
        assert_eq!(json["ingested_by"], serde_json::json!({"id": 3, "name": "discovery"}));
    }
}
