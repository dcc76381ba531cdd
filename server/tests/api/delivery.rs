//! Delivery by the server's own job: a stdout destination (Log Analytics) prints every
//! entry as a marked JSON line, in order, and a `kill -9` loses nothing (the cursor is in
//! the store; a batch may come twice). The health view says where delivery stands.

use crate::helpers::{valid, TestApp};
use app::destinations::NewDestination;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Served {
    child: tokio::process::Child,
    out: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// `serve` on `url`, its standard output read line by line.
fn serve(url: &str) -> Served {
    let mut child = crate::helpers::serve_command(url, "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    Served { child, out }
}

/// Reads marked lines until `until` holds of the sequences seen (at most 60 s); answers
/// the lines' entries in the order printed.
async fn read_entries(served: &mut Served, until: impl Fn(&[u64]) -> bool) -> Vec<Value> {
    let mut entries: Vec<Value> = Vec::new();
    let mut seen: Vec<u64> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !until(&seen) {
        let line = tokio::time::timeout_at(deadline, served.out.next_line())
            .await
            .unwrap_or_else(|_| panic!("delivered in time: {} lines", seen.len()))
            .expect("reads")
            .expect("a line before exit");
        if !line.starts_with(r#"{"certifyclouds_audit":"v1""#) {
            continue; // the application's own output
        }
        assert!(line.len() < 16 * 1024);
        let parsed: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(parsed["destination"], "container logs");
        seen.push(parsed["entry"]["sequence"].as_u64().expect("sequence"));
        entries.push(parsed["entry"].clone());
    }
    entries
}

#[tokio::test]
async fn a_stdout_destination_prints_every_entry_once_marked_in_order_and_a_kill_loses_nothing() {
    // Kept to the end: the PostgreSQL database goes with it.
    let postgres = match crate::helpers::on_postgres() {
        true => Some(app::store::testing::TestDatabase::create().await),
        false => None,
    };
    let dir = tempfile::tempdir().expect("dir");
    let url = match &postgres {
        Some(db) => db.url().to_owned(),
        None => format!("sqlite:{}", dir.path().join("delivery.db").display()),
    };
    let store = app::store::open(&url).await.expect("opens");
    // A person exists: no first admin is made (nor its password printed).
    crate::helpers::signed_in(&store, app::accounts::Role::Admin).await;
    let new: NewDestination = serde_json::from_value(
        json!({"name": "container logs", "kind": "stdout", "start": "beginning", "max_events": 50}),
    )
    .expect("valid");
    let by = app::internal_event::system_actor();
    app::destination_changes::create(&store, &new, by, chrono::Utc::now()).await.expect("created");
    for _ in 0..6 {
        store.log.append((0..100).map(|_| valid("secret.read")).collect()).await.expect("appends");
    }
    store.maintenance.close().await;

    let mut first = serve(&url);
    let printed = read_entries(&mut first, |seen| seen.len() >= 120).await;
    first.child.start_kill().expect("kill -9");
    first.child.wait().await.expect("ends");
    // What it printed before the kill and we had not read yet is in the pipe: delivered too.
    let mut printed = printed;
    while let Ok(Some(line)) = first.out.next_line().await {
        if line.starts_with(r#"{"certifyclouds_audit":"v1""#) {
            printed.push(serde_json::from_str::<Value>(&line).expect("JSON")["entry"].clone());
        }
    }
    let firsts: Vec<u64> = printed.iter().map(|e| e["sequence"].as_u64().expect("sequence")).collect();
    assert_eq!(firsts, (1..=firsts.len() as u64).collect::<Vec<_>>(), "in sequence order from the first");

    let store = app::store::open(&url).await.expect("opens");
    store.log.append((0..50).map(|_| valid("secret.read")).collect()).await.expect("appends");
    let head = 1 + 600 + 50;
    let stored = store.log.get(head).await.expect("reads").expect("the last entry");
    store.maintenance.close().await;
    let mut second = serve(&url);
    let again = read_entries(&mut second, |seen| seen.last() == Some(&head)).await;
    let seconds: Vec<u64> = again.iter().map(|e| e["sequence"].as_u64().expect("sequence")).collect();
    assert!(seconds.windows(2).all(|w| w[0] < w[1]), "in order after the restart");
    assert!(seconds[0] <= firsts.last().copied().unwrap_or(0) + 1, "nothing skipped across the kill");
    let all: BTreeSet<u64> = firsts.iter().chain(&seconds).copied().collect();
    assert_eq!(all, (1..=head).collect::<BTreeSet<_>>(), "every entry, duplicates allowed");
    // A line is the entry as the API serves it.
    assert_eq!(again.last().cloned(), Some(serde_json::to_value(&stored).expect("JSON")));
    second.child.start_kill().expect("stops");
}

#[tokio::test]
async fn the_health_view_says_where_delivery_stands() {
    let app = TestApp::spawn().await;
    let created = app
        .request(
            Method::POST,
            "/admin/destinations",
            Some(&app.admin.clone()),
            json!({"name": "la", "kind": "stdout"}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json()["destination"]["id"].as_i64().expect("id");
    app.post_events(&json!([crate::helpers::event("secret.read", "2025-01-10T08:00:00Z", ("user", "u1", "ada"))]))
        .await;
    let health = app
        .request(Method::GET, &format!("/admin/destinations/{id}/health"), Some(&app.admin.clone()), Vec::new())
        .await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    let health = health.json();
    assert_eq!((&health["name"], &health["kind"], &health["state"]), (&json!("la"), &json!("stdout"), &json!("idle")));
    // It starts now: after the entries before it; the two after it (its own creation and
    // the event) are its backlog, nothing delivered yet (no job runs here).
    let head = health["head"].as_u64().expect("head");
    assert_eq!(health["cursor"].as_u64(), Some(head - 2));
    assert_eq!((&health["backlog"], &health["delivered"], &health["failing"]), (&json!(2), &json!(0), &json!(false)));
    assert_eq!(health["last_error"], Value::Null);
    for missing in ["/admin/destinations/999/health", "/admin/destinations/x/health"] {
        let reply = app.request(Method::GET, missing, Some(&app.admin.clone()), Vec::new()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }
    let read = app
        .request(Method::GET, &format!("/admin/destinations/{id}/health"), Some(&app.read.clone()), Vec::new())
        .await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_replay_moves_the_cursor_back_never_forward_and_is_recorded() {
    let app = TestApp::spawn().await;
    let admin = app.admin.clone();
    let created = app
        .request(
            Method::POST,
            "/admin/destinations",
            Some(&admin),
            json!({"name": "la", "kind": "stdout"}).to_string().into_bytes(),
        )
        .await;
    let id = created.json()["destination"]["id"].as_i64().expect("id");
    let events: Vec<Value> = (0..5)
        .map(|i| crate::helpers::event("secret.read", &format!("2025-01-10T08:00:0{i}Z"), ("user", "u1", "ada")))
        .collect();
    app.post_events(&json!(events)).await;
    let cursor = app.store.delivery.delivery_cursor(id).await.expect("reads").expect("there");
    let replay = |body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let uri = format!("/admin/destinations/{id}/replay");
            app.request(Method::POST, &uri, Some(&admin), body.to_string().into_bytes()).await
        }
    };
    for (body, field) in [
        (json!({}), "from_sequence"),
        (json!({"from_sequence": 1, "from_time": "2025-01-01T00:00:00Z"}), "from_sequence"),
        (json!({"from_sequence": 0}), "from_sequence"),
        (json!({"from_sequence": cursor + 2}), "from_sequence"),
        (json!({"from_time": "yesterday"}), "from_time"),
    ] {
        let refused = replay(body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.text);
        assert_eq!(refused.json()["field"], field, "{body}");
    }
    assert_eq!(replay(json!({"from_sequence": "x"})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay(json!({"from_seq": 1})).await.status, StatusCode::BAD_REQUEST, "unknown fields are refused");

    let done = replay(json!({"from_sequence": 1})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json(), json!({"destination_id": id, "from_sequence": 1, "previous_cursor": cursor}));
    assert_eq!(app.store.delivery.delivery_cursor(id).await.expect("reads"), Some(0));
    let recorded = app.list("event_type=delivery.replayed").await;
    let details = &recorded["entries"][0]["details"];
    assert_eq!((&details["from_sequence"], &details["previous_cursor"]), (&json!(1), &json!(cursor)));
    assert_eq!(details["replayed_by"], "admin");

    // From a time: the entries received since then (all of them, here).
    let since = replay(json!({"from_time": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(since.status, StatusCode::OK, "{}", since.text);
    assert_eq!(since.json()["from_sequence"], 1);
    // Nothing received since a time to come: that would move the cursor forward.
    let future = replay(json!({"from_time": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(future.status, StatusCode::BAD_REQUEST, "{}", future.text);
    assert!(future.error().contains("never forward"), "{}", future.text);

    let missing = app.request(Method::POST, "/admin/destinations/77/replay", Some(&admin), b"{}".to_vec()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_test_event_goes_to_the_receiver_and_is_not_recorded() {
    let app = TestApp::spawn().await;
    let admin = app.admin.clone();
    let created = app
        .request(
            Method::POST,
            "/admin/destinations",
            Some(&admin),
            json!({"name": "la", "kind": "stdout"}).to_string().into_bytes(),
        )
        .await;
    let id = created.json()["destination"]["id"].as_i64().expect("id");
    let before = app.store.log.entries_after(0, 1000).await.expect("reads").len();
    let tested = app.request(Method::POST, &format!("/admin/destinations/{id}/test"), Some(&admin), Vec::new()).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text);
    assert_eq!(tested.json(), json!({"delivered": true, "answer": "accepted"}));
    assert_eq!(app.store.log.entries_after(0, 1000).await.expect("reads").len(), before, "nothing recorded");
    let missing = app.request(Method::POST, "/admin/destinations/77/test", Some(&admin), Vec::new()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let auditor = app.page(Method::POST, &format!("/admin/destinations/{id}/test"), Vec::new()).await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
}
