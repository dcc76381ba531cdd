//! Background jobs: started with the server, told when it stops, and awaited before it
//! has stopped, so that none outlives it (or writes to a store being closed).

mod alerts;
mod checkpoints;
mod delivery;
mod purge;
mod sessions;
mod statistics;
mod verification;

use crate::state::AppState;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The running jobs.
pub struct Jobs {
    handles: Vec<(&'static str, JoinHandle<()>)>,
    alive: Alive,
}

/// How many jobs are alive: counted up when a job starts and down when its task ends,
/// however it ends.
#[derive(Clone, Debug, Default)]
pub struct Alive(Arc<AtomicUsize>);

impl Alive {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts a job down when its task is dropped.
struct Living(Arc<AtomicUsize>);

impl Drop for Living {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Jobs {
    /// Starts every job; each ends when `state.shutdown` is triggered.
    pub fn start(state: &AppState) -> Self {
        let mut jobs = Jobs { handles: Vec::new(), alive: Alive::default() };
        jobs.spawn("statistics", statistics::run(state.maintenance.clone(), state.shutdown.clone()));
        jobs.spawn("sessions", sessions::run(state.store.clone(), state.sign_in.timeouts, state.shutdown.clone()));
        jobs.spawn(
            "checkpoints",
            checkpoints::run(
                state.tree.clone(),
                state.maintenance.clone(),
                state.signing.clone(),
                state.shutdown.clone(),
            ),
        );
        jobs.spawn(
            "verification",
            verification::run_daily(state.store.clone(), state.signing.clone(), state.shutdown.clone()),
        );
        jobs.spawn("alerts", alerts::run(state.store.clone(), state.shutdown.clone()));
        jobs.spawn(
            "delivery",
            delivery::run(state.store.clone(), app::delivery::Policy::default(), state.shutdown.clone()),
        );
        // Tests' servers schedule no purge: they keep their old entries.
        if state.purging.every.is_some() {
            jobs.spawn(
                "purge",
                purge::run_scheduled(
                    state.store.clone(),
                    state.signing.clone(),
                    state.purging.clone(),
                    state.shutdown.clone(),
                ),
            );
        }
        jobs
    }

    fn spawn(&mut self, name: &'static str, job: impl Future<Output = ()> + Send + 'static) {
        self.alive.0.fetch_add(1, Ordering::SeqCst);
        let living = Living(self.alive.0.clone());
        self.handles.push((
            name,
            tokio::spawn(async move {
                let _living = living;
                job.await;
            }),
        ));
    }

    /// A count of the jobs alive, that outlasts the jobs.
    pub fn alive(&self) -> Alive {
        self.alive.clone()
    }

    /// Waits for every job to end (after the shutdown signal).
    pub async fn stopped(self) {
        for (name, handle) in self.handles {
            if let Err(e) = handle.await {
                tracing::error!(job = name, error = %e, "a background job failed");
            }
        }
    }
}
