//! Refreshes the store's query-planner statistics now and then every hour, so that plans
//! follow the data as it grows.

use crate::shutdown::Shutdown;
use app::store::Maintenance;
use std::sync::Arc;
use std::time::Duration;

/// How often the planner statistics are refreshed (SQLite recommends hourly to daily).
const EVERY: Duration = Duration::from_secs(60 * 60);

pub async fn run(maintenance: Arc<dyn Maintenance>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                // Several instances may share one database: one of them refreshes.
                match maintenance.lead("statistics").await {
                    Ok(true) => {
                        if let Err(e) = maintenance.optimize().await {
                            tracing::warn!(error = %e, "refreshing planner statistics failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot tell which instance refreshes planner statistics"),
                }
            }
            () = shutdown.triggered() => return,
        }
    }
}
