//! The writer: one thread with its own connection commits every append of this process,
//! and commits appends that arrive together in one transaction (group commit). With full
//! durability every commit waits for the disk; grouping is what keeps many small appends
//! cheap. Each caller is answered only after the commit that holds its entries, with its
//! own sequence numbers. `BEGIN IMMEDIATE` serialises writers of other processes too.
//!
//! A caller that stops waiting (a client that hung up) cannot interrupt a commit: the
//! commit is the thread's, not the caller's.

use super::append::{self, Actors};
use super::{reindex, tree};
use crate::ingest::ValidEntry;
use crate::integrity::TreeBuilder;
use crate::store::settings_store::built_entry;
use crate::store::{AppendPhases, AppendReceipt, PurgeStep, RecordChange, SettingsChange, SettingsChanged, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

type Reply = oneshot::Sender<Result<AppendReceipt, StoreError>>;

struct Job {
    entries: Vec<ValidEntry>,
    reply: Reply,
}

/// One step of the retention purge, run by the writer between appends.
struct PurgeJob {
    cutoff: DateTime<Utc>,
    below: Option<u64>,
    limit: u32,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<PurgeStep, StoreError>>,
}

/// A change to the settings tables and the entry that records it, in one transaction.
struct ChangeJob {
    change: SettingsChange,
    record: RecordChange,
    reply: oneshot::Sender<Result<(SettingsChanged, Option<AppendReceipt>), StoreError>>,
}

/// What the writer is given to do, in order.
enum Work {
    Append(Job),
    Purge(PurgeJob),
    Change(ChangeJob),
}

pub struct Writer {
    /// `None` once closed, or for a store opened read-only.
    jobs: Mutex<Option<mpsc::Sender<Work>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer (see [`checkpoints`]): stops when this sender is dropped.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    /// What the writer has done, read by the store's maintenance calls.
    tally: Arc<Tally>,
}

/// Transactions committed (fewer than appends when appends were grouped), and where the
/// time of the appends in them went.
#[derive(Default)]
struct Tally {
    commits: AtomicU64,
    phases: Mutex<AppendPhases>,
}

impl Writer {
    /// Opens the writer's connection, does what the migrations left to do (see
    /// [`reindex`]) and starts the thread.
    pub async fn start(path: &Path, head: Arc<watch::Sender<u64>>) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let (conn, tree, checkpoint_conn) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let mut conn = connect(&path)?;
            reindex::settle(&mut conn)?;
            let tree = tree::settle(&mut conn)?;
            Ok((conn, tree, connect(&path)?))
        })
        .await
        .map_err(StoreError::backend)??;
        let (tx, rx) = mpsc::channel();
        let tally = Arc::new(Tally::default());
        let counter = tally.clone();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(conn, tree, rx, &head, &counter))
            .map_err(StoreError::backend)?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("audit-checkpoints".into())
            .spawn(move || checkpoints(&checkpoint_conn, &stopped))
            .map_err(StoreError::backend)?;
        Ok(Writer {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            tally,
        })
    }

    /// A writer that refuses every append (a store opened read-only).
    pub fn none() -> Self {
        Writer {
            jobs: Mutex::new(None),
            thread: Mutex::new(None),
            checkpointer: Mutex::new(None),
            tally: Arc::default(),
        }
    }

    pub async fn append(&self, entries: Vec<ValidEntry>) -> Result<AppendReceipt, StoreError> {
        if entries.is_empty() {
            return Ok(AppendReceipt { sequences: Vec::new(), head_hash: String::new() });
        }
        let (reply, answer) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(jobs) => jobs.send(Work::Append(Job { entries, reply })).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::backend("the store does not take appends: it is closed or open read-only"));
        }
        answer.await.map_err(|_| StoreError::backend("the writer stopped before the append was committed"))?
    }

    /// One step of the retention purge ([`super::purge::step`]), in turn with the appends.
    pub async fn purge_step(
        &self,
        cutoff: DateTime<Utc>,
        below: Option<u64>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<PurgeStep, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(jobs) => jobs.send(Work::Purge(PurgeJob { cutoff, below, limit, now, reply })).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::backend("the store does not purge: it is closed or open read-only"));
        }
        answer.await.map_err(|_| StoreError::backend("the writer stopped before the purge step was done"))?
    }

    /// A change to the settings tables with the entry that records it (see
    /// [`crate::store::SettingsStore::change`]), in turn with the appends.
    pub async fn change(
        &self,
        change: SettingsChange,
        record: RecordChange,
    ) -> Result<(SettingsChanged, Option<AppendReceipt>), StoreError> {
        let (reply, answer) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(jobs) => jobs.send(Work::Change(ChangeJob { change, record, reply })).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::backend("the store takes no changes: it is closed or open read-only"));
        }
        answer.await.map_err(|_| StoreError::backend("the writer stopped before the change was committed"))?
    }

    /// Commits what is pending, then stops the thread.
    pub async fn close(&self) {
        drop(self.jobs.lock().unwrap_or_else(PoisonError::into_inner).take());
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        let checkpointer = self.checkpointer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// How many transactions this writer has committed.
    pub fn commits(&self) -> u64 {
        self.tally.commits.load(Ordering::Relaxed)
    }

    /// Where the appends' time went (see [`AppendPhases`]).
    pub fn phases(&self) -> AppendPhases {
        *self.tally.phases.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection of the writer's (or of its checkpointer): full durability (a commit is on
/// disk before it is answered).
/// Checkpoints normally run on another thread ([`checkpoints`]); this connection runs one
/// itself only when the WAL outgrows that thread (bulk ingest faster than it can copy
/// back), which holds appends back just enough to keep the WAL bounded.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 16_000)?;
    // A WAL that grew (bulk ingest) is cut back to this once it is reset.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.pragma_update(None, "temp_store", "memory")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A checkpoint that took longer than this is logged.
const SLOW_CHECKPOINT: std::time::Duration = std::time::Duration::from_millis(500);

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Copies committed pages from the WAL back into the database, off the append path.
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, and
/// while readers hold old snapshots it cannot finish, so every later commit tried again:
/// under 80 concurrent readers, appends waited on checkpoints rather than on the disk.
/// A passive checkpoint never blocks readers or the writer.
fn checkpoints(conn: &Connection, stop: &mpsc::Receiver<()>) {
    super::priority::lower_this_thread();
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let started = std::time::Instant::now();
        let done =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        if let (Ok((frames, copied)), true) = (&done, started.elapsed() > SLOW_CHECKPOINT) {
            // The WAL's size and how much of it is back in the database say why.
            tracing::warn!(took_ms = started.elapsed().as_millis(), frames, copied, "a WAL checkpoint was slow");
        }
        match done.map(|_| ()) {
            // Said once when it starts failing and once when it recovers, not 4 times a second.
            Err(e) if !failing => {
                tracing::warn!(error = %e, "WAL checkpoints fail; they are tried again");
                failing = true;
            }
            Ok(()) if failing => {
                tracing::info!("WAL checkpoints succeed again");
                failing = false;
            }
            _ => {}
        }
    }
    // The store closes: copy everything back, so that the WAL need not be replayed, unless
    // a reader still holds an old snapshot (then the WAL stays; nothing is lost).
    let _ = conn.busy_timeout(std::time::Duration::from_millis(200));
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

fn run(
    mut conn: Connection,
    tree: Option<TreeBuilder>,
    jobs: mpsc::Receiver<Work>,
    head: &watch::Sender<u64>,
    tally: &Tally,
) {
    let mut known = Known { actors: Actors::default(), tree };
    let mut next = None;
    while let Some(work) = next.take().or_else(|| jobs.recv().ok()) {
        match work {
            Work::Purge(job) => {
                let done = super::purge::step(&mut conn, job.cutoff, job.below, job.limit, job.now);
                let _ = job.reply.send(done);
            }
            Work::Change(job) => {
                let done = change(&mut conn, &mut known, head, &job, tally);
                let _ = job.reply.send(done);
            }
            Work::Append(first) => {
                // Every append that arrived while the last commit ran goes into this one,
                // up to a purge step or a change, which comes after it.
                let mut group = vec![first];
                for work in jobs.try_iter() {
                    match work {
                        Work::Append(job) => group.push(job),
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                let committed = commit(&mut conn, &mut known, head, group, tally);
                tally.commits.fetch_add(committed, Ordering::Relaxed);
            }
        }
    }
}

/// Commits a group in one transaction and answers each job. If the group fails, each job
/// is tried alone, so that one caller's failure is never another's; but a database that
/// stayed busy through its timeout would make each of those tries wait as long again,
/// with every later append queued behind them, so then every caller is told at once.
/// Returns how many transactions it committed.
fn commit(conn: &mut Connection, known: &mut Known, head: &watch::Sender<u64>, group: Vec<Job>, tally: &Tally) -> u64 {
    if group.len() > 1 {
        match transaction(conn, known, &group, tally) {
            Ok(receipts) => {
                answer(head, group, receipts);
                return 1;
            }
            Err(StoreError::Overloaded { reason, retry_after }) => {
                refuse(group, &reason, retry_after);
                return 0;
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = group.len(), "a group commit failed; committing its appends one by one")
            }
        }
    }
    let mut committed = 0;
    let mut jobs = group.into_iter();
    while let Some(job) = jobs.next() {
        match transaction(conn, known, std::slice::from_ref(&job), tally) {
            Ok(receipts) => {
                answer(head, vec![job], receipts);
                committed += 1;
            }
            Err(StoreError::Overloaded { reason, retry_after }) => {
                refuse(std::iter::once(job).chain(jobs.by_ref()).collect(), &reason, retry_after);
            }
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    committed
}

/// Answers every job of a group with the same "busy, try again" error.
fn refuse(group: Vec<Job>, reason: &str, retry_after: std::time::Duration) {
    for job in group {
        let _ = job.reply.send(Err(StoreError::Overloaded { reason: reason.to_owned(), retry_after }));
    }
}

/// An append's transaction that took longer than this is logged with its phases.
const SLOW_APPEND: std::time::Duration = std::time::Duration::from_millis(500);

fn transaction(
    conn: &mut Connection,
    known: &mut Known,
    jobs: &[Job],
    tally: &Tally,
) -> Result<Vec<AppendReceipt>, StoreError> {
    let entries: Vec<&ValidEntry> = jobs.iter().flat_map(|job| job.entries.iter()).collect();
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut phases = AppendPhases::default();
    let appended = append::append(&tx, &known.actors, known.tree.as_ref(), &entries, &mut phases)?;
    let clock = std::time::Instant::now();
    tx.commit()?;
    phases.commit = clock.elapsed();
    phases.entries = entries.len() as u64;
    if started.elapsed() > SLOW_APPEND {
        // Which phase held it up (the commit alone: a checkpoint or the disk).
        tracing::warn!(took_ms = started.elapsed().as_millis(), ?phases, "an append was slow");
    }
    tally.phases.lock().unwrap_or_else(PoisonError::into_inner).add(&phases);
    known.actors.learn(appended.registered);
    known.tree = appended.tree;
    Ok(AppendReceipt::split(&appended.chained, jobs.iter().map(|job| job.entries.len())))
}

/// Makes a change and appends the entry that records it in one transaction; a change
/// with nothing to record is rolled back.
fn change(
    conn: &mut Connection,
    known: &mut Known,
    head: &watch::Sender<u64>,
    job: &ChangeJob,
    tally: &Tally,
) -> Result<(SettingsChanged, Option<AppendReceipt>), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = super::settings_change::apply(&tx, &job.change)?;
    let Some(entry) = built_entry(&job.record, &changed)? else {
        return Ok((changed, None));
    };
    let mut phases = AppendPhases::default();
    let appended = append::append(&tx, &known.actors, known.tree.as_ref(), &[&entry], &mut phases)?;
    let clock = std::time::Instant::now();
    tx.commit()?;
    phases.commit = clock.elapsed();
    phases.entries = 1;
    tally.commits.fetch_add(1, Ordering::Relaxed);
    tally.phases.lock().unwrap_or_else(PoisonError::into_inner).add(&phases);
    known.actors.learn(appended.registered);
    known.tree = appended.tree;
    let receipt = AppendReceipt::split(&appended.chained, [1]).pop();
    if let Some(&last) = receipt.as_ref().and_then(|r| r.sequences.last()) {
        head.send_replace(last);
    }
    Ok((changed, receipt))
}

/// What the writer remembers between commits, as its last commit left it.
struct Known {
    actors: Actors,
    /// The Merkle tree's frontier (`None` until read, and after a failed commit it is
    /// simply read again: see [`tree::at_head`]).
    tree: Option<TreeBuilder>,
}

fn answer(head: &watch::Sender<u64>, jobs: Vec<Job>, receipts: Vec<AppendReceipt>) {
    if let Some(&last) = receipts.iter().filter_map(|r| r.sequences.last()).max() {
        head.send_replace(last);
    }
    for (job, receipt) in jobs.into_iter().zip(receipts) {
        // A caller that stopped waiting is simply not told; its entries are committed.
        let _ = job.reply.send(Ok(receipt));
    }
}

#[cfg(test)]
mod tests {
    use crate::store::conformance::sample;
    use crate::store::{AuditLog, SqliteStore};

    #[tokio::test]
    async fn the_connection_that_commits_appends_waits_for_the_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        // Opening the store creates and migrates the file the writer then connects to.
        drop(SqliteStore::open(&format!("sqlite:{}", path.display())).await.expect("opens"));
        let conn = super::connect(&path).expect("connects");
        let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).expect("pragma");
        assert_eq!(synchronous, 2, "FULL: a commit is on disk before it is answered");
        let journal: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("pragma");
        assert_eq!(journal, "wal");
    }

    #[tokio::test]
    async fn every_appended_entry_is_counted_in_the_phases_of_its_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.expect("opens");
        assert_eq!(store.writer.phases(), crate::store::AppendPhases::default());
        store.append((0..300).map(sample).collect()).await.expect("appends");
        let first = store.writer.phases();
        store.append(vec![sample(300)]).await.expect("appends");
        let both = store.writer.phases();
        assert_eq!((first.entries, both.since(&first).entries), (300, 1));
        let zero = std::time::Duration::ZERO;
        for (phase, took) in [("rows", first.rows), ("search", first.search), ("commit", first.commit)] {
            assert!(took > zero, "{phase} took no time");
        }
        assert!(both.rows >= first.rows && both.commit > first.commit, "phases only grow");
    }
}
