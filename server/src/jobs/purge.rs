//! The retention purge on a schedule: a minute after start, then every
//! `--purge-every-minutes` (an hour by default), with the retention the settings hold at
//! that moment. One instance of several runs it (the engines also serialise purges), and
//! each run is recorded by the purge itself (`retention.purge.completed` or `.failed`).

use crate::shutdown::Shutdown;
use app::checkpoint::Signing;
use app::purge_runs::{record_failure, run_until, PurgeError, Schedule};
use app::settings::retention_days;
use app::store::Store;
use std::sync::Arc;

pub async fn run_scheduled(store: Store, signing: Arc<Signing>, schedule: Arc<Schedule>, shutdown: Shutdown) {
    let Some(every) = schedule.every else { return };
    let started = tokio::time::Instant::now();
    let first = schedule.first_after;
    let mut ticks = tokio::time::interval_at(started + first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    schedule.set_next(chrono::Utc::now() + chrono::Duration::from_std(first).unwrap_or_default());
    loop {
        tokio::select! {
            // A stop comes first: a purge that outlasted its period leaves the next tick
            // ready, and must not start again while the server stops.
            biased;
            () = shutdown.triggered() => return,
            _ = ticks.tick() => {
                match store.maintenance.lead("retention").await {
                    // Only the instance that purges says when it purges next (the others'
                    // pages count from the last run the log records).
                    Ok(true) => {
                        schedule.set_next(chrono::Utc::now() + chrono::Duration::from_std(every).unwrap_or_default());
                        purge_once(&store, &signing, &shutdown).await
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot tell which instance purges by retention"),
                }
            }
        }
    }
}

/// One run; a shutdown ends it between two steps (recorded, the rest left to the next run).
async fn purge_once(store: &Store, signing: &Signing, shutdown: &Shutdown) {
    let now = chrono::Utc::now();
    // The setting is always 30 to 365 (an out-of-bounds stored value reads as the default).
    let days = match retention_days(store).await {
        Ok(days) => days,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the retention setting; no purge this time");
            return record_failure(store, None, 0, &format!("cannot read the retention setting: {e}"), None, now).await;
        }
    };
    match run_until(store, signing, days, now, &|| shutdown.is_triggered()).await {
        Ok(done) if done.deleted > 0 => tracing::info!(
            deleted = done.deleted,
            retention_days = days,
            entry = %done.entry_id,
            stopped_early = done.stopped_early,
            "purged the entries older than the retention period"
        ),
        Ok(_) => tracing::debug!(retention_days = days, "no entries were due for the retention purge"),
        Err(PurgeError::Busy) => tracing::info!("a retention purge is already running"),
        // Stopped before it deleted anything (an unfinished archive is removed): the next
        // run does it all.
        Err(PurgeError::Stopping) => {
            tracing::info!("the retention purge was left for the next run: the server is stopping")
        }
        Err(e) => tracing::error!(error = %e, "the retention purge failed"),
    }
}
