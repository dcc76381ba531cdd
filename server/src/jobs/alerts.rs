//! The alert rules over the log as it grows (`app::alerting`), on the instance that leads
//! `alerts`; stopped with the server.

use crate::shutdown::Shutdown;
use app::store::Store;
use tokio::sync::watch;

pub async fn run(store: Store, shutdown: Shutdown) {
    let (stop, stopped) = watch::channel(false);
    let evaluating = tokio::spawn(app::alerting::run(store, stopped));
    shutdown.triggered().await;
    let _ = stop.send(true);
    let _ = evaluating.await;
}
