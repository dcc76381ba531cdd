//! The store's errors, the same whatever engine answers: callers decide what to tell the
//! client from the kind of failure, never from a driver's error type.

use std::time::Duration;
use thiserror::Error;

/// A driver's own error, kept as the source of a [`StoreError::Backend`] for the logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// What was asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// It would contradict what is stored (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// The store cannot take this now (busy database, every export turn taken): the
    /// client should try again after `retry_after`.
    #[error("{reason}")]
    Overloaded { reason: String, retry_after: Duration },
    /// A stored entry cannot be read back: tampering or damage.
    #[error("stored entry {seq} cannot be read: {reason}")]
    Corrupt { seq: u64, reason: String },
    /// Anything else the database reported; logged, never shown to clients.
    #[error("database error: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    pub fn backend(error: impl Into<BoxError>) -> Self {
        StoreError::Backend(error.into())
    }

    /// The database is busy: the client should try again shortly.
    pub fn overloaded() -> Self {
        StoreError::Overloaded { reason: "the audit database is busy".into(), retry_after: RETRY_AFTER }
    }
}

/// What a client is told to wait when the database stays busy past the store's patience.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Whether a database error says "busy, try again" rather than "failed": SQLite's busy and
/// locked codes; PostgreSQL's lock and statement timeouts, serialization failures,
/// deadlocks and a server out of connections.
fn is_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return matches!(pg.code(), "55P03" | "57014" | "40001" | "40P01" | "53300");
    }
    db.code().and_then(|c| c.parse().ok()).is_some_and(super::sqlite::is_busy)
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if is_busy(db.as_ref()) => StoreError::overloaded(),
            sqlx::Error::PoolTimedOut => StoreError::overloaded(),
            _ => StoreError::backend(e),
        }
    }
}

/// Why a store could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("unsupported database URL '{0}': use sqlite:<path> or postgres://user@host/database")]
    UnsupportedUrl(String),
    #[error("no audit database at {0}")]
    Missing(String),
    #[error("{0} is not a CertifyClouds audit database")]
    NotAnAuditDatabase(String),
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("invalid pool_size '{0}' in the database URL: give a number of connections from 2 to 256")]
    PoolSize(String),
    #[error("the database's encoding is {0}; the audit store needs UTF8 (create it with `createdb -E UTF8`)")]
    Encoding(String),
    #[error("database migration failed: {0}")]
    Migrate(#[source] BoxError),
    #[error("cannot open the database: {0}")]
    Backend(#[source] BoxError),
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> Self {
        OpenError::Backend(Box::new(e))
    }
}
