//! Delivery to the destinations: one task per enabled destination, on one instance of
//! several (the `delivery` lead), so that each receiver gets each batch from one sender and
//! in order. The list is looked at every few seconds: a destination added, changed (its
//! version moved: a fixed token is tried at once) or removed gets its task started,
//! restarted or stopped; losing the lead stops them all, and another instance goes on
//! from the cursors in the store.

use crate::shutdown::Shutdown;
use app::delivery::{worker, Policy};
use app::store::Store;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the destinations and the lead are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

struct Task {
    version: i64,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

pub async fn run(store: Store, policy: Policy, shutdown: Shutdown) {
    let mut tasks: HashMap<i64, Task> = HashMap::new();
    // Tasks told to stop and not yet ended: a destination gets a new task only once its
    // old one is gone, so that one receiver never has two senders.
    let mut stopping: HashMap<i64, JoinHandle<()>> = HashMap::new();
    let mut ticks = tokio::time::interval(LOOK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.triggered() => break,
        }
        let wanted: HashMap<i64, i64> = match store.maintenance.lead("delivery").await {
            Ok(true) => match store.delivery.destinations().await {
                Ok(all) => all.into_iter().filter(|d| d.config.enabled).map(|d| (d.id, d.version)).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the delivery destinations; tried again shortly");
                    continue;
                }
            },
            Ok(false) => HashMap::new(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell which instance delivers; tried again shortly");
                HashMap::new()
            }
        };
        let ended: Vec<i64> = tasks
            .iter()
            .filter(|(id, task)| wanted.get(id) != Some(&task.version) || task.handle.is_finished())
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(task) = tasks.remove(&id) {
                let _ = task.stop.send(true);
                stopping.insert(id, task.handle);
            }
        }
        stopping.retain(|_, handle| !handle.is_finished());
        for (id, version) in wanted {
            if stopping.contains_key(&id) {
                continue;
            }
            tasks.entry(id).or_insert_with(|| {
                let (stop, stopped) = watch::channel(false);
                let handle = tokio::spawn(worker::run(store.clone(), id, policy.clone(), None, stopped));
                Task { version, stop, handle }
            });
        }
    }
    // Stopped before the store closes: a batch being sent finishes, its cursor moves.
    for task in tasks.values() {
        let _ = task.stop.send(true);
    }
    for (_, task) in tasks {
        let _ = task.handle.await;
    }
    for (_, handle) in stopping {
        let _ = handle.await;
    }
}
