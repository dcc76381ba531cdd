//! The only sanctioned delete: the retention purge. It removes entries older than a cutoff
//! in small steps and records, in the same transaction, each run of sequence numbers it
//! removed with the hashes at its ends (`audit_purged`, itself append-only). The rows of
//! the Merkle tree are never deleted, so checkpoints and every proof for kept entries stay
//! valid; verification goes on across a recorded run, reporting it as purged, and still
//! names any entry missing that no purge recorded. The database refuses every other delete
//! (a trigger checks each deleted row against the runs recorded), and never deletes the
//! newest entry, which the next append links to.

use super::{Problem, StoreError};
use crate::integrity::{StoredRows, TreeBuilder};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A run of entries the purge removed, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgedRange {
    pub first: u64,
    pub last: u64,
    /// The link of the first entry removed: the hash of the entry before the run.
    pub prev_hash: [u8; 32],
    /// The hash of the last entry removed: what the entry after the run links to.
    pub last_hash: [u8; 32],
    pub purged_at: DateTime<Utc>,
    /// Entries older than this were due.
    pub cutoff: DateTime<Utc>,
}

/// What one step of the purge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeStep {
    pub deleted: u64,
    /// The lowest and highest sequence numbers removed.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Whether entries older than the cutoff remain (besides the newest entry, never
    /// deleted): another step is due.
    pub more: bool,
    /// How long the step's own work took, where it ran (on SQLite the writer thread; on
    /// PostgreSQL the call, once its connection was had): not the wait for its turn, which
    /// would size the next step by how busy the writer was rather than by the step.
    pub took: std::time::Duration,
}

/// Deleting by retention, and what was deleted.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes at most `limit` of the entries whose timestamp is before `cutoff` (oldest
    /// first, never the newest entry, and only those numbered below `below` when given: a
    /// purge that archived what was due deletes exactly that), with their search words and
    /// counts, in one transaction that records what it removed.
    async fn purge_step(
        &self,
        cutoff: DateTime<Utc>,
        below: Option<u64>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<PurgeStep, StoreError>;

    /// How many entries a purge with this cutoff would delete now.
    async fn purge_due(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Every run removed, in sequence order.
    async fn purged(&self) -> Result<Vec<PurgedRange>, StoreError>;
}

/// The columns of a purge record, as both engines store them (times in microseconds).
#[derive(sqlx::FromRow)]
pub(super) struct PurgedRow {
    pub first_seq: i64,
    pub last_seq: i64,
    pub prev_hash: Vec<u8>,
    pub last_hash: Vec<u8>,
    pub purged_at: i64,
    pub cutoff: i64,
}

/// The statement that reads them, in sequence order.
pub(super) const PURGED_ROWS: &str =
    "SELECT first_seq, last_seq, prev_hash, last_hash, purged_at, cutoff FROM audit_purged ORDER BY first_seq";

impl TryFrom<PurgedRow> for PurgedRange {
    type Error = StoreError;

    fn try_from(row: PurgedRow) -> Result<Self, StoreError> {
        let first = u64::try_from(row.first_seq).unwrap_or(0);
        let damaged = |what: &str| StoreError::Corrupt { seq: first, reason: format!("its purge record's {what}") };
        Ok(PurgedRange {
            first,
            last: u64::try_from(row.last_seq).unwrap_or(0),
            prev_hash: row.prev_hash.try_into().map_err(|_| damaged("link is not 32 bytes"))?,
            last_hash: row.last_hash.try_into().map_err(|_| damaged("hash is not 32 bytes"))?,
            purged_at: DateTime::from_timestamp_micros(row.purged_at).ok_or_else(|| damaged("time is out of range"))?,
            cutoff: DateTime::from_timestamp_micros(row.cutoff).ok_or_else(|| damaged("cutoff is out of range"))?,
        })
    }
}

/// A recorded run, with the Merkle tree as it stood after it (read from the stored rows,
/// which are kept), so that a verification walk goes on from the next entry.
#[derive(Clone, Debug)]
pub struct PurgedGap {
    pub range: PurgedRange,
    pub tree: TreeBuilder,
}

/// The rows of the tree table that the trees after `ranges` need.
pub fn rows_needed(ranges: &[PurgedRange]) -> Vec<u64> {
    let mut rows: Vec<u64> = ranges.iter().flat_map(|r| TreeBuilder::frontier_at(r.last)).map(|(row, _)| row).collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Each run with the tree after it. A run whose tree rows are missing (the tree table was
/// cut) is a problem, and left out: the walk then finds its entries missing.
pub fn gaps(ranges: Vec<PurgedRange>, rows: &StoredRows) -> (Vec<PurgedGap>, Vec<Problem>) {
    let mut problems = Vec::new();
    let gaps = ranges
        .into_iter()
        .filter_map(|range| match rows.frontier(range.last) {
            Some(tree) => Some(PurgedGap { tree, range }),
            None => {
                let (first, last) = (range.first, range.last);
                problems.push(Problem::PurgeRecord { first, last, reason: "has lost the Merkle tree rows after it" });
                None
            }
        })
        .collect();
    (gaps, problems)
}

/// The purge never takes entries younger than this: retention is 30 days at least, and
/// the engines refuse a later cutoff (on PostgreSQL, the database itself).
pub const MIN_RETENTION_DAYS: i64 = 30;

/// That `cutoff` keeps at least [`MIN_RETENTION_DAYS`] of entries, by the clock.
pub fn check_cutoff(cutoff: DateTime<Utc>) -> Result<(), StoreError> {
    let latest = Utc::now() - chrono::Duration::days(MIN_RETENTION_DAYS);
    if cutoff > latest {
        return Err(StoreError::Conflict(format!(
            "a purge keeps at least the last {MIN_RETENTION_DAYS} days: the cutoff {} is after {}",
            cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(())
}
