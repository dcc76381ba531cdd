//! Starting and stopping the server: the router and its state, the background jobs, and an
//! orderly stop (no new connections, live streams and jobs told to end, in-flight requests
//! finished, jobs awaited, the store closed). Tests bind port 0.

use crate::http;
use crate::jobs::{Alive, Jobs};
use crate::state::AppState;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server that is running.
pub struct Running {
    pub addr: SocketAddr,
    state: AppState,
    server: JoinHandle<std::io::Result<()>>,
    jobs: Jobs,
}

/// Serves on `listener` until [`Running::stop`].
pub fn start(listener: TcpListener, state: AppState) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let jobs = Jobs::start(&state);
    let shutdown = state.shutdown.clone();
    let app = http::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.triggered().await }).await
    });
    Ok(Running { addr, state, server, jobs })
}

impl Running {
    /// The background jobs alive, counted as long as the handle is kept.
    pub fn jobs(&self) -> Alive {
        self.jobs.alive()
    }

    /// Stops the server, its streams and its jobs, and closes the store. Returns once
    /// nothing of it runs any more.
    pub async fn stop(self) -> std::io::Result<()> {
        self.state.shutdown.trigger();
        let served = self.server.await.map_err(std::io::Error::other)?;
        self.jobs.stopped().await;
        self.state.maintenance.close().await;
        tracing::info!("stopped");
        served
    }

    /// Runs until `signal` completes, then stops.
    pub async fn until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.stop().await
    }
}

/// Ctrl-C or SIGTERM (as sent by service managers and container runtimes).
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
