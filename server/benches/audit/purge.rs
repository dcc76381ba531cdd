//! The retention purge under load: a fresh store of `events` entries spread over 130 days,
//! of which the 39 oldest days (about 30%) are due with a retention of 91 days. One client
//! reads first pages with no pause and another posts single events, first for a quiet
//! spell, then while the purge deletes what is due: the p95 of each, quiet and during the
//! purge, and the purge's own rate. Target: each p95 during the purge within 2x of its quiet
//! figure.

use crate::load::send;
use crate::lock_waits::{LockWaits, Mark};
use crate::{memory, Engine, BATCH};
use app::purge_runs;
use app::store::Store;
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use server::seed::Generator;
use server::state::AppState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPAN_DAYS: u32 = 130;
const RETENTION_DAYS: u32 = 91;
const QUIET: Duration = Duration::from_secs(20);

/// The first pages the reader cycles through.
pub const PAGES: &[&str] = &[
    "limit=50",
    "severity=error&limit=50",
    "event_type=auth.*&limit=50",
    "actor=rotation-worker&limit=50",
    "q=vault&limit=50",
];

/// Latencies of one client, in milliseconds, and its errors.
#[derive(Default)]
pub struct Client {
    pub ms: Vec<f64>,
    pub errors: usize,
}

impl Client {
    pub fn p95(&mut self) -> f64 {
        self.ms.sort_by(f64::total_cmp);
        self.ms.get(((self.ms.len().max(1) - 1) as f64 * 0.95) as usize).copied().unwrap_or(0.0)
    }

    pub fn max(&self) -> f64 {
        self.ms.iter().copied().fold(0.0, f64::max)
    }

    /// Requests that took longer than the 50 ms bound.
    pub fn over_bound(&self) -> usize {
        self.ms.iter().filter(|&&ms| ms > 50.0).count()
    }
}

/// The reader and the poster, until `stop` is set: their latencies.
pub async fn clients(app: &axum::Router, token: &str, stop: Arc<AtomicBool>) -> (Client, Client) {
    let (app_r, token_r, stop_r) = (app.clone(), token.to_owned(), stop.clone());
    let reader = tokio::spawn(async move {
        let mut c = Client::default();
        let mut i = 0;
        while !stop_r.load(Ordering::Relaxed) {
            let uri = format!("/audit/entries?{}", PAGES[i % PAGES.len()]);
            i += 1;
            let (status, ms, _) = send(&app_r, Request::get(uri), &token_r, Body::empty()).await;
            c.ms.push(ms);
            c.errors += usize::from(status != StatusCode::OK);
        }
        c
    });
    let (app_w, token_w) = (app.clone(), token.to_owned());
    let writer = tokio::spawn(async move {
        let mut c = Client::default();
        let mut n = 90_000_000;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let body = Body::from(crate::ingest::one_event(n).to_string());
            let (status, ms, _) = send(&app_w, Request::post("/audit/events"), &token_w, body).await;
            c.ms.push(ms);
            c.errors += usize::from(status != StatusCode::CREATED);
        }
        c
    });
    (reader.await.expect("reader"), writer.await.expect("writer"))
}

/// The reader and the poster for [`QUIET`], with no purge.
async fn quiet_spell(app: &axum::Router, token: &str) -> (Client, Client) {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(QUIET).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let spell = clients(app, token, stop).await;
    timer.await.expect("timer");
    spell
}

/// A fresh store of `events` entries over [`SPAN_DAYS`] days before `until`.
pub async fn fresh(events: u64, until: DateTime<Utc>) -> (Store, Option<tempfile::TempDir>) {
    let (url, dir) = match Engine::from_env() {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (format!("sqlite:{}", dir.path().join("purge.db").display()), Some(dir))
        }
        Engine::Postgres(server) => {
            let name = format!("bench_purge_{}", until.timestamp());
            (crate::postgres_database(&server, &name, false).await.0, None)
        }
    };
    let store = app::store::open(&url).await.expect("store opens");
    let mut generator = Generator::new(events, SPAN_DAYS, 4242, until);
    loop {
        let batch: Vec<_> = generator.by_ref().take(BATCH).collect::<Result<_, _>>().expect("generated");
        if batch.is_empty() {
            break;
        }
        store.log.append(batch).await.expect("append");
    }
    store.maintenance.optimize().await.expect("statistics");
    (store, dir)
}

/// The section of the report.
pub async fn section(events: u64, until: DateTime<Utc>) -> String {
    let (store, _dir) = fresh(events, until).await;
    let token = tokens::generate();
    store
        .tokens
        .create_token("bench-purge", &[Scope::Read, Scope::Ingest], &tokens::hash(&token))
        .await
        .expect("token");
    let state = AppState::new(store.clone(), "target/site");
    let signing = state.signing.clone();
    let app = server::http::app(state);
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(RETENTION_DAYS));
    let due = store.retention.purge_due(cutoff).await.expect("counts");

    let waits = match Engine::from_env() {
        Engine::Postgres(server) => LockWaits::start(&server).await,
        Engine::Sqlite => None,
    };
    let mark = || waits.as_ref().map(LockWaits::mark);
    let before_quiet = mark();
    let (mut quiet_reads, mut quiet_posts) = quiet_spell(&app, &token).await;
    let before_purge = mark();

    let stop = Arc::new(AtomicBool::new(false));
    let purging = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let run = purge_runs::run(&store, &signing, RETENTION_DAYS, Utc::now()).await.expect("purges");
            let secs = started.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            (run.deleted, secs)
        })
    };
    let (mut busy_reads, mut busy_posts) = clients(&app, &token, stop).await;
    let (deleted, secs) = purging.await.expect("purge");
    let after_purge = mark();
    // Quiet again: the store now holds what was posted during the purge, so this tells what
    // that growth did to the same requests, apart from the purge.
    let (mut after_reads, mut after_posts) = quiet_spell(&app, &token).await;
    let end = mark();
    store.maintenance.close().await;
    let lock_waits = match (waits, before_quiet, before_purge, after_purge, end) {
        (Some(waits), Some(a), Some(b), Some(c), Some(d)) => {
            let table = lock_wait_table(&waits, [("quiet", a, b), ("purging", b, c), ("quiet after", c, d)]);
            waits.stop().await;
            table
        }
        _ => String::new(),
    };

    let row = |name: &str, quiet: &mut Client, busy: &mut Client, after: &mut Client| {
        let (q, b, a) = (quiet.p95(), busy.p95(), after.p95());
        let (ratio, ratio_after) = (b / q.max(0.001), b / a.max(0.001));
        let (quiet_max, busy_max) = (quiet.max(), busy.max());
        format!(
            "| {name} | {} | {q:.1} | {quiet_max:.1} | {} | {} | {b:.1} | {busy_max:.1} | {} | {a:.1} | {ratio:.2}x | {ratio_after:.2}x | {} | p95 ≤ 2x ({}) |\n",
            quiet.ms.len(),
            quiet.over_bound(),
            busy.ms.len(),
            busy.over_bound(),
            quiet.errors + busy.errors + after.errors,
            if ratio <= 2.0 { "met" } else { "**not met**" }
        )
    };
    let reads = row("first pages (one reader, no pause)", &mut quiet_reads, &mut busy_reads, &mut after_reads);
    let posts = row("single-event posts (one client)", &mut quiet_posts, &mut busy_posts, &mut after_posts);
    format!(
        "## Purge under load, {events} entries{engine}\n\n\
         Measured on {date}. Machine: {machine}.\n\n\
         A fresh store of {events} entries over {SPAN_DAYS} days; a retention of {RETENTION_DAYS} days makes \
         {due} of them due. One client reads first pages (5 filters, limit 50) and another posts single events, \
         each with no pause: for {quiet} s without a purge, then while `purge_runs::run` deletes what is due in \
         steps sized to take about {step_ms} ms each ({min} to {max} entries; on SQLite run by the writer \
         between appends), pausing 5 ms between steps, or 24 times the step (at most {max_pause} s) while appends come in, and signs a checkpoint after (`certifyclouds purge` and \
         the scheduled job run the same). The max and \"over 50 ms\" columns are the longest single \
         request and how many took longer than the 50 ms bound (quiet, then purging): the bound is on \
         waiting for the purge, so compare the two. Then {quiet} s quiet again (\"quiet after\"): the posts \
         made during the purge are in the store by then (and the purge's dead rows, which autovacuum may still \
         be clearing), so comparing with it separates what the store's growth did from what the purge did \
         while it ran; the target is judged against the quiet figure before.\n\n\
         | client | requests, quiet | p95 ms, quiet | max ms, quiet | over 50 ms, quiet | requests, purging | p95 ms, purging | max ms, purging | over 50 ms, purging | p95 ms, quiet after | ratio of p95s | ratio to quiet after | errors | target |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n{reads}{posts}\n\
         | purge | entries deleted | seconds | rate |\n|---|---|---|---|\n\
         | retention purge, under the load above | {deleted} | {secs:.1} | {rate:.0} entries/s |\n{lock_waits}",
        engine = Engine::from_env().title(),
        date = until.format("%Y-%m-%d"),
        machine = memory::machine(Engine::from_env().store()),
        quiet = QUIET.as_secs(),
        step_ms = purge_runs::STEP_TIME.as_millis(),
        min = purge_runs::MIN_STEP,
        max = purge_runs::MAX_STEP,
        max_pause = purge_runs::MAX_PAUSE.as_secs(),
        rate = deleted as f64 / secs.max(1e-9),
    )
}

/// How many times a session waited longer than 50 ms for a lock, in each spell, as the
/// server logged them, and what the first few waited on.
fn lock_wait_table(waits: &LockWaits, spells: [(&str, Mark, Mark); 3]) -> String {
    let mut rows = String::new();
    let mut examples = Vec::new();
    for (spell, from, to) in spells {
        let (count, said) = waits.between(from, to);
        rows.push_str(&format!("| {spell} | {count} |\n"));
        examples.extend(said.into_iter().map(|s| format!("- {spell}: `{}`\n", s.replace('`', "'"))));
    }
    format!(
        "\nLock waits over 50 ms, as the server logged them (`log_lock_waits` with `deadlock_timeout` at 50 ms): \
         every session that waited that long for a table, row or advisory lock, whatever held it, the purge's \
         own waits included. Not seen there: waits for a connection of the app's pools or for the app's own \
         locks, and PostgreSQL's short internal locks.\n\n| spell | lock waits over 50 ms |\n|---|---|\n{rows}{examples}",
        examples = if examples.is_empty() { String::new() } else { format!("\n{}", examples.concat()) },
    )
}
