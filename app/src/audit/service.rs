//! The one query path: the REST handlers and the server functions both come here.

use crate::entry::{parse_entry_id, AuditEntry, EntryPage};
use crate::filter::{EntryQuery, FilterError};
use crate::histogram::{Histogram, Span};
use crate::store::{AuditLog, StoreError};
use chrono::Utc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QueryError {
    #[error(transparent)]
    BadQuery(#[from] FilterError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates a query and reads one page of entries: the newest first, or with a pull
/// cursor (`after`) the next ones oldest first.
pub async fn list_entries(log: &dyn AuditLog, query: &EntryQuery) -> Result<EntryPage, QueryError> {
    let (filter, page) = query.validate()?;
    match query.after()? {
        Some(after) => Ok(pull(log, &filter, after, page.limit).await?),
        None => Ok(log.list(&filter, page).await?),
    }
}

/// Entries read per call to the store while pulling.
const PULL_CHUNK: u32 = 500;
/// Entries looked at by one pull at most: a filter that few entries match still answers
/// promptly, with a cursor that has moved over what it looked at.
pub const PULL_SCAN: u64 = 5_000;

/// Up to `limit` entries matching `filter` numbered above `after`, oldest first, and the
/// cursor to go on from.
///
/// Sequence numbers are given without gaps and become visible in their order on both
/// engines (one writer on SQLite; on PostgreSQL an append holds the sequence lock until
/// its commit is visible), so whatever a read finds above `after` is a prefix of what
/// will ever be there: a cursor moved to the last entry looked at never passes one that
/// has yet to appear. Only the retention purge takes entries away, and it records what.
pub async fn pull(
    log: &dyn AuditLog,
    filter: &crate::filter::EntryFilter,
    after: u64,
    limit: u32,
) -> Result<EntryPage, StoreError> {
    let mut page = EntryPage::empty(limit, 0);
    let (mut cursor, mut looked_at) = (after, 0u64);
    let mut caught_up = false;
    'reading: while looked_at < PULL_SCAN {
        let chunk = log.entries_after(cursor, PULL_CHUNK).await?;
        let full = chunk.len() == PULL_CHUNK as usize;
        for entry in chunk {
            cursor = entry.sequence;
            looked_at += 1;
            if filter.matches(&entry) {
                page.entries.push(entry);
                if page.entries.len() == limit as usize {
                    break 'reading;
                }
            }
        }
        if !full {
            caught_up = true;
            break;
        }
    }
    page.total = page.entries.len() as u64;
    page.total_exact = caught_up;
    page.next = Some(cursor);
    Ok(page)
}

/// Validates a query and counts every entry it selects, exactly.
pub async fn count_entries(log: &dyn AuditLog, query: &EntryQuery) -> Result<u64, QueryError> {
    let (filter, _) = query.validate()?;
    Ok(log.count(&filter).await?)
}

/// One entry by its id; `None` for an id that is not ours or not stored.
pub async fn get_entry(log: &dyn AuditLog, id: &str) -> Result<Option<AuditEntry>, StoreError> {
    match parse_entry_id(id) {
        Some(seq) => log.get(seq).await,
        None => Ok(None),
    }
}

/// The timeline of a query: its range (or everything up to now) in hourly or daily buckets.
pub async fn timeline(log: &dyn AuditLog, query: &EntryQuery) -> Result<Histogram, QueryError> {
    let (filter, _) = query.validate()?;
    let earliest = match filter.start {
        Some(_) => None,
        None => log.earliest().await?,
    };
    let span = Span::plan(filter.start, filter.end, earliest, Utc::now());
    Ok(log.histogram(&filter, span).await?)
}
