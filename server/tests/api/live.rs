//! The live stream of the Audit tab (`/api/audit/live`): server-sent events of new
//! entries that match the filters.

use crate::helpers::{event, TestApp};
use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::Duration;

const SYNC: (&str, &str, &str) = ("service", "sp-sync", "sync-worker");

/// Reads the stream until `n` entry events have arrived; their `data` as JSON.
async fn next_entries(body: &mut Body, n: usize) -> Vec<Value> {
    let mut text = String::new();
    let mut found = Vec::new();
    while found.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("the stream stays open")
            .expect("a frame");
        if let Some(bytes) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            if message.lines().any(|l| l == "event: entry") {
                let data = message.lines().find_map(|l| l.strip_prefix("data: ")).expect("data line");
                found.push(serde_json::from_str(data).expect("entry JSON"));
            }
        }
    }
    found
}

#[tokio::test]
async fn new_matching_entries_are_streamed_and_others_are_not() {
    let app = TestApp::spawn().await;
    let seeded = app.post_events(&json!([event("auth.login.success", "2025-01-10T08:00:00Z", SYNC)])).await;
    assert_eq!(seeded.status, StatusCode::CREATED, "{}", seeded.text);

    let response = app.page_stream("/api/audit/live?severity=error", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    // sync.failed is an error by default, auth.logout informational.
    let failed = event("sync.failed", "2025-01-11T08:00:00Z", SYNC);
    let info = event("auth.logout", "2025-01-11T09:00:00Z", SYNC);
    let reply = app.post_events(&json!([info, failed.clone(), failed])).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let entries = next_entries(&mut body, 2).await;
    let ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["audit-3", "audit-4"], "only the errors, in order, none before the connection");
}

#[tokio::test]
async fn the_stream_resumes_after_a_given_entry() {
    let app = TestApp::spawn().await;
    let batch = json!([
        event("auth.logout", "2025-01-10T08:00:00Z", SYNC),
        event("auth.logout", "2025-01-10T09:00:00Z", SYNC),
        event("auth.logout", "2025-01-10T10:00:00Z", SYNC),
    ]);
    assert_eq!(app.post_events(&batch).await.status, StatusCode::CREATED);
    let mut body = app.page_stream("/api/audit/live?after=1", &[]).await.into_body();
    let entries = next_entries(&mut body, 2).await;
    assert_eq!(entries[0]["sequence"], 2);
    assert_eq!(entries[1]["sequence"], 3);
}

#[tokio::test]
async fn a_bad_filter_or_cursor_is_refused() {
    let app = TestApp::spawn().await;
    for uri in ["/api/audit/live?severity=critical", "/api/audit/live?after=soon", "/api/audit/live?colour=red"] {
        let reply = app.page(axum::http::Method::GET, uri, Vec::new()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(!reply.error().is_empty());
    }
}

#[tokio::test]
async fn the_stream_ends_when_the_session_that_opened_it_ends() {
    let app = TestApp::spawn().await;
    let mut body = app.page_stream("/api/audit/live", &[]).await.into_body();
    let session = app.auditor().await;
    assert!(app.store.sessions.end_session(&app::signin::token_hash(&session)).await.expect("ends").is_some());
    // Checked every few seconds: within 15 s the stream is over, whatever else happens.
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("the stream failed instead of ending: {e}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its session");
}
