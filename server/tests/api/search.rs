//! Search folds accents and case the same way in every place that searches: the list and
//! its total, the timeline, the export and the live stream.

use crate::helpers::{event, TestApp};
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::Duration;

const FINANCE: (&str, &str, &str) = ("service", "sp-pay", "payment-worker");

fn payment(description: &str, time: &str) -> Value {
    let mut e = event("sync.completed", time, FINANCE);
    e["description"] = json!(description);
    e
}

#[tokio::test]
async fn accented_and_plain_words_find_the_same_entries_everywhere() {
    let app = TestApp::spawn().await;
    let batch = json!([
        payment("Zahlung an Müller", "2025-01-10T08:00:00Z"),
        payment("Zahlung an Meier", "2025-01-10T09:00:00Z"),
        payment("Crème brûlée für MULLER & Söhne", "2025-01-10T10:00:00Z"),
    ]);
    assert_eq!(app.post_events(&batch).await.status, StatusCode::CREATED);
    for q in ["müller", "muller", "MÜLLER", "Mu%CC%88ller"] {
        let q = if q.contains('%') { q.to_owned() } else { form_urlencoded::byte_serialize(q.as_bytes()).collect() };
        let page = app.list(&format!("q={q}")).await;
        assert_eq!(page["total"], 2, "list total for {q}");
        let ids: Vec<&str> =
            page["entries"].as_array().expect("entries").iter().filter_map(|e| e["id"].as_str()).collect();
        assert_eq!(ids, ["audit-3", "audit-1"], "{q}");

        let export: Vec<Value> = serde_json::from_str(&app.get(&format!("/audit/export?format=json&q={q}")).await.text)
            .expect("JSON export");
        assert_eq!(export.len(), 2, "export for {q}");

        let html = app.page(Method::GET, &format!("/audit?q={q}"), Vec::new()).await.text;
        assert!(html.contains("Showing 1–2 of 2"), "page for {q}");
        assert!(html.contains("2 entries by"), "timeline for {q}");
        assert!(html.contains("<mark>Müll</mark>") || html.contains("<mark>Müller</mark>"), "highlight for {q}");
    }
    assert_eq!(app.list("q=sohne+creme").await["total"], 1);
    assert_eq!(app.list("q=s%C3%B6hne").await["total"], 1);

    // The live stream applies the same rule to what arrives.
    let mut body = app.page_stream("/api/audit/live?q=muller", &[]).await.into_body();
    let reply = app
        .post_events(&json!([
            payment("Zahlung an Meier", "2025-01-11T08:00:00Z"),
            payment("Gutschrift für Müller", "2025-01-11T09:00:00Z")
        ]))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("open")
            .expect("a frame");
        if let Some(bytes) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    assert!(text.contains("Gutschrift für Müller") && !text.contains("Meier"), "{text}");
}

#[tokio::test]
async fn a_common_word_is_counted_up_to_the_bound_and_the_export_count_is_exact() {
    let app = TestApp::spawn().await;
    app.seed(20_000, 30, 11, "2025-06-01T00:00:00Z").await;
    let contoso = app::filter::EntryFilter { search: vec!["contoso".into()], ..Default::default() };
    let exact = app.store.log.count(&contoso).await.expect("counts");
    assert!(exact > app::entry::SEARCH_TOTAL_BOUND, "the seed must exceed the bound: {exact}");

    // One word: exact, from its per-word counts.
    let one = app.list("q=contoso&limit=5").await;
    assert_eq!((one["total"].as_u64(), &one["total_exact"]), (Some(exact), &json!(true)));
    // Two common words: counted up to the bound, and said so.
    let both = app::filter::EntryFilter { search: vec!["contoso".into(), "com".into()], ..Default::default() };
    let exact = app.store.log.count(&both).await.expect("counts");
    assert!(exact > app::entry::SEARCH_TOTAL_BOUND, "the seed must exceed the bound: {exact}");
    let page = app.list("q=contoso+com&limit=5").await;
    assert_eq!((page["total"].as_u64(), &page["total_exact"]), (Some(app::entry::SEARCH_TOTAL_BOUND), &json!(false)));
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(5));
    // A narrower search is counted exactly.
    let narrow = app.list("q=contoso+locked").await;
    assert_eq!(narrow["total_exact"], true);

    let html = app.page(Method::GET, "/audit?q=contoso+com", Vec::new()).await.text;
    assert!(html.contains("Showing 1–50 of at least 10000"), "the page says the total is a bound");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let counted = app.page_with(Method::POST, "/api/audit_count", &form, b"query=q%3Dcontoso%2Bcom".to_vec()).await;
    assert_eq!(counted.text, exact.to_string(), "the export dialog's count is exact");
}

#[tokio::test]
async fn the_count_endpoint_counts_exactly_and_refuses_paging_and_bad_input() {
    let app = TestApp::spawn().await;
    app.seed(20_000, 30, 11, "2025-06-01T00:00:00Z").await;
    let both = app::filter::EntryFilter { search: vec!["contoso".into(), "com".into()], ..Default::default() };
    let exact = app.store.log.count(&both).await.expect("counts");
    assert!(exact > app::entry::SEARCH_TOTAL_BOUND);
    let counted = app.get("/audit/entries/count?q=contoso+com").await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.text);
    assert_eq!(counted.json()["count"].as_u64(), Some(exact));
    let errors = app.get("/audit/entries/count?severity=error").await.json()["count"].as_u64();
    assert_eq!(errors, app.list("severity=error&limit=1").await["total"].as_u64());
    for bad in ["limit=5", "offset=10", "severity=critical", "colour=red"] {
        let reply = app.get(&format!("/audit/entries/count?{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.text);
    }
    // Without a token, or with one that may only ingest: refused.
    let anonymous = app.request(Method::GET, "/audit/entries/count", None, Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let writer = app.request(Method::GET, "/audit/entries/count", Some(&app.ingest), Vec::new()).await;
    assert_eq!(writer.status, StatusCode::FORBIDDEN);
}
