//! The pull cursor of `GET /audit/entries?after=<sequence>`: entries oldest first, a
//! `next` cursor and a `Link: <…>; rel="next"` header, for SIEMs that poll.

use crate::helpers::{event, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SYNC: (&str, &str, &str) = ("service", "sp-sync", "sync-worker");
const KEYS: (&str, &str, &str) = ("user", "u-ada", "ada");

/// The `rel="next"` address of a reply.
fn next_link(reply: &crate::helpers::Reply) -> String {
    let link = reply.headers.get("link").expect("a Link header").to_str().expect("ASCII");
    let (target, rel) = link.split_once(';').expect("target; rel");
    assert_eq!(rel.trim(), r#"rel="next""#);
    target.trim().trim_start_matches('<').trim_end_matches('>').to_owned()
}

fn sequences(page: &Value) -> Vec<u64> {
    page["entries"].as_array().expect("entries").iter().map(|e| e["sequence"].as_u64().expect("sequence")).collect()
}

#[tokio::test]
async fn a_poller_following_next_gets_every_entry_once_in_order_while_appends_go_on() {
    let app = TestApp::spawn().await;
    app.seed(250, 10, 7, "2025-03-01T00:00:00Z").await;
    // Appends keep coming from another task while the poller reads.
    let appending = {
        let (router, ingest) = (app.router.clone(), app.ingest.clone());
        tokio::spawn(async move {
            for batch in 0..30 {
                let events: Vec<Value> = (0..7)
                    .map(|i| event("auth.login.success", &format!("2025-03-02T00:{batch:02}:{i:02}Z"), SYNC))
                    .collect();
                let request = axum::http::Request::post("/audit/events")
                    .header("authorization", format!("Bearer {ingest}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(json!(events).to_string()))
                    .expect("request");
                let reply = tower::ServiceExt::oneshot(router.clone(), request).await.expect("answers");
                assert_eq!(reply.status(), StatusCode::CREATED);
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut uri = "/audit/entries?after=0&limit=37".to_owned();
    let mut quiet_polls = 0;
    while quiet_polls < 2 {
        let reply = app.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
        let page = reply.json();
        let got = sequences(&page);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "ascending: {got:?}");
        let next = page["next"].as_u64().expect("next");
        assert_eq!(got.last().copied().unwrap_or(next), next, "next is the last entry read when all match");
        seen.extend(got.iter().copied());
        let link = next_link(&reply);
        assert!(link.contains(&format!("after={next}")) && link.contains("limit=37"), "{link}");
        if got.is_empty() && appending.is_finished() {
            quiet_polls += 1;
        }
        uri = link;
    }
    appending.await.expect("appended");
    let every: Vec<u64> =
        app.store.log.entries_after(0, 10_000).await.expect("reads").iter().map(|e| e.sequence).collect();
    assert_eq!(every.len(), 250 + 30 * 7);
    assert_eq!(seen, every, "each entry once, in sequence order");
}

#[tokio::test]
async fn filters_hold_and_the_cursor_moves_over_what_does_not_match() {
    let app = TestApp::spawn().await;
    let mut events = Vec::new();
    for i in 0..40 {
        let kind = if i % 10 == 9 { "auth.login.failed" } else { "secret.read" };
        events.push(event(kind, &format!("2025-01-10T08:00:{i:02}Z"), if i % 2 == 0 { KEYS } else { SYNC }));
    }
    assert_eq!(app.post_events(&json!(events)).await.status, StatusCode::CREATED);

    let reply = app.get("/audit/entries?after=0&event_type=auth.*&limit=2").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let page = reply.json();
    assert_eq!(sequences(&page), vec![10, 20]);
    assert_eq!(page["next"], 20, "stopped at the page's last entry");
    assert_eq!(page["total_exact"], false, "more may follow");
    let link = next_link(&reply);
    assert!(link.starts_with("/audit/entries?") && link.contains("event_type=auth.*") && link.contains("after=20"));

    let page = app.get(&link).await.json();
    assert_eq!(sequences(&page), vec![30, 40]);
    // Nothing left that matches: the cursor still moves to the end of what was read.
    let page = app.get("/audit/entries?after=40&event_type=auth.*").await.json();
    assert_eq!(sequences(&page), Vec::<u64>::new());
    assert_eq!(page["next"], 40);
    assert_eq!(page["total_exact"], true, "caught up");
    let page = app.get("/audit/entries?after=31&event_type=auth.*").await.json();
    assert_eq!((sequences(&page), page["next"].clone()), (vec![40], json!(40)));
    let page = app.get("/audit/entries?after=11&actor=ada&event_type=secret.*&limit=3").await.json();
    assert_eq!(sequences(&page), vec![13, 15, 17]);
    // A cursor past the head answers an empty page that keeps it.
    let reply = app.get("/audit/entries?after=9000").await;
    assert_eq!((sequences(&reply.json()), reply.json()["next"].clone()), (vec![], json!(9000)));
    assert!(next_link(&reply).contains("after=9000"));
    // Without a cursor nothing changes: newest first, no Link.
    let reply = app.get("/audit/entries?limit=2").await;
    assert_eq!(sequences(&reply.json()), vec![40, 39]);
    assert!(reply.headers.get("link").is_none() && reply.json().get("next").is_none());
}

#[tokio::test]
async fn a_bad_cursor_is_refused_with_a_clear_error() {
    let app = TestApp::spawn().await;
    for (uri, error) in [
        ("/audit/entries?after=-1", "after '-1' is invalid"),
        ("/audit/entries?after=abc", "after 'abc' is invalid"),
        ("/audit/entries?after=99999999999999999999", "after '99999999999999999999' is invalid"),
        ("/audit/entries?after=1&offset=5", "leave out offset"),
        ("/audit/entries?after=1&after=2", "'after' may be given only once"),
        ("/audit/entries?after=1&limit=0", "limit '0' is invalid"),
        ("/audit/entries/count?after=1", "leave out limit, offset and after"),
        ("/audit/export?format=csv&after=1", "leave out limit, offset and after"),
    ] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {}", reply.text);
        assert!(reply.error().contains(error), "{uri}: {}", reply.text);
    }
    let anonymous = app.request(axum::http::Method::GET, "/audit/entries?after=0", None, Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let ingest_only =
        app.request(axum::http::Method::GET, "/audit/entries?after=0", Some(&app.ingest), Vec::new()).await;
    assert_eq!(ingest_only.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_tab_ignores_a_cursor_in_its_address() {
    let query = app::audit::url::parse("?after=5&severity=error").expect("parses");
    assert_eq!(query.after, None);
    assert_eq!(query.severity, vec!["error".to_owned()]);
    let seen: BTreeSet<&str> = app::filter::EntryQuery::PARAMETERS.into_iter().collect();
    assert!(seen.contains("after"));
}
