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
use server::state::AppState;
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
        let batch: Vec<_> = generator.by_ref().take(BATCH).collect::<Result<_, _>>().expect("generated");
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        store.log.append(batch).await.expect("append");
        store_time += t.elapsed();
    }
    let wall = started.elapsed();
    store.maintenance.optimize().await.expect("statistics");
    let ingest_rate = events as f64 / store_time.as_secs_f64();
    eprintln!("ingested {events} events: {ingest_rate:.0} events/s in the store ({:.1}s wall)", wall.as_secs_f64());

    let token = tokens::generate();
    store.tokens.create_token("bench", &[Scope::Read], &tokens::hash(&token)).await.expect("token");
    let app = server::http::app(AppState::new(store.clone(), "target/site"));

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

    let exports = export_section(&app, &token, &dir.path().join("bench.db"), day).await;
    let durable = durable_ingest_section().await;

    let report = format!(
        "# Benchmarks\n\n\
         Written by `make bench` (`cargo bench -p server --bench audit`) on {date}. Do not edit by hand.\n\n\
         Machine: {machine}.\n\n\
         ## Ingest\n\n\
         {events} seeded events over 90 days, appended through `AuditLog::append` in batches of {BATCH} \
         (multi-row inserts in one transaction each, with the five indexes, FTS5, the per-day counts and \
         the SHA-256 hash chain).\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | store ingest rate | {ingest_rate:.0} events/s | ≥ 40,000 events/s ({ingest_ok}) |\n\
         | wall time including event generation | {wall:.1} s | |\n\n\
         ## First page of `GET /audit/entries` at {events} entries\n\n\
         Through the real axum router in-process (token check, validation, query, total, JSON), \
         {RUNS} runs after {WARMUP} warm-up runs, limit 50.\n\n\
         | case | query | total | p50 ms | p95 ms | target p95 ms | met |\n|---|---|---|---|---|---|---|\n{rows}\n{exports}\n{durable}",
        date = until.format("%Y-%m-%d"),
        machine = machine(),
        ingest_ok = if ingest_rate >= 40_000.0 { "met" } else { "**not met**" },
        wall = wall.as_secs_f64(),
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md");
    std::fs::write(path, report).expect("write docs/benchmarks.md");
    eprintln!("wrote docs/benchmarks.md");
}

/// One event to post, numbered so that every post differs.
fn one_event(n: usize) -> serde_json::Value {
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
async fn durable_ingest_section() -> String {
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
        "\n## Durable ingest\n\n\
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

/// Export through the router (the body read to its end, as a client would), against
/// `sqlite3 -csv -header` over the same rows of the same database, with the memory of
/// this process during each export.
async fn export_section(app: &axum::Router, token: &str, db: &std::path::Path, day: impl Fn(i64) -> String) -> String {
    let cases = [
        ("CSV, every entry", "csv", String::new()),
        ("JSON, every entry", "json", String::new()),
        ("CSV, the last 9 days", "csv", format!("start_date={}", day(9))),
        ("PDF, one day", "pdf", format!("start_date={0}&end_date={0}", day(2))),
        ("PDF, four days (near the cap)", "pdf", format!("start_date={}&end_date={}", day(5), day(2))),
    ];
    let mut rows = String::new();
    let mut csv_secs = None;
    let mut pdf_rates = Vec::new();
    for (name, format, filters) in cases {
        let entries = request(app, token, &format!("/audit/entries?limit=1&{filters}")).await;
        let entries: serde_json::Value =
            serde_json::from_slice(&entries.into_body().collect().await.expect("body").to_bytes()).expect("JSON");
        let entries = entries["total"].as_u64().unwrap_or(0);
        let query = if filters.is_empty() { format!("format={format}") } else { format!("format={format}&{filters}") };
        reset_peak_memory();
        let heap_before = anon_memory_mib().unwrap_or(0.0);
        let sampler = HeapSampler::start();
        let t = Instant::now();
        let response = request(app, token, &format!("/audit/export?{query}")).await;
        let status = response.status();
        // Read as a client would, without keeping the file.
        let mut body = response.into_body();
        let mut bytes = 0;
        while let Some(frame) = body.frame().await {
            bytes += frame.expect("frame").into_data().map_or(0, |d| d.len());
        }
        let secs = t.elapsed().as_secs_f64();
        let heap = sampler.stop().max(heap_before);
        assert_eq!(status, StatusCode::OK, "{query}");
        if query == "format=csv" {
            csv_secs = Some(secs);
        }
        if format == "pdf" {
            pdf_rates.push(entries as f64 / secs);
        }
        eprintln!("export {name}: {entries} entries, {:.1} MB in {secs:.2}s", bytes as f64 / 1e6);
        let _ = writeln!(
            rows,
            "| {name} | `{query}` | {entries} | {:.1} | {secs:.2} | {:.0} | {heap_before:.0} → {heap:.0} | {} |",
            bytes as f64 / 1e6,
            entries as f64 / secs,
            peak_memory_mib().map_or("n/a".to_owned(), |m| format!("{m:.0}"))
        );
    }
    let columns = "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, resource_id, \
                   resource_name, description, details, ip_address, user_agent, received_at, ingest_token_id, \
                   ingest_token_name";
    let sql = format!("SELECT {columns} FROM audit_entries ORDER BY ts, seq");
    let t = Instant::now();
    let sqlite3 = std::process::Command::new("sqlite3")
        .args(["-csv", "-header"])
        .arg(db)
        .arg(&sql)
        .stderr(std::process::Stdio::null())
        .output();
    let comparison = match (sqlite3, csv_secs) {
        (Ok(out), Some(ours)) if out.status.success() => {
            let theirs = t.elapsed().as_secs_f64();
            let ratio = ours / theirs;
            format!(
                "`sqlite3 -csv -header` over the same rows (`{sql}`): {:.1} MB in {theirs:.2} s. \
                 CSV export time / sqlite3 time: **{ratio:.2}** (target ≤ 1: {}).\n",
                out.stdout.len() as f64 / 1e6,
                if ratio <= 1.0 { "met" } else { "**not met**" }
            )
        }
        _ => "`sqlite3` could not be run here, so there is no comparison.\n".to_owned(),
    };
    let slowest_pdf = pdf_rates.iter().copied().fold(f64::INFINITY, f64::min);
    let pdf = format!(
        "PDF reports (at most {} entries each): slowest {slowest_pdf:.0} entries/s (target ≥ 20,000: {}). \
         A report is laid out whole before it is sent, so its memory grows with its entries, up to the cap.\n",
        app::export::PDF_MAX_ENTRIES,
        if slowest_pdf >= 20_000.0 { "met" } else { "**not met**" }
    );
    format!(
        "\n## Export\n\n\
         `GET /audit/export` through the router, the body read to its end. Heap is the anonymous memory \
         (RssAnon) of this benchmark process before the export → the most sampled (every 5 ms) during it; \
         it also holds SQLite's page cache, up to 32 MiB for each pooled connection an export happens to \
         use. Peak RSS is the high-water mark (VmHWM) during the export alone, which also counts the \
         database file's pages mapped by SQLite (mmap, up to 256 MiB).\n\n\
         | export | query | entries | MB | seconds | entries/s | heap MiB | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n\
         {rows}\n{comparison}\n{pdf}"
    )
}

/// `GET` through the router with the token.
async fn request(app: &axum::Router, token: &str, uri: &str) -> axum::response::Response {
    let request =
        Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).expect("request");
    app.clone().oneshot(request).await.expect("response")
}

/// The most anonymous memory seen while it runs, sampled on its own thread.
struct HeapSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl HeapSampler {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut most: f64 = 0.0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(anon_memory_mib().unwrap_or(0.0));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            most
        });
        HeapSampler { stop, thread }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0.0)
    }
}

/// Starts a new high-water mark of this process's memory (Linux: clear_refs 5).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn anon_memory_mib() -> Option<f64> {
    status_kib("RssAnon:").map(|kb| kb / 1024.0)
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

fn peak_memory_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kb| kb / 1024.0)
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
