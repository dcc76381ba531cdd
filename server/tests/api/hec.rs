//! Splunk HEC delivery against a real HEC-compatible receiver on loopback: it checks the
//! `Splunk` authorization and that a body is envelopes one after the other (not an array),
//! answers as scripted (503 code 9, 400 code 6 naming the bad event, 403 code 4), can
//! withhold indexer acknowledgements, and stands behind a door that resets connections or
//! stalls them.

use crate::helpers::{event, TestApp};
use app::delivery::{hec::Hec, worker, Policy, Sender};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

#[derive(Default)]
struct Collector {
    script: Mutex<VecDeque<(u16, Value)>>,
    /// The entries' sequence numbers taken, in the order taken.
    taken: Mutex<Vec<u64>>,
    /// Requests refused for their form (wrong auth, an array, an envelope without time).
    malformed: Mutex<Vec<String>>,
    /// Refuses any batch holding an entry with this description, naming it.
    poison: Mutex<Option<String>>,
    acks: AtomicBool,
    next_ack: AtomicU64,
    acked: Mutex<Vec<u64>>,
    channels: Mutex<Vec<String>>,
}

async fn event_endpoint(collector: Arc<Collector>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if auth != format!("Splunk {TOKEN}") {
        collector.malformed.lock().expect("lock").push(format!("auth: {auth}"));
        return (StatusCode::UNAUTHORIZED, json!({"text": "Invalid authorization", "code": 3}).to_string());
    }
    if let Some(channel) = headers.get("x-splunk-request-channel").and_then(|v| v.to_str().ok()) {
        collector.channels.lock().expect("lock").push(channel.to_owned());
    }
    let text = String::from_utf8_lossy(&body);
    let envelopes: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(&body).into_iter::<Value>().collect();
    let well_formed = text.trim_start().starts_with('{')
        && envelopes
            .as_ref()
            .is_ok_and(|all| all.iter().all(|e| e["time"].is_number() && e["event"]["id"].is_string()));
    if !well_formed {
        collector.malformed.lock().expect("lock").push(text.into_owned());
        return (StatusCode::BAD_REQUEST, json!({"text": "Invalid data format", "code": 6}).to_string());
    }
    let envelopes = envelopes.unwrap_or_default();
    if let Some((status, answer)) = collector.script.lock().expect("lock").pop_front() {
        return (StatusCode::from_u16(status).expect("status"), answer.to_string());
    }
    let poison = collector.poison.lock().expect("lock").clone();
    if let Some(bad) =
        envelopes.iter().position(|e| Some(e["event"]["description"].as_str().unwrap_or_default()) == poison.as_deref())
    {
        let answer = json!({"text": "Invalid data format", "code": 6, "invalid-event-number": bad});
        return (StatusCode::BAD_REQUEST, answer.to_string());
    }
    collector
        .taken
        .lock()
        .expect("lock")
        .extend(envelopes.iter().map(|e| e["event"]["sequence"].as_u64().expect("sequence")));
    let ack = collector.next_ack.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, json!({"text": "Success", "code": 0, "ackId": ack}).to_string())
}

async fn ack_endpoint(collector: Arc<Collector>, body: Bytes) -> (StatusCode, String) {
    let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let released = collector.acks.load(Ordering::SeqCst);
    let mut acks = serde_json::Map::new();
    for id in asked["acks"].as_array().cloned().unwrap_or_default() {
        let id = id.as_u64().unwrap_or(u64::MAX);
        if released {
            collector.acked.lock().expect("lock").push(id);
        }
        acks.insert(id.to_string(), json!(released));
    }
    (StatusCode::OK, json!({ "acks": acks }).to_string())
}

async fn listen(collector: Arc<Collector>) -> String {
    let (events, acks) = (collector.clone(), collector);
    let app = axum::Router::new()
        .route(
            "/services/collector/event",
            axum::routing::post(move |h: HeaderMap, b: Bytes| event_endpoint(events.clone(), h, b)),
        )
        .route("/services/collector/ack", axum::routing::post(move |b: Bytes| ack_endpoint(acks.clone(), b)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
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

async fn splunk(app: &TestApp, url: &str, ack: bool) -> i64 {
    let body = json!({"name": "splunk", "kind": "splunk_hec", "url": url, "token": TOKEN, "index": "audit",
                      "ack": ack, "max_events": 8, "start": "beginning"});
    let created =
        app.request(Method::POST, "/admin/destinations", Some(&app.admin.clone()), body.to_string().into_bytes()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.json()["destination"]["id"].as_i64().expect("id")
}

async fn health(app: &TestApp, id: i64) -> Value {
    app.request(Method::GET, &format!("/admin/destinations/{id}/health"), Some(&app.admin.clone()), Vec::new())
        .await
        .json()
}

/// Runs delivery (with `sender` if given) until `done`, at most 20 s.
async fn deliver_until(app: &TestApp, id: i64, sender: Option<Arc<dyn Sender>>, done: impl AsyncFn() -> bool) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), sender, stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).expect("running");
    task.await.expect("stops");
}

#[tokio::test]
async fn every_entry_arrives_in_order_through_a_busy_collector_and_bad_data_is_set_aside_with_its_reason() {
    let app = TestApp::spawn().await;
    let mut events: Vec<Value> =
        (0..30).map(|i| event("secret.read", &format!("2025-01-10T08:00:{i:02}Z"), ("user", "u1", "ada"))).collect();
    events[12]["description"] = json!("poison");
    assert_eq!(app.post_events(&json!(events)).await.status, StatusCode::CREATED);
    let collector = Arc::new(Collector::default());
    *collector.poison.lock().expect("lock") = Some("poison".into());
    collector.script.lock().expect("lock").extend([
        (503, json!({"text": "Server is busy", "code": 9})),
        (503, json!({"text": "Server is busy", "code": 9})),
    ]);
    let url = listen(collector.clone()).await;
    let id = splunk(&app, &url, false).await;
    let head = app.store.tree.tree_size().await.expect("size");
    let poison = app.list("q=poison").await["entries"][0]["sequence"].as_u64().expect("the poison entry");
    let wanted: Vec<u64> = (1..=head).filter(|s| *s != poison).collect();
    let taken =
        || async { collector.taken.lock().expect("lock").iter().filter(|s| **s <= head).count() >= wanted.len() };
    deliver_until(&app, id, None, taken).await;

    assert!(collector.malformed.lock().expect("lock").is_empty(), "Splunk auth and envelopes one after the other");
    let taken: Vec<u64> = collector.taken.lock().expect("lock").iter().copied().filter(|s| *s <= head).collect();
    assert_eq!(taken, wanted, "every other entry once, in order");
    let health = health(&app, id).await;
    assert_eq!(health["parked"], 1, "{health}");
    assert!(health["last_parked"].as_str().is_some_and(|r| r.contains("Invalid data format")), "{health}");
    let parked = app.list("event_type=delivery.parked").await;
    assert_eq!(parked["total"], 1);
    assert_eq!(parked["entries"][0]["details"]["entry_id"], format!("audit-{poison}"));
    assert_eq!(app.list("event_type=delivery.failed").await["total"], 0, "two busy answers are not a failure yet");
}

#[tokio::test]
async fn with_acknowledgement_a_batch_counts_only_once_indexed() {
    let app = TestApp::spawn().await;
    let events: Vec<Value> =
        (0..5).map(|i| event("secret.read", &format!("2025-01-10T08:00:{i:02}Z"), ("user", "u1", "ada"))).collect();
    app.post_events(&json!(events)).await;
    let collector = Arc::new(Collector::default());
    let url = listen(collector.clone()).await;
    let id = splunk(&app, &url, true).await;
    let stored = app.store.delivery.destination(id).await.expect("reads").expect("there");
    let sender: Arc<dyn Sender> = Arc::new(
        Hec::new(id, &url, TOKEN, &stored.config.hec)
            .with_ack_timing(Duration::from_millis(10), Duration::from_secs(30)),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), Some(sender), stopped));
    // Sent, not yet acknowledged: the cursor stays.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while collector.taken.lock().expect("lock").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "sent in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(health(&app, id).await["cursor"], 0, "not moved before the acknowledgement");
    collector.acks.store(true, Ordering::SeqCst);
    let head = app.store.tree.tree_size().await.expect("size");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while health(&app, id).await["cursor"].as_u64().unwrap_or(0) < head {
        assert!(tokio::time::Instant::now() < deadline, "acknowledged in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).expect("running");
    task.await.expect("stops");
    let channels = collector.channels.lock().expect("lock").clone();
    assert!(!channels.is_empty() && channels.iter().all(|c| c == &channels[0] && c.len() == 36), "{channels:?}");
    assert!(!collector.acked.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_refused_token_pauses_and_says_so() {
    let app = TestApp::spawn().await;
    let collector = Arc::new(Collector::default());
    collector.script.lock().expect("lock").extend((0..20).map(|_| (403, json!({"text": "Invalid token", "code": 4}))));
    let url = listen(collector.clone()).await;
    let id = splunk(&app, &url, false).await;
    let paused = || async { app.list("event_type=delivery.failed").await["total"] == 1 };
    deliver_until(&app, id, None, paused).await;
    let health = health(&app, id).await;
    assert_eq!(health["failing"], true);
    assert!(health["last_error"]
        .as_str()
        .is_some_and(|e| e.contains("HEC token was refused") && e.contains("Invalid token")));
    assert!(!health["last_error"].as_str().unwrap_or_default().contains(TOKEN), "the token is never shown");
    let failed = app.list("event_type=delivery.failed").await;
    assert_eq!(failed["total"], 1);
    assert!(!failed.to_string().contains(TOKEN));
}

/// What the door in front of the collector does with a new connection.
#[derive(Clone, Copy, Debug)]
enum Door {
    /// Tears it down as the request comes in (closed unread: the kernel sends a reset).
    Reset,
    /// Holds it open and never answers.
    Stall,
}

/// A door on loopback in front of the collector at `behind`: each new connection meets the
/// next of `script`, then connections go through to the collector. Its address.
async fn door(behind: &str, script: Vec<Door>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let behind = behind.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let next = script.lock().expect("lock").pop_front();
            let behind = behind.clone();
            tokio::spawn(async move {
                match next {
                    Some(Door::Reset) => {
                        let _ = inbound.readable().await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Some(Door::Stall) => tokio::time::sleep(Duration::from_secs(120)).await,
                    None => {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&behind).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_collector_that_resets_connections_or_stalls_is_tried_again_and_every_entry_arrives_in_order() {
    let app = TestApp::spawn().await;
    let events: Vec<Value> =
        (0..20).map(|i| event("secret.read", &format!("2025-01-10T08:00:{i:02}Z"), ("user", "u1", "ada"))).collect();
    assert_eq!(app.post_events(&json!(events)).await.status, StatusCode::CREATED);
    let collector = Arc::new(Collector::default());
    // Two resets, then a stall: the second reset's error stays in the health view through
    // the stall's 20 s, the stall's until the next failure.
    let url = door(&listen(collector.clone()).await, vec![Door::Reset, Door::Reset, Door::Stall]).await;
    let id = splunk(&app, &url, false).await;
    let head = app.store.tree.tree_size().await.expect("size");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker::run(app.store.clone(), id, quick(), None, stopped));
    // A stalled request is given up after the client's 20 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut errors = std::collections::BTreeSet::new();
    while collector.taken.lock().expect("lock").iter().filter(|s| **s <= head).count() < head as usize {
        assert!(tokio::time::Instant::now() < deadline, "delivered in time: {errors:?}");
        if let Some(error) = health(&app, id).await["last_error"].as_str() {
            errors.insert(error.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).expect("running");
    task.await.expect("stops");

    let taken: Vec<u64> = collector.taken.lock().expect("lock").iter().copied().filter(|s| *s <= head).collect();
    assert_eq!(taken, (1..=head).collect::<Vec<_>>(), "every entry once, in order");
    let last = health(&app, id).await["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(last.contains("timed out"), "the stall, the last error: {last}");
    assert!(errors.iter().any(|e| !e.contains("timed out")), "the reset: {errors:?}");
    assert!(errors.iter().all(|e| !e.contains(url.trim_start_matches("http://"))), "no address: {errors:?}");
    // Three failures in a row: failing, said once; then recovered, said once.
    assert_eq!(app.list("event_type=delivery.failed").await["total"], 1);
    assert_eq!(app.list("event_type=delivery.recovered").await["total"], 1);
    assert_eq!(health(&app, id).await["failing"], false);
}
