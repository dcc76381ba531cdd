//! Delivery (issue 15): how fast the worker of one destination delivers to a healthy
//! receiver on loopback (a webhook and a Splunk HEC collector, no load), and whether the
//! product slows down while a destination is down. On a fresh store of `events` entries:
//! one client reads first pages and another posts single events, each with no pause: for a
//! quiet spell with no destination, then while a webhook destination with a backlog of
//! [`BACKLOG`] entries is down (its worker retrying with the product's own backoff), then
//! while it catches up once its receiver is back. The figures: each client's p95 in the
//! three spells, the backlog at the end of the outage, the wait until the first retry that
//! got through, and the time and rate of the catch-up.

use crate::memory;
use crate::purge::{clients, Client};
use crate::Engine;
use app::delivery::{worker, Policy};
use app::destinations::{NewDestination, Replay};
use app::store::Store;
use app::tokens::{self, Scope};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use chrono::{DateTime, Utc};
use server::state::AppState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The backlog a destination is given to deliver.
const BACKLOG: u64 = 100_000;
/// How long each spell of the clients lasts (the catch-up lasts until it is done).
const SPELL: Duration = Duration::from_secs(20);
/// A catch-up not done by then is reported as such.
const GIVE_UP: Duration = Duration::from_secs(600);

/// What a receiver got: entries (duplicates included), and entries that came with a
/// sequence number not above the one before (out of order, or sent again).
#[derive(Default)]
struct Received {
    entries: AtomicU64,
    not_after: AtomicU64,
    last: AtomicU64,
}

impl Received {
    fn take(&self, entry: &serde_json::Value) {
        let seq = entry["sequence"].as_u64().unwrap_or(0);
        if self.last.swap(seq, Ordering::Relaxed) >= seq {
            self.not_after.fetch_add(1, Ordering::Relaxed);
        }
        self.entries.fetch_add(1, Ordering::Relaxed);
    }
}

/// A webhook: a JSON array of entries.
async fn webhook(State(got): State<Arc<Received>>, body: Bytes) -> axum::http::StatusCode {
    match serde_json::from_slice::<Vec<serde_json::Value>>(&body) {
        Ok(entries) => {
            entries.iter().for_each(|e| got.take(e));
            axum::http::StatusCode::OK
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST,
    }
}

/// A Splunk HEC collector: envelopes one after the other, the entry in `event`.
async fn collector(State(got): State<Arc<Received>>, body: Bytes) -> (axum::http::StatusCode, &'static str) {
    for envelope in serde_json::Deserializer::from_slice(&body).into_iter::<serde_json::Value>() {
        match envelope {
            Ok(envelope) => got.take(&envelope["event"]),
            Err(_) => return (axum::http::StatusCode::BAD_REQUEST, r#"{"text":"Invalid data format","code":6}"#),
        }
    }
    (axum::http::StatusCode::OK, r#"{"text":"Success","code":0}"#)
}

/// A receiver of both kinds listening on `socket`, until the returned task is aborted.
async fn receiver(socket: tokio::net::TcpSocket, got: Arc<Received>) -> tokio::task::JoinHandle<()> {
    let listener = socket.listen(1024).expect("the receiver listens");
    let app = axum::Router::new()
        .route("/hook", post(webhook))
        .route("/services/collector/event", post(collector))
        .with_state(got);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A loopback address kept for a receiver, nothing listening on it yet (connections to it
/// are refused), and its socket.
fn reserved() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("a free port");
    (socket.local_addr().expect("its address"), socket)
}

/// A destination of `kind` at `url` for every entry, its cursor [`BACKLOG`] entries back:
/// its id and the head it has to reach.
async fn destination(store: &Store, name: &str, kind: &str, url: &str) -> (i64, u64) {
    let new: NewDestination = serde_json::from_value(serde_json::json!({
        "name": name,
        "kind": kind,
        "url": url,
        "token": (kind == "splunk_hec").then_some("bench-token-0000"),
        "event_types": ["*"],
        "min_severity": "info",
    }))
    .expect("a destination");
    let by = app::internal_event::system_actor();
    let created = app::destination_changes::create(store, &new, by.clone(), Utc::now()).await.expect("created");
    let id = created.destination.id;
    let head = app::destination_changes::head(store).await.expect("head");
    let back = Replay { from_sequence: Some(head.saturating_sub(BACKLOG) + 1), from_time: None };
    app::destination_changes::replay(store, &id.to_string(), &back, by, Utc::now()).await.expect("rewound");
    let head = app::destination_changes::head(store).await.expect("head");
    (id, head)
}

/// The destination's worker, as the delivery job runs it, until the sender is dropped.
fn start(store: &Store, id: i64) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(worker::run(store.clone(), id, Policy::default(), None, stopped)))
}

async fn cursor(store: &Store, id: i64) -> u64 {
    store.delivery.delivery_cursor(id).await.expect("reads").unwrap_or(0)
}

/// Waits until destination `id` delivered up to `target`: the seconds it took, or `None`
/// after [`GIVE_UP`].
async fn caught_up(store: &Store, id: i64, target: u64, since: Instant) -> Option<f64> {
    while cursor(store, id).await < target {
        if since.elapsed() > GIVE_UP {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(since.elapsed().as_secs_f64())
}

/// One kind's rate to a healthy receiver, with nothing else going on: a table row.
async fn healthy(store: &Store, kind: &str, path: &str) -> String {
    let (addr, socket) = reserved();
    let got = Arc::new(Received::default());
    let serving = receiver(socket, got.clone()).await;
    let (id, target) = destination(store, &format!("healthy {kind}"), kind, &format!("http://{addr}{path}")).await;
    let from = cursor(store, id).await;
    let started = Instant::now();
    let (stop, worker) = start(store, id);
    let secs = caught_up(store, id, target, started).await;
    let _ = stop.send(true);
    let _ = worker.await;
    serving.abort();
    store.delivery.delete_destination(id).await.expect("removed");
    let received = got.entries.load(Ordering::Relaxed);
    let again = got.not_after.load(Ordering::Relaxed);
    match secs {
        Some(secs) => format!(
            "| {kind} | {} | {secs:.1} | {:.0} entries/s | {received} | {again} |\n",
            target - from,
            (target - from) as f64 / secs.max(1e-9)
        ),
        None => {
            format!("| {kind} | {} | not done in {} s | | {received} | {again} |\n", target - from, GIVE_UP.as_secs())
        }
    }
}

/// The clients until `stop` is set, in a spell of `secs` (or until another task sets it).
async fn spell(app: &axum::Router, token: &str, stop: Arc<AtomicBool>, secs: Option<Duration>) -> (Client, Client) {
    let timer = secs.map(|secs| {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs).await;
            stop.store(true, Ordering::Relaxed);
        })
    });
    let clients = clients(app, token, stop).await;
    if let Some(timer) = timer {
        timer.await.expect("timer");
    }
    clients
}

/// The section of the report.
pub async fn section(events: u64, until: DateTime<Utc>) -> String {
    let (store, _dir) = crate::purge::fresh(events, until).await;
    let token = tokens::generate();
    store
        .tokens
        .create_token("bench-delivery", &[Scope::Read, Scope::Ingest], &tokens::hash(&token))
        .await
        .expect("token");
    let app = server::http::app(AppState::new(store.clone(), "target/site"));

    let healthy_rows = [healthy(&store, "webhook", "/hook").await, healthy(&store, "splunk_hec", "").await].concat();

    let (mut quiet_reads, mut quiet_posts) = spell(&app, &token, Arc::new(AtomicBool::new(false)), Some(SPELL)).await;

    // The outage: a receiver that is not there (connections refused), its backlog growing.
    let (addr, socket) = reserved();
    let (id, _) = destination(&store, "down then back", "webhook", &format!("http://{addr}/hook")).await;
    let (stop_worker, worker) = start(&store, id);
    let (mut down_reads, mut down_posts) = spell(&app, &token, Arc::new(AtomicBool::new(false)), Some(SPELL)).await;
    let health = app::delivery::health_of(&store, &id.to_string()).await.expect("health");

    // Back: the clients go on until everything appended before the receiver came back is
    // delivered.
    let got = Arc::new(Received::default());
    let serving = receiver(socket, got.clone()).await;
    let back = Instant::now();
    let target = app::destination_changes::head(&store).await.expect("head");
    let backlog = target - cursor(&store, id).await;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, got, stop) = (store.clone(), got.clone(), stop.clone());
        tokio::spawn(async move {
            let mut first = None;
            while cursor(&store, id).await < target && back.elapsed() < GIVE_UP {
                if first.is_none() && got.entries.load(Ordering::Relaxed) > 0 {
                    first = Some(back.elapsed().as_secs_f64());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let done = (cursor(&store, id).await >= target).then(|| back.elapsed().as_secs_f64());
            stop.store(true, Ordering::Relaxed);
            (first.or(done), done)
        })
    };
    let (mut back_reads, mut back_posts) = spell(&app, &token, stop, None).await;
    let (first, done) = watcher.await.expect("watcher");
    let _ = stop_worker.send(true);
    let _ = worker.await;
    serving.abort();
    store.maintenance.close().await;

    let row = |name: &str, quiet: &mut Client, down: &mut Client, back: &mut Client| {
        let (q, d, b) = (quiet.p95(), down.p95(), back.p95());
        let ratio = d / q.max(0.001);
        format!(
            "| {name} | {} | {q:.1} | {} | {d:.1} | {ratio:.2}x | {} | {b:.1} | {:.2}x | {} | down ≤ 1.25x of quiet ({}) |\n",
            quiet.ms.len(),
            down.ms.len(),
            back.ms.len(),
            b / q.max(0.001),
            quiet.errors + down.errors + back.errors,
            if ratio <= 1.25 { "met" } else { "**not met**" }
        )
    };
    let reads = row("first pages (one reader, no pause)", &mut quiet_reads, &mut down_reads, &mut back_reads);
    let posts = row("single-event posts (one client)", &mut quiet_posts, &mut down_posts, &mut back_posts);
    let fmt =
        |secs: Option<f64>| secs.map_or_else(|| format!("not within {} s", GIVE_UP.as_secs()), |s| format!("{s:.1}"));
    let catch_up = match (first, done) {
        (Some(first), Some(done)) => {
            format!("{:.1} s ({:.0} entries/s)", done - first, backlog as f64 / (done - first).max(1e-9))
        }
        _ => "not done".to_owned(),
    };
    format!(
        "## Delivery, {events} entries{engine}\n\n\
         Measured on {date}. Machine: {machine}.\n\n\
         A fresh store of {events} entries. Each destination's worker is the product's own \
         (`delivery::worker::run` with the default policy: batches of up to 100 entries, the cursor moved in \
         the store after each batch the receiver took), delivering to a receiver on loopback that parses what it \
         gets and counts the entries.\n\n\
         ### Rate to a healthy receiver\n\n\
         A backlog of {BACKLOG} entries (`Replay from`), nothing else going on. \"Not after the one before\" \
         counts entries that arrived with a sequence number not above the previous one (out of order or \
         sent again; 0 expected).\n\n\
         | destination | entries | seconds | rate | entries received | not after the one before |\n\
         |---|---|---|---|---|---|\n{healthy_rows}\n\
         ### While a destination is down, and while it catches up\n\n\
         One client reads first pages (5 filters, limit 50) and another posts single events, each with no \
         pause: {spell} s with no destination; then {spell} s while a webhook destination given a backlog of \
         {BACKLOG} entries cannot connect to its receiver (its worker retrying with full-jitter backoff, \
         1 s, 2 s, 4 s …); then, its receiver back, until everything appended before it came back is \
         delivered. Target: delivery that cannot get through does not slow the product (p95 while down within \
         1.25x of quiet, which is the noise of this machine).\n\n\
         | client | requests, quiet | p95 ms, quiet | requests, down | p95 ms, down | down / quiet | requests, catching up | p95 ms, catching up | catching up / quiet | errors | target |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{reads}{posts}\n\
         | outage and catch-up | value |\n|---|---|\n\
         | state at the end of the outage | {state}, {attempts} tries failed, last error: {error} |\n\
         | backlog when the receiver came back | {backlog} entries |\n\
         | receiver back to its first batch (the backoff's wait) | {first} s |\n\
         | receiver back to caught up | {done} s |\n\
         | catch-up once through (rate) | {catch_up} |\n\
         | entries received / not after the one before | {received} / {again} |\n",
        engine = Engine::from_env().title(),
        date = until.format("%Y-%m-%d"),
        machine = memory::machine(Engine::from_env().store()),
        spell = SPELL.as_secs(),
        state = health.state,
        attempts = health.attempts,
        error = health.last_error.as_deref().unwrap_or("none").replace('|', "/"),
        first = fmt(first),
        done = fmt(done),
        received = got.entries.load(Ordering::Relaxed),
        again = got.not_after.load(Ordering::Relaxed),
    )
}
