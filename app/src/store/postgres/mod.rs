//! The PostgreSQL engine, for a log larger than one machine's disk or served by several
//! application instances: the same entries, chain, counts and answers as the SQLite
//! engine (both run the conformance suite), in a database server. Entries are partitioned
//! by month; appends of every instance are serialised by an advisory lock, and announced
//! to every instance with `NOTIFY`.

/// Users; a change that could take away the last admin's rights holds the accounts' lock
/// ("audit" in ASCII, plus one: the appends hold the number itself).
mod accounts {
    crate::store::accounts::account_queries!(
        sqlx::Postgres,
        begin: "BEGIN",
        lock: Some("SELECT pg_advisory_xact_lock(418581342581)"),
        highest_id: "SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() \
                     AND sequencename = 'users_id_seq'"
    );
}
mod append;
mod copy_purged;
mod kept_days;
mod plan;
mod purge;
mod read;
mod scan;
mod search;
mod settings_change;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod tokens;
mod tree;
mod users;
mod verify;
mod writer;

use super::{
    AppendPhases, AppendReceipt, AuditLog, Head, Maintenance, NewToken, OpenError, ScanSink, StoreError, TokenStore,
    VerifyReport,
};
use crate::entry::{AuditEntry, EntryPage};
use crate::filter::{EntryFilter, PageRequest};
use crate::histogram::{Histogram, Span};
use crate::ingest::ValidEntry;
use crate::tokens::{StoredToken, TokenInfo, TokenRecord};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The class of the advisory locks that elect a leader per job (the second key is the
/// job's name hashed, [`job_key`]); two-key locks never collide with the appends' one-key
/// lock.
const LEAD_LOCKS: i32 = 0x6c65_6164;

/// How long to wait before listening again after the connection was lost.
const RELISTEN: Duration = Duration::from_secs(1);

/// The channel appends announce the new head on (its payload: the newest sequence).
const HEAD_CHANNEL: &str = "audit_head";

/// Connections to the server for reads, unless the URL's `pool_size` says otherwise.
/// Appends have a connection of their own ([`PgStore::writer`]): queued behind 80 readers
/// for one of these, single-event posts fell to 2 a second in the benchmark. Readers
/// beyond the pool wait in the application, where they cost the server nothing: with
/// the database on the same two cores, each busy reader connection takes CPU from the
/// appends (docs/benchmarks.md, "pool size").
pub const DEFAULT_POOL_SIZE: u32 = 12;

/// The URL parameter that sets the readers' pool size (taken out before the URL is
/// handed to the driver).
const POOL_SIZE_PARAMETER: &str = "pool_size";

/// Connections for the bearer-token lookup every API request makes before anything else:
/// one waiting behind readers for a pool connection held posts of one event to a few
/// dozen a second under the benchmark's 80 readers.
const LOOKUP_CONNECTIONS: u32 = 2;

/// How long a request waits for a connection before it is answered "busy, try again".
const ACQUIRE_WAIT: Duration = Duration::from_secs(3);

/// Whether a database URL names a PostgreSQL server.
pub fn names(database_url: &str) -> bool {
    database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")
}

pub struct PgStore {
    pool: PgPool,
    /// The token lookups' own connections ([`LOOKUP_CONNECTIONS`]).
    lookups: PgPool,
    /// Commits the appends, on a connection of their own, grouping those that arrive
    /// together (appends are serialised anyway: one connection is enough).
    writer: Arc<writer::Writer>,
    head: Arc<watch::Sender<u64>>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    options: PgConnectOptions,
    /// The connections holding this process's leads, by job: a session's advisory lock
    /// lasts as long as its connection.
    leads: tokio::sync::Mutex<HashMap<String, PgConnection>>,
    /// Until when the purge deletes rows without trying to drop a whole month first: a
    /// drop refused for want of its lock is not tried again at every step.
    drops_paused_until: Mutex<Option<std::time::Instant>>,
    /// Searches' timelines by whole days, kept between reads.
    kept_days: kept_days::KeptDays,
}

impl PgStore {
    /// Connects, creating or upgrading the schema if need be.
    pub async fn open(database_url: &str) -> Result<PgStore, OpenError> {
        let store = Self::connect(database_url).await?;
        migrate(&store.pool).await?;
        // The months around now, so that appends seldom create a partition.
        sqlx::query("SELECT audit_ensure_months_ahead()").execute(&store.pool).await.map_err(open_error)?;
        // A database from before the Merkle tree gets its rows now, not in its first append.
        // One that cannot be brought to the head (entries removed behind the store's back)
        // stays open to read and verify; its appends are refused with the reason.
        match append::settle_tree(&store.pool).await {
            Ok(()) => {}
            Err(e @ StoreError::Corrupt { .. }) => {
                tracing::error!(error = %e, "the Merkle tree does not match the log: appends are refused; run verify");
            }
            Err(e) => return Err(OpenError::Backend(Box::new(e))),
        }
        store.start().await?;
        Ok(store)
    }

    /// Connects to read only: the schema must already be there, and nothing is written.
    pub async fn open_read_only(database_url: &str) -> Result<PgStore, OpenError> {
        let store = Self::connect(database_url).await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT to_regclass('audit_entries')::text")
            .fetch_one(&store.pool)
            .await
            .map_err(open_error)?;
        if schema.is_none() {
            return Err(OpenError::NotAnAuditDatabase(redacted(database_url)));
        }
        store.start().await?;
        Ok(store)
    }

    async fn connect(database_url: &str) -> Result<PgStore, OpenError> {
        let (database_url, pool_size) = pool_size(database_url)?;
        let options = PgConnectOptions::from_str(&database_url).map_err(open_error)?;
        let pool = with_custom_plans(PgPoolOptions::new())
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_WAIT)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        // Search words are compared and cut by character, in SQL as in the application.
        let encoding: String = sqlx::query_scalar("SHOW server_encoding").fetch_one(&pool).await.map_err(open_error)?;
        if encoding != "UTF8" {
            return Err(OpenError::Encoding(encoding));
        }
        let writer_pool = with_custom_plans(PgPoolOptions::new())
            .max_connections(1)
            .acquire_timeout(ACQUIRE_WAIT)
            .connect_lazy_with(options.clone());
        let lookups = with_custom_plans(PgPoolOptions::new())
            .max_connections(LOOKUP_CONNECTIONS)
            .acquire_timeout(ACQUIRE_WAIT)
            .connect_lazy_with(options.clone());
        let head = Arc::new(watch::channel(0).0);
        Ok(PgStore {
            pool,
            lookups,
            writer: Arc::new(writer::Writer::new(writer_pool, head.clone())),
            head,
            listener: Mutex::new(None),
            options,
            leads: tokio::sync::Mutex::new(HashMap::new()),
            drops_paused_until: Mutex::new(None),
            kept_days: kept_days::KeptDays::default(),
        })
    }

    /// Reads the head and follows the appends of every instance from then on.
    async fn start(&self) -> Result<(), OpenError> {
        let mut listener = PgListener::connect_with(&self.pool).await.map_err(open_error)?;
        listener.listen(HEAD_CHANNEL).await.map_err(open_error)?;
        // Read after listening: an append committed in between is announced, not missed.
        let seq: i64 =
            sqlx::query_scalar("SELECT seq FROM audit_head").fetch_one(&self.pool).await.map_err(open_error)?;
        raise(&self.head, u64::try_from(seq).unwrap_or(0));
        let head = self.head.clone();
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(note) => {
                        if let Ok(seq) = note.payload().parse::<u64>() {
                            raise(&head, seq);
                        }
                    }
                    // `recv` reconnects by itself after a lost connection; this is a
                    // reconnection that failed. The next `recv` tries again, and the head
                    // is read again once the database answers: announcements made
                    // meanwhile are lost.
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the announcements of new entries; reconnecting");
                        tokio::time::sleep(RELISTEN).await;
                        let seq = sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_head").fetch_one(&pool).await;
                        if let Ok(seq) = seq {
                            raise(&head, u64::try_from(seq).unwrap_or(0));
                        }
                    }
                }
            }
        });
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(())
    }
}

/// Copying another store's log into this one (`certifyclouds migrate-store`).
impl PgStore {
    /// Appends entries read from another store with their sequence numbers and hashes
    /// unchanged, in one transaction: the first must follow this log's head, and each must
    /// hash here as it did there, or nothing is written.
    pub async fn append_copies(&self, entries: &[AuditEntry]) -> Result<AppendReceipt, StoreError> {
        if entries.is_empty() {
            return Ok(AppendReceipt { sequences: Vec::new(), head_hash: String::new() });
        }
        let mut known = self.writer.known.lock().await;
        let mut phases = AppendPhases::default();
        let receipt = append::copy(&self.writer.pool, &mut known, entries, &mut phases).await?;
        self.writer.commits.fetch_add(1, Ordering::Relaxed);
        if let Some(last) = receipt.sequences.last() {
            raise(&self.head, *last);
        }
        Ok(receipt)
    }

    /// Copies a run of entries another store's purge removed (`migrate-store`): its record,
    /// and its rows of the Merkle tree read from `source`, checked to follow from the rows
    /// before; the head moves past it, so that the entry after it is copied next.
    pub async fn copy_purged(
        &self,
        run: &crate::store::PurgedRange,
        source: &dyn crate::store::TreeStore,
    ) -> Result<(), StoreError> {
        let mut known = self.writer.known.lock().await;
        // No entry was added: the head watched for new entries stays where it is.
        copy_purged::copy(&self.writer.pool, &mut known, run, source).await
    }

    /// The newest entry's place in the chain, if there is one.
    pub async fn head(&self) -> Result<Option<Head>, StoreError> {
        let (seq, hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head").fetch_one(&self.pool).await?;
        let sequence = u64::try_from(seq).unwrap_or(0);
        Ok((sequence > 0).then(|| Head { sequence, hash: hex::encode(hash) }))
    }

    /// Adds tokens read from another store under their own ids, in one transaction; tokens
    /// already copied are left as they are. Returns how many were added.
    pub async fn copy_tokens(&self, tokens: &[StoredToken]) -> Result<usize, StoreError> {
        tokens::copy(&self.pool, tokens).await
    }

    /// Adds users copied from another store under their own ids and with their password
    /// hashes (`migrate-store`); new users get ids above `highest_id` (the highest the
    /// source ever gave). How many were added.
    pub async fn copy_users(&self, users: &[super::StoredUser], highest_id: i64) -> Result<usize, StoreError> {
        users::copy(&self.pool, users, highest_id).await
    }
}

/// The second key of a job's lead: the job's name hashed (FNV-1a), the same in every
/// instance and every version.
fn job_key(job: &str) -> i32 {
    let hash = job.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// Statements are prepared once per connection and run with new values: after five runs
/// PostgreSQL may switch to one generic plan for every value, which for a filter (one
/// user's entries, or a prefix and a severity) reads far more than the plan made for the
/// values at hand (4 ms became 100 ms in the benchmark). Set after connecting rather than
/// as a startup option, which some connection poolers refuse.
fn with_custom_plans(options: PgPoolOptions) -> PgPoolOptions {
    options.after_connect(|conn, _| {
        Box::pin(async move {
            sqlx::query("SET plan_cache_mode = force_custom_plan").execute(conn).await?;
            Ok(())
        })
    })
}

/// Runs the migrations not applied yet. When every one is, nothing is run: an application
/// role without the right to change the schema (docs/postgres-roles.sql) opens a database
/// its owner has migrated.
async fn migrate(pool: &PgPool) -> Result<(), OpenError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(open_error)?;
    if exists {
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await
                .map_err(open_error)?;
        for (version, checksum) in &applied {
            if MIGRATOR.iter().any(|m| m.version == *version && *m.checksum != **checksum) {
                return Err(OpenError::Migrate(
                    format!(
                        "the database's schema step {version} is not this version's (made by another build of \
                         CertifyClouds Audit): restore its own build, or start on an empty database"
                    )
                    .into(),
                ));
            }
        }
        if MIGRATOR.iter().all(|m| applied.iter().any(|(v, _)| *v == m.version)) {
            return Ok(());
        }
    }
    MIGRATOR.run(pool).await.map_err(|e| OpenError::Migrate(Box::new(e)))
}

/// Moves the watched head forward only: announcements may arrive after the commit that
/// made a later one.
fn raise(head: &watch::Sender<u64>, seq: u64) {
    head.send_if_modified(|current| {
        let newer = seq > *current;
        if newer {
            *current = seq;
        }
        newer
    });
}

fn open_error(e: sqlx::Error) -> OpenError {
    OpenError::Backend(Box::new(e))
}

/// The URL without its `pool_size` parameter, and the pool size it gives (the default
/// when none).
fn pool_size(database_url: &str) -> Result<(String, u32), OpenError> {
    let Some((base, query)) = database_url.split_once('?') else {
        return Ok((database_url.to_owned(), DEFAULT_POOL_SIZE));
    };
    let mut size = DEFAULT_POOL_SIZE;
    let mut kept = Vec::new();
    for parameter in query.split('&') {
        match parameter.split_once('=') {
            Some((POOL_SIZE_PARAMETER, value)) => {
                size = value
                    .parse()
                    .ok()
                    .filter(|n| (2..=256).contains(n))
                    .ok_or_else(|| OpenError::PoolSize(value.to_owned()))?;
            }
            _ => kept.push(parameter),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, size))
}

/// A URL fit for an error message: without the user and password.
fn redacted(database_url: &str) -> String {
    match database_url.split_once("://").map(|(scheme, rest)| (scheme, rest.rsplit_once('@'))) {
        Some((scheme, Some((_, host)))) => format!("{scheme}://…@{host}"),
        _ => database_url.to_owned(),
    }
}

#[async_trait]
impl AuditLog for PgStore {
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    async fn append(&self, entries: Vec<ValidEntry>) -> Result<AppendReceipt, StoreError> {
        if entries.is_empty() {
            return Ok(AppendReceipt { sequences: Vec::new(), head_hash: String::new() });
        }
        self.writer.append(entries).await
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError> {
        read::list(&self.pool, &self.kept_days, filter, page).await
    }

    async fn count(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        let mut tx = read::snapshot(&self.pool).await?;
        read::count(&mut tx, filter).await
    }

    async fn get(&self, sequence: u64) -> Result<Option<AuditEntry>, StoreError> {
        read::get(&self.pool, sequence).await
    }

    async fn scan(&self, filter: &EntryFilter, sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
        scan::scan(&self.pool, filter, sink).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn entries_after(&self, sequence: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        read::entries_after(&self.pool, sequence, limit).await
    }

    async fn histogram(&self, filter: &EntryFilter, span: Span) -> Result<Histogram, StoreError> {
        read::histogram(&self.pool, &self.kept_days, filter, span).await
    }

    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let micros: Option<i64> = sqlx::query_scalar("SELECT min(ts) FROM audit_entries").fetch_one(&self.pool).await?;
        Ok(micros.and_then(DateTime::from_timestamp_micros))
    }

    async fn suggest_actors(&self, text: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        read::suggest_actors(&self.pool, text, limit).await
    }

    #[tracing::instrument(skip_all)]
    async fn verify_with_roots(
        &self,
        expect_head: Option<&Head>,
        tree_sizes: &[u64],
    ) -> Result<VerifyReport, StoreError> {
        verify::verify(&self.pool, expect_head, tree_sizes).await
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn issue_token(&self, new: &NewToken<'_>) -> Result<TokenInfo, StoreError> {
        tokens::create(&self.pool, new).await
    }

    async fn find_token(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        tokens::find(&self.lookups, token_hash, Utc::now()).await
    }

    async fn all_tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        tokens::all(&self.pool).await
    }

    async fn revoke_token(&self, id: i64) -> Result<TokenInfo, StoreError> {
        tokens::revoke(&self.pool, id).await
    }

    async fn token_used(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        tokens::used(&self.pool, id, now).await
    }
}

// Users and sessions: changes on `pool`, the lookups every request makes on `lookups`.
crate::store::accounts::account_store!(PgStore, changes: pool, lookups: lookups);

// The Merkle tree's rows and its checkpoints.
crate::store::tree::tree_store!(PgStore, sqlx::Postgres, tree::read_rows_of_pool);

crate::store::settings_store::settings_store!(PgStore);
crate::store::destinations::delivery_store!(PgStore);
crate::store::alert_rules::alert_store!(PgStore);

#[async_trait]
impl crate::store::Retention for PgStore {
    async fn purge_step(
        &self,
        cutoff: DateTime<Utc>,
        below: Option<u64>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<crate::store::PurgeStep, StoreError> {
        purge::step(&mut *self.pool.acquire().await?, cutoff, below, limit, now, &self.drops_paused_until).await
    }

    async fn purge_due(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        purge::due(&mut *self.pool.acquire().await?, cutoff).await
    }

    async fn purged(&self) -> Result<Vec<crate::store::PurgedRange>, StoreError> {
        purge::ranges(&mut *self.pool.acquire().await?).await
    }
}

#[async_trait]
impl Maintenance for PgStore {
    async fn optimize(&self) -> Result<(), StoreError> {
        // The partitions ahead and ANALYZE, with the schema owner's rights.
        sqlx::query("SELECT audit_upkeep()").execute(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // An append in progress finishes first: it holds this lock until it commits.
        let _appending = self.writer.known.lock().await;
        if let Some(task) = self.listener.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        for (_, conn) in self.leads.lock().await.drain() {
            let _ = conn.close().await;
        }
        self.writer.pool.close().await;
        self.lookups.close().await;
        self.pool.close().await;
    }

    fn commits(&self) -> u64 {
        self.writer.commits.load(Ordering::Relaxed)
    }

    fn append_phases(&self) -> AppendPhases {
        *self.writer.phases.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn lead(&self, job: &str) -> Result<bool, StoreError> {
        let mut leads = self.leads.lock().await;
        if let Some(conn) = leads.get_mut(job) {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            // The connection, and the lock with it, is gone: try again on a new one.
            leads.remove(job);
        }
        let mut conn = PgConnection::connect_with(&self.options).await?;
        let led: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LEAD_LOCKS)
            .bind(job_key(job))
            .fetch_one(&mut conn)
            .await?;
        if led {
            leads.insert(job.to_owned(), conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(led)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestDatabase;
    use super::*;
    use crate::store::conformance::{conformance_suite, sample, samples};
    use crate::store::{Problem, Store};
    use sqlx::PgConnection;

    async fn fresh() -> (Store, TestDatabase) {
        let db = TestDatabase::create().await;
        let store = crate::store::open(db.url()).await.expect("opens");
        (store, db)
    }

    conformance_suite!(fresh);

    /// After a purge, a kept entry deleted behind the store's back (by the owner, its
    /// triggers set aside) is named by verification, and the purged run is still told apart.
    #[tokio::test]
    async fn after_a_purge_verification_still_names_a_row_deleted_behind_its_back() {
        let (store, db) = fresh().await;
        let mut entries = samples(0..20);
        for (i, entry) in entries.iter_mut().enumerate() {
            entry.timestamp = "2025-01-01T00:00:00Z".parse::<DateTime<Utc>>().expect("time")
                + chrono::Duration::hours(i64::try_from(i).expect("small"));
        }
        store.log.append(entries).await.expect("appends");
        let cutoff = "2025-01-01T05:00:00Z".parse().expect("time");
        assert_eq!(store.retention.purge_step(cutoff, None, 100, Utc::now()).await.expect("purges").deleted, 5);
        assert!(store.log.verify(None).await.expect("verifies").is_intact());
        let mut owner = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
        sqlx::raw_sql("SET session_replication_role = replica; DELETE FROM audit_entries WHERE seq = 9")
            .execute(&mut owner)
            .await
            .expect("deletes behind the store's back");
        let report = store.log.verify(None).await.expect("verifies");
        assert_eq!(report.problems.first(), Some(&Problem::OutOfPlace { stored_seq: 10, expected: 9 }));
        assert_eq!(report.purged, 5);
    }

    #[tokio::test]
    async fn a_change_whose_entry_the_database_refuses_is_not_made() {
        let (store, db) = fresh().await;
        let run = |sql: &'static str| {
            let url = db.url().to_owned();
            async move {
                let mut owner = <PgConnection as sqlx::Connection>::connect(&url).await.expect("connects");
                sqlx::raw_sql(sql).execute(&mut owner).await.expect(sql);
            }
        };
        // audit_append writes the tree's rows last, with every entry.
        let refuse = run("CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
             CREATE TRIGGER refuse_entries BEFORE INSERT ON audit_tree \
             FOR EACH ROW EXECUTE FUNCTION refuse_entries()");
        let allow = run("DROP TRIGGER refuse_entries ON audit_tree");
        crate::store::conformance::a_change_whose_entry_the_database_refuses_is_not_made(store, refuse, allow).await;
    }

    /// A database from before the Merkle tree (entries without tree rows) gets its rows
    /// when a store next opens it, with the roots the appends would have made.
    #[tokio::test]
    async fn a_database_from_before_the_tree_gets_its_rows_when_it_opens() {
        use crate::integrity::TreeQuery;
        use crate::store::tree_answer;
        let (store, db) = fresh().await;
        store.log.append(samples(0..37)).await.expect("appends");
        let root = tree_answer(&*store.tree, TreeQuery::Root { size: 37 }).await.expect("root");
        store.maintenance.close().await;
        let mut owner = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
        sqlx::raw_sql(
            "ALTER TABLE audit_tree DISABLE TRIGGER USER; DELETE FROM audit_tree; \
             ALTER TABLE audit_tree ENABLE TRIGGER USER",
        )
        .execute(&mut owner)
        .await
        .expect("removes rows as an older version never wrote them");

        let store = crate::store::open(db.url()).await.expect("opens again");
        assert_eq!(store.tree.tree_size().await.expect("size"), 37);
        assert_eq!(tree_answer(&*store.tree, TreeQuery::Root { size: 37 }).await.expect("root"), root);
        store.log.append(samples(37..40)).await.expect("appends after");
        let report = store.log.verify(None).await.expect("verifies");
        let root = tree_answer(&*store.tree, TreeQuery::Root { size: 40 }).await.expect("root");
        assert_eq!(report.tree.map(|t| (t.size, t.root)), Some((40, root[0])));
    }

    #[test]
    fn the_pool_size_is_read_from_the_url_and_taken_out_of_it() {
        assert_eq!(pool_size("postgres://a@h/db").expect("default"), ("postgres://a@h/db".into(), DEFAULT_POOL_SIZE));
        assert_eq!(
            pool_size("postgres://a@h/db?sslmode=require&pool_size=24&application_name=x").expect("given"),
            ("postgres://a@h/db?sslmode=require&application_name=x".into(), 24)
        );
        assert_eq!(pool_size("postgres://a@h/db?pool_size=4").expect("alone"), ("postgres://a@h/db".into(), 4));
        for bad in ["0", "1", "257", "many", ""] {
            let error = pool_size(&format!("postgres://a@h/db?pool_size={bad}")).expect_err(bad);
            assert!(error.to_string().contains("pool_size"), "{error}");
        }
    }

    /// The purge takes out the count rows it empties, by their keys (migration 0015), and
    /// only those: what is left still verifies against the entries kept.
    #[tokio::test]
    async fn a_purge_leaves_no_emptied_count_rows_behind() {
        let (store, db) = fresh().await;
        store.log.append(samples(0..40)).await.expect("appends");
        let mut conn = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
        let rows = |table: &'static str| format!("SELECT count(*) FROM {table}");
        let emptied = |table: &'static str| format!("SELECT count(*) FROM {table} WHERE n <= 0");
        let mut before = Vec::new();
        for table in ["audit_search_keys", "audit_actor_counts"] {
            before.push(sqlx::query_scalar::<_, i64>(&rows(table)).fetch_one(&mut conn).await.expect("counts"));
        }
        // A row of a key no entry has, on the day of an entry purged in steps (the first is
        // February's, whose partition goes whole): a purge that deleted emptied rows by their
        // day (as migration 0011's did, reading the table whole) would take it too.
        let planted = "INSERT INTO audit_search_keys (key, day, severity, n) \
                       SELECT 'zz-planted', floor(ts::numeric / 86400000000)::int8, 0, 0 FROM audit_entries \
                       WHERE seq = 2";
        sqlx::query(planted).execute(&mut conn).await.expect("plants a row");
        let now = chrono::Utc::now();
        let cutoff = now - chrono::Duration::days(30);
        while store.retention.purge_step(cutoff, None, 7, now).await.expect("purges").more {}
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_search_keys WHERE key = 'zz-planted'")
            .fetch_one(&mut conn)
            .await
            .expect("counts");
        assert_eq!(kept, 1, "only the rows the purge emptied go");
        sqlx::query("DELETE FROM audit_search_keys WHERE key = 'zz-planted'").execute(&mut conn).await.expect("tidies");
        assert_eq!(store.log.count(&Default::default()).await.expect("counts"), 1, "all but the newest");
        for (table, before) in ["audit_search_keys", "audit_actor_counts", "audit_daily_counts"]
            .into_iter()
            .zip(before.into_iter().map(Some).chain([None]))
        {
            let left: i64 = sqlx::query_scalar(&emptied(table)).fetch_one(&mut conn).await.expect("counts");
            assert_eq!(left, 0, "{table} keeps no emptied rows");
            let after: i64 = sqlx::query_scalar(&rows(table)).fetch_one(&mut conn).await.expect("counts");
            assert!(after > 0 && before.is_none_or(|b| after < b), "{table}: {before:?} rows, then {after}");
        }
        let report = store.log.verify(None).await.expect("verifies");
        assert!(report.is_intact(), "{:?}", report.problems);
    }

    #[tokio::test]
    async fn an_entry_can_be_neither_changed_nor_removed_nor_inserted_off_the_head() {
        let (store, db) = fresh().await;
        store.log.append(samples(0..3)).await.expect("appends");
        let pool = PgPool::connect(db.url()).await.expect("connects");
        // Copies of stored entries at new places, a second later: off the head by a link,
        // by a gap, by a repeat or by a broken link inside one statement; each is refused
        // by the head-only trigger (P0001), not by a key.
        let copies = |seq: &str, prev: &str, of: &str| {
            format!(
                "INSERT INTO audit_entries SELECT {seq}, ts + 1000000, event_type, severity, actor_type, actor_id, \
                 actor_name, actor_ref, resource_type, resource_id, resource_name, description, details, ip_address, \
                 user_agent, received_at, ingest_token_id, ingest_token_name, {prev}, hash, words \
                 FROM audit_entries WHERE seq IN ({of})"
            )
        };
        let copy_of_3 = |seq: &str, prev: &str| copies(seq, prev, "3");
        let partition: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM audit_entries WHERE seq = 3")
            .fetch_one(&pool)
            .await
            .expect("the partition of entry 3");
        // Entries 2 and 3 as 4 and 5: 4 follows the head; 5's link must be 4's hash, which
        // is 2's, as 3's prev_hash is.
        let two = |prev_of_5: &str| {
            copies(
                "seq + 2",
                &format!("CASE seq WHEN 2 THEN (SELECT hash FROM audit_head) ELSE {prev_of_5} END"),
                "2, 3",
            )
        };
        for sql in [
            "UPDATE audit_entries SET description = 'rewritten' WHERE seq = 2".to_owned(),
            "DELETE FROM audit_entries WHERE seq = 3".to_owned(),
            "TRUNCATE audit_entries".to_owned(),
            copy_of_3("4", "prev_hash"),
            copy_of_3("5", "hash"),
            copy_of_3("4", "sha256(hash)"),
            copies("4", "(SELECT hash FROM audit_head)", "2, 3"),
            two("sha256(hash)"),
            // Naming a partition instead of the table: its own trigger refuses.
            copy_of_3("4", "hash").replacen("INSERT INTO audit_entries ", &format!("INSERT INTO {partition} "), 1),
            format!("TRUNCATE {partition}"),
        ] {
            let refused = sqlx::query(&sql).execute(&pool).await.expect_err(&sql);
            let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("P0001"), "{sql}: {refused}");
        }
        // The same rows at their right places are taken: the refusals above were for the place.
        sqlx::query(&two("prev_hash")).execute(&pool).await.expect("the next links are taken");
        sqlx::query(&copy_of_3("6", "hash")).execute(&pool).await.expect("the next link is taken");
        sqlx::query("DELETE FROM audit_entries WHERE seq = 4").execute(&pool).await.expect_err("still append-only");
        assert_eq!(store.log.get(6).await.expect("reads").map(|e| e.sequence), Some(6));
    }

    /// Changes made behind the store's back, by a superuser with the triggers off: each
    /// is found by `verify` and named for what it breaks.
    #[tokio::test]
    async fn verify_finds_rows_words_and_counts_changed_behind_its_back() {
        for (tamper, found) in [
            ("UPDATE audit_entries SET description = 'rewritten' WHERE seq = 4", "broken link at 4"),
            ("UPDATE audit_entries SET words = to_tsvector('simple', 'other words') WHERE seq = 2", "search index"),
            ("UPDATE audit_daily_counts SET n = n + 1 WHERE day = (SELECT min(day) FROM audit_daily_counts)", "counts"),
            ("UPDATE audit_search_keys SET n = n + 1 WHERE key = (SELECT min(key) FROM audit_search_keys)", "key counts"),
            ("UPDATE audit_entries SET actor_ref = actor_ref % 4 + 1 WHERE seq = 3", "actor index"),
            (
                "INSERT INTO audit_entries SELECT seq, ts + 1, event_type, severity, actor_type, actor_id, actor_name, \
                 actor_ref, resource_type, resource_id, resource_name, description, details, ip_address, user_agent, \
                 received_at, ingest_token_id, ingest_token_name, prev_hash, hash, words FROM audit_entries WHERE seq = 5",
                "a second entry 5",
            ),
        ] {
            let (store, db) = fresh().await;
            store.log.append(samples(0..10)).await.expect("appends");
            let mut conn = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
            sqlx::query("SET session_replication_role = replica").execute(&mut conn).await.expect("triggers off");
            sqlx::query(tamper).execute(&mut conn).await.expect("tampers");
            let problems = store.log.verify(None).await.expect("verifies").problems;
            let matched = match found {
                "broken link at 4" => matches!(problems.as_slice(), [Problem::BrokenLink { seq: 4, .. }]),
                // The words' keys are counted from the stored words, so those differ too.
                "search index" => matches!(
                    problems.as_slice(),
                    [Problem::SearchIndex(_), Problem::Counts { table: "audit_search_keys", .. }]
                ),
                "key counts" => matches!(problems.as_slice(), [Problem::Counts { table: "audit_search_keys", .. }]),
                "counts" => matches!(problems.as_slice(), [Problem::Counts { table: "audit_daily_counts", .. }]),
                "a second entry 5" => problems.contains(&Problem::OutOfPlace { stored_seq: 5, expected: 6 }),
                // Filed under another actor, it is also counted under the other one.
                _ => problems.contains(&Problem::ActorIndex { seq: 3 }),
            };
            assert!(matched, "{tamper}: expected {found}, got {problems:?}");
        }
    }

    /// The role of docs/postgres-roles.sql: the application reads and appends (in a new
    /// month too), and can change nothing, whatever it tries.
    #[tokio::test]
    async fn an_application_role_can_read_and_append_but_never_change_the_log() {
        let (owner, db) = fresh().await;
        owner.log.append(samples(0..3)).await.expect("appends as the owner");
        let role = format!("app_{}", db.url().rsplit('/').next().expect("a name"));
        let mut admin = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
        sqlx::query(&format!("CREATE ROLE {role} LOGIN")).execute(&mut admin).await.expect("creates the role");
        let grants = include_str!("../../../../docs/postgres-roles.sql").replace(":\"app\"", &format!("\"{role}\""));
        sqlx::raw_sql(&grants).execute(&mut admin).await.expect("grants");

        let url = db.url().replacen("://postgres@", &format!("://{role}@"), 1);
        let app = crate::store::open(&url).await.expect("the application role opens the migrated database");
        let mut entries = samples(3..6);
        entries[0].timestamp = "2018-02-03T04:05:06Z".parse().expect("time");
        assert_eq!(app.log.append(entries).await.expect("appends").sequences, vec![4, 5, 6]);
        app.tokens.create_token("ingest", &[crate::tokens::Scope::Ingest], &[1; 32]).await.expect("creates a token");
        assert_eq!(app.log.count(&EntryFilter::default()).await.expect("counts"), 6);
        assert!(app.log.verify(None).await.expect("verifies").is_intact());

        let mut conn = <PgConnection as sqlx::Connection>::connect(&url).await.expect("connects as the role");
        for sql in [
            "UPDATE audit_entries SET description = 'rewritten' WHERE seq = 2",
            "DELETE FROM audit_entries WHERE seq = 6",
            "UPDATE audit_entries_201802 SET description = 'rewritten'",
            "DELETE FROM audit_entries_201802",
            "TRUNCATE audit_entries",
            "DROP TABLE audit_entries_201802",
            "ALTER TABLE audit_entries DISABLE TRIGGER USER",
            "UPDATE audit_head SET seq = 1",
            "DELETE FROM audit_daily_counts",
            "SELECT audit_entries_at_head_only()",
            "INSERT INTO audit_entries_201802 SELECT * FROM audit_entries_201802",
            "CREATE FUNCTION public.lag(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint'",
            "CREATE TABLE public.audit_head_copy (seq bigint)",
        ] {
            let refused = sqlx::query(sql).execute(&mut conn).await.expect_err(sql);
            let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
            // 42501: insufficient privilege; 0A000: a trigger function cannot be called.
            assert!(matches!(code.as_deref(), Some("42501" | "0A000")), "{sql}: {refused}");
        }
        // Settings are read and changed by the role, each with its entry.
        use crate::store::{RecordChange, SettingsChange, SettingsChanged};
        // Whole microseconds, as the store keeps times: the subscription reads back equal.
        let now: DateTime<Utc> = "2026-01-01T00:00:00.123456Z".parse().expect("time");
        let record: RecordChange = Arc::new(|_: &SettingsChanged| Ok(Some(sample(0))));
        let put = SettingsChange::Put { name: "audit_retention_days", value: "120".into(), now };
        let (changed, receipt) = app.settings.change(put, record.clone()).await.expect("puts");
        assert_eq!((changed, receipt.is_some()), (SettingsChanged::Put { previous: None }, true));
        // And subscriptions added and removed.
        let subscription = crate::subscriptions::Subscription {
            subscription_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            display_name: "Production".into(),
            cloud: crate::subscriptions::Cloud::Azure,
            added_at: now,
            added_by: "ana".into(),
        };
        let add = SettingsChange::AddSubscription(subscription.clone());
        assert_eq!(app.settings.change(add, record.clone()).await.expect("adds").0, SettingsChanged::Added(true));
        let remove = SettingsChange::RemoveSubscription(subscription.subscription_id.clone());
        let (removed, _) = app.settings.change(remove, record).await.expect("removes");
        assert_eq!(removed, SettingsChanged::Removed(Some(subscription)));
        // The retention purge runs with the owner's rights (the oldest month, wholly due,
        // dropped by audit_purge_partition; then rows by audit_purge); the role deletes
        // nothing itself.
        let everything = chrono::Utc::now() - chrono::Duration::days(30);
        let due = app.retention.purge_due(everything).await.expect("counts");
        let mut purged = 0;
        loop {
            let step =
                app.retention.purge_step(everything, None, 2, chrono::Utc::now()).await.expect("the role purges");
            purged += step.deleted;
            if !step.more {
                break;
            }
        }
        assert!(due >= 2 && purged == due, "{purged} of {due}");
        // The database itself refuses a cutoff within the last 30 days, whoever asks.
        let now = chrono::Utc::now().timestamp_micros();
        let refused = sqlx::query("SELECT * FROM audit_purge($1, 10, $1, NULL)").bind(now).execute(&mut conn).await;
        assert!(refused.expect_err("refused").to_string().contains("at least the last 30 days"));
        for sql in ["DELETE FROM audit_purged", "INSERT INTO audit_purged SELECT * FROM audit_purged"] {
            let refused = sqlx::query(sql).execute(&mut conn).await.expect_err(sql);
            let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("42501"), "{sql}: {refused}");
        }
        assert!(app.log.verify(None).await.expect("verifies").is_intact());
        // The hourly upkeep (statistics, months ahead) runs with the owner's rights.
        app.maintenance.optimize().await.expect("the upkeep runs as the application role");
        let analysed: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stats WHERE tablename = 'audit_entries'")
            .fetch_one(&mut admin)
            .await
            .expect("reads statistics");
        assert!(analysed > 0, "the parent table was analysed");
        assert!(owner.log.verify(None).await.expect("verifies").is_intact());
    }

    /// Every connection, the appends' included, plans each statement for its values.
    #[tokio::test]
    async fn connections_plan_each_statement_for_its_values() {
        let (_, db) = fresh().await;
        let store = PgStore::open(db.url()).await.expect("opens");
        for pool in [&store.pool, &store.writer.pool] {
            let mode: String = sqlx::query_scalar("SHOW plan_cache_mode").fetch_one(pool).await.expect("shows");
            assert_eq!(mode, "force_custom_plan");
        }
        store.close().await;
    }

    /// A schema made by another build of the migrations is refused with a clear reason,
    /// not used as if it were this version's.
    #[tokio::test]
    async fn a_schema_from_another_build_is_refused() {
        let (store, db) = fresh().await;
        store.maintenance.close().await;
        let mut admin = <PgConnection as sqlx::Connection>::connect(db.url()).await.expect("connects");
        sqlx::query("UPDATE _sqlx_migrations SET checksum = sha384('another'::bytea) WHERE version = 1")
            .execute(&mut admin)
            .await
            .expect("changes the record");
        let refused = crate::store::open(db.url()).await.err().expect("refused");
        assert!(refused.to_string().contains("made by another build"), "{refused}");
    }

    #[tokio::test]
    async fn a_second_store_on_the_same_database_sees_the_appends_of_the_first() {
        let (first, db) = fresh().await;
        let second = crate::store::open(db.url()).await.expect("opens again");
        let mut head = second.log.watch_head();
        first.log.append(samples(0..4)).await.expect("appends");
        tokio::time::timeout(Duration::from_secs(10), head.wait_for(|seq| *seq == 4))
            .await
            .expect("announced in time")
            .expect("open");
        let receipt = second.log.append(samples(4..6)).await.expect("appends on the second");
        assert_eq!(receipt.sequences, vec![5, 6], "one chain across both");
        // The first chained its last append to entry 4: it finds the head moved and
        // chains these to entry 6 instead.
        let receipt = first.log.append(samples(6..9)).await.expect("appends on the first again");
        assert_eq!(receipt.sequences, vec![7, 8, 9]);
        let report = first.log.verify(None).await.expect("verifies");
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(second.log.get(9).await.expect("reads").map(|e| e.hash), Some(receipt.head_hash));

        // One leader per job across both; the lead passes on when its holder stops.
        assert!(first.maintenance.lead("statistics").await.expect("tries"));
        assert!(first.maintenance.lead("statistics").await.expect("keeps"), "a leader stays one");
        assert!(!second.maintenance.lead("statistics").await.expect("tries"));
        assert!(second.maintenance.lead("retention").await.expect("tries"), "each job has its own lead");
        first.maintenance.close().await;
        assert!(second.maintenance.lead("statistics").await.expect("takes over"));
    }

    #[tokio::test]
    async fn two_stores_appending_at_once_never_turn_each_other_away() {
        let (first, db) = fresh().await;
        let second = crate::store::open(db.url()).await.expect("opens again");
        // Each store keeps losing the race to the other: every append of one moves the
        // head the other chained to. None may be answered "busy".
        const ROUNDS: i64 = 60;
        let mut tasks = Vec::new();
        for n in 0..8 {
            let store = if n % 2 == 0 { first.clone() } else { second.clone() };
            tasks.push(tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let from = n * 1000 + round;
                    store.log.append(samples(from..from + 1)).await.expect("appends");
                }
            }));
        }
        for task in tasks {
            task.await.expect("appender");
        }
        let report = second.log.verify(None).await.expect("verifies");
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.entries, 8 * ROUNDS as u64);
    }

    #[tokio::test]
    async fn months_get_their_partitions_as_entries_arrive() {
        let (store, db) = fresh().await;
        let mut entries = samples(0..2);
        entries[1].timestamp = "2019-07-04T12:00:00Z".parse().expect("time");
        store.log.append(entries).await.expect("appends");
        let pool = PgPool::connect(db.url()).await.expect("connects");
        let partitions: Vec<String> =
            sqlx::query_scalar("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_entries'::regclass AND c.relkind = 'r' ORDER BY 1")
                .fetch_all(&pool)
                .await
                .expect("lists");
        assert!(partitions.contains(&"audit_entries_201907".to_owned()), "{partitions:?}");
        assert!(partitions.contains(&"audit_entries_202502".to_owned()), "{partitions:?}");
    }

    #[tokio::test]
    async fn the_purge_drops_a_month_partition_wholly_due_and_keeps_the_log_verifiable() {
        let (store, db) = fresh().await;
        // 40 entries of January 2025, 40 of late February and March, 10 more of January
        // arriving late, then one of today (the newest, never purged).
        let january = |range: std::ops::Range<i64>| {
            let mut entries = samples(range);
            for e in &mut entries {
                e.timestamp -= chrono::Duration::days(45);
            }
            entries
        };
        store.log.append(january(0..40)).await.expect("appends");
        store.log.append(samples(40..80)).await.expect("appends");
        store.log.append(january(80..90)).await.expect("appends");
        let mut today = samples(90..91);
        today[0].timestamp = chrono::Utc::now();
        store.log.append(today).await.expect("appends");
        let jan: u64 = 50;
        let cutoff: chrono::DateTime<chrono::Utc> = "2025-02-01T00:00:00Z".parse().expect("time");
        assert!(
            store.log.entries_after(0, 100).await.expect("reads").iter().filter(|e| e.timestamp < cutoff).count()
                as u64
                == jan
        );

        let now = chrono::Utc::now();
        let first = store.retention.purge_step(cutoff, None, 7, now).await.expect("purges");
        assert_eq!(
            (first.deleted, first.first, first.last, first.more),
            (jan, Some(1), Some(90), true),
            "dropped whole"
        );
        let second = store.retention.purge_step(cutoff, None, 7, now).await.expect("purges");
        assert_eq!(crate::store::PurgeStep { took: Default::default(), ..second }, crate::store::PurgeStep::default());

        let pool = PgPool::connect(db.url()).await.expect("connects");
        let partitions: Vec<String> =
            sqlx::query_scalar("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_entries'::regclass ORDER BY 1")
                .fetch_all(&pool)
                .await
                .expect("lists");
        assert!(!partitions.contains(&"audit_entries_202501".to_owned()), "{partitions:?}");
        let runs: Vec<(u64, u64)> =
            store.retention.purged().await.expect("reads").iter().map(|r| (r.first, r.last)).collect();
        assert_eq!(runs, [(1, 40), (81, 90)]);
        // Counts and search agree with what is left, and the log verifies across the runs.
        assert_eq!(store.log.count(&EntryFilter::default()).await.expect("counts"), 41);
        let report = store.log.verify(None).await.expect("verifies");
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!((report.entries, report.purged), (91, jan), "every entry of the log, the purged counted apart");
        // An entry of the dropped month arriving late: its month is made again.
        store.log.append(january(91..92)).await.expect("appends into a month dropped");
        assert_eq!(store.log.count(&EntryFilter::default()).await.expect("counts"), 42);
    }

    #[tokio::test]
    async fn a_read_only_open_needs_an_audit_database() {
        let db = TestDatabase::create().await;
        let refused = crate::store::open_read_only(db.url()).await;
        assert!(matches!(refused, Err(OpenError::NotAnAuditDatabase(_))), "{:?}", refused.err());
    }
}
