//! Load through the router: readers walking filters, searches and pages with no pause
//! between requests and producers posting single events (each waits for the durable
//! commit holding it); in the full mix also one client posting 1000-event batches and
//! one export running throughout. Every answer is counted: a 503 or a failure is an
//! error, never dropped.

use crate::ingest::one_event;
use crate::BATCH;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tower::ServiceExt;

pub const READERS: usize = 80;
pub const PRODUCERS: usize = 20;

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    errors: usize,
    items: usize,
}

/// Latencies and counts of one kind of request.
pub struct Figures {
    pub requests: usize,
    pub items: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub per_sec: f64,
}

impl Figures {
    fn of(mut tally: Tally, secs: f64) -> Self {
        tally.latencies_ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let l = &tally.latencies_ms;
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() - 1) as f64 * q) as usize]
            }
        };
        Figures {
            requests: tally.latencies_ms.len(),
            items: tally.items,
            errors: tally.errors,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            per_sec: tally.items as f64 / secs,
        }
    }
}

pub struct Load {
    pub secs: f64,
    pub reads: Figures,
    pub writes: Figures,
    pub batches: Figures,
    pub exports: Figures,
}

/// Runs the load for `secs` seconds: readers and single-event producers, and with
/// `everything` also the batch client and the export. `token` may read and ingest.
pub async fn run(app: &axum::Router, token: &str, queries: &[String], secs: u64, everything: bool) -> Load {
    let until = Instant::now() + Duration::from_secs(secs);
    let reads = Arc::new(Mutex::new(Tally::default()));
    let writes = Arc::new(Mutex::new(Tally::default()));
    let batches = Arc::new(Mutex::new(Tally::default()));
    let exports = Arc::new(Mutex::new(Tally::default()));
    let queries: Arc<Vec<String>> = Arc::new(queries.to_vec());
    let mut tasks = Vec::new();
    let started = Instant::now();
    for r in 0..READERS {
        let (app, token, queries, tally) = (app.clone(), token.to_owned(), queries.clone(), reads.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = r;
            while Instant::now() < until {
                let uri = format!("/audit/entries?{}", queries[i % queries.len()]);
                i += 1;
                let (status, ms, _) = send(&app, Request::get(uri), &token, Body::empty()).await;
                record(&tally, status == StatusCode::OK, ms, 1).await;
            }
        }));
    }
    for p in 0..PRODUCERS {
        let (app, token, tally) = (app.clone(), token.to_owned(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 10_000_000 + p * 1_000_000;
            while Instant::now() < until {
                n += 1;
                let body = Body::from(one_event(n).to_string());
                let (status, ms, _) = send(&app, Request::post("/audit/events"), &token, body).await;
                record(&tally, status == StatusCode::CREATED, ms, 1).await;
            }
        }));
    }
    if everything {
        let (app, token, tally) = (app.clone(), token.to_owned(), batches.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 50_000_000;
            while Instant::now() < until {
                let batch: Vec<serde_json::Value> = (n..n + BATCH).map(one_event).collect();
                n += BATCH;
                let body = Body::from(serde_json::Value::Array(batch).to_string());
                let (status, ms, _) = send(&app, Request::post("/audit/events"), &token, body).await;
                record(&tally, status == StatusCode::CREATED, ms, BATCH).await;
            }
        }));
    }
    if everything {
        let (app, token, tally) = (app.clone(), token.to_owned(), exports.clone());
        tasks.push(tokio::spawn(async move {
            let since = (chrono::Utc::now() - chrono::Duration::days(3)).date_naive();
            while Instant::now() < until {
                let uri = format!("/audit/export?format=csv&start_date={since}");
                let (status, ms, bytes) = send(&app, Request::get(uri), &token, Body::empty()).await;
                record(&tally, status == StatusCode::OK, ms, bytes).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("load task");
    }
    let secs = started.elapsed().as_secs_f64();
    let take = |t: Arc<Mutex<Tally>>| async move { std::mem::take(&mut *t.lock().await) };
    Load {
        secs,
        reads: Figures::of(take(reads).await, secs),
        writes: Figures::of(take(writes).await, secs),
        batches: Figures::of(take(batches).await, secs),
        exports: Figures::of(take(exports).await, secs),
    }
}

async fn record(tally: &Mutex<Tally>, ok: bool, ms: f64, items: usize) {
    let mut t = tally.lock().await;
    t.latencies_ms.push(ms);
    if ok {
        t.items += items;
    } else {
        t.errors += 1;
    }
}

/// Sends one request and reads the whole answer: (status, milliseconds, body bytes).
pub async fn send(
    app: &axum::Router,
    request: axum::http::request::Builder,
    token: &str,
    body: Body,
) -> (StatusCode, f64, usize) {
    let request = request
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let t = Instant::now();
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
    (status, t.elapsed().as_secs_f64() * 1000.0, bytes)
}
