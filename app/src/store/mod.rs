//! The store behind one seam per aggregate: the log ([`AuditLog`]), the API tokens
//! ([`TokenStore`]), the people who sign in ([`AccountStore`]) and the database's own
//! upkeep ([`Maintenance`]); sessions, settings, delivery cursors and integrity join as
//! traits of their own. Callers hold a [`Store`]
//! and never know which engine answers: SQLite is the embedded default. Every engine
//! runs the same conformance suite (`conformance`).

mod accounts;
pub mod alert_rules;
mod api_tokens;
mod chain;
#[cfg(test)]
pub(crate) mod conformance;
pub mod destinations;
mod error;
mod mirror;
mod postgres;
pub mod retention;
mod rows;
mod settings_store;
mod sql;
mod sqlite;
mod tree;
mod verify;

pub use alert_rules::AlertStore;
pub use chain::{entry_hash, GENESIS_HASH};
pub use destinations::{DeliveryNote, DeliveryState, DeliveryStore, StoredDestination};
pub use error::{OpenError, StoreError};
pub use mirror::{mirror_configuration, Mirrored};
#[cfg(any(test, feature = "test-support"))]
pub use postgres::testing;
pub use postgres::PgStore;
pub use retention::{PurgeStep, PurgedGap, PurgedRange, Retention};
pub use settings_store::{RecordChange, SettingsChange, SettingsChanged, SettingsStore};
pub use sqlite::SqliteStore;
pub use tree::{answer as tree_answer, inclusion_proofs, StoredCheckpoint, TreeStore};
pub use verify::{Head, Problem, VerifyReport};

use crate::accounts::{Lockout, Role, User};
use crate::entry::{entry_id, Actor, AuditEntry, EntryPage, IngestToken, Resource, Severity};
use crate::filter::{EntryFilter, PageRequest};
use crate::histogram::{Histogram, Span};
use crate::ingest::ValidEntry;
use crate::tokens::{Scope, StoredToken, TokenInfo, TokenRecord};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One stored entry as its columns, borrowed from the database while a scan visits it:
/// what exports that write many rows read, without building an [`AuditEntry`] for each.
#[derive(Clone, Copy, Debug)]
pub struct RawEntry<'a> {
    pub sequence: u64,
    pub timestamp: DateTime<Utc>,
    pub event_type: &'a str,
    pub severity: Severity,
    pub actor_type: &'a str,
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub resource_name: Option<&'a str>,
    pub description: &'a str,
    /// The details as stored: compact JSON with its keys in order, exactly as the API
    /// serialises them.
    pub details: &'a str,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub received_at: Option<DateTime<Utc>>,
    pub ingest_token_id: Option<i64>,
    pub ingest_token_name: Option<&'a str>,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

impl RawEntry<'_> {
    /// The entry as the API serves it.
    pub fn to_entry(&self) -> Result<AuditEntry, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt { seq: self.sequence, reason: reason.to_owned() };
        let kind = self.actor_type.parse().map_err(|()| corrupt("unknown actor type"))?;
        let details = serde_json::from_str(self.details).map_err(|_| corrupt("details are not a JSON object"))?;
        let resource = match (self.resource_type, self.resource_id) {
            (Some(kind), Some(id)) => {
                Some(Resource { kind: kind.to_owned(), id: id.to_owned(), name: self.resource_name.map(str::to_owned) })
            }
            _ => None,
        };
        Ok(AuditEntry {
            id: entry_id(self.sequence),
            timestamp: self.timestamp,
            event_type: self.event_type.to_owned(),
            actor: Actor { kind, id: self.actor_id.to_owned(), name: self.actor_name.to_owned() },
            resource,
            description: self.description.to_owned(),
            details,
            severity: self.severity,
            ip_address: self.ip_address.map(str::to_owned),
            user_agent: self.user_agent.map(str::to_owned),
            received_at: self.received_at,
            ingested_by: self.ingested_by(),
            sequence: self.sequence,
            prev_hash: hex::encode(self.prev_hash),
            hash: hex::encode(self.hash),
        })
    }

    /// The token that posted the entry, if one did.
    pub fn ingested_by(&self) -> Option<IngestToken> {
        match (self.ingest_token_id, self.ingest_token_name) {
            (Some(id), Some(name)) => Some(IngestToken { id, name: name.to_owned() }),
            _ => None,
        }
    }
}

/// What a scan hands its entries to. It runs on a blocking thread, so it may block (on a
/// full channel, say) and should not allocate per entry if it can help it.
pub trait ScanSink: Send {
    /// One more entry, oldest first; `false` stops the scan (the reader went away).
    fn entry(&mut self, entry: &RawEntry<'_>) -> bool;
    /// Called once after the last entry of a scan that ran to its end.
    fn end(&mut self);
    /// Whether the entries' hashes are read for it: a sink that writes no hash spares the
    /// engine reading and sending 64 bytes an entry (the hashes are then empty).
    fn wants_hashes(&self) -> bool {
        true
    }
}

/// Where the hash chain ends after an append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Sequence numbers given to the entries, in the order they were passed.
    pub sequences: Vec<u64>,
    pub head_hash: String,
}

impl AppendReceipt {
    /// The receipts of the appends a group commit held, `sizes` entries each in order,
    /// from the sequence number and hash of each entry of the group.
    pub fn split(chained: &[(u64, [u8; 32])], sizes: impl IntoIterator<Item = usize>) -> Vec<AppendReceipt> {
        let sizes: Vec<usize> = sizes.into_iter().collect();
        debug_assert_eq!(sizes.iter().sum::<usize>(), chained.len(), "every entry of the group belongs to one append");
        let mut rest = chained;
        sizes
            .into_iter()
            .map(|size| {
                let (mine, later) = rest.split_at(size.min(rest.len()));
                rest = later;
                AppendReceipt {
                    sequences: mine.iter().map(|(seq, _)| *seq).collect(),
                    head_hash: mine.last().map(|(_, hash)| hex::encode(hash)).unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// The log: appended to, never changed; read by page, count, scan and stream.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends entries in one transaction, extending the hash chain; all or nothing. It
    /// answers only once the transaction holding them is durably committed.
    async fn append(&self, entries: Vec<ValidEntry>) -> Result<AppendReceipt, StoreError>;

    /// One page of matching entries, newest first, and the total that match.
    async fn list(&self, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError>;

    /// How many entries match, without reading them (for export sizes and summaries).
    async fn count(&self, filter: &EntryFilter) -> Result<u64, StoreError>;

    async fn get(&self, sequence: u64) -> Result<Option<AuditEntry>, StoreError>;

    /// Every matching entry, oldest first, handed to `sink` as borrowed columns as it is
    /// read (the exports): nothing is built per entry unless the sink builds it, and the
    /// scan stops when the sink says so. Returns how many entries were handed over.
    /// Callers take a turn from the application's limits first: each scan holds a
    /// connection and a page cache of its own.
    async fn scan(&self, filter: &EntryFilter, sink: Box<dyn ScanSink>) -> Result<u64, StoreError>;

    /// The newest sequence number as appends of this process move it (live updates wait
    /// on it; appends of other processes are found by polling [`AuditLog::entries_after`]).
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Entries with a sequence number above `sequence`, oldest first.
    async fn entries_after(&self, sequence: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Matching entries counted by severity in the span's buckets (the timeline).
    async fn histogram(&self, filter: &EntryFilter, span: Span) -> Result<Histogram, StoreError>;

    /// When the earliest entry happened, if there is one.
    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Actor names (and ids) containing `text`, ignoring ASCII case, those that begin
    /// with it first: suggestions for the actor filter.
    async fn suggest_actors(&self, text: &str, limit: u32) -> Result<Vec<String>, StoreError>;

    /// Re-checks the whole log: every row's place and hash in the chain, the search index
    /// and the per-day and per-actor counts, and (if given) the head a reader saw before.
    async fn verify(&self, expect_head: Option<&Head>) -> Result<VerifyReport, StoreError> {
        self.verify_with_roots(expect_head, &[]).await
    }

    /// [`AuditLog::verify`], also reporting the tree head the walk reached at each of
    /// `tree_sizes` (`VerifyReport::roots`): what signed checkpoints are compared with.
    async fn verify_with_roots(
        &self,
        expect_head: Option<&Head>,
        tree_sizes: &[u64],
    ) -> Result<VerifyReport, StoreError>;
}

pub use api_tokens::USE_NOTED_EVERY;

/// A new API token to store, its secret already hashed.
#[derive(Clone, Copy, Debug)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub token_hash: &'a [u8],
    /// Who created it, as the tokens page shows it.
    pub created_by: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// The API's bearer tokens (only their hashes are kept).
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token; [`StoreError::Conflict`] if the name is taken.
    async fn issue_token(&self, new: &NewToken<'_>) -> Result<TokenInfo, StoreError>;

    /// Stores a token that never expires, by nobody in particular (tests, benchmarks).
    async fn create_token(&self, name: &str, scopes: &[Scope], token_hash: &[u8]) -> Result<TokenRecord, StoreError> {
        let new = NewToken { name, scopes, token_hash, created_by: None, expires_at: None, now: Utc::now() };
        Ok(self.issue_token(&new).await?.record())
    }

    /// The token with this hash, unless it was revoked or has expired.
    async fn find_token(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError>;

    /// Every token as stored, oldest first (the tokens page; copying a store whole).
    async fn all_tokens(&self) -> Result<Vec<StoredToken>, StoreError>;

    /// Revokes (deletes) a token; [`StoreError::NotFound`] if there is none with this id.
    async fn revoke_token(&self, id: i64) -> Result<TokenInfo, StoreError>;

    /// Notes that a token was used now.
    async fn token_used(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
}

/// A new user to store, the password already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A user with the hash of their password: what signing in checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
    /// The first failed sign-in of the current lockout window.
    pub failures_since: Option<DateTime<Utc>>,
}

/// Changes to a user; `None` (and `unlock: false`) leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// A new password's hash.
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
    /// Clears the failed sign-ins and the lock.
    pub unlock: bool,
}

/// The people who sign in.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores a new user; [`StoreError::Conflict`] if the name is taken in any case.
    async fn create_user(&self, user: &NewUser, now: DateTime<Utc>) -> Result<User, StoreError>;

    /// The user of that name, whatever its case.
    async fn user_named(&self, username: &str) -> Result<Option<StoredUser>, StoreError>;

    async fn user(&self, id: i64) -> Result<Option<StoredUser>, StoreError>;

    /// Every user, by name.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// Every user as stored, with their password's hash, by id (copying a store whole).
    async fn all_users(&self) -> Result<Vec<StoredUser>, StoreError>;

    /// The highest id ever given to a user, deleted ones included (0 if none): a copy
    /// gives new users ids above it, never a deleted user's.
    async fn highest_user_id(&self) -> Result<i64, StoreError>;

    /// Changes a user; the user before and after. [`StoreError::Conflict`] when it would
    /// leave no active admin (an admin who is not disabled), [`StoreError::NotFound`] when
    /// there is no such user.
    async fn update_user(&self, id: i64, update: &UserUpdate) -> Result<(User, User), StoreError>;

    /// Deletes a user (and their sessions) and answers who it was; refused like
    /// [`AccountStore::update_user`] for the last active admin. Disabling a user also
    /// ends their sessions.
    async fn delete_user(&self, id: i64) -> Result<User, StoreError>;

    /// Counts a failed sign-in, locking the account as `lockout` says; the user after, and
    /// whether this very failure locked it (so that a lock is recorded once).
    async fn sign_in_failed(&self, id: i64, now: DateTime<Utc>, lockout: &Lockout) -> Result<(User, bool), StoreError>;

    /// A successful sign-in: the failures forgotten, the time kept; the user after.
    /// `None` when, checked again under the accounts' lock, the account is locked or
    /// disabled: it may not sign in, whatever password was checked.
    async fn signed_in(&self, id: i64, now: DateTime<Utc>) -> Result<Option<User>, StoreError>;
}

/// A session to store: the hash of its secret, whose it is and where it began.
#[derive(Clone, Copy, Debug)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: i64,
    pub now: DateTime<Utc>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A signed-in session and its user as they are now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Signed-in sessions, kept in the database so that a restart keeps people signed in and
/// every instance knows every session. Only hashes of their secrets are stored.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &NewSession<'_>) -> Result<(), StoreError>;

    /// The session with that hash and its user, if it exists.
    async fn session(&self, token_hash: &[u8]) -> Result<Option<Session>, StoreError>;

    /// Marks the session used at `now` (never moving its time back).
    async fn touch_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Ends a session and answers whose it was; `None` if it had already ended (then
    /// another caller ended it, and records it).
    async fn end_session(&self, token_hash: &[u8]) -> Result<Option<Session>, StoreError>;

    /// Ends the sessions last used at or before `idle_before` or begun at or before
    /// `begun_before`.
    async fn end_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        begun_before: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;
}

/// The database's upkeep.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Refreshes the query planner's statistics (sampled, so it stays cheap at any size)
    /// and readies the months ahead (PostgreSQL's partitions); run after bulk loads and
    /// periodically.
    async fn optimize(&self) -> Result<(), StoreError>;

    /// Answers when the database can be reached.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Finishes pending writes and closes the connections.
    async fn close(&self);

    /// Transactions this process has committed to the log: fewer than appends when
    /// appends that arrived together were committed together.
    fn commits(&self) -> u64;

    /// Where this process's appends have spent their time so far.
    fn append_phases(&self) -> AppendPhases;

    /// Whether this process leads the background job `job` among every instance that
    /// shares the store: only the leader runs it. A leader keeps the lead until it stops
    /// (or loses its database connection); another instance then takes it on its next try.
    async fn lead(&self, job: &str) -> Result<bool, StoreError>;
}

/// Time spent appending, by phase, summed over every append of this process since the
/// store opened: what `make bench` reports as the ingest breakdown.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AppendPhases {
    /// Entries appended.
    pub entries: u64,
    /// Hash chain: actor references, serialised details and each entry's SHA-256.
    pub chain: std::time::Duration,
    /// The rows, with the table's filter and time indexes.
    pub rows: std::time::Duration,
    /// The full-text search index: each entry's words and their FTS5 postings.
    pub search: std::time::Duration,
    /// The per-word counts by day and severity.
    pub terms: std::time::Duration,
    /// The per-day counts (by type, severity, actor kind; and by actor).
    pub counts: std::time::Duration,
    /// The Merkle tree: each entry's canonical bytes, its leaf hash, the subtree hashes it
    /// completes, and their row.
    pub tree: std::time::Duration,
    /// The commit: writing the WAL and waiting for the disk.
    pub commit: std::time::Duration,
}

impl AppendPhases {
    /// Adds another append's phases to these.
    pub fn add(&mut self, other: &AppendPhases) {
        self.entries += other.entries;
        self.chain += other.chain;
        self.rows += other.rows;
        self.search += other.search;
        self.terms += other.terms;
        self.counts += other.counts;
        self.tree += other.tree;
        self.commit += other.commit;
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &AppendPhases) -> AppendPhases {
        AppendPhases {
            entries: self.entries.saturating_sub(earlier.entries),
            chain: self.chain.saturating_sub(earlier.chain),
            rows: self.rows.saturating_sub(earlier.rows),
            search: self.search.saturating_sub(earlier.search),
            terms: self.terms.saturating_sub(earlier.terms),
            counts: self.counts.saturating_sub(earlier.counts),
            tree: self.tree.saturating_sub(earlier.tree),
            commit: self.commit.saturating_sub(earlier.commit),
        }
    }
}

/// The store's aggregates, all answered by the engine the database URL names.
#[derive(Clone)]
pub struct Store {
    pub log: Arc<dyn AuditLog>,
    pub tokens: Arc<dyn TokenStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub maintenance: Arc<dyn Maintenance>,
    pub tree: Arc<dyn TreeStore>,
    /// The retention purge, the only delete, and what it removed.
    pub retention: Arc<dyn Retention>,
    pub settings: Arc<dyn SettingsStore>,
    /// Delivery destinations and their cursors.
    pub delivery: Arc<dyn DeliveryStore>,
    /// Alert rules, and the cursors of jobs that follow the log.
    pub alerts: Arc<dyn AlertStore>,
}

impl Store {
    fn of<E>(engine: E) -> Self
    where
        E: AuditLog + TokenStore + AccountStore + SessionStore + Maintenance + TreeStore + Retention + SettingsStore,
        E: DeliveryStore + AlertStore + 'static,
    {
        let engine = Arc::new(engine);
        Store {
            log: engine.clone(),
            tokens: engine.clone(),
            accounts: engine.clone(),
            sessions: engine.clone(),
            tree: engine.clone(),
            retention: engine.clone(),
            settings: engine.clone(),
            delivery: engine.clone(),
            alerts: engine.clone(),
            maintenance: engine,
        }
    }
}

/// Opens (creating and migrating if need be) the store a database URL names.
pub async fn open(database_url: &str) -> Result<Store, OpenError> {
    if database_url.starts_with("sqlite:") {
        Ok(Store::of(SqliteStore::open(database_url).await?))
    } else if is_postgres(database_url) {
        Ok(Store::of(PgStore::open(database_url).await?))
    } else {
        Err(OpenError::UnsupportedUrl(database_url.to_owned()))
    }
}

/// Whether a database URL names a PostgreSQL server (`postgres://…`, `postgresql://…`).
pub fn is_postgres(database_url: &str) -> bool {
    postgres::names(database_url)
}

/// Opens an existing store to read it only: nothing is created, migrated or written (what
/// `verify` needs: a mistyped path must not leave an empty database behind).
pub async fn open_read_only(database_url: &str) -> Result<Store, OpenError> {
    if database_url.starts_with("sqlite:") {
        Ok(Store::of(SqliteStore::open_read_only(database_url).await?))
    } else if is_postgres(database_url) {
        Ok(Store::of(PgStore::open_read_only(database_url).await?))
    } else {
        Err(OpenError::UnsupportedUrl(database_url.to_owned()))
    }
}
