//! `POST /audit/events`: validation, atomicity and limits.

use crate::helpers::{event, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: (&str, &str, &str) = ("user", "user-1", "alice@contoso.com");

#[tokio::test]
async fn one_event_or_a_batch_is_stored_with_ids_in_order() {
    let app = TestApp::spawn().await;
    let reply = app.post_events(&event("auth.logout", "2025-01-10T08:00:00Z", ALICE)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["ids"], json!(["audit-1"]));

    let batch: Vec<Value> = (0..3).map(|i| event("auth.logout", &format!("2025-01-10T09:0{i}:00Z"), ALICE)).collect();
    let reply = app.post_events(&Value::Array(batch)).await;
    assert_eq!(reply.json()["ids"], json!(["audit-2", "audit-3", "audit-4"]));
    assert_eq!(reply.json()["count"], 3);
    assert_eq!(app.list("").await["total"], 4);
}

#[tokio::test]
async fn timestamps_with_offsets_are_stored_in_utc_and_defaults_fill_in() {
    let app = TestApp::spawn().await;
    let mut e = event("auth.login.success", "2025-01-15T12:30:00+02:00", ALICE);
    e.as_object_mut().map(|o| o.remove("description"));
    e["details"] = json!({"username": "alice@contoso.com"});
    assert_eq!(app.post_events(&e).await.status, StatusCode::CREATED);
    let stored = app.get("/audit/entries/audit-1").await.json();
    assert_eq!(stored["timestamp"], "2025-01-15T10:30:00Z");
    assert_eq!(stored["severity"], "info");
    assert_eq!(stored["description"], "alice@contoso.com logged in");

    let no_time = json!({"event_type": "backup.finished", "actor": {"type": "service", "id": "svc", "name": "backup"}, "description": "Backup done"});
    let before = chrono::Utc::now();
    assert_eq!(app.post_events(&no_time).await.status, StatusCode::CREATED);
    let stored = app.get("/audit/entries/audit-2").await.json();
    let ts: chrono::DateTime<chrono::Utc> = stored["timestamp"].as_str().expect("ts").parse().expect("rfc3339");
    assert!(ts >= before - chrono::Duration::seconds(1));
    assert_eq!(stored["resource"], Value::Null);
}

#[tokio::test]
async fn an_invalid_entry_rejects_the_whole_batch_and_names_index_and_field() {
    let app = TestApp::spawn().await;
    let good = event("auth.logout", "2025-01-10T08:00:00Z", ALICE);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"actor": {"type": "user", "id": "u", "name": "n"}, "description": "x"}), "event_type"),
        (
            json!({"event_type": "Bad Type", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x"}),
            "event_type",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "robot", "id": "u", "name": "n"}, "description": "x"}),
            "actor.type",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x", "extra": 1}),
            "extra",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x", "timestamp": "01/02/2025"}),
            "timestamp",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x", "severity": "fatal"}),
            "severity",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x", "ip_address": "localhost"}),
            "ip_address",
        ),
        (
            json!({"event_type": "auth.logout", "actor": {"type": "user", "id": "u", "name": "n"}, "details": {}}),
            "details.username",
        ),
        (
            json!({"event_type": "a.b", "actor": {"type": "user", "id": "u", "name": "n"}, "description": "x", "details": [1]}),
            "details",
        ),
    ];
    for (bad, field) in cases {
        let reply = app.post_events(&json!([good.clone(), good.clone(), bad])).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{field}: {}", reply.text);
        let body = reply.json();
        assert_eq!((body["index"].clone(), body["field"].clone()), (json!(2), json!(field)), "{}", reply.text);
        assert!(body["error"].as_str().is_some_and(|e| e.starts_with(&format!("entry 2: {field}"))), "{}", reply.text);
    }
    assert_eq!(app.list("").await["total"], 0, "nothing half-written");
}

#[tokio::test]
async fn malformed_bodies_and_batch_sizes() {
    let app = TestApp::spawn().await;
    let raw =
        |body: &'static str| app.request(Method::POST, "/audit/events", Some(&app.ingest), body.as_bytes().to_vec());
    for body in ["", "{", "42", "[]", "\"text\""] {
        let reply = raw(body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert!(!reply.error().is_empty());
    }
    let too_many: Vec<Value> = (0..1001).map(|_| event("auth.logout", "2025-01-10T08:00:00Z", ALICE)).collect();
    let reply = app.post_events(&Value::Array(too_many)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("1001"));
    let max: Vec<Value> = (0..1000).map(|_| event("auth.logout", "2025-01-10T08:00:00Z", ALICE)).collect();
    assert_eq!(app.post_events(&Value::Array(max)).await.status, StatusCode::CREATED);
    assert_eq!(app.list("").await["total"], 1000);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let mut e = event("auth.logout", "2025-01-10T08:00:00Z", ALICE);
    e["details"]["padding"] = json!("x".repeat(60_000));
    let batch = Value::Array(vec![e; 80]);
    let reply = app.post_events(&batch).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.error().contains("larger than"));
    assert_eq!(app.list("").await["total"], 0);
}

#[tokio::test]
async fn event_types_are_served_from_the_catalogue() {
    let app = TestApp::spawn().await;
    let reply = app.get("/audit/event-types").await;
    assert_eq!(reply.status, StatusCode::OK);
    let types = reply.json();
    let login =
        types.as_array().expect("array").iter().find(|t| t["name"] == "auth.login.failed").expect("listed").clone();
    assert_eq!(login["category"], "auth");
    assert_eq!(login["severity"], "warning");
    assert_eq!(login["required"], json!(["details.username", "ip_address", "details.reason"]));
    assert_eq!(types.as_array().map(Vec::len), Some(app::catalogue::CATALOGUE.len()));
}
