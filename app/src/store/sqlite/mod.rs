//! The embedded SQLite engine (WAL, full durability): one writer at a time, readers
//! alongside. Appends that arrive together are committed together ([`writer`]).

/// Users and sessions. A change takes SQLite's write lock as it begins, on the general
/// pool: the few control connections stay free for the lookups every request makes
/// (a token, a session), which a change waiting for the write lock must not hold up.
mod accounts {
    crate::store::accounts::account_queries!(
        sqlx::Sqlite,
        begin: "BEGIN IMMEDIATE",
        lock: None::<&str>,
        highest_id: "SELECT seq FROM sqlite_sequence WHERE name = 'users'"
    );
}
mod append;
mod error;
pub(crate) use error::is_busy;
mod histogram;
mod plan;
mod priority;
mod purge;
mod reindex;
mod scan;
mod search;
mod search_days;
mod searched;
mod settings_change;
/// API tokens: created, revoked and noted when used on the general pool; looked up (on
/// every request) on `control`.
mod tokens {
    crate::store::api_tokens::token_queries!(sqlx::Sqlite);
}
mod tree;
mod verify;
mod writer;

use crate::store::rows::{self, EntryRow, COLUMNS};

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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a statement waits for another process's write lock before the store reports
/// itself overloaded.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a read waits for one of the readers' connections before it is answered "busy,
/// try again" (503 with Retry-After) instead of hanging until the client gives up.
/// Appends never wait for these: they have the writer's own connection, and look their
/// caller's token up on the `control` connections.
#[cfg(not(test))]
const READER_WAIT: Duration = Duration::from_secs(3);
#[cfg(test)]
const READER_WAIT: Duration = Duration::from_millis(300);

/// Reader connections, each running queries on its own thread. Fewer than this on two
/// cores lowered both read and write throughput under load (measured with 2: reads also
/// wait on the disk, not only on the cores).
const READERS: u32 = 8;

/// Connections for the lookups every request makes first (see `SqliteStore::control`).
const CONTROL: u32 = 2;

pub struct SqliteStore {
    pool: SqlitePool,
    /// A few connections of normal priority for the small lookups every request makes
    /// (a bearer token): an append must not wait behind the readers for one of theirs.
    control: SqlitePool,
    writer: writer::Writer,
    /// The newest sequence number, published after every append of this process.
    head: Arc<watch::Sender<u64>>,
    /// What searches' timelines counted in the days that are over (see [`search_days`]).
    range_counts: search_days::RangeCounts,
}

impl SqliteStore {
    /// Opens the database file, creating it and its folder if missing, and migrates it.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| OpenError::Backend(Box::new(e)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A commit is on disk, not only in the operating system's cache, before an
            // append answers: an acknowledged entry survives a power cut. The writer's own
            // connection sets the same (see `writer`), where appends that arrive together
            // share one commit, which keeps this cheap.
            .synchronous(SqliteSynchronous::Full)
            // 8 KiB pages: measured ~20% faster ingest than the default. (Checkpoints are
            // the writer's business, see `writer`; these connections only read.)
            .pragma("page_size", "8192");
        let options = tuned(options);
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| OpenError::CreateDir { path: dir.display().to_string(), source })?;
        }
        // No ping before each use (`test_before_acquire`): a connection to a local file
        // does not go stale as a network one can, and each ping is a round trip to the
        // connection's thread for every query.
        let control =
            SqlitePoolOptions::new().max_connections(CONTROL).acquire_timeout(READER_WAIT).test_before_acquire(false);
        let control = first_connection(control, options.clone()).await?;
        MIGRATOR.run(&control).await.map_err(|e| OpenError::Migrate(Box::new(e)))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(READER_WAIT)
            .test_before_acquire(false)
            .after_connect(|_, _| {
                Box::pin(async {
                    priority::lower_reader_threads();
                    Ok(())
                })
            });
        let pool = first_connection(pool, options.thread_name(priority::reader_thread_name)).await?;
        Self::with_pools(pool, control, true).await
    }

    /// Opens an existing, migrated database without writing to it.
    pub async fn open_read_only(url: &str) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| OpenError::Backend(Box::new(e)))?
            .create_if_missing(false)
            .read_only(true);
        let path = options.get_filename().to_owned();
        if !path.is_file() {
            return Err(OpenError::Missing(path.display().to_string()));
        }
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(tuned(options)).await.map_err(|e| {
            match &e {
                // SQLITE_NOTADB: some other file.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("26") => {
                    OpenError::NotAnAuditDatabase(path.display().to_string())
                }
                _ => open_error(e),
            }
        })?;
        check_schema(&pool, &path).await?;
        Self::with_pools(pool.clone(), pool, false).await
    }

    async fn with_pools(pool: SqlitePool, control: SqlitePool, writes: bool) -> Result<Self, OpenError> {
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_entries").fetch_one(&pool).await.map_err(open_error)?;
        let head = Arc::new(watch::channel(newest.map_or(0, rows::seq_u64)).0);
        let writer = if writes {
            writer::Writer::start(pool.connect_options().get_filename(), head.clone()).await?
        } else {
            writer::Writer::none()
        };
        Ok(Self { writer, pool, control, head, range_counts: search_days::RangeCounts::default() })
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The settings every connection shares, writer or reader.
fn tuned(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("cache_size", "-32768")
        // Every connection maps the file apart, and each one's mapped pages count in the
        // process's resident memory: a 2 GiB map showed 4 GiB of peak RSS during exports
        // for a gain under load within the machine's noise. The export scan maps nothing.
        .pragma("mmap_size", "268435456")
        .pragma("temp_store", "memory")
}

/// How long opening waits for a pool's first connection, in tries of the pool's wait.
const OPEN_WAIT: Duration = Duration::from_secs(30);

/// Makes a pool and its first connection. Opening is not a request: a first connection slow
/// to come (a busy machine: a server starting under load, tests run in parallel) is waited
/// for, up to [`OPEN_WAIT`], rather than reported as overload after a request's short wait.
async fn first_connection(pool: SqlitePoolOptions, options: SqliteConnectOptions) -> Result<SqlitePool, OpenError> {
    let started = std::time::Instant::now();
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(sqlx::Error::PoolTimedOut) if started.elapsed() < OPEN_WAIT => {}
            made => return made.map_err(open_error),
        }
    }
}

fn open_error(e: sqlx::Error) -> OpenError {
    OpenError::Backend(Box::new(e))
}

/// A read-only open cannot migrate: the file must already be an audit database of this
/// version.
async fn check_schema(pool: &SqlitePool, path: &Path) -> Result<(), OpenError> {
    let not_ours = || OpenError::NotAnAuditDatabase(path.display().to_string());
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('audit_entries', '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(|_| not_ours())?;
    if tables != 2 {
        return Err(not_ours());
    }
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_err(|_| not_ours())?;
    let known = i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX);
    // Work a migration left for the first open (a search index to rebuild) is done by a
    // writing open: until then searches would read an index of the old rules. (Older
    // versions may have no `audit_meta` at all: they are told to migrate first.)
    // An index made by other search rules counts as owed work too: searches and the
    // verification would read it by today's.
    let owed: i64 = if applied < known {
        0
    } else {
        let made_by: Option<String> =
            sqlx::query_scalar(reindex::RULES).fetch_optional(pool).await.map_err(|_| not_ours())?;
        let work: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_meta WHERE key IN ('search_index', 'search_terms')")
                .fetch_one(pool)
                .await
                .map_err(|_| not_ours())?;
        work + i64::from(made_by != Some(reindex::search_rules()))
    };
    if applied < known || owed > 0 {
        return Err(OpenError::Migrate(
            format!(
                "{} was written by an older version ({applied} of {known} migrations{}): start the server once to migrate it",
                path.display(),
                if owed > 0 { ", its search index not rebuilt yet" } else { "" }
            )
            .into(),
        ));
    }
    Ok(())
}

#[async_trait]
impl AuditLog for SqliteStore {
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    async fn append(&self, entries: Vec<ValidEntry>) -> Result<AppendReceipt, StoreError> {
        self.writer.append(entries).await
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, filter: &EntryFilter, page: PageRequest) -> Result<EntryPage, StoreError> {
        plan::list(&self.pool, filter, page).await
    }

    async fn count(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        plan::count(&self.pool, filter).await
    }

    async fn get(&self, sequence: u64) -> Result<Option<AuditEntry>, StoreError> {
        let Ok(seq) = i64::try_from(sequence) else {
            return Ok(None);
        };
        let row: Option<EntryRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq = ?"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.map(AuditEntry::try_from).transpose()
    }

    async fn scan(&self, filter: &EntryFilter, sink: Box<dyn ScanSink>) -> Result<u64, StoreError> {
        scan::scan(&self.pool, filter, sink).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn entries_after(&self, sequence: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?"))
                .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    async fn histogram(&self, filter: &EntryFilter, span: Span) -> Result<Histogram, StoreError> {
        histogram::histogram(&self.pool, &self.range_counts, filter, span).await
    }

    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(histogram::earliest(&self.pool).await?.and_then(DateTime::from_timestamp_micros))
    }

    async fn suggest_actors(&self, text: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        // The actors table holds one row per distinct actor (thousands at most), so a
        // scan with instr() is cheap and needs no escaping of LIKE wildcards.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM (SELECT name_key AS key FROM audit_actors UNION SELECT id_key FROM audit_actors) \
             WHERE instr(key, ?1) > 0 ORDER BY instr(key, ?1) <> 1, key LIMIT ?2",
        )
        .bind(text.trim().to_ascii_lowercase())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
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
impl TokenStore for SqliteStore {
    async fn issue_token(&self, new: &NewToken<'_>) -> Result<TokenInfo, StoreError> {
        tokens::create(&self.pool, new).await
    }

    async fn find_token(&self, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        tokens::find(&self.control, token_hash, Utc::now()).await
    }

    async fn all_tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        tokens::all(&self.control).await
    }

    async fn revoke_token(&self, id: i64) -> Result<TokenInfo, StoreError> {
        tokens::revoke(&self.pool, id).await
    }

    async fn token_used(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        tokens::used(&self.pool, id, now).await
    }
}

// Users and sessions: changes on `pool`, the lookups every request makes on `control`.
crate::store::accounts::account_store!(SqliteStore, changes: pool, lookups: control);

// The Merkle tree's rows and its checkpoints.
crate::store::tree::tree_store!(SqliteStore, sqlx::Sqlite, tree::read_rows);

crate::store::settings_store::settings_store!(SqliteStore);
crate::store::destinations::delivery_store!(SqliteStore);
crate::store::alert_rules::alert_store!(SqliteStore);

#[async_trait]
impl crate::store::Retention for SqliteStore {
    async fn purge_step(
        &self,
        cutoff: DateTime<Utc>,
        below: Option<u64>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<crate::store::PurgeStep, StoreError> {
        let step = self.writer.purge_step(cutoff, below, limit, now).await?;
        if step.deleted > 0 {
            // Searches' counts of days that are over change only when entries go.
            self.range_counts.clear();
        }
        Ok(step)
    }

    async fn purge_due(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let path = self.pool.connect_options().get_filename().to_owned();
        tokio::task::spawn_blocking(move || purge::due(&path, cutoff)).await.map_err(StoreError::backend)?
    }

    async fn purged(&self) -> Result<Vec<crate::store::PurgedRange>, StoreError> {
        let path = self.pool.connect_options().get_filename().to_owned();
        tokio::task::spawn_blocking(move || purge::ranges(&writer::connect(&path)?))
            .await
            .map_err(StoreError::backend)?
    }
}

#[async_trait]
impl Maintenance for SqliteStore {
    async fn optimize(&self) -> Result<(), StoreError> {
        // Without statistics SQLite cannot tell a rare filter from a common one, and may
        // combine a search with other filters in the slow order.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut *conn).await?;
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.control.execute("SELECT 1").await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
        self.control.close().await;
    }

    fn commits(&self) -> u64 {
        self.writer.commits()
    }

    fn append_phases(&self) -> AppendPhases {
        self.writer.phases()
    }

    /// One server process writes an SQLite file: it leads every job.
    async fn lead(&self, _job: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{conformance_suite, samples};
    use crate::store::{Problem, Store};
    use crate::tokens::Scope;

    async fn fresh() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite:{}", dir.path().join("audit.db").display());
        (crate::store::open(&url).await.expect("opens"), dir)
    }

    conformance_suite!(fresh);

    #[tokio::test]
    async fn a_change_whose_entry_the_database_refuses_is_not_made() {
        let (store, dir) = fresh().await;
        let path = dir.path().join("audit.db");
        let run = |sql: &'static str| {
            let path = path.clone();
            async move { rusqlite::Connection::open(&path).expect("opens the file").execute_batch(sql).expect(sql) }
        };
        let refuse = run(
            "CREATE TRIGGER refuse_entries BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'refused'); END",
        );
        let allow = run("DROP TRIGGER refuse_entries");
        crate::store::conformance::a_change_whose_entry_the_database_refuses_is_not_made(store, refuse, allow).await;
    }

    /// The database itself refuses every delete but the purge's: one no purge record
    /// covers, and the newest entry even when one does. After a purge, an entry deleted
    /// behind its back is still named missing, not purged.
    #[tokio::test]
    async fn only_the_purge_deletes_and_verification_still_names_a_row_deleted_behind_its_back() {
        use crate::store::Retention;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.db");
        let store = SqliteStore::open(&format!("sqlite:{}", path.display())).await.expect("opens");
        store.append(samples(0..20)).await.expect("appends");
        let conn = rusqlite::Connection::open(&path).expect("opens the file");
        let refused = conn.execute("DELETE FROM audit_entries WHERE seq = 3", []).expect_err("refused");
        assert!(refused.to_string().contains("deleted only by the retention purge"), "{refused}");
        conn.execute("INSERT INTO audit_purged VALUES (20, 20, zeroblob(32), zeroblob(32), 0, 0, 0)", [])
            .expect("a record alone changes nothing");
        conn.execute("DELETE FROM audit_entries WHERE seq = 20", []).expect_err("never the newest entry");
        let record_changed = conn.execute("DELETE FROM audit_purged", []).expect_err("records are append-only");
        assert!(record_changed.to_string().contains("append-only"));
        drop(conn);
        // A record that matches no entry is named by verification (its link differs).
        let everything = Utc::now() - chrono::Duration::days(30);
        while store.purge_step(everything, None, 4, Utc::now()).await.expect("purges").more {}
        let report = store.verify(None).await.expect("verifies");
        assert_eq!(report.purged, 19, "{:?}", report.problems);
        assert!(!report.is_intact(), "the forged record for the newest entry is named");

        // A fresh store: a purge of a prefix, then a kept entry deleted behind its back.
        let path = dir.path().join("q.db");
        let store = SqliteStore::open(&format!("sqlite:{}", path.display())).await.expect("opens");
        let mut entries = samples(0..20);
        for (i, entry) in entries.iter_mut().enumerate() {
            entry.timestamp =
                "2025-01-01T00:00:00Z".parse::<DateTime<Utc>>().expect("time") + chrono::Duration::hours(i as i64);
        }
        store.append(entries).await.expect("appends");
        let cutoff = "2025-01-01T05:00:00Z".parse().expect("time");
        assert_eq!(store.purge_step(cutoff, None, 100, Utc::now()).await.expect("purges").deleted, 5);
        assert!(store.verify(None).await.expect("verifies").is_intact());
        let conn = rusqlite::Connection::open(&path).expect("opens the file");
        conn.execute_batch("DROP TRIGGER audit_entries_purge_only; DELETE FROM audit_entries WHERE seq = 9")
            .expect("deletes behind the store's back");
        drop(conn);
        let report = store.verify(None).await.expect("verifies");
        assert_eq!(report.problems.first(), Some(&Problem::OutOfPlace { stored_seq: 10, expected: 9 }));
        assert_eq!(report.purged, 5);
    }

    /// A store from before the Merkle tree (entries without tree rows) gets its rows when
    /// it next opens for writing, with the roots the appends would have made.
    #[tokio::test]
    async fn a_store_from_before_the_tree_gets_its_rows_when_it_opens() {
        use crate::integrity::TreeQuery;
        use crate::store::{tree_answer, TreeStore};
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let url = format!("sqlite:{}", path.display());
        let store = SqliteStore::open(&url).await.expect("opens");
        store.append(samples(0..37)).await.expect("appends");
        let root = tree_answer(&store, TreeQuery::Root { size: 37 }).await.expect("root");
        store.close().await;
        let conn = rusqlite::Connection::open(&path).expect("opens the file");
        conn.execute_batch("DROP TRIGGER audit_tree_no_delete; DELETE FROM audit_tree")
            .expect("removes rows as an older version never wrote them");
        drop(conn);

        let read_only = SqliteStore::open_read_only(&url).await.expect("opens to read");
        assert_eq!(read_only.tree_size().await.expect("size"), 0, "reading changes nothing");
        read_only.close().await;
        let store = SqliteStore::open(&url).await.expect("opens again");
        assert_eq!(store.tree_size().await.expect("size"), 37);
        assert_eq!(tree_answer(&store, TreeQuery::Root { size: 37 }).await.expect("root"), root);
        store.append(samples(37..40)).await.expect("appends after");
        let report = store.verify(None).await.expect("verifies");
        let root = tree_answer(&store, TreeQuery::Root { size: 40 }).await.expect("root");
        assert_eq!(report.tree.map(|t| (t.size, t.root)), Some((40, root[0])));
        store.close().await;

        // A tree cut short behind the store's back is damage, not a migration: it is left
        // as it is (the evidence), and the log still records.
        let conn = rusqlite::Connection::open(&path).expect("opens the file");
        conn.execute_batch("DELETE FROM audit_tree WHERE seq > 5").expect("cuts the tree");
        drop(conn);
        let store = SqliteStore::open(&url).await.expect("opens again");
        store.append(samples(40..42)).await.expect("still appends");
        assert_eq!(store.tree_size().await.expect("size"), 5, "left as evidence");
        let report = store.verify(None).await.expect("verifies");
        assert!(
            report.problems.contains(&crate::store::Problem::TreeRow { seq: 6, reason: "is missing" }),
            "{:?}",
            report.problems
        );
        store.close().await;
    }

    async fn store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        (SqliteStore::open(&url).await.expect("opens"), dir)
    }

    #[tokio::test]
    async fn every_connection_commits_with_full_durability() {
        let (store, _dir) = store().await;
        // Several connections: the pool hands out any of them to an append.
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = store.pool().acquire().await.expect("connection");
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.expect("pragma");
            assert_eq!(level, 2, "synchronous=FULL: a commit waits for the disk");
            held.push(conn);
        }
    }

    #[tokio::test]
    async fn an_append_completes_while_every_reader_connection_is_busy() {
        let (store, _dir) = store().await;
        store.append(samples(0..10)).await.expect("appends");
        store.create_token("producer", &[Scope::Ingest], b"producer-hash").await.expect("token");
        let mut held = Vec::new();
        for _ in 0..READERS {
            held.push(store.pool().acquire().await.expect("a reader connection"));
        }
        // An ingest request first looks its caller's token up: not on a reader's connection.
        let found = tokio::time::timeout(Duration::from_secs(5), store.find_token(b"producer-hash")).await;
        assert_eq!(found.expect("not starved").expect("finds").map(|t| t.name).as_deref(), Some("producer"));
        let appended = tokio::time::timeout(Duration::from_secs(5), store.append(samples(10..20))).await;
        assert_eq!(appended.expect("not starved").expect("appends").sequences.len(), 10);
        // A read finds no connection: it is told the store is busy, promptly.
        let started = std::time::Instant::now();
        let read = store.count(&EntryFilter::default()).await;
        assert!(matches!(read, Err(StoreError::Overloaded { .. })), "{read:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(held);
        assert_eq!(store.count(&EntryFilter::default()).await.expect("counts"), 20);
    }

    #[tokio::test]
    async fn a_read_only_open_creates_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("nope").join("audit.db");
        let err = SqliteStore::open_read_only(&format!("sqlite:{}", missing.display())).await.err();
        assert!(matches!(err, Some(OpenError::Missing(_))), "{err:?}");
        assert!(!dir.path().join("nope").exists(), "no folder made");

        let other = dir.path().join("other.db");
        std::fs::write(&other, b"not a database at all, just text").expect("write");
        let err = SqliteStore::open_read_only(&format!("sqlite:{}", other.display())).await.err();
        assert!(matches!(err, Some(OpenError::NotAnAuditDatabase(_))), "{err:?}");
        assert_eq!(std::fs::read(&other).expect("read"), b"not a database at all, just text");

        let (store, dir) = store().await;
        store.append(samples(0..3)).await.expect("appends");
        store.close().await;
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let reader = SqliteStore::open_read_only(&url).await.expect("opens an audit database");
        assert!(reader.verify(None).await.expect("verifies").is_intact());
        assert!(reader.append(samples(3..4)).await.is_err(), "a read-only store refuses appends");
        assert_eq!(reader.count(&EntryFilter::default()).await.expect("counts"), 3);
    }
}
