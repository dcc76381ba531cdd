//! The log as a Merkle tree: `verify` reports its head, and an outsider with nothing but a
//! JSON export and the standard library of Python (docs/tree_root.py) gets the same.

use crate::helpers::{event, TestApp};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_outsider_recomputes_the_tree_head_that_verify_reports_from_a_json_export() {
    let app = TestApp::spawn().await;
    app.seed(200, 3, 7, "2026-03-01T00:00:00Z").await;
    // Numbers and keys where canonical JSON is easy to get wrong.
    let mut tricky = event("sync.failed", "2026-03-01T00:00:01Z", ("service", "sp-sync", "sync-worker"));
    tricky["details"] = json!({
        "ratio": 1.0, "tiny": 1e-7, "small": 0.000001, "big": 1e21, "huge": 9_007_199_254_740_991u64, "low": -9_007_199_254_740_991i64,
        "neg": -2.5e-8, "\u{e000}": "private use", "\u{1F600}": "emoji", "é": "accent", "quote\"d": "a\nb",
        "failed_secrets": 3, "error": "vault unreachable"
    });
    assert_eq!(app.post_events(&json!([tricky])).await.status, StatusCode::CREATED);

    let export = app.get("/audit/export?format=json").await;
    assert_eq!(export.status, StatusCode::OK);
    let file = app.dir.path().join("export.json");
    std::fs::write(&file, &export.bytes).expect("writes the export");
    // The export is itself recorded (after its snapshot): verify sees those entries too,
    // so the outsider's tree covers the entries the export holds, counted from the file.
    let exported = serde_json::from_slice::<Vec<serde_json::Value>>(&export.bytes).expect("JSON").len();

    let outsider = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tree_root.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(outsider.status.success(), "{}", String::from_utf8_lossy(&outsider.stderr));
    let outsider = String::from_utf8(outsider.stdout).expect("utf-8").trim().to_owned();
    assert!(outsider.starts_with(&format!("size {exported}, root ")), "{outsider}");

    // The store's own tree of the same entries.
    let entries = app.store.log.entries_after(0, exported as u32).await.expect("reads");
    let mut tree = app::integrity::TreeBuilder::default();
    for entry in &entries {
        tree.push(app::integrity::leaf_hash(entry).expect("leaf"));
    }
    assert_eq!(outsider, tree.head().to_string());

    // And `verify --tree-size N` prints the same, though the log has grown since (the
    // export is itself recorded), and the head of the whole log.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(["verify", "--tree-size", &exported.to_string()])
        .env("CERTIFYCLOUDS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let printed = String::from_utf8(verify.stdout).expect("utf-8");
    assert!(
        printed.contains(&format!("Merkle tree (RFC 6962) of the first {exported} entries: {outsider}")),
        "{printed}"
    );
    let all = app.store.log.entries_after(0, 1000).await.expect("reads");
    assert!(all.len() > exported, "the export was recorded");
    let mut whole = app::integrity::TreeBuilder::default();
    for entry in &all {
        whole.push(app::integrity::leaf_hash(entry).expect("leaf"));
    }
    assert!(printed.contains(&format!("Merkle tree (RFC 6962): {}", whole.head())), "{printed}");

    // A filtered export is no whole log: the outsider's script says so.
    let filtered = app.get("/audit/export?format=json&severity=error").await;
    std::fs::write(&file, &filtered.bytes).expect("writes");
    let refused = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tree_root.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a whole log"));
}
