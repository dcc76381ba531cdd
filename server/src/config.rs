//! The command line: every flag has an environment fallback and a default that needs no
//! setup.

use crate::state::{AllowedHosts, Attempts, SignInPolicy, TrustedProxies};
use app::accounts::{Lockout, Role};
use app::signin::Timeouts;
use app::store::Head;
use app::tokens::Scope;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(name = "certifyclouds", version, about = "CertifyClouds Audit: the audit trail server")]
pub struct Cli {
    /// Where the audit store lives: `sqlite:<path>`, or a PostgreSQL server
    /// (`postgres://user:password@host:port/database`).
    #[arg(long, global = true, env = "CERTIFYCLOUDS_DATABASE_URL", default_value = "sqlite:data/audit.db")]
    pub database_url: String,

    /// How logs are written to stderr: `text` for a terminal, `json` (one object a line)
    /// for log collectors.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub integrity: IntegrityArgs,
}

/// The log's signing key and its checkpoints (docs/integrity.md).
#[derive(Debug, Clone, Args)]
pub struct IntegrityArgs {
    /// The file holding the log's Ed25519 signing key, outside the database; created (mode
    /// 0600) on first start. Default: `<database file>.signing-key` beside a SQLite
    /// database, `data/signing-key` for PostgreSQL (every instance of one log needs the
    /// same key).
    #[arg(long, global = true, env = "CERTIFYCLOUDS_SIGNING_KEY", value_name = "PATH")]
    pub signing_key: Option<std::path::PathBuf>,

    /// The log's name, the first line of every checkpoint (and the key's name), given
    /// when the key is created: e.g. `audit.example.com/prod`. An existing key keeps its own.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_LOG_ORIGIN", default_value = app::checkpoint::DEFAULT_ORIGIN)]
    pub log_origin: String,

    /// While the log grows, a checkpoint is signed at most this often.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_CHECKPOINT_MINUTES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub checkpoint_minutes: u32,

    /// The whole log is verified against its checkpoints this often (each run recorded as
    /// `integrity.verified` or `integrity.failed`), and on demand from the Integrity page.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_VERIFY_EVERY_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    pub verify_every_hours: u32,

    /// The retention purge runs this often (and shortly after start), deleting entries
    /// older than the retention setting (Settings > Advanced) in small steps.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_PURGE_EVERY_MINUTES", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=10_080))]
    pub purge_every_minutes: u32,

    /// The first purge after start waits this long (the server settles first).
    #[arg(long, global = true, env = "CERTIFYCLOUDS_PURGE_FIRST_AFTER_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub purge_first_after_seconds: u32,

    /// A directory every checkpoint is also written to (`checkpoint-<size>`, `latest`):
    /// point it at storage the database's host cannot rewrite.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_CHECKPOINT_DIR", value_name = "DIR")]
    pub checkpoint_dir: Option<std::path::PathBuf>,
}

impl IntegrityArgs {
    /// Where the signing key of the store at `database_url` lives.
    pub fn key_path(&self, database_url: &str) -> std::path::PathBuf {
        if let Some(path) = &self.signing_key {
            return path.clone();
        }
        match database_url.strip_prefix("sqlite:") {
            Some(path) => {
                let path = path.split('?').next().unwrap_or(path).trim_start_matches("//");
                std::path::PathBuf::from(format!("{path}.signing-key"))
            }
            None => std::path::PathBuf::from("data/signing-key"),
        }
    }

    /// When the retention purge runs.
    pub fn purge_schedule(&self) -> app::purge_runs::Schedule {
        app::purge_runs::Schedule::every(std::time::Duration::from_secs(60 * u64::from(self.purge_every_minutes)))
            .starting_after(std::time::Duration::from_secs(u64::from(self.purge_first_after_seconds)))
    }

    pub fn policy(&self) -> app::checkpoint::CheckpointPolicy {
        app::checkpoint::CheckpointPolicy {
            every: std::time::Duration::from_secs(60 * u64::from(self.checkpoint_minutes)),
            directory: self.checkpoint_dir.clone(),
            verify_every: std::time::Duration::from_secs(3600 * u64::from(self.verify_every_hours)),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The folder holding the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, global = true, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Proxies (addresses or networks, comma-separated) whose `X-Forwarded-For` names the
    /// client: audit entries record the client's address, not the proxy's.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,

    /// Host names (comma-separated, no port) the server answers for besides its addresses
    /// and `localhost`: the name people reach it by behind a proxy. Any other name is
    /// refused (a DNS-rebinding page would send its own).
    #[arg(long, global = true, env = "CERTIFYCLOUDS_ALLOWED_HOSTS", default_value = "")]
    pub allowed_hosts: AllowedHosts,

    /// Failed sign-ins a minute from one client address (an IPv6 /64) before its further
    /// attempts are refused with 429 until the minute is over.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_SIGN_IN_FAILURES_PER_MINUTE", default_value_t = Attempts::PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sign_in_failures_per_minute: u32,

    /// Minutes without a request after which a signed-in session ends.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_SESSION_IDLE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub session_idle_minutes: u32,

    /// Hours after which a session ends however busy it is.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_SESSION_MAX_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    pub session_max_hours: u32,

    /// Failed sign-ins that lock an account...
    #[arg(long, global = true, env = "CERTIFYCLOUDS_LOCKOUT_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub lockout_attempts: u32,

    /// ...when they fall within this many minutes...
    #[arg(long, global = true, env = "CERTIFYCLOUDS_LOCKOUT_WINDOW_MINUTES", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub lockout_window_minutes: u32,

    /// ...lock it for this many minutes.
    #[arg(long, global = true, env = "CERTIFYCLOUDS_LOCKOUT_MINUTES", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub lockout_minutes: u32,
}

impl ServeArgs {
    /// How sessions time out and failed sign-ins lock accounts, from the flags.
    pub fn sign_in_policy(&self) -> SignInPolicy {
        let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));
        SignInPolicy {
            timeouts: Timeouts {
                idle: minutes(self.session_idle_minutes),
                absolute: chrono::Duration::hours(i64::from(self.session_max_hours)),
            },
            lockout: Lockout {
                attempts: self.lockout_attempts,
                window: minutes(self.lockout_window_minutes),
                lock_for: minutes(self.lockout_minutes),
            },
            attempts: Attempts::new(self.sign_in_failures_per_minute),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Manage the people who sign in; every change is recorded in the log with the
    /// operator's OS user as its actor.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Fill the store with realistic demo events.
    Seed(SeedArgs),
    /// Re-check the whole log (read-only): the hash chain over every row, the search
    /// index, the per-day and per-actor counts; exits non-zero on any problem.
    Verify(VerifyArgs),
    /// Sign a checkpoint of the log now (unless the latest covers every entry) and print
    /// it: the signed note, then its size and root.
    Checkpoint,
    /// Run the retention purge now: delete the entries older than the retention setting
    /// (`audit_retention_days`), in small steps, recorded as `retention.purge.completed`;
    /// with `--dry-run`, only say what it would delete.
    Purge(PurgeArgs),
    /// Read or change the product's settings (`settings get [NAME]`, `settings set NAME
    /// VALUE`); each change is recorded in the log with the operator's OS user as its
    /// actor, like one made in the pages.
    Settings {
        #[command(subcommand)]
        action: SettingsCommand,
    },
    /// Check an evidence pack offline (no server, no database): the signed manifest, every
    /// file's digest, the checkpoint and each entry's inclusion proof. Exits non-zero
    /// naming the file that does not hold.
    VerifyPack(VerifyPackArgs),
    /// Copy a whole store into PostgreSQL: every entry with its sequence number and hash
    /// (the chain and its head stay the same), and every API token. Run it again after an
    /// interruption: it resumes after the last entry it copied.
    MigrateStore(MigrateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The store to copy, read only: `sqlite:<path>` (or a PostgreSQL URL).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The PostgreSQL database to copy into (`postgres://user:password@host:port/database`):
    /// empty, or holding what an interrupted copy of the same source left.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// A head seen before (`SEQ:HASH`, as `verify` prints it): the log must still hold that
    /// entry with that hash, so entries removed from the end are found.
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<Head>,
    /// Also print the Merkle tree head of the first N entries (to compare with a tree
    /// computed from an export of N entries, see docs/integrity.md).
    #[arg(long, value_name = "N")]
    pub tree_size: Option<u64>,
    /// A signed checkpoint kept elsewhere (a file holding the note, as the checkpoint
    /// directory or `GET /audit/integrity/checkpoint` gave it): the log must still hold
    /// its entries and hash to its root. May be given more than once.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<std::path::PathBuf>,
    /// The log's public key as `<origin>+<key id>+<key>` (`verifier_key` of
    /// `GET /audit/integrity/public-key`), to check signatures without the key file.
    #[arg(long, value_name = "KEY")]
    pub verifier_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Delete nothing: print the cutoff and how many entries a purge would delete now.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting (or the one named) with its value, default and bounds.
    Get { name: Option<String> },
    /// Change a setting, e.g. `settings set audit_retention_days 120`.
    Set {
        name: String,
        /// The new value (a negative number is taken as a value, and refused with the
        /// setting's own message).
        #[arg(allow_negative_numbers = true)]
        value: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct VerifyPackArgs {
    /// The pack (`certifyclouds-audit-….zip`, from the export dialog or
    /// `GET /audit/export?format=evidence`).
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// The log's public key as `<origin>+<key id>+<key>` (`verifier_key` of
    /// `GET /audit/integrity/public-key`); without it the pack's own key is used, which
    /// proves the pack whole but not whose log it is.
    #[arg(long, value_name = "KEY")]
    pub verifier_key: Option<String>,
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
        /// The token stops working this many days from now (default: never).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
    },
    /// List the tokens (never a secret): name, scopes, created by and when, last used, expiry.
    List,
    /// Revoke a token by its name: it is refused from the next request on.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        /// Letters, digits, '.', '_', '-' and '@'; unique whatever its case.
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The name shown in the top bar and the log (the username if not given).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (it never goes on the command line,
        /// where other users and the shell's history would see it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users: name, role, status, last sign-in, lock.
    List,
    /// Set a user's password, read from the first line of standard input; also lifts a
    /// lockout.
    ResetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Lift a user's lockout after failed sign-ins.
    Unlock { username: String },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
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
    /// Which descriptions: the catalogue's (`catalogue`), or short sentences from a small
    /// vocabulary where a few words are in a third of all entries (`templates`).
    #[arg(long, value_enum, default_value_t = Profile::Catalogue)]
    pub profile: Profile,
}

/// The kind of descriptions `seed` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Catalogue,
    Templates,
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
        assert_eq!(cli.log_format, LogFormat::Text);
        assert_eq!(cli.serve.trusted_proxies, TrustedProxies::default());
        let policy = cli.serve.sign_in_policy();
        assert_eq!((policy.timeouts, policy.lockout), (Timeouts::default(), Lockout::default()));
    }

    #[test]
    fn sign_in_settings_parse_within_their_bounds() {
        let cli = Cli::try_parse_from([
            "certifyclouds",
            "--session-idle-minutes",
            "5",
            "--lockout-attempts",
            "3",
            "--sign-in-failures-per-minute",
            "2",
        ])
        .expect("parses");
        let policy = cli.serve.sign_in_policy();
        assert_eq!((policy.timeouts.idle, policy.lockout.attempts), (chrono::Duration::minutes(5), 3));
        let ip: std::net::IpAddr = "192.0.2.1".parse().expect("ip");
        let now = std::time::Instant::now();
        (0..2).for_each(|_| policy.attempts.failed(ip, now));
        assert!(policy.attempts.refuse(ip, now).is_some(), "two failures a minute");
        for bad in [["--session-idle-minutes", "0"], ["--lockout-attempts", "1000"], ["--session-max-hours", "x"]] {
            assert!(Cli::try_parse_from([&["certifyclouds"][..], &bad[..]].concat()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn log_format_proxies_and_expected_heads_parse_and_bad_ones_are_refused() {
        let head = format!("12:{}", "ab".repeat(32));
        let cli = Cli::try_parse_from([
            "certifyclouds",
            "verify",
            "--expect-head",
            &head,
            "--log-format",
            "json",
            "--trusted-proxies",
            "10.0.0.0/8,192.0.2.1",
        ])
        .expect("parses");
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(cli.serve.trusted_proxies.contains("10.2.3.4".parse().expect("ip")));
        match cli.command {
            Some(Command::Verify(VerifyArgs { expect_head: Some(h), .. })) => assert_eq!(h.sequence, 12),
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["certifyclouds", "verify", "--expect-head", "12"]).is_err());
        assert!(Cli::try_parse_from(["certifyclouds", "--log-format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["certifyclouds", "--trusted-proxies", "nope"]).is_err());
    }

    #[test]
    fn token_create_parses_scopes_and_refuses_unknown_ones() {
        let cli =
            Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "splunk", "--scopes", "read,ingest"])
                .expect("parses");
        match cli.command {
            Some(Command::Token { action: TokenCommand::Create { name, scopes, .. } }) => {
                assert_eq!(name, "splunk");
                assert_eq!(scopes, vec![Scope::Read, Scope::Ingest]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "x", "--scopes", "write"]).is_err());
        assert!(Cli::try_parse_from(["certifyclouds", "token", "create", "--name", "x"]).is_err());
    }

    #[test]
    fn user_commands_parse_and_passwords_never_come_from_the_command_line() {
        let cli = Cli::try_parse_from([
            "certifyclouds",
            "user",
            "create",
            "--username",
            "alice",
            "--role",
            "auditor",
            "--display-name",
            "Alice A.",
            "--password-stdin",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::User { action: UserCommand::Create { username, role, display_name, password_stdin } }) => {
                assert_eq!(
                    (username.as_str(), role, display_name.as_deref()),
                    ("alice", Role::Auditor, Some("Alice A."))
                );
                assert!(password_stdin);
            }
            other => panic!("unexpected {other:?}"),
        }
        let create = ["certifyclouds", "user", "create", "--username", "a", "--role"];
        assert!(Cli::try_parse_from([&create[..], &["root", "--password-stdin"]].concat()).is_err());
        assert!(Cli::try_parse_from([&create[..], &["admin"]].concat()).is_err(), "--password-stdin is required");
        assert!(Cli::try_parse_from([&create[..], &["admin", "--password-stdin", "--password", "x"]].concat()).is_err());
        assert!(matches!(
            Cli::try_parse_from(["certifyclouds", "user", "unlock", "bob"]).expect("parses").command,
            Some(Command::User { action: UserCommand::Unlock { username } }) if username == "bob"
        ));
        assert!(Cli::try_parse_from(["certifyclouds", "user", "reset-password", "bob"]).is_err());
        assert!(Cli::try_parse_from(["certifyclouds", "user", "list"]).is_ok());
    }

    #[test]
    fn seed_and_serve_flags() {
        let cli =
            Cli::try_parse_from(["certifyclouds", "seed", "--events", "5", "--seed", "9", "--addr", "127.0.0.1:0"])
                .expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Seed(SeedArgs { events: 5, days: 90, seed: 9, profile: Profile::Catalogue }))
        ));
        assert_eq!(cli.serve.addr.port(), 0);
        let cli = Cli::try_parse_from(["certifyclouds", "seed", "--profile", "templates"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Seed(SeedArgs { profile: Profile::Templates, .. }))));
        assert!(Cli::try_parse_from(["certifyclouds", "seed", "--profile", "lorem"]).is_err());
    }
}
