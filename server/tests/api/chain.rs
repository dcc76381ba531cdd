//! The hash chain and append-only guarantees, under batches, concurrency and restarts.

use crate::helpers::{event, TestApp};
use app::ingest::Receipt;
use app::store::{self, GENESIS_HASH};
use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;

const ALICE: (&str, &str, &str) = ("user", "user-1", "alice@contoso.com");

fn batch(n: usize, minute: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| event("auth.logout", &format!("2025-01-10T08:{:02}:{:02}Z", minute % 60, i % 60), ALICE))
            .collect(),
    )
}

/// Walks the chain through the API: every entry links to the one before it.
async fn assert_linked(app: &TestApp, expected: u64) {
    let mut prev = hex::encode(GENESIS_HASH);
    for seq in 1..=expected {
        let entry = app.get(&format!("/audit/entries/audit-{seq}")).await.json();
        assert_eq!(entry["sequence"], json!(seq));
        assert_eq!(entry["prev_hash"], json!(prev), "link of {seq}");
        prev = entry["hash"].as_str().expect("hash").to_owned();
    }
    let report = app.store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.entries, expected);
}

#[tokio::test]
async fn chain_continues_across_batches() {
    let app = TestApp::spawn().await;
    for (i, n) in [1, 7, 600, 3].into_iter().enumerate() {
        assert_eq!(app.post_events(&batch(n, i)).await.status, StatusCode::CREATED);
    }
    assert_linked(&app, 611).await;
}

#[tokio::test]
async fn database_refuses_update_and_delete() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    app.post_events(&batch(2, 0)).await;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.expect("connects");
    for (sql, why) in [
        ("UPDATE audit_entries SET description = 'x' WHERE seq = 1", "append-only"),
        ("DELETE FROM audit_entries WHERE seq = 2", "deleted only by the retention purge"),
        ("DELETE FROM audit_entries", "deleted only by the retention purge"),
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.expect_err(sql);
        assert!(err.to_string().contains(why), "{sql}: {err}");
    }
    assert_eq!(app.list("").await["total"], 2);
}

#[tokio::test]
async fn tampering_is_detected_at_the_changed_entry() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    app.post_events(&batch(5, 0)).await;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.expect("connects");
    // An attacker with file access can drop the trigger; the chain still tells.
    sqlx::query("DROP TRIGGER audit_entries_no_update").execute(&mut conn).await.expect("drop");
    sqlx::query("UPDATE audit_entries SET actor_name = 'mallory' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .expect("tamper");
    let report = app.store.log.verify(None).await.expect("runs");
    assert_eq!(report.entries, 2);
    assert!(
        matches!(&report.problems[0], app::store::Problem::BrokenLink { seq: 3, reason } if reason.contains("hash")),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn concurrent_ingests_never_fork_the_chain() {
    let app = TestApp::spawn().await;
    // A second process is another pool on the same file.
    let other = store::open(&app.database_url).await.expect("second store");
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let router_app = app.router.clone();
        let token = app.ingest.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            for round in 0..5 {
                let body = batch(40, worker * 10 + round).to_string();
                let request = axum::http::Request::post("/audit/events")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body))
                    .expect("request");
                let response = router_app.clone().oneshot(request).await.expect("response");
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        }));
    }
    let other_writer = tokio::spawn(async move {
        let now: chrono::DateTime<chrono::Utc> = "2025-02-01T00:00:00Z".parse().expect("time");
        for _ in 0..5 {
            let receipt = Receipt { received_at: now, token: None };
            let entries: Vec<_> =
                app::ingest::parse_batch(batch(40, 59).to_string().as_bytes(), &receipt).expect("valid");
            other.log.append(entries).await.expect("appends");
        }
    });
    for t in tasks {
        t.await.expect("worker");
    }
    other_writer.await.expect("other process");
    assert_linked(&app, 7 * 5 * 40).await;
}

#[tokio::test]
async fn chain_survives_a_restart() {
    let app = TestApp::spawn().await;
    app.post_events(&batch(10, 0)).await;
    let head_before = app.get("/audit/entries/audit-10").await.json()["hash"].clone();
    // Stop the store as the server does when it stops: pending writes finished, every
    // connection closed. Nothing of it is left to carry the chain over.
    app.store.maintenance.close().await;
    assert!(app.store.maintenance.ping().await.is_err(), "the first store is closed");

    // Reopen the same file as a fresh process would, behind a fresh router.
    let reopened = TestApp::reopen(&app).await;
    let reply = reopened.post_events(&batch(5, 1)).await;
    assert_eq!(reply.status, axum::http::StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["ids"], json!(["audit-11", "audit-12", "audit-13", "audit-14", "audit-15"]));
    let eleven = reopened.get("/audit/entries/audit-11").await.json();
    assert_eq!(eleven["prev_hash"], head_before, "the new entries link to the old head");
    assert_linked(&reopened, 15).await;
}
