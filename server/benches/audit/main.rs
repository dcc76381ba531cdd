//! `make bench`: seeds two fresh stores with 1M events each, on SQLite, then on PostgreSQL (through the store, so
//! with the indexes, full-text search, per-day counts and the hash chain): the catalogue's
//! descriptions, and a small template vocabulary where a few words are in a third of all
//! entries. Then, through the real router: the first page of `GET /audit/entries` for
//! each filter and search, the Audit tab's own page, exports, bulk ingest at this size, a
//! mixed load of readers, producers and an export, and durable single-event ingest. The
//! figures go to this size's section of docs/benchmarks.md. `make bench` then runs the
//! store's own section at 10M entries on each engine (`BENCH_ONLY=store`, below).
//!
//! - `BENCH_ENTRIES` (or `BENCH_EVENTS`): entries per store (default 1,000,000; the 10M
//!   figures come from `BENCH_ENTRIES=10000000`).
//! - `BENCH_DATA=<dir>`: keep the seeded stores in `<dir>` and reuse them on the next run
//!   (seeding 10M takes minutes); the ingest rate is then not measured again.
//! - `BENCH_LOAD_SECS`: how long the mixed load runs (default 30).
//! - `BENCH_EXPORTS=0`: leave out the exports (at 10M they take minutes).
//! - `BENCH_ENGINE=postgres`: measure the PostgreSQL engine instead, on the server named by
//!   `CERTIFYCLOUDS_TEST_POSTGRES_URL` (`PG_DURABLE=1 scripts/with-postgres.sh` starts one
//!   with durable commits), in databases `bench_<profile>_<entries>`; its section of the
//!   report is "<entries> entries, PostgreSQL". `BENCH_DATA` (any value) keeps and reuses
//!   those databases, on a server that outlives the run (`with-postgres.sh` removes its
//!   own when the run ends).
//! - `BENCH_POOL_SIZE=<n>`: on PostgreSQL, the readers' pool size (`pool_size` in the URL).
//! - `BENCH_ONLY=store`: only the store's own section (ingest, first pages, searches,
//!   loads, the burst, exports), written; the purge and delivery sections are left as
//!   they are.
//! - `BENCH_ONLY=purge`: only the purge under load (its own section of the report, written).
//! - `BENCH_ONLY=delivery`: only delivery: rates to healthy receivers, the product while a
//!   destination is down, the catch-up after (its own section of the report, written).
//! - `BENCH_ONLY=templates` (or `catalogue`, `bulk`, `load`, `breakdown`, `export`, `storage`): time only those parts and print
//!   them, for a quick look; the report is left alone. `BENCH_CASE=<words>` keeps only
//!   the cases whose name holds them.

mod breakdown;
mod delivery;
mod export;
mod ingest;
mod load;
mod lock_waits;
mod memory;
mod purge;
mod report;
mod storage;

use app::accounts::Role;
use app::store::{self, NewSession, NewUser, Store};
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use server::config::Profile;
use server::seed::Generator;
use server::state::AppState;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;
use tower::ServiceExt;

pub const BATCH: usize = 1000;
const WARMUP: usize = 20;
const RUNS: usize = 200;

struct Case {
    name: &'static str,
    /// The path and query, e.g. `/audit/entries?q=vault`.
    uri: String,
    target_ms: f64,
}

fn entries(query: &str) -> String {
    format!("/audit/entries?{query}")
}

/// The engine a run measures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    /// The URL of a database on the server (any one: each store gets its own database).
    Postgres(String),
}

impl Engine {
    fn from_env() -> Self {
        match std::env::var("BENCH_ENGINE").as_deref() {
            Ok("postgres") => Engine::Postgres(
                std::env::var("CERTIFYCLOUDS_TEST_POSTGRES_URL")
                    .expect("BENCH_ENGINE=postgres needs a server: run under scripts/with-postgres.sh"),
            ),
            _ => Engine::Sqlite,
        }
    }

    /// The store as the report's machine line names it.
    fn store(&self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite (bundled) in WAL mode",
            Engine::Postgres(_) => "PostgreSQL (Debian's, a private server with fsync on, shared_buffers 1 GB)",
        }
    }

    /// What the report calls it, after the size in a section's title.
    fn title(&self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres(_) => ", PostgreSQL",
        }
    }
}

/// A seeded store, and how fast it was filled (`None` when an earlier run's was reused).
struct Seeded {
    store: Store,
    /// The store's database URL.
    url: String,
    ingest: Option<(f64, f64)>,
    /// Where the store's time went while it was filled.
    phases: Option<app::store::AppendPhases>,
    _dir: Option<tempfile::TempDir>,
}

async fn seeded(profile: Profile, events: u64, until: DateTime<Utc>) -> Seeded {
    seeded_in(std::env::var_os("BENCH_DATA").map(PathBuf::from), profile, events, until).await
}

/// A store of `events` entries in `data` (reused when there) or in a new temporary folder;
/// on PostgreSQL, in a database of its own.
async fn seeded_in(data: Option<PathBuf>, profile: Profile, events: u64, until: DateTime<Utc>) -> Seeded {
    let kind = if profile == Profile::Templates { "templates" } else { "catalogue" };
    let name = format!("{kind}-{events}.db");
    let (url, reuse, dir) = match Engine::from_env() {
        Engine::Sqlite => {
            let (path, dir) = match data {
                Some(data) => (data.join(&name), None),
                None => {
                    let dir = tempfile::tempdir().expect("temp dir");
                    (dir.path().join(&name), Some(dir))
                }
            };
            (format!("sqlite:{}", path.display()), path.exists(), dir)
        }
        Engine::Postgres(server) => {
            let (url, reuse) = postgres_database(&server, &format!("bench_{kind}_{events}"), data.is_some()).await;
            (url, reuse, None)
        }
    };
    // The readers' pool size of a PostgreSQL store, when given (not part of `url`, which
    // psql is also given).
    let opened = match (std::env::var("BENCH_POOL_SIZE"), store::is_postgres(&url)) {
        (Ok(size), true) => format!("{url}?pool_size={size}"),
        _ => url.clone(),
    };
    let store = store::open(&opened).await.expect("store opens");
    let mut ingest = None;
    let mut phases = None;
    if !reuse {
        // Generation is timed apart so that the figure is the store's own rate.
        let mut generator = Generator::new(events, 90, 2025, until).profile(profile);
        let mut store_time = std::time::Duration::ZERO;
        let started = Instant::now();
        loop {
            let batch: Vec<_> = generator.by_ref().take(BATCH).collect::<Result<_, _>>().expect("generated");
            if batch.is_empty() {
                break;
            }
            let t = Instant::now();
            store.log.append(batch).await.expect("append");
            store_time += t.elapsed();
        }
        let rate = events as f64 / store_time.as_secs_f64();
        eprintln!("{name}: ingested {events} events, {rate:.0} events/s in the store");
        ingest = Some((rate, started.elapsed().as_secs_f64()));
        phases = Some(store.maintenance.append_phases());
    }
    store.maintenance.optimize().await.expect("statistics");
    Seeded { store, url, ingest, phases, _dir: dir }
}

/// The URL of database `name` on the server of `server`, and whether it already holds a
/// seeded store to reuse (only when `keep`); otherwise it is created empty.
async fn postgres_database(server: &str, name: &str, keep: bool) -> (String, bool) {
    use sqlx::Connection;
    let (base, _) = server.rsplit_once('/').expect("a database URL");
    let url = format!("{base}/{name}");
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connects to the server");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("lists databases");
    if exists && keep {
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connects");
        let seeded: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM audit_head").fetch_optional(&mut conn).await.ok().flatten();
        if seeded.unwrap_or(0) > 0 {
            return (url, true);
        }
    }
    for sql in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        sqlx::query(&sql).execute(&mut admin).await.expect("recreates the database");
    }
    (url, false)
}

#[tokio::main]
async fn main() {
    // Warnings (slow appends and purge steps, with where their time went) go to stderr.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let events: u64 =
        ["BENCH_ENTRIES", "BENCH_EVENTS"].iter().find_map(|v| std::env::var(v).ok()?.parse().ok()).unwrap_or(1_000_000);
    let load_secs: u64 = std::env::var("BENCH_LOAD_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let until = Utc::now();
    let day = |days_ago: i64| (until - Duration::days(days_ago)).date_naive().to_string();

    let only = std::env::var("BENCH_ONLY").ok();
    let store_only = only.as_deref() == Some("store");
    if let Some(only) = only.filter(|_| !store_only) {
        if only == "purge" {
            return purge_section(events, until).await;
        }
        if only == "delivery" {
            return delivery_section(events, until).await;
        }
        return quick(&only, events, until).await;
    }
    let catalogue = seeded(Profile::Catalogue, events, until).await;
    let token = tokens::generate();
    let scopes = [Scope::Read, Scope::Ingest];
    catalogue
        .store
        .tokens
        .create_token(&format!("bench-{}", until.timestamp_micros()), &scopes, &tokens::hash(&token))
        .await
        .expect("token");
    let app = server::http::app(AppState::new(catalogue.store.clone(), "target/site"));

    let templates = seeded(Profile::Templates, events, until).await;
    templates
        .store
        .tokens
        .create_token(&format!("bench-{}", until.timestamp_micros()), &scopes, &tokens::hash(&token))
        .await
        .expect("token");
    let templated = server::http::app(AppState::new(templates.store.clone(), "target/site"));

    // What each store takes on disk, before the load below adds to the catalogue store.
    let mut storage_rows = String::new();
    for (name, seeded) in [("catalogue", &catalogue), ("templates", &templates)] {
        storage_rows.push_str(&storage::row(name, &seeded.url, entries_in(&seeded.store).await).await);
    }
    let (catalogue_cases, template_cases) = cases(until);
    let catalogue_session = auditor_session(&catalogue.store).await;
    let template_session = auditor_session(&templates.store).await;
    let catalogue_rows = time_cases(&app, &token, &catalogue_session, &catalogue_cases).await;
    let template_rows = time_cases(&templated, &token, &template_session, &template_cases).await;

    let exports = if std::env::var("BENCH_EXPORTS").is_ok_and(|v| v == "0") {
        "\n### Export\n\nNot measured in this run (`BENCH_EXPORTS=0`).\n".to_owned()
    } else {
        export::export_section(&app, &token, &catalogue.url, day).await
    };
    let bulk_batches = 15;
    let bulk = ingest::bulk_rate(&app, &token, bulk_batches).await;
    eprintln!("bulk ingest at {events}: {bulk:.0} events/s");
    let engine = Engine::from_env();
    // The breakdown's scratch stores and the durable-ingest figures are SQLite's own.
    let breakdown = match engine {
        Engine::Sqlite => breakdown::section(catalogue.phases.as_ref(), Some(bulk), until).await,
        Engine::Postgres(_) => String::new(),
    };
    let mixed_queries: Vec<String> = catalogue_cases
        .iter()
        .filter_map(|c| c.uri.strip_prefix("/audit/entries?").map(str::to_owned))
        .chain(["q=contoso", "q=rotation+failed", "severity=warning&q=vault"].map(String::from))
        .collect();
    let before_load = entries_in(&catalogue.store).await;
    let fair = load::run(&app, &token, &mixed_queries, load_secs, false).await;
    let mixed = load::run(&app, &token, &mixed_queries, load_secs, true).await;
    let burst = entries_in(&catalogue.store).await - before_load;
    let after_burst_rows = time_cases(&app, &token, &catalogue_session, &catalogue_cases).await;
    let small = small_store_load(&mixed_queries, load_secs, until).await;
    let durable = match engine {
        Engine::Sqlite => ingest::durable_ingest_section().await,
        Engine::Postgres(_) => String::new(),
    };

    let ingest_rows: String = [("catalogue", &catalogue), ("templates", &templates)]
        .iter()
        .map(|(name, s)| match s.ingest {
            Some((rate, wall)) => format!(
                "| store ingest, {name} profile | {rate:.0} events/s ({wall:.1} s wall with generation) | ≥ 40,000 events/s ({}) |\n",
                if rate >= 40_000.0 { "met" } else { "**not met**" }
            ),
            None => format!("| store ingest, {name} profile | not measured: the store of an earlier run was reused (`BENCH_DATA`) | |\n"),
        })
        .collect();
    let section = format!(
        "## {events} entries{engine}\n\n\
         Measured on {date}. Machine: {machine}.\n\n\
         ### Ingest\n\n\
         Seeded events over 90 days, appended through `AuditLog::append` in batches of {BATCH} (the indexes, \
         full-text search, per-day counts and the SHA-256 hash chain), and {BATCH}-event batches posted over \
         HTTP by two clients into the seeded store ({n} events).\n\n\
         | measure | value | target |\n|---|---|---|\n{ingest_rows}\
         | bulk ingest over HTTP at this size, 2 clients | {bulk:.0} events/s | ≥ 20,000 events/s ({bulk_ok}) |\n\
         {storage_rows}\n\
         {breakdown}\n\
         ### First page of `GET /audit/entries`, catalogue profile\n\n\
         Through the real axum router in-process (token check, validation, query, total, JSON), \
         {RUNS} runs after {WARMUP} warm-up runs, limit 50.\n\n\
         | case | query | total | p50 ms | p95 ms | target p95 ms | met |\n|---|---|---|---|---|---|---|\n{catalogue_rows}\n\
         ### Searches, template profile\n\n\
         Descriptions from a small vocabulary: \"vault\", \"rotation\" and \"failed\" are each in about a third of \
         all entries. A total marked `+` is a bound (`total_exact: false`): counting stopped there.\n\n\
         | case | query | total | p50 ms | p95 ms | target p95 ms | met |\n|---|---|---|---|---|---|---|\n{template_rows}\n\
         {load}\n\
         ### The same filters after a burst\n\n\
         The load above appended {burst} entries to the newest day, nearly all of one event type \
         (`rotation.completed` by `rotation-worker`), as a misbehaving service would. The first-page cases \
         again, on the catalogue store with that burst: the planner reads the per-day counts and walks \
         around it instead of through it.\n\n\
         | case | query | total | p50 ms | p95 ms | target p95 ms | met |\n|---|---|---|---|---|---|---|\n{after_burst_rows}\n\
         {small}\n\
         {exports}\n{durable}",
        engine = engine.title(),
        date = until.format("%Y-%m-%d"),
        machine = memory::machine(engine.store()),
        n = 2 * bulk_batches * BATCH,
        bulk_ok = if bulk >= 20_000.0 { "met" } else { "**not met**" },
        load = load_section(&fair, &mixed, mixed_queries.len()),
    );
    let marker = match engine {
        Engine::Sqlite => format!("bench:{events}"),
        Engine::Postgres(_) => format!("bench:{events}:postgres"),
    };
    report::write_section(&marker, &section);
    catalogue.store.maintenance.close().await;
    templates.store.maintenance.close().await;
    if !store_only {
        purge_section(events, until).await;
        delivery_section(events, until).await;
    }
}

/// The purge under load, in a section of its own (`BENCH_ONLY=purge` runs only this).
async fn purge_section(events: u64, until: DateTime<Utc>) {
    write_engine_section("purge", events, &purge::section(events, until).await);
}

/// Delivery to destinations, and the product while one is down (`BENCH_ONLY=delivery`).
async fn delivery_section(events: u64, until: DateTime<Utc>) {
    write_engine_section("delivery", events, &delivery::section(events, until).await);
}

/// Writes the section `part` of this size on this run's engine.
fn write_engine_section(part: &str, events: u64, section: &str) {
    let marker = match Engine::from_env() {
        Engine::Sqlite => format!("bench:{part}:{events}"),
        Engine::Postgres(_) => format!("bench:{part}:{events}:postgres"),
    };
    report::write_section(&marker, section);
}

/// Readers and single-event producers, as in the load above, on a freshly seeded store of
/// 100k entries (the size the issue states its read target at; always a new temporary
/// store, so earlier runs' bursts do not weigh on it).
async fn small_store_load(queries: &[String], secs: u64, until: DateTime<Utc>) -> String {
    const SMALL: u64 = 100_000;
    let small = seeded_in(None, Profile::Catalogue, SMALL, until).await;
    let token = tokens::generate();
    small
        .store
        .tokens
        .create_token("bench-small", &[Scope::Read, Scope::Ingest], &tokens::hash(&token))
        .await
        .expect("token");
    let app = server::http::app(AppState::new(small.store.clone(), "target/site"));
    let fair = load::run(&app, &token, queries, secs, false).await;
    small.store.maintenance.close().await;
    format!(
        "### Readers and writers at once, {SMALL} entries\n\n\
         The same readers and producers for {secs:.0} s, against a freshly seeded catalogue store of {SMALL} \
         entries.\n\n\
         | requests | count | items | throughput | p50 ms | p99 ms | errors | target |\n|---|---|---|---|---|---|---|---|\n\
         {rows}",
        secs = fair.secs,
        rows = fair_rows(&fair),
    )
}

async fn entries_in(store: &Store) -> u64 {
    store.log.count(&app::filter::EntryFilter::default()).await.expect("count")
}

/// The cases timed for each profile.
fn cases(until: DateTime<Utc>) -> (Vec<Case>, Vec<Case>) {
    let day = |days_ago: i64| (until - Duration::days(days_ago)).date_naive().to_string();
    let catalogue = vec![
        Case { name: "no filter", uri: entries(""), target_ms: 10.0 },
        Case {
            name: "date range (7 days)",
            uri: entries(&format!("start_date={}&end_date={}", day(8), day(1))),
            target_ms: 10.0,
        },
        Case { name: "event type (exact, rare)", uri: entries("event_type=rotation.failed"), target_ms: 10.0 },
        Case { name: "event type (prefix auth.*)", uri: entries("event_type=auth.*"), target_ms: 10.0 },
        Case { name: "actor (one user)", uri: entries("actor=alice.nguyen%40contoso.com"), target_ms: 10.0 },
        Case { name: "actor (system)", uri: entries("actor=system"), target_ms: 10.0 },
        Case { name: "severity (error)", uri: entries("severity=error"), target_ms: 10.0 },
        Case {
            name: "all filters but search",
            uri: entries(&format!(
                "start_date={}&end_date={}&event_type=rotation.*&actor=rotation-worker&severity=error",
                day(30),
                day(1)
            )),
            target_ms: 10.0,
        },
        // Combinations no single index serves: each part is common, together they are rare.
        Case {
            name: "prefix + severity + one user",
            uri: entries("event_type=auth.*&severity=warning&actor=alice.nguyen%40contoso.com"),
            target_ms: 10.0,
        },
        Case {
            name: "prefix + severity + service",
            uri: entries("event_type=rotation.*&severity=info&actor=rotation-worker"),
            target_ms: 10.0,
        },
        Case {
            name: "two prefixes + two severities, 30 days",
            uri: entries(&format!(
                "event_type=auth.*&event_type=secret.*&severity=warning,error&start_date={}",
                day(30)
            )),
            target_ms: 10.0,
        },
        Case {
            name: "prefix + severity + user, page 40",
            uri: entries("event_type=auth.*&severity=warning&actor=alice.nguyen%40contoso.com&offset=2000"),
            target_ms: 10.0,
        },
        Case {
            name: "all filters and search",
            uri: entries(&format!(
                "start_date={}&end_date={}&event_type=rotation.*&actor=rotation-worker&severity=error&q=stripe",
                day(30),
                day(1)
            )),
            target_ms: 20.0,
        },
        Case { name: "search q=stripe", uri: entries("q=stripe"), target_ms: 20.0 },
        Case { name: "search q=kv-prod-payments", uri: entries("q=kv-prod-payments"), target_ms: 20.0 },
        Case { name: "search q=alice", uri: entries("q=alice"), target_ms: 20.0 },
        Case { name: "offset=10000", uri: entries("offset=10000"), target_ms: 10.0 },
        Case { name: "deep page, offset=500000", uri: entries("offset=500000"), target_ms: 10.0 },
        Case {
            name: "deep filtered page",
            uri: entries("severity=info&event_type=auth.*&offset=200000"),
            target_ms: 10.0,
        },
    ];
    let templates = vec![
        Case { name: "common word q=vault", uri: entries("q=vault"), target_ms: 20.0 },
        Case { name: "two common words q=vault+failed", uri: entries("q=vault+failed"), target_ms: 20.0 },
        Case { name: "common prefix q=rot", uri: entries("q=rot"), target_ms: 20.0 },
        Case { name: "common word + severity", uri: entries("q=failed&severity=error"), target_ms: 20.0 },
        Case { name: "common word + prefix", uri: entries("q=vault&event_type=auth.*"), target_ms: 20.0 },
        Case {
            name: "two common words + one user",
            uri: entries("q=vault+failed&actor=alice.nguyen%40contoso.com"),
            target_ms: 20.0,
        },
        Case { name: "common word, page 20", uri: entries("q=vault&offset=1000"), target_ms: 20.0 },
        Case {
            name: "Audit tab page /audit?q=vault (rows, total, timeline)",
            uri: "/audit?q=vault".into(),
            target_ms: 150.0,
        },
        Case { name: "Audit tab timeline of q=vault", uri: "timeline:q=vault".into(), target_ms: 150.0 },
        Case { name: "Audit tab timeline of q=vault+failed", uri: "timeline:q=vault+failed".into(), target_ms: 150.0 },
        Case {
            name: "Audit tab page /audit?q=vault+failed&severity=error",
            uri: "/audit?q=vault+failed&severity=error".into(),
            target_ms: 150.0,
        },
    ];
    (catalogue, templates)
}

/// Only the parts named, printed and not written down.
async fn quick(only: &str, events: u64, until: DateTime<Utc>) {
    let token = tokens::generate();
    for part in only.split(',') {
        let profile = if part == "templates" { Profile::Templates } else { Profile::Catalogue };
        let seeded = seeded(profile, events, until).await;
        let name = format!("quick-{}", Utc::now().timestamp_micros());
        seeded
            .store
            .tokens
            .create_token(&name, &[Scope::Read, Scope::Ingest], &tokens::hash(&token))
            .await
            .expect("token");
        let app = server::http::app(AppState::new(seeded.store.clone(), "target/site"));
        let (catalogue, mut templates) = cases(until);
        let mut catalogue = catalogue;
        if let Ok(only) = std::env::var("BENCH_CASE") {
            templates.retain(|c| c.name.contains(only.as_str()));
            catalogue.retain(|c| c.name.contains(only.as_str()));
        }
        match part {
            "templates" => drop(time_cases(&app, &token, &auditor_session(&seeded.store).await, &templates).await),
            "catalogue" => drop(time_cases(&app, &token, &auditor_session(&seeded.store).await, &catalogue).await),
            "bulk" => eprintln!("bulk ingest: {:.0} events/s", ingest::bulk_rate(&app, &token, 15).await),
            "storage" => eprint!("{}", storage::row("catalogue", &seeded.url, entries_in(&seeded.store).await).await),
            "breakdown" => eprintln!("{}", breakdown::section(seeded.phases.as_ref(), None, until).await),
            "export" => {
                let day = |days_ago: i64| (until - Duration::days(days_ago)).date_naive().to_string();
                eprintln!("{}", export::export_section(&app, &token, &seeded.url, day).await)
            }
            _ => {
                let queries: Vec<String> =
                    catalogue.iter().filter_map(|c| c.uri.strip_prefix("/audit/entries?").map(str::to_owned)).collect();
                let fair = load::run(&app, &token, &queries, 30, false).await;
                let mixed = load::run(&app, &token, &queries, 30, true).await;
                eprintln!("{}", load_section(&fair, &mixed, queries.len()));
            }
        }
        // Closing checkpoints the WAL back into the file: the next run starts without
        // gigabytes of it to copy back while it times.
        seeded.store.maintenance.close().await;
    }
}

/// An auditor signed in, made straight in the store: the session cookie's value, for the
/// Audit tab's page and its server functions (API tokens are for the REST API only).
async fn auditor_session(store: &Store) -> String {
    let n = store.accounts.highest_user_id().await.expect("reads users") + 1;
    let new = NewUser {
        username: format!("bench-auditor-{n}"),
        display_name: format!("Bench auditor {n}"),
        role: Role::Auditor,
        password_hash: "not-a-hash".into(),
    };
    let user = store.accounts.create_user(&new, Utc::now()).await.expect("stores a user");
    let session = format!("ccs_bench_{}", tokens::generate());
    let new = NewSession {
        token_hash: &app::signin::token_hash(&session),
        user_id: user.id,
        now: Utc::now(),
        ip_address: None,
        user_agent: None,
    };
    store.sessions.create_session(&new).await.expect("stores a session");
    session
}

/// One row of a load table; the target column only where the table has one.
fn load_row(name: &str, f: &load::Figures, unit: &str, target: Option<&str>) -> String {
    let target = target.map_or(String::new(), |t| format!(" {t} |"));
    format!(
        "| {name} | {} | {} | {:.0} {unit}/s | {:.1} | {:.1} | {} |{target}\n",
        f.requests, f.items, f.per_sec, f.p50_ms, f.p99_ms, f.errors
    )
}

/// The reads and single-event posts of a load without batches or exports, with targets.
fn fair_rows(fair: &load::Load) -> String {
    let writes_ok = fair.writes.per_sec >= 500.0 && fair.writes.p99_ms <= 100.0 && fair.writes.errors == 0;
    let reads_ok = fair.reads.p99_ms <= 250.0 && fair.reads.errors == 0;
    load_row("reads", &fair.reads, "pages", Some(&format!("p99 ≤ 250 ms, 0 errors ({})", met(reads_ok))))
        + &load_row(
            "single-event posts",
            &fair.writes,
            "events",
            Some(&format!("≥ 500 events/s, p99 ≤ 100 ms, 0 errors ({})", met(writes_ok))),
        )
}

fn load_section(fair: &load::Load, mixed: &load::Load, queries: usize) -> String {
    format!(
        "### Readers and writers at once\n\n\
         {readers} readers cycling through {queries} filters, searches and pages with no pause, and {producers} \
         producers posting one event at a time (each answered after its durable commit), all at once for \
         {secs:.0} s through the router, against the catalogue store. Any answer but success is an error.\n\n\
         | requests | count | items | throughput | p50 ms | p99 ms | errors | target |\n|---|---|---|---|---|---|---|---|\n\
         {fair}\n\
         The full mix: the same, with one client posting {BATCH}-event batches and one CSV export of the last \
         3 days running again and again (no targets: it shows how the work shares two cores).\n\n\
         | requests | count | items | throughput | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|\n\
         {mixed_rows}",
        readers = load::READERS,
        producers = load::PRODUCERS,
        secs = fair.secs,
        fair = fair_rows(fair),
        mixed_rows = [
            ("reads", &mixed.reads, "pages"),
            ("single-event posts", &mixed.writes, "events"),
            ("1000-event batches", &mixed.batches, "events"),
            ("CSV exports", &mixed.exports, "bytes"),
        ]
        .iter()
        .map(|(name, f, unit)| load_row(name, f, unit, None))
        .collect::<String>(),
    )
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

/// Times each case and returns its table rows. A `timeline:` case calls the Audit tab's
/// timeline server function with that query, as the page does.
async fn time_cases(app: &axum::Router, token: &str, session: &str, cases: &[Case]) -> String {
    let mut rows = String::new();
    for case in cases {
        let mut samples = Vec::with_capacity(RUNS);
        let mut total = String::new();
        let mut first = 0.0;
        // A case far over its target is timed fewer times: its figure is plain anyway.
        let (mut warmup, mut runs) = (WARMUP, RUNS);
        let mut i = 0;
        while i < warmup + runs {
            let request = match case.uri.strip_prefix("timeline:") {
                Some(query) => Request::post("/api/audit_timeline")
                    .header("cookie", format!("cc_session={session}"))
                    .header("sec-fetch-site", "same-origin")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(format!(
                        "query={}",
                        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
                    )))
                    .expect("request"),
                // The REST API with a token; the Audit tab's page as the person signed in.
                None if case.uri.starts_with("/audit/") => Request::get(&case.uri)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("request"),
                None => Request::get(&case.uri)
                    .header("cookie", format!("cc_session={session}"))
                    .header("sec-fetch-site", "same-origin")
                    .body(Body::empty())
                    .expect("request"),
            };
            let t = Instant::now();
            let response = app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            let elapsed = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(status, StatusCode::OK, "{}: {}", case.uri, String::from_utf8_lossy(&body));
            if i == 0 {
                first = elapsed;
            }
            if i == 0 && elapsed > 20.0 * case.target_ms {
                (warmup, runs) = (1, 10);
            }
            if i >= warmup {
                samples.push(elapsed);
            }
            if i == 0 && case.uri.starts_with("/audit/entries") {
                let page: serde_json::Value = serde_json::from_slice(&body).expect("json");
                let bound = if page["total_exact"] == false { "+" } else { "" };
                total = format!("{}{bound}", page["total"].as_u64().unwrap_or(0));
            }
            i += 1;
        }
        samples.sort_by(f64::total_cmp);
        let p50 = samples[samples.len() / 2];
        let p95 = samples[samples.len() * 95 / 100];
        eprintln!(
            "{:<40} total {:>9}  p50 {:>7.2} ms  p95 {:>7.2} ms  first {first:>7.2} ms  (target {} ms)",
            case.name, total, p50, p95, case.target_ms
        );
        let shown = case.uri.strip_prefix("/audit/entries?").unwrap_or(&case.uri);
        // A first run far slower than the rest did work the later ones reuse: say so.
        let cold = if first > 2.0 * p95 { format!(" (first run {first:.0} ms)") } else { String::new() };
        let _ = writeln!(
            rows,
            "| {}{}{cold} | `{}` | {total} | {p50:.2} | {p95:.2} | ≤ {} | {} |",
            case.name,
            if runs < RUNS { format!(" ({runs} runs)") } else { String::new() },
            if shown.is_empty() { "(none)" } else { shown },
            case.target_ms,
            if p95 <= case.target_ms { "yes" } else { "**no**" }
        );
    }
    rows
}

/// `GET` through the router with the token.
pub async fn request(app: &axum::Router, token: &str, uri: &str) -> axum::response::Response {
    let request =
        Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).expect("request");
    app.clone().oneshot(request).await.expect("response")
}
