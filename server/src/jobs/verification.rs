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

pub async fn run_daily(store: Store, signing: Arc<Signing>, shutdown: Shutdown) {
    let every = signing.policy.verify_every;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
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
