//! Signs a checkpoint whenever the log has grown, at most once per the policy's interval
//! (5 minutes by default), and once shortly after start. With several instances on one
//! database, one of them signs (the others' keys must be the same key: see README).

use crate::shutdown::Shutdown;
use app::checkpoint::{checkpoint_now, CheckpointError, Signing};
use app::store::{Maintenance, TreeStore};
use std::sync::Arc;
use std::time::Duration;

/// The first checkpoint after start waits this long: appends settle, tests start quickly.
const FIRST_AFTER: Duration = Duration::from_secs(5);

pub async fn run(
    tree: Arc<dyn TreeStore>,
    maintenance: Arc<dyn Maintenance>,
    signing: Arc<Signing>,
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_AFTER, signing.policy.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = every.tick() => {
                match maintenance.lead("checkpoints").await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell which instance signs checkpoints");
                        continue;
                    }
                }
                match checkpoint_now(tree.as_ref(), &signing.key, &signing.policy, chrono::Utc::now()).await {
                    Ok(done) if done.new => {
                        failing = false;
                        tracing::info!(size = done.checkpoint.head.size, "signed a checkpoint");
                    }
                    Ok(_) | Err(CheckpointError::Empty) => failing = false,
                    // Said once when it starts failing, not at every tick.
                    Err(e) if !failing => {
                        failing = true;
                        tracing::error!(error = %e, "signing a checkpoint failed; it is tried again");
                    }
                    Err(_) => {}
                }
            }
            () = shutdown.triggered() => return,
        }
    }
}
