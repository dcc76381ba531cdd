//! Group commit on PostgreSQL: appends that arrive while another commits wait, and the
//! next commit takes all of them in one transaction (one round of locks, one WAL flush).
//! Each caller is answered after the commit that holds its entries, with its own sequence
//! numbers. The commit runs in a task of its own, so a caller that stops waiting (a
//! client that hung up) cannot interrupt a commit that holds other callers' entries.

use super::append::{self, Known};
use super::raise;
use crate::ingest::ValidEntry;
use crate::store::{AppendPhases, AppendReceipt, RecordChange, SettingsChange, SettingsChanged, StoreError};
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

type Reply = oneshot::Sender<Result<AppendReceipt, StoreError>>;

struct Job {
    entries: Vec<ValidEntry>,
    reply: Reply,
}

/// What commits this process's appends.
pub struct Writer {
    /// The appends' own connection: they never queue behind readers for one.
    pub pool: PgPool,
    /// Held while a group commits (and by changes to the settings, copies and `close`);
    /// the months and actors this process knows are in the database.
    pub known: tokio::sync::Mutex<Known>,
    waiting: Mutex<Vec<Job>>,
    head: Arc<watch::Sender<u64>>,
    pub commits: AtomicU64,
    pub phases: Mutex<AppendPhases>,
}

impl Writer {
    pub fn new(pool: PgPool, head: Arc<watch::Sender<u64>>) -> Self {
        Writer {
            pool,
            known: tokio::sync::Mutex::new(Known::default()),
            waiting: Mutex::new(Vec::new()),
            head,
            commits: AtomicU64::new(0),
            phases: Mutex::new(AppendPhases::default()),
        }
    }

    /// Appends `entries`, committed with whatever else waits, and answers once committed.
    pub async fn append(self: &Arc<Self>, entries: Vec<ValidEntry>) -> Result<AppendReceipt, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).push(Job { entries, reply });
        let writer = Arc::clone(self);
        tokio::spawn(async move { writer.commit_waiting().await });
        answer.await.map_err(|_| StoreError::backend("the append's commit ended without an answer"))?
    }

    /// A change to the settings tables with the entry that records it, in one transaction
    /// (see [`crate::store::SettingsStore::change`]), in turn with this process's commits.
    pub async fn change(
        &self,
        change: SettingsChange,
        record: RecordChange,
    ) -> Result<(SettingsChanged, Option<AppendReceipt>), StoreError> {
        let mut known = self.known.lock().await;
        let mut phases = AppendPhases::default();
        let (changed, appended) =
            append::change_recorded(&self.pool, &mut known, &change, &record, &mut phases).await?;
        drop(known);
        let receipt = appended.map(|(seq, hash)| {
            self.commits.fetch_add(1, Ordering::Relaxed);
            self.phases.lock().unwrap_or_else(|e| e.into_inner()).add(&phases);
            raise(&self.head, seq);
            AppendReceipt { sequences: vec![seq], head_hash: hex::encode(hash) }
        });
        Ok((changed, receipt))
    }

    /// Commits every waiting append, unless an earlier task already took them.
    async fn commit_waiting(&self) {
        let mut known = self.known.lock().await;
        let group = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        if group.is_empty() {
            return;
        }
        if group.len() > 1 {
            match self.transaction(&mut known, &group).await {
                Ok(receipts) => return self.answer(group, receipts),
                Err(e) if append::commit_unknown(&e) => {
                    // Perhaps stored: trying again could store the entries twice.
                    tracing::error!(error = %e, jobs = group.len(), "a group commit's outcome is unknown");
                    for job in group {
                        let _ = job.reply.send(Err(StoreError::backend(e.to_string())));
                    }
                    return;
                }
                // Busy, or one job's own failure (an entry for a month whose partition
                // could not be made in time, say): each is tried alone, so that one
                // caller's failure is never another's.
                Err(e) => {
                    tracing::warn!(error = %e, jobs = group.len(), "a group commit failed; committing its appends one by one")
                }
            }
        }
        let mut jobs = group.into_iter();
        while let Some(job) = jobs.next() {
            match self.transaction(&mut known, std::slice::from_ref(&job)).await {
                Ok(receipts) => self.answer(vec![job], receipts),
                // Still busy: every later try would wait as long again, with every append
                // queued behind it, so the rest are told at once.
                Err(StoreError::Overloaded { reason, retry_after }) => {
                    for job in std::iter::once(job).chain(jobs.by_ref()) {
                        let refused = StoreError::Overloaded { reason: reason.clone(), retry_after };
                        let _ = job.reply.send(Err(refused));
                    }
                }
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }

    async fn transaction(&self, known: &mut Known, jobs: &[Job]) -> Result<Vec<AppendReceipt>, StoreError> {
        let entries: Vec<&ValidEntry> = jobs.iter().flat_map(|job| job.entries.iter()).collect();
        let mut phases = AppendPhases::default();
        let chained = append::append(&self.pool, known, &entries, &mut phases).await?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.phases.lock().unwrap_or_else(|e| e.into_inner()).add(&phases);
        Ok(AppendReceipt::split(&chained, jobs.iter().map(|job| job.entries.len())))
    }

    fn answer(&self, jobs: Vec<Job>, receipts: Vec<AppendReceipt>) {
        if let Some(&last) = receipts.iter().filter_map(|r| r.sequences.last()).max() {
            raise(&self.head, last);
        }
        for (job, receipt) in jobs.into_iter().zip(receipts) {
            // A caller that stopped waiting is simply not told; its entries are committed.
            let _ = job.reply.send(Ok(receipt));
        }
    }
}
