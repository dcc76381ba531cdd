//! Verifies the whole log against its checkpoints every day (`--verify-every-hours`),
//! the first time a day after start: each run is recorded (`integrity.verified` or
//! `integrity.failed`) by `system`, and a failure raises the banner. One instance of
//! several runs it.

use crate::shutdown::Shutdown;
use app::checkpoint::Signing;
use app::internal_event::system_actor;
use app::store::Store;
use app::verify_runs::{run, Trigger};
use std::sync::Arc;
use std::time::Duration;

/// An overdue run waits this long after start (the server settles first).
const OVERDUE_AFTER: Duration = Duration::from_secs(60);
/// The first run of a log never verified.
const NEVER_VERIFIED_AFTER: Duration = Duration::from_secs(3600);

pub async fn run_daily(store: Store, signing: Arc<Signing>, shutdown: Shutdown) {
    let every = signing.policy.verify_every;
    // Counted from the last run the log records, so that restarts do not put it off.
    let first = match app::verify_runs::last_run(&store).await {
        Ok(Some(last)) => chrono::DateTime::parse_from_rfc3339(&last.at)
            .ok()
            .and_then(|at| (at.with_timezone(&chrono::Utc) + every - chrono::Utc::now()).to_std().ok())
            .unwrap_or(OVERDUE_AFTER),
        // Never verified: within the hour (a fresh log has little to verify).
        Ok(None) => NEVER_VERIFIED_AFTER.min(every),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read when the log was last verified");
            OVERDUE_AFTER
        }
    };
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first.max(OVERDUE_AFTER), every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                match store.maintenance.lead("verification").await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell which instance verifies the log");
                        continue;
                    }
                }
                match run(&store, &signing, system_actor(), Trigger::Scheduled, chrono::Utc::now()).await {
                    Ok(outcome) if outcome.intact => tracing::info!(entries = outcome.entries, "the audit log verified intact"),
                    Ok(outcome) => tracing::error!(problems = outcome.problem_count, entry = %outcome.entry_id,
                        "the audit log failed verification"),
                    Err(e) => tracing::error!(error = %e, "the scheduled verification could not run"),
                }
            }
            () = shutdown.triggered() => return,
        }
    }
}
