//! Stored rows and their conversion to the shared [`AuditEntry`]: the same columns on every engine.

use crate::entry::{AuditEntry, Severity};
use crate::store::{RawEntry, StoreError};
use chrono::{DateTime, Utc};

/// The columns read back before the two hashes.
macro_rules! columns_before_hashes {
    () => {
        "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, resource_id, \
         resource_name, description, details, ip_address, user_agent, received_at, ingest_token_id, \
         ingest_token_name"
    };
}

/// The columns read back; the append writes these and `actor_ref` ([`INSERT_COLUMNS`]).
pub const COLUMNS: &str = concat!(columns_before_hashes!(), ", prev_hash, hash");

/// [`COLUMNS`] but the hashes, for a scan whose sink does not show them: an engine adds
/// two empty values in their place.
pub const COLUMNS_BEFORE_HASHES: &str = columns_before_hashes!();

pub const INSERT_COLUMNS: &str =
    "seq, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, actor_ref, \
     resource_type, resource_id, resource_name, description, details, ip_address, user_agent, \
     received_at, ingest_token_id, ingest_token_name, prev_hash, hash";

#[derive(sqlx::FromRow)]
pub struct EntryRow {
    pub seq: i64,
    pub ts: i64,
    pub event_type: String,
    pub severity: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub description: String,
    pub details: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub received_at: Option<i64>,
    pub ingest_token_id: Option<i64>,
    pub ingest_token_name: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

pub fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl EntryRow {
    /// The row's columns, borrowed.
    pub fn raw(&self) -> Result<RawEntry<'_>, StoreError> {
        let row = self;
        let sequence = seq_u64(row.seq);
        Ok(RawEntry {
            sequence,
            timestamp: timestamp(sequence, row.ts)?,
            event_type: &row.event_type,
            severity: severity(sequence, row.severity)?,
            actor_type: &row.actor_type,
            actor_id: &row.actor_id,
            actor_name: &row.actor_name,
            resource_type: row.resource_type.as_deref(),
            resource_id: row.resource_id.as_deref(),
            resource_name: row.resource_name.as_deref(),
            description: &row.description,
            details: &row.details,
            ip_address: row.ip_address.as_deref(),
            user_agent: row.user_agent.as_deref(),
            received_at: row.received_at.map(|t| timestamp(sequence, t)).transpose()?,
            ingest_token_id: row.ingest_token_id,
            ingest_token_name: row.ingest_token_name.as_deref(),
            prev_hash: &row.prev_hash,
            hash: &row.hash,
        })
    }
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        row.raw()?.to_entry()
    }
}

/// A stored time (microseconds since the epoch), checked.
pub fn timestamp(sequence: u64, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt { seq: sequence, reason: "timestamp out of range".to_owned() })
}

/// A stored severity code, checked.
pub fn severity(sequence: u64, code: i64) -> Result<Severity, StoreError> {
    Severity::from_code(code)
        .ok_or_else(|| StoreError::Corrupt { seq: sequence, reason: "unknown severity".to_owned() })
}
