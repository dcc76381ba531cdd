//! The command line: every flag has an environment fallback and a default that needs no
//! setup.

use app::tokens::Scope;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(name = "certifyclouds", version, about = "CertifyClouds Audit: the audit trail server")]
pub struct Cli {
    /// Where the audit store lives (`sqlite:<path>`).
    #[arg(long, global = true, env = "CERTIFYCLOUDS_DATABASE_URL", default_value = "sqlite:data/audit.db")]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The folder holding the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, global = true, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the REST API (the default).
    Serve,
    /// Manage API bearer tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Fill the store with realistic demo events.
    Seed(SeedArgs),
    /// Re-compute the hash chain and report the first broken link, if any.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once, alone on the last line.
    Create {
        /// A unique name that says who uses the token.
        #[arg(long)]
        name: String,
        /// Comma-separated: read, ingest, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<Scope>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// How many events to add.
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Over how many days before now they are spread.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// The random seed: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_setup() {
        let cli = Cli::try_parse_from(["certifyclouds"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.addr.to_string(), "127.0.0.1:8080");
        assert!(cli.database_url.starts_with("sqlite:"));
    }

    #[test]
    fn token_create_parses_scopes_and_refuses_unknown_ones() {
        let cli =
            Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "splunk", "--scopes", "read,ingest"])
                .expect("parses");
        match cli.command {
            Some(Command::Token { action: TokenCommand::Create { name, scopes } }) => {
                assert_eq!(name, "splunk");
                assert_eq!(scopes, vec![Scope::Read, Scope::Ingest]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "x", "--scopes", "write"]).is_err());
        assert!(Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "x"]).is_err());
    }

    #[test]
    fn seed_and_serve_flags() {
        let cli =
            Cli::try_parse_from(["certifyclouds", "seed", "--events", "5", "--seed", "9", "--addr", "127.0.0.1:0"])
                .expect("parses");
        assert!(matches!(cli.command, Some(Command::Seed(SeedArgs { events: 5, days: 90, seed: 9 }))));
        assert_eq!(cli.serve.addr.port(), 0);
    }
}
