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

/// Validates a query and reads one page of entries.
pub async fn list_entries(log: &dyn AuditLog, query: &EntryQuery) -> Result<EntryPage, QueryError> {
    let (filter, page) = query.validate()?;
    Ok(log.list(&filter, page).await?)
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
