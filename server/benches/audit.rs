//! `make bench`: seeds a fresh SQLite store with 1M events (through the store, so with
//! the indexes, full-text search, per-day counts and the hash chain), then times the
//! first page of `GET /audit/entries` through the real router for each filter, and
//! writes the figures to docs/benchmarks.md.
//!
//! BENCH_EVENTS overrides the number of events (for a quick run).

use app::store;
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use server::seed::Generator;
use server::startup::{router, AppState};
use std::fmt::Write as _;
use std::time::Instant;
use tower::ServiceExt;

const BATCH: usize = 1000;
const WARMUP: usize = 20;
const RUNS: usize = 200;

struct Case {
    name: &'static str,
    query: String,
    target_ms: f64,
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let store = store::open(&url).await.expect("store opens");

    // Ingest: generation is timed apart so that the figure is the store's own rate.
    let until = Utc::now();
    let mut generator = Generator::new(events, 90, 2025, until);
    let mut store_time = std::time::Duration::ZERO;
    let started = Instant::now();
    loop {
        let batch: Vec<_> = generator.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        store.append(&batch).await.expect("append");
        store_time += t.elapsed();
    }
    let wall = started.elapsed();
    store.optimize().await.expect("statistics");
    let ingest_rate = events as f64 / store_time.as_secs_f64();
    eprintln!("ingested {events} events: {ingest_rate:.0} events/s in the store ({:.1}s wall)", wall.as_secs_f64());

    let token = tokens::generate();
    store.create_token("bench", &[Scope::Read], &tokens::hash(&token)).await.expect("token");
    let app = router(AppState::new(store.clone(), "target/site"));

    let day = |days_ago: i64| (until - Duration::days(days_ago)).date_naive().to_string();
    let cases = vec![
        Case { name: "no filter", query: String::new(), target_ms: 10.0 },
        Case {
            name: "date range (7 days)",
            query: format!("start_date={}&end_date={}", day(8), day(1)),
            target_ms: 10.0,
        },
        Case { name: "event type (exact, rare)", query: "event_type=rotation.failed".into(), target_ms: 10.0 },
        Case { name: "event type (prefix auth.*)", query: "event_type=auth.*".into(), target_ms: 10.0 },
        Case { name: "actor (one user)", query: "actor=alice.nguyen%40contoso.com".into(), target_ms: 10.0 },
        Case { name: "actor (system)", query: "actor=system".into(), target_ms: 10.0 },
        Case { name: "severity (error)", query: "severity=error".into(), target_ms: 10.0 },
        Case {
            name: "all filters but search",
            query: format!(
                "start_date={}&end_date={}&event_type=rotation.*&actor=rotation-worker&severity=error",
                day(30),
                day(1)
            ),
            target_ms: 10.0,
        },
        Case {
            name: "all filters and search",
            query: format!(
                "start_date={}&end_date={}&event_type=rotation.*&actor=rotation-worker&severity=error&q=stripe",
                day(30),
                day(1)
            ),
            target_ms: 20.0,
        },
        Case { name: "search q=stripe", query: "q=stripe".into(), target_ms: 20.0 },
        Case { name: "search q=kv-prod-payments", query: "q=kv-prod-payments".into(), target_ms: 20.0 },
        Case { name: "search q=alice", query: "q=alice".into(), target_ms: 20.0 },
        Case { name: "offset=10000", query: "offset=10000".into(), target_ms: 10.0 },
        Case { name: "deep page, offset=500000", query: "offset=500000".into(), target_ms: 10.0 },
        Case {
            name: "deep filtered page",
            query: "severity=info&event_type=auth.*&offset=200000".into(),
            target_ms: 10.0,
        },
    ];

    let mut rows = String::new();
    for case in &cases {
        let uri = format!("/audit/entries?{}", case.query);
        let mut samples = Vec::with_capacity(RUNS);
        let mut total = 0;
        for i in 0..WARMUP + RUNS {
            let request = Request::get(&uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let t = Instant::now();
            let response = app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            let elapsed = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
            if i >= WARMUP {
                samples.push(elapsed);
            }
            if i == 0 {
                let page: serde_json::Value = serde_json::from_slice(&body).expect("json");
                total = page["total"].as_u64().unwrap_or(0);
            }
        }
        samples.sort_by(f64::total_cmp);
        let p50 = samples[samples.len() / 2];
        let p95 = samples[samples.len() * 95 / 100];
        let verdict = if p95 <= case.target_ms { "yes" } else { "**no**" };
        eprintln!(
            "{:<32} total {:>8}  p50 {:>7.2} ms  p95 {:>7.2} ms  (target {} ms)",
            case.name, total, p50, p95, case.target_ms
        );
        let _ = writeln!(
            rows,
            "| {} | `{}` | {} | {:.2} | {:.2} | ≤ {} | {} |",
            case.name,
            if case.query.is_empty() { "(none)" } else { &case.query },
            total,
            p50,
            p95,
            case.target_ms,
            verdict
        );
    }

    let report = format!(
        "# Benchmarks\n\n\
         Written by `make bench` (`cargo bench -p server --bench audit`) on {date}. Do not edit by hand.\n\n\
         Machine: {machine}.\n\n\
         ## Ingest\n\n\
         {events} seeded events over 90 days, appended through `AuditStore::append` in batches of {BATCH} \
         (multi-row inserts in one transaction each, with the five indexes, FTS5, the per-day counts and \
         the SHA-256 hash chain).\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | store ingest rate | {ingest_rate:.0} events/s | ≥ 40,000 events/s ({ingest_ok}) |\n\
         | wall time including event generation | {wall:.1} s | |\n\n\
         ## First page of `GET /audit/entries` at {events} entries\n\n\
         Through the real axum router in-process (token check, validation, query, total, JSON), \
         {RUNS} runs after {WARMUP} warm-up runs, limit 50.\n\n\
         | case | query | total | p50 ms | p95 ms | target p95 ms | met |\n|---|---|---|---|---|---|---|\n{rows}",
        date = until.format("%Y-%m-%d"),
        machine = machine(),
        ingest_ok = if ingest_rate >= 40_000.0 { "met" } else { "**not met**" },
        wall = wall.as_secs_f64(),
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md");
    std::fs::write(path, report).expect("write docs/benchmarks.md");
    eprintln!("wrote docs/benchmarks.md");
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB memory, SQLite (bundled) in WAL mode on local disk, release build")
}
