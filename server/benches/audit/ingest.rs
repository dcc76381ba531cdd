//! Ingest over HTTP: single durable posts from concurrent producers into a fresh store,
//! and 1000-event batches from two clients into the seeded store (its size matters).

use crate::BATCH;
use app::store;
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use server::state::AppState;
use std::time::Instant;
use tower::ServiceExt;

/// One event to post, numbered so that every post differs.
pub fn one_event(n: usize) -> serde_json::Value {
    serde_json::json!({
        "event_type": "rotation.completed",
        "actor": {"type": "service", "id": "sp-rotation", "name": "rotation-worker"},
        "resource": {"type": "secret", "id": format!("kv-prod/secret-{n}"), "name": format!("secret-{n}")},
        "details": {"new_expiry": "2026-03-01", "updated_vaults": ["kv-prod-eastus-01"]},
        "ip_address": "10.0.0.7"
    })
}

/// `POST /audit/events` through the router into a fresh store with full durability (every
/// answered entry is on disk): single-event posts from 8 concurrent producers, whose
/// appends share commits, and 1000-event batches.
pub async fn durable_ingest_section() -> String {
    const PRODUCERS: usize = 8;
    const POSTS_EACH: usize = 1500;
    const BATCHES: usize = 30;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store::open(&format!("sqlite:{}", dir.path().join("durable.db").display())).await.expect("store");
    let token = tokens::generate();
    store.tokens.create_token("bench-ingest", &[Scope::Ingest], &tokens::hash(&token)).await.expect("token");
    let app = server::http::app(AppState::new(store.clone(), "target/site"));
    let post = |app: axum::Router, token: String, body: String| async move {
        let request = Request::post("/audit/events")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let t = Instant::now();
        let response = app.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::CREATED);
        t.elapsed().as_secs_f64() * 1000.0
    };

    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (app, token) = (app.clone(), token.clone());
        producers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(POSTS_EACH);
            for i in 0..POSTS_EACH {
                latencies.push(post(app.clone(), token.clone(), one_event(p * POSTS_EACH + i).to_string()).await);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for producer in producers {
        latencies.extend(producer.await.expect("producer"));
    }
    let single_secs = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let singles = PRODUCERS * POSTS_EACH;
    let single_rate = singles as f64 / single_secs;
    let (p50, p95) = (latencies[latencies.len() / 2], latencies[latencies.len() * 95 / 100]);

    let batch: Vec<serde_json::Value> = (0..BATCH).map(one_event).collect();
    let body = serde_json::Value::Array(batch).to_string();
    let started = Instant::now();
    for _ in 0..BATCHES {
        post(app.clone(), token.clone(), body.clone()).await;
    }
    let batch_rate = (BATCHES * BATCH) as f64 / started.elapsed().as_secs_f64();
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    eprintln!(
        "durable ingest: single posts {single_rate:.0} events/s (p95 {p95:.1} ms), batches {batch_rate:.0} events/s"
    );
    format!(
        "\n### Durable ingest\n\n\
         `POST /audit/events` through the router into a fresh store. SQLite commits with \
         `synchronous=FULL` in WAL mode: an answered entry is on disk, not only in the operating \
         system's cache. Appends that arrive while another commits are committed together (group \
         commit); each caller is answered after the commit holding its entries.\n\n\
         | case | entries | events/s | target | p50 ms | p95 ms |\n|---|---|---|---|---|---|\n\
         | single-event posts, {PRODUCERS} concurrent producers | {singles} | {single_rate:.0} | ≥ 2,000 ({}) | {p50:.2} | {p95:.2} |\n\
         | {BATCH}-event batches, one at a time | {} | {batch_rate:.0} | | | |\n",
        if single_rate >= 2_000.0 { "met" } else { "**not met**" },
        BATCHES * BATCH,
    )
}

/// 1000-event batches posted by two clients at once into the seeded store: how fast bulk
/// ingest is at this store's size. Returns events/s.
pub async fn bulk_rate(app: &axum::Router, token: &str, batches_each: usize) -> f64 {
    const CLIENTS: usize = 2;
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (app, token) = (app.clone(), token.to_owned());
        clients.push(tokio::spawn(async move {
            for b in 0..batches_each {
                let first = (c * batches_each + b) * BATCH;
                let batch: Vec<serde_json::Value> = (first..first + BATCH).map(one_event).collect();
                let request = Request::post("/audit/events")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::Value::Array(batch).to_string()))
                    .expect("request");
                let response = app.clone().oneshot(request).await.expect("response");
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        }));
    }
    for client in clients {
        client.await.expect("client");
    }
    (CLIENTS * batches_each * BATCH) as f64 / started.elapsed().as_secs_f64()
}
