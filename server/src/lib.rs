//! The CertifyClouds Audit process: configuration, the HTTP server and the commands.

pub mod config;
pub mod evidence;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod migrate;
pub mod operator;
pub mod seed;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;

use app::store::{self, OpenError, StoreError, VerifyReport};
use config::{Cli, Command, MigrateArgs, PurgeArgs, SettingsCommand, VerifyArgs, VerifyPackArgs};
use state::AppState;
use std::io::Write;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    #[error("seeding failed: {0}")]
    Seed(String),
    #[error("the audit log failed verification: {0}")]
    Verification(String),
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    #[error(transparent)]
    Operator(#[from] operator::OperatorError),
    #[error(transparent)]
    Key(#[from] app::checkpoint::KeyError),
    #[error(transparent)]
    Checkpoint(#[from] app::checkpoint::CheckpointError),
    #[error(transparent)]
    Setting(#[from] app::settings::SettingError),
    #[error(transparent)]
    Purge(#[from] app::purge_runs::PurgeError),
    #[error("cannot read {path}: {source}")]
    ReadPack { path: String, source: std::io::Error },
    #[error("the evidence pack failed verification: {0}")]
    Pack(#[from] evidence::PackProblem),
    #[error("the first admin could not be created ({ADMIN_PASSWORD_ENV}): {0}")]
    FirstAdmin(app::users::AccountError),
}

/// Where the first admin's password may be given; without it one is made up and printed.
pub const ADMIN_PASSWORD_ENV: &str = "CERTIFYCLOUDS_ADMIN_PASSWORD";

/// Runs the command the command line names.
pub async fn run(cli: Cli) -> Result<(), RunError> {
    let (integrity, database_url) = (cli.integrity.clone(), cli.database_url.clone());
    let signing = || signing(&integrity, &database_url);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let store = store::open(&cli.database_url).await?;
            first_admin(&store).await?;
            let signing = signing()?;
            let listener = tokio::net::TcpListener::bind(cli.serve.addr)
                .await
                .map_err(|source| RunError::Bind { addr: cli.serve.addr, source })?;
            let state = AppState::new(store, &cli.serve.site_root)
                .with_trusted_proxies(cli.serve.trusted_proxies.clone())
                .with_allowed_hosts(cli.serve.allowed_hosts.clone().listening_on(cli.serve.addr.ip()))
                .with_sign_in(cli.serve.sign_in_policy())
                .with_signing(signing)
                .with_purge(integrity.purge_schedule());
            let running = startup::start(listener, state).map_err(RunError::Serve)?;
            tracing::info!(addr = %running.addr, "serving http://{}/audit", running.addr);
            running.until(startup::stop_signal()).await.map_err(RunError::Serve)
        }
        Command::Token { action } => {
            let store = store::open(&cli.database_url).await?;
            let done = operator::tokens(&store, action, &mut std::io::stdout().lock()).await;
            store.maintenance.close().await;
            Ok(done?)
        }
        Command::User { action } => {
            let store = store::open(&cli.database_url).await?;
            let done = operator::run(&store, action, &mut std::io::stdout().lock()).await;
            store.maintenance.close().await;
            Ok(done?)
        }
        Command::Seed(args) => {
            let store = store::open(&cli.database_url).await?;
            let started = std::time::Instant::now();
            let added = seed::seed_store(store.log.as_ref(), &args, chrono::Utc::now()).await?;
            store.maintenance.optimize().await?;
            store.maintenance.close().await;
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                std::io::stdout(),
                "Seeded {added} events in {secs:.1}s ({:.0} events/s)",
                added as f64 / secs.max(1e-9)
            )
            .map_err(RunError::Output)
        }
        Command::Verify(VerifyArgs { expect_head, tree_size, checkpoints, verifier_key }) => {
            let (verifier_key, key_note) = match verifier_key {
                Some(key) => (Some(key), None),
                None => {
                    let path = integrity.key_path(&database_url);
                    match app::checkpoint::LogKey::load(&path)? {
                        Some(key) => (Some(key.verifier_key().to_owned()), None),
                        None => (None, Some(format!("no signing key at {} (give --verifier-key)", path.display()))),
                    }
                }
            };
            let outside = outside_checkpoints(&checkpoints, integrity.checkpoint_dir.as_deref())?;
            // Read-only: a mistyped path must not leave an empty database behind.
            let store = store::open_read_only(&cli.database_url).await?;
            let checked =
                app::verification::verify_integrity(&store, verifier_key.as_deref(), expect_head.as_ref(), &outside)
                    .await;
            let prefix = match (&checked, tree_size) {
                // Entries the purge removed are no longer there to hash: their tree is read
                // from the stored rows, which the verification just checked.
                (Ok(checked), Some(size)) if checked.is_intact() => {
                    Some(match checked.report.purged_runs.iter().any(|&(first, _)| first <= size) {
                        true => stored_tree_of_first(store.tree.as_ref(), size).await,
                        false => tree_of_first(store.log.as_ref(), size).await,
                    })
                }
                _ => None,
            };
            store.maintenance.close().await;
            let checked = checked?;
            print_report(&checked.report)?;
            print_checkpoints(&checked, key_note.as_deref())?;
            match prefix {
                Some(Ok(head)) => {
                    writeln!(std::io::stdout(), "Merkle tree (RFC 6962) of the first {} entries: {head}", head.size)
                        .map_err(RunError::Output)
                }
                Some(Err(e)) => Err(e),
                None => Ok(()),
            }
        }
        Command::Checkpoint => {
            let signing = signing()?;
            let store = store::open(&cli.database_url).await?;
            let done =
                app::checkpoint::checkpoint_now(store.tree.as_ref(), &signing.key, &signing.policy, chrono::Utc::now())
                    .await;
            store.maintenance.close().await;
            let done = done?;
            let mut out = std::io::stdout().lock();
            let head = done.checkpoint.head;
            let what = if done.new { "signed" } else { "unchanged: the latest checkpoint covers every entry" };
            write!(out, "{}", done.checkpoint.note)
                .and_then(|()| writeln!(out, "\nCheckpoint {what}: {head}"))
                .map_err(RunError::Output)
        }
        Command::Purge(PurgeArgs { dry_run }) => {
            let store = store::open(&cli.database_url).await?;
            let done = match dry_run {
                true => purge_preview(&store).await,
                false => match signing() {
                    Ok(signing) => purge_now(&store, &signing).await,
                    Err(e) => Err(e),
                },
            };
            store.maintenance.close().await;
            done
        }
        Command::Settings { action } => {
            let store = store::open(&cli.database_url).await?;
            let done = settings_command(&store, action).await;
            store.maintenance.close().await;
            done
        }
        Command::VerifyPack(VerifyPackArgs { file, verifier_key }) => {
            // Offline: no database, no key file, only the pack (and the key, if given).
            let bytes = std::fs::read(&file)
                .map_err(|source| RunError::ReadPack { path: file.display().to_string(), source })?;
            let checked = evidence::verify_pack(&bytes, verifier_key.as_deref())?;
            print_pack(&checked)
        }
        Command::MigrateStore(MigrateArgs { from, to }) => {
            let (source, target) = migrate::open(&from, &to).await?;
            let copied = migrate::copy((&source, &from), (&target, &to), &migrate::progress_bar()).await;
            // The key the source's server signs with (--signing-key, or its default beside
            // the source): the target's server needs it to extend the copied checkpoints.
            let key = match &copied {
                Ok(_) => {
                    let given = integrity.signing_key.is_some();
                    Some(migrate::signing_key::check(&target, &integrity.key_path(&from), given).await)
                }
                Err(_) => None,
            };
            source.maintenance.close().await;
            app::store::Maintenance::close(&target).await;
            print_copy(&copied?)?;
            match key.and_then(|key| key.advice()) {
                Some(advice) => writeln!(std::io::stdout(), "{advice}").map_err(RunError::Output),
                None => Ok(()),
            }
        }
    }
}

/// `purge --dry-run`: what a purge would delete now, deleting nothing.
async fn purge_preview(store: &store::Store) -> Result<(), RunError> {
    let days = retention_days(store).await?;
    let (cutoff, due) = app::purge_runs::due(store, days, chrono::Utc::now()).await?;
    writeln!(
        std::io::stdout(),
        "Dry run: with a retention of {days} days, a purge now would delete {due} entries (those before {}). \
         Nothing was deleted.",
        cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
    .map_err(RunError::Output)
}

/// `purge`: one purge now, recorded like the scheduled job's.
async fn purge_now(store: &store::Store, signing: &app::checkpoint::Signing) -> Result<(), RunError> {
    let days = retention_days(store).await?;
    let done = app::purge_runs::run(store, signing, days, chrono::Utc::now()).await?;
    let range = match (done.first, done.last) {
        (Some(first), Some(last)) => format!(" (sequence {first} to {last})"),
        _ => String::new(),
    };
    let checkpoint = match done.checkpoint {
        Some(head) => format!("; checkpoint signed over the {} entries of the tree", head.size),
        None => String::new(),
    };
    let archived = match &done.archive {
        Some(a) => format!("; archived first to {} (SHA-256 {})", a.file, a.sha256),
        None => String::new(),
    };
    writeln!(
        std::io::stdout(),
        "Purged {} entries older than {} days (before {}){range}{archived}{checkpoint}; recorded as {}.",
        done.deleted,
        done.retention_days,
        done.cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        done.entry_id
    )
    .map_err(RunError::Output)
}

/// The retention setting, in days.
async fn retention_days(store: &store::Store) -> Result<u32, RunError> {
    Ok(app::settings::retention_days(store).await?)
}

/// `settings get|set`: the values, or one change made and recorded like the pages'.
async fn settings_command(store: &store::Store, action: SettingsCommand) -> Result<(), RunError> {
    let mut out = std::io::stdout().lock();
    match action {
        SettingsCommand::Get { name } => {
            if let Some(name) = &name {
                app::settings::setting(name)?;
            }
            for (setting, value) in app::settings::current(store).await? {
                if name.as_deref().is_none_or(|n| n == setting.name) {
                    writeln!(out, "{} = {}  ({}; {})", setting.name, shown(&value), setting.label, setting.describe())
                        .map_err(RunError::Output)?;
                }
            }
            Ok(())
        }
        SettingsCommand::Set { name, value } => {
            let value = serde_json::Value::String(value);
            let changed = app::settings::change(store, operator::operator(), &name, &value, chrono::Utc::now()).await?;
            let said = match changed {
                Some(c) => {
                    writeln!(out, "{}: {} -> {} (recorded as {})", c.setting, shown(&c.old), shown(&c.new), c.entry_id)
                }
                None => writeln!(out, "{name}: unchanged (it already has that value; nothing recorded)"),
            };
            said.map_err(RunError::Output)
        }
    }
}

/// A setting's value as an operator reads it: text bare, none said.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What a pack that verifies proves, and with which key.
fn print_pack(checked: &evidence::PackCheck) -> Result<(), RunError> {
    let m = &checked.manifest;
    let range = match (&m.entries.first, &m.entries.last) {
        (Some(first), Some(last)) => format!(" ({first} to {last})"),
        _ => String::new(),
    };
    let files: Vec<&str> = m.files.keys().map(String::as_str).collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Evidence pack intact: {} entries{range}, each proven in the signed checkpoint of {} entries (root {}).\n\
         Every file matches the signed manifest: {}.\n\
         Generated {} by {}; {}; filters: {}.",
        m.entries.count,
        checked.checkpoint.size,
        m.checkpoint.root,
        files.join(", "),
        m.generated_at,
        m.generated_by,
        m.period,
        if m.filters.labels.is_empty() { "none".to_owned() } else { m.filters.labels.join("; ") },
    )
    .map_err(RunError::Output)?;
    let said = if checked.key_given {
        writeln!(out, "Signed by the key given: {}", checked.verifier_key)
    } else {
        writeln!(
            out,
            "Warning: checked with the pack's own key ({}). This proves the pack is whole, not whose log it is: \
             compare that key with the log's (GET /audit/integrity/public-key) or give --verifier-key.",
            checked.verifier_key
        )
    };
    said.map_err(RunError::Output)
}

/// The log's signing key (created on first start: said in the log, with its id and path,
/// never its content) and how checkpoints are made.
fn signing(args: &config::IntegrityArgs, database_url: &str) -> Result<app::checkpoint::Signing, RunError> {
    let path = args.key_path(database_url);
    let (key, created) = app::checkpoint::LogKey::load_or_create(&path, &args.log_origin)?;
    if created {
        tracing::info!(path = %path.display(), key_id = %key.key_id(), origin = key.origin(),
            "created the log's signing key (keep a copy of it: it signs every checkpoint)");
    }
    Ok(app::checkpoint::Signing { key, policy: args.policy() })
}

/// On a database that has never had a user: the `admin` account, with the password from
/// [`ADMIN_PASSWORD_ENV`] or one made up and printed once (never
/// through the log, which may be shipped elsewhere): on standard output, as the log
/// lines go to standard error.
async fn first_admin(store: &store::Store) -> Result<(), RunError> {
    let given = std::env::var(ADMIN_PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let Some(made) = app::users::first_admin(store, given).await.map_err(RunError::FirstAdmin)? else {
        return Ok(());
    };
    tracing::info!(username = %made.user.username, "created the first admin account");
    let mut out = std::io::stdout().lock();
    let shown = match &made.generated_password {
        Some(password) => writeln!(
            out,
            "\n  First start: created the admin account.\n    Username: {}\n    Password: {password}\n  \
             This password is shown only once: sign in and keep it safe (set {ADMIN_PASSWORD_ENV} to choose it).\n",
            made.user.username
        ),
        None => writeln!(
            out,
            "\n  First start: created the admin account '{}' with the password from {ADMIN_PASSWORD_ENV}.\n",
            made.user.username
        ),
    };
    shown.map_err(RunError::Output)
}

/// The stored tree's head of the first `size` entries (all of them if it holds fewer).
async fn stored_tree_of_first(tree: &dyn store::TreeStore, size: u64) -> Result<app::integrity::TreeHead, RunError> {
    let size = size.min(tree.tree_size().await?);
    let root = store::tree_answer(tree, app::integrity::TreeQuery::Root { size }).await?;
    Ok(app::integrity::TreeHead { size, root: root.first().copied().unwrap_or_default() })
}

/// The Merkle tree head of the log's first `size` entries (all of them if it holds fewer:
/// then the size printed says so).
async fn tree_of_first(log: &dyn store::AuditLog, size: u64) -> Result<app::integrity::TreeHead, RunError> {
    let mut tree = app::integrity::TreeBuilder::default();
    let mut after = 0;
    while after < size {
        let batch = log.entries_after(after, 1000).await?;
        let Some(last) = batch.last().map(|e| e.sequence) else { break };
        for entry in batch.iter().take_while(|e| e.sequence <= size) {
            tree.push(app::integrity::entry_leaf_hash(entry));
        }
        after = last;
    }
    Ok(tree.head())
}

/// What `migrate-store` prints once the copy is verified.
fn print_copy(copied: &migrate::Copied) -> Result<(), RunError> {
    let mut out = std::io::stdout().lock();
    let resumed = match copied.resumed_after {
        0 => String::new(),
        n => format!(" (resumed after entry {n}, copied before)"),
    };
    writeln!(
        out,
        "Copied {} entries{resumed} and {} API tokens, with {} users.",
        copied.entries, copied.tokens, copied.users
    )
    .map_err(RunError::Output)?;
    match &copied.head {
        Some(head) => writeln!(out, "The copy verifies: same chain, head {head}").map_err(RunError::Output)?,
        None => writeln!(out, "The source holds no entries.").map_err(RunError::Output)?,
    }
    let (m, checkpoints) = (&copied.configuration.mirrored, copied.configuration.checkpoints);
    writeln!(
        out,
        "Configuration mirrored: {} settings, {} subscriptions, {} delivery destinations, {} alert rules; {checkpoints} checkpoints added.",
        m.settings, m.subscriptions, m.destinations, m.alert_rules
    )
    .map_err(RunError::Output)
}

/// What `verify` prints: the problems (and a non-zero exit), or what was checked and the
/// head to pass as `--expect-head` next time.
/// Checkpoints kept outside the database: those published in the checkpoint directory,
/// and the files given.
fn outside_checkpoints(
    files: &[std::path::PathBuf],
    directory: Option<&std::path::Path>,
) -> Result<Vec<app::verification::OutsideCheckpoint>, RunError> {
    let mut outside: Vec<_> = directory
        .map(app::checkpoint::published)
        .unwrap_or_default()
        .into_iter()
        .map(|(source, note)| app::verification::OutsideCheckpoint { source, note })
        .collect();
    for path in files {
        let note = std::fs::read_to_string(path)
            .map_err(|e| RunError::Verification(format!("cannot read the checkpoint {}: {e}", path.display())))?;
        outside.push(app::verification::OutsideCheckpoint { source: path.display().to_string(), note });
    }
    Ok(outside)
}

/// What was checked of the checkpoints, after an intact report.
fn print_checkpoints(checked: &app::verification::Verification, key_note: Option<&str>) -> Result<(), RunError> {
    let mut out = std::io::stdout().lock();
    let how = match key_note {
        Some(note) => format!("their signatures were not checked: {note}"),
        None => "each signature verified with the log's public key".to_owned(),
    };
    writeln!(out, "Checkpoints: {} checked, {how}", checked.checkpoints).map_err(RunError::Output)?;
    if let Some(latest) = &checked.latest {
        let at = latest.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        writeln!(out, "Latest checkpoint: {}, signed at {at}", latest.head).map_err(RunError::Output)?;
    }
    Ok(())
}

fn print_report(report: &VerifyReport) -> Result<(), RunError> {
    if !report.is_intact() {
        let mut err = std::io::stderr().lock();
        for problem in &report.problems {
            writeln!(err, "problem: {problem}").map_err(RunError::Output)?;
        }
        let n = report.problems.len();
        return Err(RunError::Verification(format!(
            "{n} problem{} found ({} entries verified before the first broken link, if any)",
            if n == 1 { "" } else { "s" },
            report.entries
        )));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Audit log intact: {} entries verified (hash chain, search index, per-day and per-actor counts)",
        report.entries.saturating_sub(report.purged)
    )
    .map_err(RunError::Output)?;
    if report.purged > 0 {
        // What the retention purge removed, as it recorded it: gone, not missing.
        let runs = report.purged_runs_named(5);
        writeln!(out, "Purged by retention (recorded, not checked): {} entries: {runs}", report.purged)
            .map_err(RunError::Output)?;
    }
    if let Some(head) = &report.head {
        writeln!(out, "Head: {head}").map_err(RunError::Output)?;
    }
    if let Some(tree) = &report.tree {
        writeln!(out, "Merkle tree (RFC 6962): {tree}").map_err(RunError::Output)?;
    }
    Ok(())
}
