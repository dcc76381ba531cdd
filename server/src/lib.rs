//! The CertifyClouds Audit process: configuration, the HTTP router and the commands.

pub mod config;
pub mod export;
pub mod jobs;
pub mod live;
pub mod rest;
pub mod seed;
pub mod startup;
pub mod telemetry;

use app::store::{self, StoreError};
use config::{Cli, Command, TokenCommand};
use std::io::Write;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    #[error("the hash chain is broken at sequence {0}")]
    ChainBroken(u64),
}

/// Runs the command the command line names.
pub async fn run(cli: Cli) -> Result<(), RunError> {
    let store = store::open(&cli.database_url).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(cli.serve.addr)
                .await
                .map_err(|source| RunError::Bind { addr: cli.serve.addr, source })?;
            let _statistics = jobs::spawn_statistics_refresh(store.clone());
            let state = startup::AppState::new(store, &cli.serve.site_root);
            tracing::info!(addr = %cli.serve.addr, "serving http://{}/audit", cli.serve.addr);
            startup::serve(listener, state).await.map_err(RunError::Serve)
        }
        Command::Token { action: TokenCommand::Create { name, scopes } } => {
            let token = app::tokens::generate();
            store.create_token(&name, &scopes, &app::tokens::hash(&token)).await?;
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            let mut out = std::io::stdout().lock();
            writeln!(out, "Created token '{name}' with scopes {}. It is shown only once:", scopes.join(","))
                .and_then(|()| writeln!(out, "{token}"))
                .map_err(RunError::Output)
        }
        Command::Seed(args) => {
            let started = std::time::Instant::now();
            let added = seed::seed_store(store.as_ref(), &args, chrono::Utc::now()).await?;
            store.optimize().await?;
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                std::io::stdout(),
                "Seeded {added} events in {secs:.1}s ({:.0} events/s)",
                added as f64 / secs.max(1e-9)
            )
            .map_err(RunError::Output)
        }
        Command::Verify => {
            let report = store.verify_chain().await?;
            if let Some(seq) = report.first_broken {
                return Err(RunError::ChainBroken(seq));
            }
            writeln!(std::io::stdout(), "Hash chain intact: {} entries verified", report.entries)
                .map_err(RunError::Output)
        }
    }
}
