//! Stored rows and their conversion to the shared [`AuditEntry`].

use crate::entry::{entry_id, Actor, ActorType, AuditEntry, Resource, Severity};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// The columns read back; the append writes these and `actor_ref` ([`INSERT_COLUMNS`]).
pub const COLUMNS: &str = "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, \
     resource_id, resource_name, description, details, ip_address, user_agent, prev_hash, hash";

pub const INSERT_COLUMNS: &str =
    "seq, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, actor_ref, \
     resource_type, resource_id, resource_name, description, details, ip_address, user_agent, prev_hash, hash";

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
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

pub fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let seq = seq_u64(row.seq);
        let corrupt = |reason: &str| StoreError::Corrupt { seq, reason: reason.to_owned() };
        let timestamp =
            DateTime::<Utc>::from_timestamp_micros(row.ts).ok_or_else(|| corrupt("timestamp out of range"))?;
        let severity = Severity::from_code(row.severity).ok_or_else(|| corrupt("unknown severity"))?;
        let kind = ActorType::from_str(&row.actor_type).map_err(|()| corrupt("unknown actor type"))?;
        let details = serde_json::from_str(&row.details).map_err(|_| corrupt("details are not a JSON object"))?;
        let resource = match (row.resource_type, row.resource_id) {
            (Some(kind), Some(id)) => Some(Resource { kind, id, name: row.resource_name }),
            _ => None,
        };
        Ok(AuditEntry {
            id: entry_id(seq),
            timestamp,
            event_type: row.event_type,
            actor: Actor { kind, id: row.actor_id, name: row.actor_name },
            resource,
            description: row.description,
            details,
            severity,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            sequence: seq,
            prev_hash: hex::encode(row.prev_hash),
            hash: hex::encode(row.hash),
        })
    }
}
