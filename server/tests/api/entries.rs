//! `GET /audit/entries` and `/audit/entries/{id}`: every filter alone and combined,
//! ordering, pagination and totals.

use crate::helpers::{event, ids, TestApp};
use axum::http::StatusCode;
use serde_json::json;

const ALICE: (&str, &str, &str) = ("user", "user-1", "alice@contoso.com");
const BOB: (&str, &str, &str) = ("user", "user-2", "bob@contoso.com");
const ROTATOR: (&str, &str, &str) = ("service", "sp-rot", "rotation-worker");
const SYSTEM: (&str, &str, &str) = ("system", "system", "system");

/// Six events whose ids are audit-1 … audit-6 in time order.
async fn fixture() -> TestApp {
    let app = TestApp::spawn().await;
    let mut rotation = event("rotation.failed", "2025-01-11T10:00:00Z", ROTATOR);
    rotation["resource"] = json!({"type": "secret", "id": "kv1/stripe", "name": "stripe-api-key"});
    let mut scan = event("discovery.scan.completed", "2025-01-12T11:00:00Z", SYSTEM);
    scan["resource"] = json!({"type": "scan", "id": "scan-1", "name": "nightly full scan"});
    let mut sync = event("sync.failed", "2025-01-13T00:00:00Z", SYSTEM);
    sync["description"] = json!("Sync failed: vault kv-prod-eastus unreachable");
    let batch = json!([
        event("auth.login.success", "2025-01-10T08:00:00Z", ALICE),
        event("auth.login.failed", "2025-01-10T09:00:00Z", BOB),
        rotation,
        scan,
        event("settings.updated", "2025-01-12T23:59:59Z", ALICE),
        sync,
    ]);
    app.record(&batch).await;
    app
}

fn expect(app_ids: Vec<String>, want: &[u64]) {
    let want: Vec<String> = want.iter().map(|n| format!("audit-{n}")).collect();
    assert_eq!(app_ids, want);
}

async fn check(app: &TestApp, query: &str, want: &[u64]) {
    let page = app.list(query).await;
    assert_eq!(page["total"], json!(want.len()), "total of {query}");
    let want: Vec<String> = want.iter().map(|n| format!("audit-{n}")).collect();
    assert_eq!(ids(&page), want, "{query}");
}

#[tokio::test]
async fn newest_first_with_the_spec_shape() {
    let app = fixture().await;
    let page = app.list("").await;
    expect(ids(&page), &[6, 5, 4, 3, 2, 1]);
    assert_eq!((page["total"].clone(), page["limit"].clone(), page["offset"].clone()), (json!(6), json!(50), json!(0)));
    let e = &page["entries"][3];
    assert_eq!(e["timestamp"], "2025-01-11T10:00:00Z");
    assert_eq!(e["event_type"], "rotation.failed");
    assert_eq!(e["actor"], json!({"type": "service", "id": "sp-rot", "name": "rotation-worker"}));
    assert_eq!(e["resource"], json!({"type": "secret", "id": "kv1/stripe", "name": "stripe-api-key"}));
    assert_eq!(e["severity"], "error");
    assert_eq!(e["ip_address"], "192.0.2.50");
    assert_eq!(e["sequence"], 3);
}

#[tokio::test]
async fn date_range_filters() {
    let app = fixture().await;
    check(&app, "start_date=2025-01-12", &[6, 5, 4]).await;
    check(&app, "end_date=2025-01-12", &[5, 4, 3, 2, 1]).await;
    check(&app, "end_date=2025-01-12T11:00:00Z", &[4, 3, 2, 1]).await;
    check(&app, "start_date=2025-01-10T09:00:00Z&end_date=2025-01-11", &[3, 2]).await;
    check(&app, "start_date=2025-01-12T13:00:00%2B02:00", &[6, 5, 4]).await;
    check(&app, "start_date=2025-02-01", &[]).await;
}

#[tokio::test]
async fn event_type_filters() {
    let app = fixture().await;
    check(&app, "event_type=auth.*", &[2, 1]).await;
    check(&app, "event_type=sync.failed", &[6]).await;
    check(&app, "event_type=auth.login.failed&event_type=rotation.failed", &[3, 2]).await;
    check(&app, "event_type=auth.login.*", &[2, 1]).await;
    check(&app, "event_type=auth.logout", &[]).await;
}

#[tokio::test]
async fn actor_filters() {
    let app = fixture().await;
    check(&app, "actor=alice%40contoso.com", &[5, 1]).await;
    check(&app, "actor=ALICE%40Contoso.com", &[5, 1]).await;
    check(&app, "actor=user-2", &[2]).await;
    check(&app, "actor=system", &[6, 4]).await;
    check(&app, "actor=nobody", &[]).await;
}

#[tokio::test]
async fn severity_filters() {
    let app = fixture().await;
    check(&app, "severity=error", &[6, 3]).await;
    check(&app, "severity=warning,error", &[6, 3, 2]).await;
    check(&app, "severity=info&severity=warning", &[5, 4, 2, 1]).await;
}

#[tokio::test]
async fn search_covers_type_actor_description_and_resource() {
    let app = fixture().await;
    check(&app, "q=stripe", &[3]).await;
    check(&app, "q=kv-prod", &[6]).await;
    check(&app, "q=bob", &[2]).await;
    check(&app, "q=rotation", &[3]).await;
    check(&app, "q=nightly+scan", &[4]).await;
    check(&app, "q=NIGHT", &[4]).await;
    // Two letters match a whole word only; from three on, words are prefixes.
    check(&app, "q=kv", &[6]).await;
    check(&app, "q=ro", &[]).await;
    check(&app, "q=rot", &[3]).await;
    check(&app, "q=nomatch", &[]).await;
    check(&app, "q=%22%2A%28", &[6, 5, 4, 3, 2, 1]).await;
}

#[tokio::test]
async fn combined_filters() {
    let app = fixture().await;
    check(&app, "start_date=2025-01-11&severity=error&actor=system", &[6]).await;
    check(&app, "event_type=auth.*&actor=bob%40contoso.com&severity=warning&q=login", &[2]).await;
    check(&app, "start_date=2025-01-10&end_date=2025-01-12&event_type=settings.updated&actor=user-1", &[5]).await;
    check(&app, "severity=error&q=stripe&actor=system", &[]).await;
    // Past the last match of a search with filters the total still comes back.
    let page = app.list("severity=warning,error&q=login&offset=1").await;
    assert_eq!((page["total"].clone(), page["entries"].clone()), (json!(1), json!([])));
}

#[tokio::test]
async fn pagination_edges() {
    let app = fixture().await;
    let page = app.list("limit=2").await;
    expect(ids(&page), &[6, 5]);
    assert_eq!(page["total"], 6);
    expect(ids(&app.list("limit=2&offset=4").await), &[2, 1]);
    expect(ids(&app.list("limit=4&offset=4").await), &[2, 1]);
    let past = app.list("offset=100").await;
    assert_eq!((ids(&past).len(), past["total"].clone(), past["offset"].clone()), (0, json!(6), json!(100)));
    expect(ids(&app.list("limit=1000").await), &[6, 5, 4, 3, 2, 1]);
    expect(ids(&app.list("limit=1").await), &[6]);
}

#[tokio::test]
async fn late_and_simultaneous_events_sort_by_time_then_sequence() {
    let app = fixture().await;
    let late = event("auth.logout", "2025-01-11T12:00:00Z", ALICE);
    let twin = event("auth.logout", "2025-01-11T12:00:00Z", BOB);
    assert_eq!(app.post_events(&json!([late, twin])).await.status, StatusCode::CREATED);
    expect(ids(&app.list("").await), &[6, 5, 4, 8, 7, 3, 2, 1]);
}

#[tokio::test]
async fn one_entry_by_id() {
    let app = fixture().await;
    let reply = app.get("/audit/entries/audit-3").await;
    assert_eq!(reply.status, StatusCode::OK);
    let entry = reply.json();
    assert_eq!(entry["event_type"], "rotation.failed");
    assert_eq!(entry["id"], "audit-3");
    for missing in ["audit-99", "audit-0", "nonsense", "3"] {
        let reply = app.get(&format!("/audit/entries/{missing}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert!(reply.error().contains(missing));
    }
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_that_says_what_was_wrong() {
    let app = fixture().await;
    let cases = [
        ("start_date=2025-13-45", "start_date"),
        ("end_date=tomorrow", "end_date"),
        ("start_date=2025-02-01&end_date=2025-01-01", "start_date must not be after end_date"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("offset=x", "offset"),
        ("severity=critical", "severity 'critical'"),
        ("event_type=AUTH", "event_type 'AUTH'"),
        ("event_type=auth.*.x", "event_type"),
        ("actor=", "actor"),
        ("sort=asc", "unknown query parameter 'sort'"),
    ];
    for (query, needle) in cases {
        let reply = app.get(&format!("/audit/entries?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(reply.error().contains(needle), "{query}: {}", reply.error());
    }
}

/// The totals of day-aligned and partial-day ranges come from the per-day counts plus
/// the edges; they must equal counting the rows one by one.
#[tokio::test]
async fn totals_match_counting_every_row() {
    let app = TestApp::spawn().await;
    app.seed(3_000, 10, 3, "2025-03-10T15:30:00Z").await;
    let queries = [
        "",
        "start_date=2025-03-03",
        "end_date=2025-03-05",
        "start_date=2025-03-02T07:15:00Z&end_date=2025-03-06T18:00:00Z",
        "start_date=2025-03-04T01:00:00Z&end_date=2025-03-04T05:00:00Z",
        "event_type=auth.*&start_date=2025-03-01T12:00:00Z",
        "severity=error,warning&end_date=2025-03-08T09:00:00Z",
        "actor=system&start_date=2025-03-05",
        "actor=admin%40contoso.com",
        "q=payments",
    ];
    for query in queries {
        let first = app.list(&format!("{query}&limit=1000")).await;
        let total = first["total"].as_u64().expect("total");
        let mut counted = 0;
        let mut offset = 0;
        loop {
            let page = app.list(&format!("{query}&limit=1000&offset={offset}")).await;
            let n = ids(&page).len() as u64;
            counted += n;
            offset += 1000;
            if n < 1000 {
                break;
            }
        }
        assert_eq!(total, counted, "{query}");
        assert!(counted > 0, "{query} matched nothing: a weak check");
    }
}
