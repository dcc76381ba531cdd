//! Running the service: the API's description against the route table, the metrics, and
//! an orderly stop that leaves nothing running.

use crate::helpers::{event, TestApp};
use app::filter::EntryQuery;
use axum::http::{header, Method, StatusCode};
use serde_json::Value;
use server::http::routes::{Kind, ROUTES};
use std::collections::BTreeSet;

/// The names of an operation's parameters in the description.
fn parameters(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_description_covers_every_api_route_with_the_parameters_it_reads() {
    let app = TestApp::spawn().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let documented: usize = doc["paths"].as_object().map_or(0, |paths| {
        paths
            .values()
            .map(|item| item.as_object().map_or(0, |ops| ops.keys().filter(|k| *k != "parameters").count()))
            .sum()
    });
    let api: Vec<_> = ROUTES.iter().filter(|r| r.kind == Kind::Api).collect();
    assert_eq!(documented, api.len(), "the description has exactly the API routes");
    for route in &api {
        let method = route.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][route.path][&method];
        assert!(op.is_object(), "{} {} is not described", route.method, route.path);
        // Path parameters are the pattern's own.
        let in_path: BTreeSet<String> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let described_path: BTreeSet<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str().map(str::to_owned)).collect()
            })
            .unwrap_or_default();
        assert_eq!(described_path, in_path, "{}", route.path);
        // A route that needs a token says so.
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(secured, route.permission != app::access::Permission::Public, "{}", route.path);
    }
    // The list reads exactly the parameters the description names; the export the same
    // filters without paging, and a format.
    let accepted: BTreeSet<String> = EntryQuery::PARAMETERS.iter().map(|p| p.to_string()).collect();
    assert_eq!(parameters(&doc, "/audit/entries", "get"), accepted);
    let mut export = accepted.clone();
    export.remove("limit");
    export.remove("offset");
    export.remove("after");
    export.insert("format".into());
    assert_eq!(parameters(&doc, "/audit/export", "get"), export);
    for name in EntryQuery::PARAMETERS {
        let reply = app.get(&format!("/audit/entries?{name}=")).await;
        assert!(!reply.text.contains("unknown query parameter"), "{name} is read: {}", reply.text);
    }
    assert!(doc["components"]["schemas"]["AuditEntry"]["properties"]["received_at"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_description_has_a_page_that_works_offline() {
    let app = TestApp::spawn().await;
    let reply = app.page(Method::GET, "/api-docs", Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text;
    assert!(html.contains("<code>/audit/entries</code>") && html.contains("<code>/audit/events</code>"));
    assert!(html.contains("start_date") && html.contains("schema-AuditEntry"));
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing fetched from elsewhere");
}

#[tokio::test]
async fn metrics_count_requests_ingest_exports_and_store_commits() {
    let app = TestApp::spawn().await;
    let batch = serde_json::json!([event("auth.logout", "2025-01-10T08:00:00Z", ("user", "u1", "alice"))]);
    assert_eq!(app.post_events(&batch).await.status, StatusCode::CREATED);
    assert_eq!(app.get("/audit/export?format=csv").await.status, StatusCode::OK);
    assert_eq!(app.request(Method::GET, "/audit/entries", None, Vec::new()).await.status, StatusCode::UNAUTHORIZED);
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers[header::CONTENT_TYPE].to_str().unwrap_or("").starts_with("application/openmetrics-text"));
    let text = reply.text;
    for line in [
        r#"certifyclouds_http_requests_total{method="POST",route="/audit/events",status="201"} 1"#,
        r#"certifyclouds_http_requests_total{method="GET",route="/audit/entries",status="401"} 1"#,
        "certifyclouds_ingested_events_total 1",
        r#"certifyclouds_exports_total{format="csv",outcome="completed"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(
        text.contains(r#"certifyclouds_http_request_duration_seconds_count{method="POST",route="/audit/events"} 1"#)
    );
    // The export recorded two entries and the ingest one: at least two commits (likely three).
    let commits: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("certifyclouds_store_commits "))
        .and_then(|n| n.parse().ok())
        .expect("commits");
    assert!(commits >= 2.0, "{commits}");
    assert_eq!(app.state.maintenance.commits() as f64, commits);
}

#[tokio::test]
async fn stopping_the_server_ends_live_streams_and_jobs_and_closes_the_store() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("dir");
    let store = app::store::open(&format!("sqlite:{}", dir.path().join("a.db").display())).await.expect("store");
    let state = server::state::AppState::new(store.clone(), "target/site");
    let session = crate::helpers::signed_in(&store, app::accounts::Role::Auditor).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let running = server::startup::start(listener, state).expect("starts");
    let jobs = running.jobs();
    assert_eq!(
        jobs.count(),
        6,
        "the planner statistics, session sweeping, checkpoint, verification, alert and delivery jobs run"
    );
    // A browser following the live stream: a connection that would never end by itself.
    let mut live = tokio::net::TcpStream::connect(running.addr).await.expect("connects");
    let request = format!("GET /api/audit/live HTTP/1.1\r\nHost: localhost\r\nCookie: cc_session={session}\r\n\r\n");
    live.write_all(request.as_bytes()).await.expect("sends");
    let mut head = [0u8; 64];
    let n = live.read(&mut head).await.expect("reads");
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));

    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), running.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "the server stops, live stream or not: {stopped:?}");
    assert_eq!(jobs.count(), 0, "no job outlives the server");
    // The stream was ended, not left hanging; the store is closed.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), live.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(_))), "the live stream ended: {read:?}");
    assert!(store.maintenance.ping().await.is_err(), "the store is closed");
    let entry = app::internal_event::InternalEvent::new("task.run.completed")
        .expect("catalogued")
        .detail("task", "x")
        .detail("duration_seconds", 1)
        .build(chrono::Utc::now())
        .expect("valid");
    assert!(store.log.append(vec![entry]).await.is_err(), "nothing writes any more");
}
