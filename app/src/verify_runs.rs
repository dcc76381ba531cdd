//! Verification runs, scheduled (daily by default) or on demand from the Integrity page:
//! each verifies the whole log against its checkpoints ([`verify_integrity`]) and is
//! recorded, `integrity.verified` or `integrity.failed` with what was found. A failure
//! stays open (a banner on every page) until an admin acknowledges it, which is recorded
//! too. The last run and the open failure are read back from the log itself.

use crate::checkpoint::{b64, Signing};
use crate::entry::{entry_id, Actor, AuditEntry};
use crate::filter::{EntryFilter, EventTypeMatch, PageRequest};
use crate::internal_event::{EventError, InternalEvent};
use crate::proof::RunView;
use crate::store::{Store, StoreError};
use crate::verification::{verify_integrity, OutsideCheckpoint, Verification};
use chrono::{DateTime, Utc};
use serde_json::Value;
use thiserror::Error;

pub const VERIFIED: &str = "integrity.verified";
pub const FAILED: &str = "integrity.failed";
pub const ACKNOWLEDGED: &str = "integrity.failure.acknowledged";

/// Problems written into a failure's details, at most (their count is recorded whole).
const PROBLEMS_RECORDED: usize = 20;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the run could not be recorded: {0}")]
    Event(#[from] EventError),
    #[error("{0}")]
    NotAFailure(String),
    #[error("a verification is already running: wait for its result")]
    Busy,
}

/// One verification at a time in this process: each reads the whole log.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Scheduled,
    OnDemand,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::OnDemand => "on demand",
        }
    }
}

/// Verifies the log now and records the outcome, by `actor`.
pub async fn run(
    store: &Store,
    signing: &Signing,
    actor: Actor,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<RunView, RunError> {
    let _running = RUNNING.try_lock().map_err(|_| RunError::Busy)?;
    let started = std::time::Instant::now();
    let outside = kept_outside(signing);
    let checked = verify_integrity(store, Some(signing.key.verifier_key()), None, &outside).await?;
    let by = actor.name.clone();
    let event = outcome_event(&checked, trigger, &by, started.elapsed())?.actor(actor);
    let receipt = store.log.append(vec![event.build(now)?]).await?;
    let sequence = receipt.sequences.first().copied().unwrap_or(0);
    match store.log.get(sequence).await? {
        Some(entry) => Ok(view(&entry)),
        None => Err(RunError::Store(StoreError::NotFound(entry_id(sequence)))),
    }
}

/// The checkpoints published in the checkpoint directory, when there is one: what a
/// restored older copy of the database cannot roll back.
fn kept_outside(signing: &Signing) -> Vec<OutsideCheckpoint> {
    let Some(dir) = &signing.policy.directory else { return Vec::new() };
    crate::checkpoint::published(dir).into_iter().map(|(source, note)| OutsideCheckpoint { source, note }).collect()
}

fn outcome_event(
    checked: &Verification,
    trigger: Trigger,
    by: &str,
    took: std::time::Duration,
) -> Result<InternalEvent, EventError> {
    let report = &checked.report;
    let common = |event: InternalEvent| {
        event
            // Entries checked: a purged run's are gone (said apart, below).
            .detail("entries", report.entries.saturating_sub(report.purged))
            .detail("checkpoints_checked", checked.checkpoints as u64)
            .detail("trigger", trigger.as_str())
            .detail("verified_by", by)
            .detail("duration_ms", u64::try_from(took.as_millis()).unwrap_or(u64::MAX))
    };
    if checked.is_intact() {
        let root = report.tree.map(|t| b64(&t.root)).unwrap_or_default();
        let mut event = common(InternalEvent::new(VERIFIED)?).detail("root", root);
        if report.purged > 0 {
            // Entries the retention purge removed and recorded: not checked, not missing.
            event = event.detail("purged", report.purged).detail("purged_runs", report.purged_runs_named(5));
        }
        if let Some(latest) = &checked.latest {
            event = event
                .detail("checkpoint_size", latest.head.size)
                .detail("checkpoint_signed_at", latest.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        Ok(event)
    } else {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        Ok(common(InternalEvent::new(FAILED)?)
            .detail("problem_count", problems.len() as u64)
            .detail("first_problem", problems.first().cloned().unwrap_or_default())
            .detail("problems", Value::from(problems.into_iter().take(PROBLEMS_RECORDED).collect::<Vec<_>>())))
    }
}

/// A run as its entry records it.
pub fn view(entry: &AuditEntry) -> RunView {
    let d = &entry.details;
    let number = |k: &str| d.get(k).and_then(Value::as_u64);
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let problems: Vec<String> = d
        .get("problems")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    RunView {
        entry_id: entry.id.clone(),
        at: entry.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        intact: entry.event_type == VERIFIED,
        entries: number("entries").unwrap_or(0),
        purged: number("purged").unwrap_or(0),
        purged_runs: text("purged_runs"),
        root: text("root"),
        checkpoints_checked: number("checkpoints_checked").unwrap_or(0),
        checkpoint_size: number("checkpoint_size"),
        checkpoint_signed_at: text("checkpoint_signed_at"),
        problem_count: number("problem_count").unwrap_or(problems.len() as u64),
        problems,
        trigger: text("trigger").unwrap_or_default(),
        verified_by: text("verified_by").unwrap_or_default(),
    }
}

/// The last recorded entry of any of these types: the highest sequence number among the
/// newest by time (instances' clocks may differ a little; the log's order is the truth).
pub(crate) async fn newest(store: &Store, types: &[&str]) -> Result<Option<AuditEntry>, StoreError> {
    let filter = EntryFilter {
        event_types: types.iter().map(|t| EventTypeMatch::Exact((*t).to_owned())).collect(),
        ..EntryFilter::default()
    };
    let page = store.log.list(&filter, PageRequest { limit: 20, offset: 0 }).await?;
    Ok(page.entries.into_iter().max_by_key(|e| e.sequence))
}

/// The last run, whatever its outcome.
pub async fn last_run(store: &Store) -> Result<Option<RunView>, StoreError> {
    Ok(newest(store, &[VERIFIED, FAILED]).await?.as_ref().map(view))
}

/// The latest failed run, unless an acknowledgement came after it.
pub async fn open_failure(store: &Store) -> Result<Option<RunView>, StoreError> {
    let Some(failed) = newest(store, &[FAILED]).await? else { return Ok(None) };
    let acknowledged = newest(store, &[ACKNOWLEDGED]).await?;
    Ok(match acknowledged {
        Some(ack) if ack.sequence > failed.sequence => None,
        _ => Some(view(&failed)),
    })
}

/// Records that `actor` has seen the failure `failure_id` (it must be the open one).
pub async fn acknowledge(store: &Store, failure_id: &str, actor: Actor, now: DateTime<Utc>) -> Result<(), RunError> {
    match open_failure(store).await? {
        Some(open) if open.entry_id == failure_id => {}
        Some(open) => {
            return Err(RunError::NotAFailure(format!(
                "{failure_id} is not the open integrity failure ({} is)",
                open.entry_id
            )))
        }
        None => return Err(RunError::NotAFailure("no integrity failure is open".into())),
    }
    let by = actor.name.clone();
    let event = InternalEvent::new(ACKNOWLEDGED)?
        .actor(actor)
        .detail("failure_id", failure_id)
        .detail("acknowledged_by", by)
        .build(now)?;
    store.log.append(vec![event]).await?;
    Ok(())
}
