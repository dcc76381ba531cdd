//! `certifyclouds migrate-store`: copies a whole store into PostgreSQL. Entries keep their
//! sequence numbers and hashes (the target's chain is the source's, head included);
//! tokens and users keep their ids, so entries still name the token that posted them and
//! the users they are about, and users keep their password hashes. Each batch
//! commits on its own: an interrupted copy resumes after the last batch it committed.
//! Once the copy verifies, the configuration follows ([`configuration`]).

pub mod configuration;
pub mod signing_key;

use app::entry::AuditEntry;
use app::integrity::TreeBuilder;
use app::store::{AuditLog, Head, OpenError, PgStore, PurgedRange, Store, StoreError, TreeStore};
use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;

/// Entries read and committed at a time: large enough that round trips do not dominate,
/// small enough that an interrupted copy loses little and memory stays flat.
const BATCH: u32 = 2_000;

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error(
        "--to must be a PostgreSQL database URL (postgres://user@host/database): migrate-store copies into PostgreSQL"
    )]
    TargetNotPostgres,
    #[error(
        "the target holds entries up to {target} but the source ends at entry {source_end}: the target holds another \
         log, or entries appended after an earlier copy (copy into an empty database)"
    )]
    TargetAhead { target: u64, source_end: u64 },
    #[error(
        "the target's entry {0} is not the source's: it holds another log (copy into an empty database, or into the \
         one an interrupted copy of this source left)"
    )]
    Diverged(u64),
    #[error(
        "the source has no entries {from} to {to} and no purge record of them: run `certifyclouds verify` on the \
         source"
    )]
    Unrecorded { from: u64, to: u64 },
    #[error(
        "the source's retention purge removed entry {0} while this copy ran: run the command again (it resumes where \
         this run stopped)"
    )]
    PurgedMeanwhile(u64),
    #[error("cannot open the source: {0}")]
    Source(#[source] OpenError),
    #[error("cannot open the target: {0}")]
    Target(#[source] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the copy failed verification: {0}")]
    Verification(String),
}

/// What a copy did.
#[derive(Debug, PartialEq, Eq)]
pub struct Copied {
    /// The target's head before this run: entries up to it were copied by an earlier run.
    pub resumed_after: u64,
    pub entries: u64,
    pub tokens: usize,
    /// Users added (those an interrupted copy had added are not counted again).
    pub users: usize,
    /// The head both logs now share (`None` for an empty source).
    pub head: Option<Head>,
    /// The settings, subscriptions, destinations and alert rules mirrored, and the
    /// checkpoints added.
    pub configuration: configuration::CopiedConfiguration,
}

/// Opens both stores (the source read-only, the target created or migrated if need be).
pub async fn open(from: &str, to: &str) -> Result<(Store, PgStore), MigrateError> {
    if !app::store::is_postgres(to) {
        return Err(MigrateError::TargetNotPostgres);
    }
    let source = app::store::open_read_only(from).await.map_err(MigrateError::Source)?;
    let target = PgStore::open(to).await.map_err(MigrateError::Target)?;
    Ok((source, target))
}

/// Copies what the target lacks, then verifies the target's whole chain against the
/// source's head, then mirrors the configuration (`from` and `to` are the stores' URLs).
pub async fn copy(
    (source, from): (&Store, &str),
    (target, to): (&PgStore, &str),
    progress: &ProgressBar,
) -> Result<Copied, MigrateError> {
    // Checked before anything is written: a target holding another log is left alone.
    let total = source.log.count(&Default::default()).await?;
    let resumed_after = resume_point(source, target).await?;
    let tokens = target.copy_tokens(&source.tokens.all_tokens().await?).await?;
    let highest_user = source.accounts.highest_user_id().await?;
    let users = target.copy_users(&source.accounts.all_users().await?, highest_user).await?;
    progress.set_length(total);
    let mut purged = Purged::read(source, resumed_after).await?;
    progress.set_position(resumed_after - purged.before);

    let (mut head, mut entries) = (resumed_after, 0);
    let mut batch = source.log.entries_after(resumed_after, BATCH).await?;
    while let Some(last) = batch.last().map(|e| e.sequence) {
        // The next batch is read while this one is written.
        let (written, next) = tokio::join!(
            copy_batch(source, target, &mut purged, &mut head, &batch),
            source.log.entries_after(last, BATCH)
        );
        written?;
        entries += batch.len() as u64;
        progress.inc(batch.len() as u64);
        batch = next?;
    }
    // Verifying reads the whole copy again: say so rather than look stuck.
    if let Ok(style) = ProgressStyle::with_template("{spinner} verifying the copy ({elapsed})") {
        progress.set_style(style);
    }
    progress.enable_steady_tick(std::time::Duration::from_millis(200));
    let verified = verify(source, target).await;
    progress.finish_and_clear();
    let head = verified?;
    let size = head.as_ref().map_or(0, |h| h.sequence);
    let configuration = configuration::copy(source, from, target, to, size).await?;
    Ok(Copied { resumed_after, entries, tokens, users, head, configuration })
}

/// Copies a batch of entries read in sequence order, and before each entry that follows a
/// gap, the runs the source's purge removed there: `head` is the target's head.
async fn copy_batch(
    source: &Store,
    target: &PgStore,
    purged: &mut Purged,
    head: &mut u64,
    batch: &[AuditEntry],
) -> Result<(), MigrateError> {
    let mut rest = batch;
    while let Some(first) = rest.first() {
        if first.sequence > *head + 1 {
            *head = purged.copy_until(source, target, *head, first.sequence).await?;
        }
        // The entries up to the next gap.
        let run = rest.windows(2).position(|w| w[1].sequence != w[0].sequence + 1).map_or(rest.len(), |i| i + 1);
        let (now, later) = rest.split_at(run);
        target.append_copies(now).await?;
        *head = now.last().map_or(*head, |e| e.sequence);
        rest = later;
    }
    Ok(())
}

/// The runs of entries the source's purge removed that are still to be copied.
struct Purged {
    runs: Vec<PurgedRange>,
    /// How many entries the runs already copied removed (for the progress bar).
    before: u64,
}

impl Purged {
    async fn read(source: &Store, after: u64) -> Result<Self, MigrateError> {
        let runs = source.retention.purged().await?;
        let before = runs.iter().filter(|r| r.last <= after).map(|r| r.last - r.first + 1).sum();
        Ok(Purged { runs: runs.into_iter().filter(|r| r.last > after).collect(), before })
    }

    /// Copies the runs that fill the gap between the target's `head` and the source's
    /// entry `next`: the new head. A run the target's head lies inside (the source purged
    /// entries after they were copied) is copied from the head on. A gap no purge recorded
    /// (the runs are read again once, for a purge that ran meanwhile) is an error, and so
    /// is a run that reaches `next` (the source purged it after this copy read it): nothing
    /// of either is copied.
    async fn copy_until(
        &mut self,
        source: &Store,
        target: &PgStore,
        head: u64,
        next: u64,
    ) -> Result<u64, MigrateError> {
        let (mut head, mut read_again) = (head, false);
        while head + 1 < next {
            // The runs are in sequence order: the first that ends past the head.
            let at = self.runs.partition_point(|r| r.last <= head);
            let Some(mut run) = self.runs.get(at).filter(|r| r.first <= head + 1).cloned() else {
                if read_again {
                    return Err(MigrateError::Unrecorded { from: head + 1, to: next - 1 });
                }
                *self = Purged::read(source, head).await?;
                read_again = true;
                continue;
            };
            if run.last >= next {
                return Err(MigrateError::PurgedMeanwhile(next));
            }
            if run.first <= head {
                // The target holds entries of the run: the rest links to the newest of them.
                let hash = target.head().await?.and_then(|h| hex::decode(h.hash).ok()?.try_into().ok());
                run.prev_hash = hash.ok_or(MigrateError::PurgedMeanwhile(head))?;
                run.first = head + 1;
            }
            target.copy_purged(&run, source.tree.as_ref()).await?;
            head = run.last;
        }
        Ok(head)
    }
}

/// Verifies the target's whole chain, up to the source's entry at the target's head (or,
/// when the source's purge has removed it since, up to the head whose tree both share).
async fn verify(source: &Store, target: &PgStore) -> Result<Option<Head>, MigrateError> {
    let Some(head) = target.head().await? else { return Ok(None) };
    let expected = match same_log(source, target, &head).await? {
        Some(theirs) => Head { sequence: head.sequence, hash: theirs },
        None => return Err(MigrateError::Diverged(head.sequence)),
    };
    let report = AuditLog::verify(target, Some(&expected)).await?;
    if !report.is_intact() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        return Err(MigrateError::Verification(problems.join("; ")));
    }
    Ok(Some(expected))
}

/// Where the copy starts: after the target's head, if the target holds a beginning of the
/// source's log (an interrupted copy); an empty target starts from the first entry.
async fn resume_point(source: &Store, target: &PgStore) -> Result<u64, MigrateError> {
    let Some(head) = target.head().await? else { return Ok(0) };
    let source_end = (*source.log.watch_head().borrow()).max(source.tree.tree_size().await?);
    if head.sequence > source_end {
        return Err(MigrateError::TargetAhead { target: head.sequence, source_end });
    }
    match same_log(source, target, &head).await? {
        Some(_) => Ok(head.sequence),
        None => Err(MigrateError::Diverged(head.sequence)),
    }
}

/// Whether the source's log, up to the target's `head`, is the target's: the source's
/// hash at the head when so. The entry at the head, or when it is not an entry of the
/// source (purged there: before the copy stopped after a purged run, or since, with the
/// entries around it), the Merkle tree root at that size, which commits to every entry up
/// to there (the hash is then the target's).
async fn same_log(source: &Store, target: &PgStore, head: &Head) -> Result<Option<String>, StoreError> {
    if let Some(theirs) = source.log.get(head.sequence).await? {
        return Ok((theirs.hash == head.hash).then_some(theirs.hash));
    }
    let (theirs, ours) = (root_at(source.tree.as_ref(), head.sequence).await?, root_at(target, head.sequence).await?);
    Ok((theirs.is_some() && theirs == ours).then(|| head.hash.clone()))
}

/// The root of the first `size` entries' Merkle tree, from the stored rows of its frontier.
async fn root_at(tree: &dyn TreeStore, size: u64) -> Result<Option<[u8; 32]>, StoreError> {
    let rows: Vec<u64> = TreeBuilder::frontier_at(size).into_iter().map(|(row, _)| row).collect();
    Ok(tree.tree_rows(&rows).await?.frontier(size).map(|tree| tree.head().root))
}

/// The bar drawn on standard error while entries are copied (hidden when it is not a
/// terminal, as in scripts and tests).
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {human_pos}/{human_len} entries  {elapsed} elapsed, {eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
