//! Webhook delivery against a real receiver on loopback that checks every request's
//! signature with its own HMAC-SHA256 (written here from RFC 2104 over `sha2`, not the
//! product's `hmac`), answers as scripted (busy, refused, then fine) and keeps what it took.

use crate::helpers::{event, TestApp};
use app::delivery::{worker, Policy};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// HMAC-SHA256 (RFC 2104), by hand.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[derive(Default)]
struct Receiver {
    secret: Mutex<String>,
    script: Mutex<VecDeque<u16>>,
    /// The entries' sequence numbers of each request answered 200, in order.
    taken: Mutex<Vec<Vec<u64>>>,
    /// Every request's (signature valid, X-Api-Key, delivery id).
    seen: Mutex<Vec<(bool, Option<String>, String)>>,
}

async fn receive(receiver: Arc<Receiver>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let timestamp = header("x-certifyclouds-timestamp").unwrap_or_default();
    let signed = [timestamp.as_bytes(), b".", &body].concat();
    let expected =
        format!("v1={}", hex::encode(hmac_sha256(receiver.secret.lock().expect("lock").as_bytes(), &signed)));
    let fresh = timestamp.parse::<i64>().is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    let valid = fresh && header("x-certifyclouds-signature").as_deref() == Some(expected.as_str());
    let delivery = header("x-certifyclouds-delivery").unwrap_or_default();
    receiver.seen.lock().expect("lock").push((valid, header("x-api-key"), delivery));
    let status = receiver.script.lock().expect("lock").pop_front().unwrap_or(200);
    if status == 200 && valid {
        let entries: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array of entries");
        let sequences = entries.iter().map(|e| e["sequence"].as_u64().expect("sequence")).collect();
        receiver.taken.lock().expect("lock").push(sequences);
        return (StatusCode::OK, "ok");
    }
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "not now")
}

/// A receiver listening on loopback: its address.
async fn listen(receiver: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| receive(receiver.clone(), headers, body)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn quick() -> Policy {
    Policy {
        poll: Duration::from_millis(20),
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        failing_after: 3,
        open_after: 6,
        paused_probe: Duration::from_millis(40),
    }
}

async fn webhook(app: &TestApp, url: &str) -> (i64, String) {
    let body = json!({"name": "hook", "kind": "webhook", "url": url, "headers": {"X-Api-Key": "k-1"},
                      "max_events": 10, "start": "beginning"});
    let created =
        app.request(Method::POST, "/admin/destinations", Some(&app.admin.clone()), body.to_string().into_bytes()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let json = created.json();
    (json["destination"]["id"].as_i64().expect("id"), json["secret"].as_str().expect("secret").to_owned())
}

#[tokio::test]
async fn every_entry_arrives_signed_and_in_order_through_a_busy_receiver() {
    let app = TestApp::spawn().await;
    let events: Vec<Value> =
        (0..25).map(|i| event("secret.read", &format!("2025-01-10T08:00:{i:02}Z"), ("user", "u1", "ada"))).collect();
    assert_eq!(app.post_events(&json!(events)).await.status, StatusCode::CREATED);
    let receiver = Arc::new(Receiver::default());
    let url = listen(receiver.clone()).await;
    let (id, secret) = webhook(&app, &url).await;
    *receiver.secret.lock().expect("lock") = secret;
    receiver.script.lock().expect("lock").extend([200, 503, 503, 429, 500]);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), None, stopped));
    let head = app.store.tree.tree_size().await.expect("size");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while receiver.taken.lock().expect("lock").iter().flatten().filter(|s| **s <= head).count() < head as usize {
        assert!(tokio::time::Instant::now() < deadline, "all delivered in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).expect("running");
    task.await.expect("stops");

    let taken: Vec<u64> = receiver.taken.lock().expect("lock").iter().flatten().copied().collect();
    assert_eq!(taken[..head as usize], (1..=head).collect::<Vec<_>>(), "every entry once, in order");
    let seen = receiver.seen.lock().expect("lock").clone();
    assert!(seen.iter().all(|(valid, key, _)| *valid && key.as_deref() == Some("k-1")), "signed, with its headers");
    // The retried batch is the same batch: the same delivery id four more times.
    assert_eq!(seen[1].2, seen[2].2);
    assert_eq!(seen[1].2, seen[5].2);
    assert!(seen[1].2.starts_with(&format!("{id}-11-")), "{}", seen[1].2);

    let failed = app.list("event_type=delivery.failed").await;
    assert_eq!(failed["total"], 1, "one entry when it started failing: {failed}");
    assert!(failed["entries"][0]["details"]["error"].as_str().is_some_and(|e| e.contains("503") || e.contains("429")));
    let recovered = app.list("event_type=delivery.recovered").await;
    assert_eq!(recovered["total"], 1);
    let health = app
        .request(Method::GET, &format!("/admin/destinations/{id}/health"), Some(&app.admin.clone()), Vec::new())
        .await;
    let health = health.json();
    assert_eq!(health["failing"], false);
    assert!(health["delivered"].as_u64().is_some_and(|d| d >= head), "{health}");
    assert!(health["last_error"].as_str().is_some_and(|e| e.contains("HTTP 500")), "the last error stays: {health}");
}

#[tokio::test]
async fn refused_credentials_pause_the_destination_and_a_dead_receiver_is_retried() {
    let app = TestApp::spawn().await;
    let receiver = Arc::new(Receiver::default());
    let url = listen(receiver.clone()).await;
    let (id, secret) = webhook(&app, &url).await;
    *receiver.secret.lock().expect("lock") = secret;
    receiver.script.lock().expect("lock").extend([401; 50]);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), None, stopped));
    let health_of = || async {
        let reply = app
            .request(Method::GET, &format!("/admin/destinations/{id}/health"), Some(&app.admin.clone()), Vec::new())
            .await;
        reply.json()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let health = loop {
        let health = health_of().await;
        if health["state"] == "paused" {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "paused in time: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.send(true).expect("running");
    task.await.expect("stops");
    assert_eq!(health["failing"], true);
    assert!(health["last_error"].as_str().is_some_and(|e| e.contains("refused the credentials") && e.contains("401")));
    assert_eq!(health["delivered"], 0);
    assert_eq!(app.list("event_type=delivery.failed").await["total"], 1);

    // Nobody listens there: connecting fails, and that is tried again.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let patch = json!({"url": format!("http://127.0.0.1:{port}/hook"), "rotate_secret": true, "headers": {}});
    let uri = format!("/admin/destinations/{id}");
    let changed = app.request(Method::PATCH, &uri, Some(&app.admin.clone()), patch.to_string().into_bytes()).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), None, stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let health = loop {
        let health = health_of().await;
        if health["last_error"].as_str().is_some_and(|e| e.contains("could not connect")) {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "retried in time: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.send(true).expect("running");
    task.await.expect("stops");
    assert!(["retrying", "circuit_open"].contains(&health["state"].as_str().unwrap_or_default()), "{health}");
    assert!(!health["last_error"].as_str().unwrap_or_default().contains(&port.to_string()), "no address in the error");
}

/// A `serve` process on `url` (its output not read).
fn serve_quietly(url: &str) -> tokio::process::Child {
    crate::helpers::serve_command(url, "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts")
}

/// Waits until the receiver took every entry up to `head` (at most 60 s).
async fn all_taken(receiver: &Receiver, head: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let taken: std::collections::BTreeSet<u64> =
            receiver.taken.lock().expect("lock").iter().flatten().copied().collect();
        if (1..=head).all(|s| taken.contains(&s)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivered up to {head} in time: {} taken", taken.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Several instances on one PostgreSQL database: one of them delivers the destination (no
/// entry twice, none out of order, while both run); killed, another takes over from the
/// cursor in the database, and nothing is lost.
#[tokio::test]
async fn on_postgres_one_instance_of_several_delivers_and_another_takes_over_when_it_dies() {
    if !crate::helpers::on_postgres() {
        return;
    }
    let db = app::store::testing::TestDatabase::create().await;
    let store = app::store::open(db.url()).await.expect("opens");
    // A person exists: no first admin is made.
    crate::helpers::signed_in(&store, app::accounts::Role::Admin).await;
    let receiver = Arc::new(Receiver::default());
    let url = listen(receiver.clone()).await;
    let new: app::destinations::NewDestination = serde_json::from_value(
        json!({"name": "hook", "kind": "webhook", "url": url, "max_events": 10, "start": "beginning"}),
    )
    .expect("valid");
    let by = app::internal_event::system_actor();
    let created = app::destination_changes::create(&store, &new, by, chrono::Utc::now()).await.expect("created");
    *receiver.secret.lock().expect("lock") = created.secret.expect("a secret made");
    let append = |n: usize| {
        let store = store.clone();
        async move {
            store.log.append((0..n).map(|_| crate::helpers::valid("secret.read")).collect()).await.expect("appends");
            store.tree.tree_size().await.expect("size")
        }
    };
    let head = append(200).await;

    let (mut a, mut b) = (serve_quietly(db.url()), serve_quietly(db.url()));
    all_taken(&receiver, head).await;
    let head = append(50).await;
    all_taken(&receiver, head).await;
    let taken: Vec<u64> = receiver.taken.lock().expect("lock").iter().flatten().copied().collect();
    assert_eq!(taken, (1..=head).collect::<Vec<_>>(), "from one instance: each entry once, in order");

    // Whichever instance delivers dies by `kill -9` (first one, then, beside a newcomer, the
    // other): the one left goes on from the cursor in the database.
    // Both run (they share the signing key the first of them made).
    for child in [&mut a, &mut b] {
        assert!(child.try_wait().expect("asks").is_none(), "an instance died on its own");
    }
    a.start_kill().expect("kill -9");
    a.wait().await.expect("ends");
    let head = append(100).await;
    all_taken(&receiver, head).await;
    let mut c = serve_quietly(db.url());
    assert!(b.try_wait().expect("asks").is_none(), "the other instance died on its own");
    b.start_kill().expect("kill -9");
    b.wait().await.expect("ends");
    let head = append(100).await;
    all_taken(&receiver, head).await;
    c.start_kill().expect("stops");

    // At least once: a batch in flight at a kill may come again, but after the first
    // arrival of each entry comes the next one, never a later one.
    let taken: Vec<u64> = receiver.taken.lock().expect("lock").iter().flatten().copied().collect();
    let mut first = Vec::new();
    for sequence in taken {
        if !first.contains(&sequence) {
            first.push(sequence);
        }
    }
    assert_eq!(first, (1..=head).collect::<Vec<_>>(), "every entry, in order");
    let seen = receiver.seen.lock().expect("lock").clone();
    assert!(seen.iter().all(|(valid, _, _)| *valid), "every request signed");
    store.maintenance.close().await;
}
