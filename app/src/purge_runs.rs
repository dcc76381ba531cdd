//! One run of the retention purge: the store's sanctioned delete ([`Retention`]) in small
//! steps, yielding between them, then a checkpoint signed over the log it leaves (so the
//! tree after every purge is signed), and the run recorded: `retention.purge.completed`
//! (retention days, cutoff, entries deleted, the range of sequence numbers, the checkpoint)
//! or `retention.purge.failed` (why, and what was deleted before). The scheduled job and
//! the command of the retention issue run it.
//!
//! [`Retention`]: crate::store::Retention

use crate::checkpoint::{checkpoint_now, Signing};
use crate::entry::entry_id;
use crate::integrity::TreeHead;
use crate::internal_event::{EventError, InternalEvent};
use crate::store::retention::MIN_RETENTION_DAYS;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use thiserror::Error;

pub const COMPLETED: &str = "retention.purge.completed";
pub const FAILED: &str = "retention.purge.failed";

/// Entries deleted by the first transaction; the next ones are sized so that each takes
/// about [`STEP_TIME`], from [`MIN_STEP`] to [`MAX_STEP`] entries: an append or a query
/// waits at most for one step.
pub const STEP: u32 = 1_000;
pub const MIN_STEP: u32 = 100;
pub const MAX_STEP: u32 = 5_000;
pub const STEP_TIME: std::time::Duration = std::time::Duration::from_millis(10);

/// The pause after a step that took `took`, whether appends came in meanwhile: 24 times
/// the step, so that the purge has a twenty-fifth of the time for any step up to 417 ms. (A
/// cap of 500 ms set the pace on PostgreSQL, whose steps take longer at the smallest size:
/// the purge had a quarter of the time and the readers' pages slowed 3.5 times.) The
/// longest pause is for a step no size makes short, such as a month's partition dropped.
fn pause(took: std::time::Duration, appending: bool) -> std::time::Duration {
    let quiet = std::time::Duration::from_millis(5);
    match appending {
        true => (took * 24).clamp(quiet, MAX_PAUSE),
        false => quiet,
    }
}

/// The longest pause between steps while appends come in.
pub const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(10);

/// How often a pause asks whether the run should stop.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The size of the step after one of `limit` entries that took `took`.
fn next_step(limit: u32, took: std::time::Duration) -> u32 {
    let micros = took.as_micros().max(1);
    let scaled = u128::from(limit) * STEP_TIME.as_micros() / micros;
    // At most double at once: a step that happened to be quick says little.
    u32::try_from(scaled.min(u128::from(limit) * 2)).unwrap_or(MAX_STEP).clamp(MIN_STEP, MAX_STEP)
}

/// The longest retention that may be set.
pub const MAX_RETENTION_DAYS: u32 = 365;

#[derive(Debug, Error)]
pub enum PurgeError {
    #[error("a retention period is {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days, not {0}")]
    Days(u32),
    #[error("a purge is already running")]
    Busy,
    #[error("the server is stopping: no purge now")]
    Stopping,
    #[error("the purge failed after deleting {deleted} entries: {source}")]
    Store { deleted: u64, source: StoreError },
    #[error("the purge could not be recorded: {0}")]
    Event(#[from] EventError),
    #[error(transparent)]
    Record(StoreError),
    #[error("nothing was purged: {0}")]
    Archive(#[from] crate::purge_archive::ArchiveError),
    #[error("nothing was purged: {0}")]
    Setting(String),
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeRun {
    pub retention_days: u32,
    pub cutoff: DateTime<Utc>,
    pub deleted: u64,
    /// The lowest and highest sequence numbers deleted.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// The checkpoint signed after it (none when nothing was deleted, or signing failed:
    /// then the record says why).
    pub checkpoint: Option<TreeHead>,
    /// The `retention.purge.completed` entry.
    pub entry_id: String,
    /// What was archived first, when the archive directory is set and entries were due.
    pub archive: Option<crate::purge_archive::Archive>,
    /// The run ended between two steps because the server was stopping: the next run
    /// deletes the rest.
    pub stopped_early: bool,
}

/// When the scheduled purge runs, as the settings page tells it: every `every` (none: no
/// job in this process, as in the tests' servers), and the next run as the job set it.
#[derive(Debug, Default)]
pub struct Schedule {
    pub every: Option<std::time::Duration>,
    /// The first run after start: soon, once the server has settled.
    pub first_after: std::time::Duration,
    next: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl Schedule {
    /// Every `every`, the first a minute after start.
    pub fn every(every: std::time::Duration) -> Self {
        Schedule {
            every: Some(every),
            first_after: std::time::Duration::from_secs(60),
            next: std::sync::Mutex::default(),
        }
    }

    /// The first run this long after start instead.
    pub fn starting_after(mut self, first_after: std::time::Duration) -> Self {
        self.first_after = first_after;
        self
    }

    /// When the job runs next, if it is scheduled.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        *self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set_next(&self, at: DateTime<Utc>) {
        *self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }
}

/// What a purge with `retention_days` would delete now: its cutoff and how many entries.
pub async fn due(store: &Store, retention_days: u32, now: DateTime<Utc>) -> Result<(DateTime<Utc>, u64), PurgeError> {
    if !(MIN_RETENTION_DAYS as u32..=MAX_RETENTION_DAYS).contains(&retention_days) {
        return Err(PurgeError::Days(retention_days));
    }
    let cutoff = now - Duration::days(i64::from(retention_days));
    let due = store.retention.purge_due(cutoff).await.map_err(PurgeError::Record)?;
    Ok((cutoff, due))
}

/// Records a run that failed (`retention.purge.failed`): why, and what it deleted before;
/// a failure to record it is logged.
pub async fn record_failure(
    store: &Store,
    days_and_cutoff: Option<(u32, DateTime<Utc>)>,
    deleted: u64,
    reason: &str,
    archive: Option<&crate::purge_archive::Archive>,
    now: DateTime<Utc>,
) {
    let recorded = async {
        let mut event = InternalEvent::new(FAILED).map_err(|e| e.to_string())?;
        if let Some((days, cutoff)) = days_and_cutoff {
            event = event
                .detail("retention_days", days)
                .detail("cutoff", cutoff.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        // What was deleted is in the archive written before: the failure names it.
        if let Some(archive) = archive {
            event = event
                .detail("archive_file", archive.file.as_str())
                .detail("archive_sha256", archive.sha256.as_str())
                .detail("archive_entries", archive.entries);
        }
        let entry = event.detail("deleted_count", deleted).detail("reason", reason).build(now);
        store.log.append(vec![entry.map_err(|e| e.to_string())?]).await.map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, reason, "a failed retention purge could not be recorded");
    }
}

/// The last run recorded, whatever its outcome.
pub async fn last_run(store: &Store) -> Result<Option<crate::entry::AuditEntry>, StoreError> {
    crate::verify_runs::newest(store, &[COMPLETED, FAILED]).await
}

/// One purge at a time in this process (the engines serialise purges across processes).
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Purges the entries older than `retention_days` before `now`, and records the run.
pub async fn run(
    store: &Store,
    signing: &Signing,
    retention_days: u32,
    now: DateTime<Utc>,
) -> Result<PurgeRun, PurgeError> {
    run_until(store, signing, retention_days, now, &|| false).await
}

/// [`run`], asking `stopping` between steps and during pauses: once it answers yes (the
/// server is stopping), the run ends there, its checkpoint signed and the run recorded
/// with what it deleted (`stopped_early`). A long purge paced behind appends would
/// otherwise hold a stopping server for as long as it has left. Asked while the archive is
/// written (between its batches), the unfinished file is removed and the run ends as
/// [`PurgeError::Stopping`] with nothing deleted or recorded, as if it had not begun.
pub async fn run_until(
    store: &Store,
    signing: &Signing,
    retention_days: u32,
    now: DateTime<Utc>,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<PurgeRun, PurgeError> {
    if !(MIN_RETENTION_DAYS as u32..=MAX_RETENTION_DAYS).contains(&retention_days) {
        return Err(PurgeError::Days(retention_days));
    }
    let _running = RUNNING.try_lock().map_err(|_| PurgeError::Busy)?;
    if stopping() {
        return Err(PurgeError::Stopping);
    }
    let cutoff = now - Duration::days(i64::from(retention_days));
    let days_and_cutoff = Some((retention_days, cutoff));
    // Archive first when asked to: then exactly what the archive holds is deleted, and if
    // it cannot be written completely, nothing is.
    let archive_dir = match crate::settings::archive_dir(store).await {
        Ok(dir) => dir,
        Err(e) => {
            record_failure(store, days_and_cutoff, 0, &format!("cannot read the archive setting: {e}"), None, now)
                .await;
            return Err(PurgeError::Setting(e.to_string()));
        }
    };
    let (mut archive, mut below) = (None, None);
    if let Some(dir) = archive_dir {
        match crate::purge_archive::write(store, signing, &dir, cutoff, retention_days, now, stopping).await {
            Ok(Some(written)) => {
                below = Some(written.below);
                archive = Some(written);
            }
            // Nothing due: nothing to archive, nor to delete.
            Ok(None) => below = Some(0),
            // Nothing was purged, as when the server stops before a run: nothing to record.
            Err(crate::purge_archive::ArchiveError::Stopped) => return Err(PurgeError::Stopping),
            Err(e) => {
                record_failure(store, days_and_cutoff, 0, &format!("nothing was purged: {e}"), None, now).await;
                return Err(PurgeError::Archive(e));
            }
        }
    }
    let (mut deleted, mut first, mut last) = (0u64, None::<u64>, None::<u64>);
    let mut limit = STEP;
    let mut stopped_early = false;
    while below != Some(0) {
        let commits = store.maintenance.commits();
        let step = match store.retention.purge_step(cutoff, below, limit, now).await {
            Ok(step) => step,
            Err(source) => {
                record_failure(store, days_and_cutoff, deleted, &source.to_string(), archive.as_ref(), now).await;
                return Err(PurgeError::Store { deleted, source });
            }
        };
        deleted += step.deleted;
        first = match (first, step.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = last.max(step.last);
        if !step.more {
            break;
        }
        let took = step.took;
        limit = next_step(limit, took);
        // Between steps, appends and queries go first: while appends keep coming, the
        // purge takes a twenty-fifth of the time at most; with none, it goes on at once.
        let resume = tokio::time::Instant::now() + pause(took, store.maintenance.commits() != commits);
        while !stopping() && tokio::time::Instant::now() < resume {
            tokio::time::sleep_until(resume.min(tokio::time::Instant::now() + STOP_POLL)).await;
        }
        if stopping() {
            stopped_early = true;
            break;
        }
    }

    let mut event = InternalEvent::new(COMPLETED)?
        .detail("retention_days", retention_days)
        .detail("cutoff", cutoff.to_rfc3339_opts(SecondsFormat::Secs, true))
        .detail("deleted_count", deleted);
    if let (Some(first), Some(last)) = (first, last) {
        event = event.detail("first_seq", first).detail("last_seq", last);
    }
    if let Some(archive) = &archive {
        event = event
            .detail("archive_file", archive.file.as_str())
            .detail("archive_sha256", archive.sha256.as_str())
            .detail("archive_entries", archive.entries);
    }
    if stopped_early {
        event = event.detail("stopped_early", true);
    }
    // The tree after the purge is signed (its rows are all kept: the root is the one
    // before, unless entries arrived meanwhile).
    let mut checkpoint = None;
    if deleted > 0 {
        match checkpoint_now(store.tree.as_ref(), &signing.key, &signing.policy, now).await {
            Ok(done) => {
                checkpoint = Some(done.checkpoint.head);
                event = event.detail("checkpoint_size", done.checkpoint.head.size);
            }
            Err(e) => {
                tracing::error!(error = %e, "no checkpoint was signed after a retention purge");
                event = event.detail("checkpoint", format!("not signed: {e}"));
            }
        }
    }
    let receipt = store.log.append(vec![event.build(now)?]).await.map_err(PurgeError::Record)?;
    let entry_id = entry_id(receipt.sequences.first().copied().unwrap_or(0));
    Ok(PurgeRun { retention_days, cutoff, deleted, first, last, checkpoint, entry_id, archive, stopped_early })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::LogKey;
    use crate::filter::{EntryFilter, EntryQuery, PageRequest};
    use crate::store::conformance::samples;

    #[test]
    fn steps_are_sized_to_take_about_10_ms_and_make_way_for_appends() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(next_step(1_000, ms(20)), 500);
        assert_eq!(next_step(1_000, ms(10)), 1_000);
        assert_eq!(next_step(1_000, ms(2)), 2_000, "at most double");
        assert_eq!(next_step(4_000, ms(1)), MAX_STEP);
        assert_eq!(next_step(200, ms(500)), MIN_STEP);
        assert_eq!(pause(ms(20), false), ms(5), "nothing to make way for");
        assert_eq!(pause(ms(10), true), ms(240), "a twenty-fifth of the time while appends come");
        assert_eq!(pause(ms(100), true), ms(2_400), "a slow step is followed by a long pause");
        assert_eq!(pause(ms(1_000), true), MAX_PAUSE);
    }

    #[tokio::test]
    async fn a_run_asked_to_stop_ends_after_its_step_recorded_and_the_next_deletes_the_rest() {
        let _turn = TURN.lock().await;
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}", dir.path().join("s.db").display())).await.expect("opens");
        let signing = Signing { key: LogKey::ephemeral("audit.example/log").expect("key"), policy: Default::default() };
        store.log.append(samples(0..1_500)).await.expect("appends");
        let now: DateTime<Utc> = "2025-07-01T00:00:00Z".parse().expect("time");
        // Asked before anything is done: nothing is.
        assert!(matches!(run_until(&store, &signing, 90, now, &|| true).await, Err(PurgeError::Stopping)));
        assert_eq!(store.log.get(1).await.expect("reads").map(|e| e.sequence), Some(1), "nothing deleted");
        // Told to stop once it has begun: at the pause after its first step.
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let stopping = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
        let stopped = run_until(&store, &signing, 90, now, &stopping).await.expect("purges");
        assert!(stopped.stopped_early);
        assert_eq!(stopped.deleted, u64::from(STEP), "one step, then it stopped");
        assert_eq!(stopped.checkpoint.map(|c| c.size), Some(1_500), "what it did is signed");
        let recorded = store.log.get(1_501).await.expect("reads").expect("the run is recorded");
        assert_eq!(recorded.event_type, COMPLETED);
        assert_eq!(recorded.details["stopped_early"], true);
        assert_eq!(recorded.details["deleted_count"].as_u64(), Some(u64::from(STEP)));

        let rest = run(&store, &signing, 90, now).await.expect("purges");
        assert!(!rest.stopped_early);
        assert_eq!(rest.deleted, 1_500 - u64::from(STEP), "the rest but the newest entry, and the record");
        let details = &store.log.get(1_502).await.expect("reads").expect("recorded").details;
        assert!(details.get("stopped_early").is_none(), "{details:?}");
    }

    #[tokio::test]
    async fn a_run_purges_what_is_due_signs_the_tree_and_is_recorded() {
        let _turn = TURN.lock().await;
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}", dir.path().join("r.db").display())).await.expect("opens");
        let signing = Signing { key: LogKey::ephemeral("audit.example/log").expect("key"), policy: Default::default() };
        // The samples are of March 2025: with 90 days kept from 1 July 2025, those before
        // 2 April 2025 go, every one of them but the newest entry.
        store.log.append(samples(0..40)).await.expect("appends");
        let now: DateTime<Utc> = "2025-07-01T00:00:00Z".parse().expect("time");
        assert!(matches!(run(&store, &signing, 29, now).await, Err(PurgeError::Days(29))));
        assert!(matches!(run(&store, &signing, 366, now).await, Err(PurgeError::Days(366))));

        let purged = run(&store, &signing, 90, now).await.expect("purges");
        assert_eq!((purged.deleted, purged.first, purged.last), (39, Some(1), Some(39)));
        assert_eq!(purged.checkpoint.map(|c| c.size), Some(40), "the tree after the purge is signed");
        let filter = |q: &str| EntryQuery::from_query_string(q).and_then(|q| q.validate()).expect("valid").0;
        let page = store.log.list(&filter("event_type=retention.purge.completed"), PageRequest::default()).await;
        let recorded = page.expect("lists").entries;
        assert_eq!(recorded.len(), 1);
        let details = &recorded[0].details;
        assert_eq!((details["deleted_count"].as_u64(), details["retention_days"].as_u64()), (Some(39), Some(90)));
        assert_eq!((details["first_seq"].as_u64(), details["last_seq"].as_u64()), (Some(1), Some(39)));
        assert_eq!(details["cutoff"], "2025-04-02T00:00:00Z");
        assert_eq!(recorded[0].id, purged.entry_id);

        let checked = crate::verification::verify_integrity(&store, Some(signing.key.verifier_key()), None, &[])
            .await
            .expect("verifies");
        assert!(checked.is_intact(), "{:?}", checked.report.problems);
        assert_eq!(checked.report.purged, 39);

        // The newest entry then is no longer the newest: the next run takes it. After that
        // nothing is due: the run is recorded all the same, and signs nothing.
        let again = run(&store, &signing, 90, now).await.expect("purges");
        assert_eq!((again.deleted, again.first), (1, Some(40)));
        let idle = run(&store, &signing, 90, now).await.expect("purges");
        assert_eq!((idle.deleted, idle.checkpoint), (0, None));
        let runs = store.log.count(&filter("event_type=retention.purge.completed")).await.expect("counts");
        assert_eq!(runs, 3, "every run is recorded");
    }

    /// One purge at a time in a process: these tests take turns.
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn unb64(text: &str) -> Option<[u8; 32]> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(text).ok()?.try_into().ok()
    }

    #[tokio::test]
    async fn with_an_archive_directory_what_goes_is_written_first_with_proofs_and_a_failed_archive_purges_nothing() {
        let _turn = TURN.lock().await;
        use sha2::Digest;
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}", dir.path().join("a.db").display())).await.expect("opens");
        let signing = Signing { key: LogKey::ephemeral("audit.example/log").expect("key"), policy: Default::default() };
        store.log.append(samples(0..30)).await.expect("appends");
        let now: DateTime<Utc> = "2025-07-01T00:00:00Z".parse().expect("time");
        let archives = dir.path().join("archives");
        std::fs::create_dir(&archives).expect("dir");
        let actor = crate::internal_event::system_actor();
        let to = |path: &std::path::Path| serde_json::Value::String(path.display().to_string());
        crate::settings::change(&store, actor.clone(), crate::settings::ARCHIVE_DIR, &to(&archives), now)
            .await
            .expect("set");

        // Archived, then exactly those deleted (the samples of March; the setting's change
        // is newer).
        let purged = run(&store, &signing, 90, now).await.expect("purges");
        let archive = purged.archive.clone().expect("archived");
        assert_eq!((archive.entries, purged.deleted), (30, 30));
        let path = archives.join(&archive.file);
        let bytes = std::fs::read(&path).expect("the archive is there");
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), archive.sha256);
        let lines: Vec<serde_json::Value> = std::io::BufReader::new(flate2::read::GzDecoder::new(&bytes[..]))
            .lines()
            .map(|l| serde_json::from_str(&l.expect("line")).expect("JSON"))
            .collect();
        assert_eq!(lines.len(), 31, "a header and each entry");
        let header = &lines[0];
        assert_eq!(
            (header["format"].as_str(), header["entries"].as_u64()),
            (Some(crate::purge_archive::FORMAT), Some(30))
        );
        let root: [u8; 32] = unb64(header["root"].as_str().expect("root")).expect("root");
        let size = header["tree_size"].as_u64().expect("size");
        assert!(signing.key.open(header["checkpoint"].as_str().expect("note")).is_ok(), "the checkpoint is signed");
        for line in &lines[1..] {
            let proof = &line["inclusion_proof"];
            let entry: crate::entry::AuditEntry = serde_json::from_value(line.clone()).expect("an entry");
            let hashes: Vec<[u8; 32]> = proof["proof"]
                .as_array()
                .expect("proof")
                .iter()
                .map(|h| unb64(h.as_str().expect("b64")).expect("hash"))
                .collect();
            let leaf = crate::integrity::entry_leaf_hash(&entry);
            assert!(crate::integrity::check_inclusion(&hashes, entry.sequence - 1, size, root, leaf), "{}", entry.id);
        }
        let filter = |q: &str| EntryQuery::from_query_string(q).and_then(|q| q.validate()).expect("valid").0;
        let page = store.log.list(&filter("event_type=retention.purge.completed"), PageRequest::default()).await;
        let details = &page.expect("lists").entries[0].details;
        assert_eq!(
            (details["archive_file"].as_str(), details["archive_sha256"].as_str()),
            (Some(archive.file.as_str()), Some(archive.sha256.as_str()))
        );

        // The server stopping while the archive is written (at its first batch, after the
        // run's own question): the unfinished file goes, nothing is purged or recorded.
        store.log.append(samples(30..40)).await.expect("appends");
        let recorded = store.log.count(&EntryFilter::default()).await.expect("counts");
        // The newest entry is never due: 9 of the 10.
        let due = store.retention.purge_due(now - Duration::days(90)).await.expect("counts");
        assert_eq!(due, 9);
        let asked = std::sync::atomic::AtomicU32::new(0);
        let stopping = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
        let stopped = run_until(&store, &signing, 90, now, &stopping).await.expect_err("stopped");
        assert!(matches!(stopped, PurgeError::Stopping), "{stopped}");
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2, "asked at the start and at the batch");
        assert_eq!(store.retention.purge_due(now - Duration::days(90)).await.expect("counts"), due, "nothing purged");
        assert_eq!(store.log.count(&EntryFilter::default()).await.expect("counts"), recorded, "nothing recorded");
        let files: Vec<String> = std::fs::read_dir(&archives)
            .expect("lists")
            .map(|f| f.expect("file").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, std::slice::from_ref(&archive.file), "only the first run's archive");

        // The directory gone: nothing is purged, and the failure says why.
        std::fs::remove_dir_all(&archives).expect("removed");
        let failed = run(&store, &signing, 90, now).await.expect_err("no archive, no purge");
        assert!(matches!(failed, PurgeError::Archive(_)), "{failed}");
        assert_eq!(
            store.retention.purge_due(now - Duration::days(90)).await.expect("counts"),
            10,
            "nothing was deleted"
        );
        let page = store.log.list(&filter("event_type=retention.purge.failed"), PageRequest::default()).await;
        let reason = page.expect("lists").entries[0].details["reason"].as_str().map(str::to_owned).unwrap_or_default();
        assert!(reason.starts_with("nothing was purged: the archive could not be written to"), "{reason}");
        assert!(std::fs::read_dir(dir.path()).expect("lists").all(|f| !f
            .expect("file")
            .file_name()
            .to_string_lossy()
            .contains("partial")));
    }
}
