//! Background jobs, started with the server and ended with it.

use app::store::AuditStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the planner statistics are refreshed (SQLite recommends hourly to daily).
const STATISTICS_EVERY: Duration = Duration::from_secs(60 * 60);

/// Refreshes the store's query-planner statistics now and then every hour, so that
/// plans follow the data as it grows.
pub fn spawn_statistics_refresh(store: Arc<dyn AuditStore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(STATISTICS_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = store.optimize().await {
                tracing::warn!(error = %e, "refreshing planner statistics failed");
            }
        }
    })
}
