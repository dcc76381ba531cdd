//! The binary's commands, run as a user would.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use sqlx::Connection;
use std::process::Command;

fn certifyclouds(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(args)
        .env("CERTIFYCLOUDS_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs")
}

#[tokio::test]
async fn token_create_prints_a_working_token_on_the_last_line_once() {
    let app = TestApp::spawn().await;
    let out = certifyclouds(&app.database_url, &["token", "create", "--name", "splunk", "--scopes", "read"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let token = stdout.lines().last().expect("a line").trim().to_owned();
    assert!(token.starts_with("cca_"), "{stdout}");

    let reply = app.request(Method::GET, "/audit/entries", Some(&token), Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.request(Method::POST, "/audit/events", Some(&token), b"{}".to_vec()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Only a hash is stored.
    let db = std::fs::read(app.dir.path().join("audit.db")).expect("db file");
    let wal = std::fs::read(app.dir.path().join("audit.db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));

    let again = certifyclouds(&app.database_url, &["token", "create", "--name", "splunk", "--scopes", "read"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[tokio::test]
async fn seed_is_deterministic_and_verify_checks_the_chain() {
    let a = TestApp::spawn().await;
    let out = certifyclouds(&a.database_url, &["seed", "--events", "300", "--days", "3", "--seed", "11"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Seeded 300 events"));
    let page = a.list("limit=1000").await;
    assert_eq!(page["total"], 300);

    // A bulk load leaves planner statistics behind.
    let mut conn = sqlx::SqliteConnection::connect(&a.database_url).await.expect("connects");
    let stats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'audit_entries'")
        .fetch_one(&mut conn)
        .await
        .expect("sqlite_stat1 exists");
    assert!(stats > 0);

    let verify = certifyclouds(&a.database_url, &["verify"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("300 entries verified"));

    let bad = certifyclouds("postgres://nowhere/db", &["verify"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unsupported database URL"));
}
