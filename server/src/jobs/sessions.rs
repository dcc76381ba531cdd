//! Ends the sessions nobody came back to before their timeout, every minute, and records
//! each end (`auth.logout` with the timeout as its reason). A session used after its
//! timeout is ended when it is used; this job ends the ones that are never used again.

use crate::shutdown::Shutdown;
use app::signin::{self, Timeouts};
use app::store::Store;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(60);

pub async fn run(store: Store, timeouts: Timeouts, shutdown: Shutdown) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                // Several instances may share one database: one of them sweeps.
                match store.maintenance.lead("sessions").await {
                    Ok(true) => {
                        if let Err(e) = signin::end_expired(&store, &timeouts, chrono::Utc::now()).await {
                            tracing::warn!(error = %e, "ending timed-out sessions failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot tell which instance ends timed-out sessions"),
                }
            }
            () = shutdown.triggered() => return,
        }
    }
}
