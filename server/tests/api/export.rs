//! `GET /audit/export`: every matching entry, exactly, in each format, safely.

use crate::helpers::{event, TestApp};
use app::export::CSV_COLUMNS;
use axum::http::{header, StatusCode};
use serde_json::{json, Value};

const ALICE: (&str, &str, &str) = ("user", "user-1", "alice@contoso.com");

/// Four entries, one of them full of values a spreadsheet would run or a parser choke on.
async fn fixture() -> TestApp {
    let app = TestApp::spawn().await;
    let mut hostile = event("settings.updated", "2025-01-11T10:00:00Z", ("user", "user-9", "@SUM(1+1)"));
    hostile["description"] = json!("=HYPERLINK(\"http://evil\",\"click\"), then\na second line");
    hostile["resource"] = json!({"type": "setting", "id": "-2+3", "name": "+cmd|' /C calc'!A0"});
    hostile["details"] = json!({"setting": "=x", "old_value": "a,b", "new_value": "say \"hi\"", "modified_by": "ü"});
    let batch = json!([
        event("auth.login.success", "2025-01-10T08:00:00Z", ALICE),
        event("sync.failed", "2025-01-12T09:00:00Z", ("service", "sp-sync", "sync-worker")),
        hostile,
        event("auth.logout", "2025-01-13T08:00:00Z", ALICE),
    ]);
    let reply = app.post_events(&batch).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    app
}

/// Every matching entry as the API returns them, oldest first.
async fn expected(app: &TestApp, filters: &str) -> Vec<Value> {
    let page = app.list(&format!("{filters}&limit=1000")).await;
    let mut entries = page["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    entries
}

#[tokio::test]
async fn json_is_every_entry_exactly_as_the_api_returns_it() {
    let app = fixture().await;
    let want = expected(&app, "").await;
    let reply = app.get("/audit/export?format=json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        reply.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"certifyclouds-audit-start_".to_owned()
            + &chrono::Utc::now().format("%Y-%m-%d").to_string()
            + ".json\""
    );
    let got: Vec<Value> = serde_json::from_str(&reply.text).expect("a JSON array");
    assert_eq!(got, want);
    assert_eq!(got.len(), 4);
}

#[tokio::test]
async fn ndjson_is_one_entry_a_line() {
    let app = fixture().await;
    let want = expected(&app, "severity=info").await;
    let reply = app.get("/audit/export?format=ndjson&severity=info").await;
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let got: Vec<Value> = reply.text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(got, want);
    assert!(got.iter().all(|e| e["severity"] == "info") && got.len() == 3);
}

#[tokio::test]
async fn csv_round_trips_hostile_values_through_a_real_parser() {
    let app = fixture().await;
    let want = expected(&app, "").await;
    let reply = app.get("/audit/export?format=csv&start_date=2025-01-10&end_date=2025-01-31").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        reply.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"certifyclouds-audit-2025-01-10_2025-01-31.csv\""
    );
    let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
    let headers: Vec<String> = reader.headers().expect("header row").iter().map(str::to_owned).collect();
    assert_eq!(headers, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("valid RFC 4180");
    assert_eq!(rows.len(), want.len());

    // A formula-like cell starts with an apostrophe; taking it off gives the value back.
    for (row, entry) in rows.iter().zip(&want) {
        let cell = |name: &str| recover(&row[CSV_COLUMNS.iter().position(|c| *c == name).expect("column")]);
        assert_eq!(cell("id"), entry["id"].as_str().unwrap_or_default());
        assert_eq!(cell("timestamp"), entry["timestamp"].as_str().unwrap_or_default());
        assert_eq!(cell("actor_name"), entry["actor"]["name"].as_str().unwrap_or_default());
        assert_eq!(cell("description"), entry["description"].as_str().unwrap_or_default());
        assert_eq!(cell("resource_id"), entry["resource"]["id"].as_str().unwrap_or_default());
        assert_eq!(cell("resource_name"), entry["resource"]["name"].as_str().unwrap_or_default());
        let details: Value = serde_json::from_str(&cell("details")).expect("details as JSON");
        assert_eq!(details, entry["details"]);
        // Provenance: when the server received it and which token posted it.
        assert_eq!(cell("received_at"), entry["received_at"].as_str().unwrap_or_default());
        assert_eq!(cell("ingested_by_name"), "ingester");
        assert_eq!(cell("ingested_by_id"), entry["ingested_by"]["id"].to_string());
    }
    let hostile = &rows[1];
    for cell in hostile.iter() {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "a live formula: {cell}");
    }
    assert!(hostile.iter().any(|c| c == "'=HYPERLINK(\"http://evil\",\"click\"), then\na second line"));
}

#[tokio::test]
async fn filters_are_honoured_and_an_empty_export_is_still_a_valid_file() {
    let app = fixture().await;
    let reply = app.get("/audit/export?format=json&event_type=sync.*").await;
    let got: Vec<Value> = serde_json::from_str(&reply.text).expect("JSON");
    assert_eq!(got.iter().map(|e| e["event_type"].clone()).collect::<Vec<_>>(), [json!("sync.failed")]);

    let none = "start_date=2030-01-01";
    let json: Vec<Value> = serde_json::from_str(&app.get(&format!("/audit/export?format=json&{none}")).await.text)
        .expect("an empty array is valid JSON");
    assert!(json.is_empty());
    assert_eq!(app.get(&format!("/audit/export?format=ndjson&{none}")).await.text, "");
    let csv = app.get(&format!("/audit/export?format=csv&{none}")).await.text;
    assert_eq!(csv, format!("{}\r\n", CSV_COLUMNS.join(",")));
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_byte_of_the_file() {
    let app = fixture().await;
    for (uri, expected) in [
        ("/audit/export", "format is required"),
        ("/audit/export?format=xlsx", "format 'xlsx' is unknown"),
        ("/audit/export?format=csv&severity=critical", "severity 'critical' is unknown"),
        ("/audit/export?format=csv&limit=10", "leave out limit, offset and after"),
        ("/audit/export?format=json&colour=red", "unknown query parameter 'colour'"),
    ] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json", "{uri}");
        assert!(reply.error().contains(expected), "{uri}: {}", reply.error());
    }
    let reply = app.request(axum::http::Method::GET, "/audit/export?format=csv", None, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// The export events of the log, oldest first.
async fn export_events(app: &TestApp) -> Vec<Value> {
    let page = app.list("event_type=audit.*&limit=1000").await;
    let mut events = page["entries"].as_array().cloned().unwrap_or_default();
    events.reverse();
    events
}

#[tokio::test]
async fn every_export_records_who_asked_before_the_data_and_its_outcome_after() {
    use tower::ServiceExt;
    let app = fixture().await;
    let request = axum::http::Request::get("/audit/export?format=csv&severity=info")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.read))
        .header(header::USER_AGENT, "splunk-pull/1.0")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    // Not one byte of the file has been read, and the request is already on record.
    let events = export_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let started = &events[0];
    assert_eq!(started["event_type"], "audit.exported");
    assert_eq!(started["details"]["format"], "csv");
    assert_eq!(started["details"]["filters"], "severity=info");
    assert_eq!(started["details"]["exported_by"], "API token \"reader\"");
    assert_eq!(started["actor"]["name"], "reader");
    assert_eq!(started["actor"]["type"], "service");
    assert_eq!(started["ip_address"], "192.0.2.10");
    assert_eq!(started["user_agent"], "splunk-pull/1.0");
    assert_eq!(started["ingested_by"], Value::Null, "the product's own record");

    let body = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    let events = export_events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let outcome = &events[1];
    assert_eq!(outcome["event_type"], "audit.export.completed");
    assert_eq!(outcome["details"]["export_id"], started["id"]);
    assert_eq!(outcome["details"]["rows"], 3, "the file covers the log as it stood when asked for");
    assert_eq!(outcome["details"]["bytes"], body.len());
    assert_eq!(outcome["actor"], started["actor"]);
    // The export does not hold its own record.
    assert!(!String::from_utf8_lossy(&body).contains("audit.exported"));
}

#[tokio::test]
async fn an_overlong_or_tabbed_user_agent_is_shortened_in_the_record_not_a_reason_to_fail() {
    let app = fixture().await;
    let agent = format!("tool\t{}", "x".repeat(5000));
    let reply = app
        .request_with(
            axum::http::Method::GET,
            "/audit/export?format=csv",
            Some(&app.read),
            &[("user-agent", agent.as_str())],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let recorded = export_events(&app).await[0]["user_agent"].as_str().unwrap_or_default().to_owned();
    assert_eq!(recorded.chars().count(), 1024);
    assert!(recorded.starts_with("tool xxx"), "{recorded}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded_and_otherwise_the_peer() {
    let header = [("x-forwarded-for", "198.51.100.4, 203.0.113.7")];
    let direct = fixture().await;
    let reply = direct
        .request_with(axum::http::Method::GET, "/audit/export?format=json", Some(&direct.read), &header, Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(export_events(&direct).await[0]["ip_address"], "192.0.2.10", "an untrusted peer's header is ignored");

    let proxied = TestApp::spawn_with(|s| s.with_trusted_proxies("192.0.2.0/24".parse().expect("proxies"))).await;
    let reply = proxied
        .request_with(axum::http::Method::GET, "/audit/export?format=json", Some(&proxied.read), &header, Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(export_events(&proxied).await[0]["ip_address"], "203.0.113.7", "the address the proxy saw");
}

#[tokio::test]
async fn too_many_exports_at_once_get_a_503_with_retry_after_before_any_byte() {
    use tower::ServiceExt;
    let limits = server::state::Limits::new(1, std::time::Duration::from_millis(200), 1);
    let app = TestApp::spawn_with(|s| s.with_limits(limits)).await;
    app.seed(20_000, 30, 7, "2025-02-01T00:00:00Z").await;
    let request = |format: &str| {
        axum::http::Request::get(format!("/audit/export?format={format}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", app.read))
            .body(axum::body::Body::empty())
            .expect("request")
    };
    // The first export holds the only turn while its client reads nothing.
    let first = app.router.clone().oneshot(request("csv")).await.expect("response");
    assert_eq!(first.status(), StatusCode::OK);
    for format in ["json", "pdf"] {
        let second = app.get(&format!("/audit/export?format={format}&severity=error&start_date=2025-01-31")).await;
        assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE, "{format}: {}", second.text);
        let retry: u64 = second.headers[header::RETRY_AFTER].to_str().expect("text").parse().expect("seconds");
        assert!(retry >= 1);
        assert!(second.error().contains("too many"), "{}", second.error());
    }
    let started: Vec<Value> =
        export_events(&app).await.into_iter().filter(|e| e["event_type"] == "audit.exported").collect();
    assert_eq!(started.len(), 1, "a refused export is not an export");
    drop(first);
    // The turn comes back when the first export's read ends.
    let mut third = app.get("/audit/export?format=json&severity=error&start_date=2025-01-31").await;
    for _ in 0..50 {
        if third.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        third = app.get("/audit/export?format=json&severity=error&start_date=2025-01-31").await;
    }
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
}

#[tokio::test]
async fn a_client_that_goes_away_stops_the_export() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    app.seed(20_000, 30, 7, "2025-02-01T00:00:00Z").await;
    let request = axum::http::Request::get("/audit/export?format=csv")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.read))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    // The file starts before the query ends: the first chunk arrives, far short of the whole.
    let first = body.frame().await.expect("a chunk").expect("no error").into_data().expect("data");
    assert!(first.starts_with(b"id,timestamp,") && first.len() < 1_000_000);
    drop(body);
    // The request was recorded before the first byte; that it was cut short, once it was.
    let mut events = export_events(&app).await;
    for _ in 0..50 {
        if events.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        events = export_events(&app).await;
    }
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event_type"].as_str()).collect();
    assert_eq!(kinds, ["audit.exported", "audit.export.aborted"]);
    assert_eq!(events[1]["details"]["reason"], "the client went away");
    let sent = events[1]["details"]["bytes"].as_u64().expect("bytes");
    assert!(sent >= first.len() as u64 && sent < 20_000 * 300, "{sent}");
    // And its read is over: a scan still waiting to send would hold a read snapshot, and
    // the write-ahead log could not be checkpointed and emptied.
    // (The store's own checkpointer may be mid-checkpoint at that instant: that passes,
    // a read left open does not.)
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("pool");
    let mut busy = 1;
    for _ in 0..20 {
        (busy, _, _) = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&pool)
            .await
            .expect("checkpoint");
        if busy == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(busy, 0, "the export's read is still open");
}

#[tokio::test]
async fn the_audit_tab_exports_for_the_person_signed_in_and_is_recorded_as_theirs() {
    let app = fixture().await;
    let uri = "/api/audit/export?format=ndjson&actor=system";
    let anonymous = app.request(axum::http::Method::GET, uri, None, Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.text);
    let token = app.request(axum::http::Method::GET, uri, Some(&app.read), Vec::new()).await;
    assert_eq!(token.status, StatusCode::FORBIDDEN, "the pages' export is not for tokens: {}", token.text);
    assert!(export_events(&app).await.is_empty(), "refusals export nothing");

    let reply = app.page(axum::http::Method::GET, uri, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "", "no system entries in the fixture");
    let events = export_events(&app).await;
    let person = app.store.accounts.user_named("auditor-1").await.expect("reads").expect("the auditor").user;
    assert_eq!(events[0]["actor"], json!({"type": "user", "id": format!("user-{}", person.id), "name": "auditor-1"}));
    assert_eq!(events[0]["details"]["exported_by"], "Test auditor 1 (auditor-1)");
    assert_eq!(
        (events[1]["event_type"].as_str(), events[1]["details"]["rows"].as_u64()),
        (Some("audit.export.completed"), Some(0))
    );
}

/// A CSV cell as it was before neutralisation.
fn recover(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r', '\0']) => rest.to_owned(),
        _ => cell.to_owned(),
    }
}

#[tokio::test]
async fn csv_and_json_hold_the_same_entries_field_for_field() {
    let app = TestApp::spawn().await;
    app.seed(2_000, 10, 5, "2025-03-01T00:00:00Z").await;
    // The seeded period only: each export adds its own trace after it.
    for filters in [
        "end_date=2025-03-01",
        "end_date=2025-03-01&severity=warning&severity=error",
        "end_date=2025-03-01&q=payments&event_type=rotation.*",
        "end_date=2025-03-01&actor=system",
        "end_date=2025-03-01&q=zzzz",
    ] {
        let json: Vec<Value> =
            serde_json::from_str(&app.get(&format!("/audit/export?format=json&{filters}")).await.text).expect("JSON");
        let csv = app.get(&format!("/audit/export?format=csv&{filters}")).await.text;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("valid CSV");
        assert_eq!(rows.len(), json.len(), "{filters}");
        assert_eq!(json.is_empty(), filters.contains("zzzz"), "{filters}: {} entries", json.len());
        for (row, entry) in rows.iter().zip(&json) {
            let resource = |key: &str| entry["resource"][key].as_str().unwrap_or_default().to_owned();
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let want = [
                text(&entry["id"]),
                text(&entry["timestamp"]),
                text(&entry["event_type"]),
                text(&entry["severity"]),
                text(&entry["actor"]["type"]),
                text(&entry["actor"]["id"]),
                text(&entry["actor"]["name"]),
                resource("type"),
                resource("id"),
                resource("name"),
                text(&entry["description"]),
                entry["details"].to_string(),
                text(&entry["ip_address"]),
                text(&entry["user_agent"]),
                text(&entry["received_at"]),
                entry["ingested_by"]["id"].as_i64().map(|id| id.to_string()).unwrap_or_default(),
                text(&entry["ingested_by"]["name"]),
            ];
            let got: Vec<String> = row.iter().map(recover).collect();
            assert_eq!(got, want, "{filters}");
        }
    }
    // Every CSV export ran to its end, the empty one too.
    let events = export_events(&app).await;
    let csv: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "audit.export.completed" && e["details"]["format"] == "csv")
        .collect();
    assert_eq!(csv.len(), 5);
    assert!(csv.iter().any(|e| e["details"]["rows"] == 0));
}

#[tokio::test]
async fn a_row_that_cannot_be_read_aborts_the_transfer_instead_of_ending_the_file() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = fixture().await;
    // A row whose details are not JSON, written past the store (the store never would).
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("pool");
    // At the head, linked, as the database demands; only its details are broken.
    sqlx::query(
        "INSERT INTO audit_entries (seq, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, \
         actor_ref, description, details, prev_hash, hash) \
         SELECT 5, 1736600000000000, MAX(1736600000000000, e.ts_high), 'auth.logout', 0, 'user', 'u', 'u', \
         (SELECT MIN(ref) FROM audit_actors), 'broken', 'not json', e.hash, zeroblob(32) \
         FROM audit_entries e WHERE e.seq = 4",
    )
    .execute(&pool)
    .await
    .expect("inserted");
    // With its row of the Merkle tree, as the store writes one with every entry.
    sqlx::query("INSERT INTO audit_tree (seq, hashes) VALUES (5, zeroblob(32))")
        .execute(&pool)
        .await
        .expect("tree row");
    let request = axum::http::Request::get("/audit/export?format=json")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.read))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK, "the file had started");
    let mut body = response.into_body();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the transfer must fail, not end as if the file were whole");
    let events = export_events(&app).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event_type"].as_str()).collect();
    assert_eq!(kinds, ["audit.exported", "audit.export.aborted"]);
    assert_eq!(events[1]["details"]["reason"], "the store could not be read to the end");
}

/// The same entries give the same files on both engines: every format, with and without
/// filters and a search. It runs in the PostgreSQL pass, which has both engines at hand.
#[tokio::test]
async fn both_engines_export_the_same_bytes_and_pages() {
    if !crate::helpers::on_postgres() {
        return;
    }
    let sqlite = TestApp::spawn_engine(false, |s| s).await;
    let postgres = TestApp::spawn_engine(true, |s| s).await;
    for app in [&sqlite, &postgres] {
        app.seed(3000, 20, 7, "2025-06-01T00:00:00Z").await;
    }
    for query in [
        "format=csv",
        "format=json",
        "format=csv&q=vault&severity=warning,error",
        "format=json&event_type=auth.*&start_date=2025-05-20",
        "format=csv&actor=system&start_date=2025-05-25T12:00:00Z",
    ] {
        // Up to the seed's end: each export records an entry of its own, at a time of its own.
        let uri = format!("/audit/export?{query}&end_date=2025-06-02");
        let (a, b) = (sqlite.get(&uri).await, postgres.get(&uri).await);
        assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK), "{query}");
        assert!(a.bytes.len() > 1000, "{query}: a weak check ({} bytes)", a.bytes.len());
        let at =
            a.bytes.iter().zip(b.bytes.iter()).position(|(x, y)| x != y).unwrap_or(a.bytes.len().min(b.bytes.len()));
        let near = |bytes: &[u8]| {
            String::from_utf8_lossy(&bytes[at.saturating_sub(80)..(at + 80).min(bytes.len())]).into_owned()
        };
        assert!(
            a.bytes == b.bytes,
            "{query}: the engines' files differ at byte {at}:\n{}\n{}",
            near(&a.bytes),
            near(&b.bytes)
        );
    }
    for query in ["limit=50", "q=rotation+failed&limit=20&offset=40", "severity=error&actor=system&offset=100"] {
        let query = format!("{query}&end_date=2025-06-02");
        let (a, b) = (sqlite.list(&query).await, postgres.list(&query).await);
        assert_eq!(a["entries"], b["entries"], "{query}");
        assert_eq!(a["total"], b["total"], "{query}");
    }
}
