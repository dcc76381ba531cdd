//! The `/audit` page as the server renders it (the browser tests drive it hydrated).

use crate::helpers::{event, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn audit_page_is_rendered_from_the_store() {
    let app = TestApp::spawn().await;
    let events: Vec<Value> = (0..60)
        .map(|i| {
            event(
                "auth.logout",
                &format!("2025-01-10T08:{:02}:00Z", i),
                ("user", "user-1", &format!("user{i}@contoso.com")),
            )
        })
        .collect();
    app.post_events(&Value::Array(events)).await;

    let reply = app.page(Method::GET, "/audit", Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text;
    assert!(html.contains("Showing 1–50 of 60"), "{html}");
    assert!(html.contains("user59@contoso.com") && !html.contains("user9@contoso.com<"), "newest first, one page");
    assert!(html.contains("<tbody"));
    assert!(html.contains("/pkg/certifyclouds.js"), "hydration script linked");

    let second = app.page(Method::GET, "/audit?offset=50", Vec::new()).await.text;
    assert!(second.contains("Showing 51–60 of 60"));
    assert!(second.contains("user9@contoso.com"));

    let bad = app.page(Method::GET, "/audit?limit=0", Vec::new()).await.text;
    assert!(bad.contains("limit &#x27;0&#x27; is invalid") || bad.contains("limit '0' is invalid"), "{bad}");
}

#[tokio::test]
async fn root_redirects_to_the_audit_tab() {
    let app = TestApp::spawn().await;
    let reply = app.page(Method::GET, "/", Vec::new()).await;
    // Rendered on the server, the redirect is an HTTP one to exactly the Audit tab.
    assert!(reply.status.is_redirection(), "{}: {}", reply.status, reply.text);
    assert_eq!(reply.headers[axum::http::header::LOCATION], "/audit");
}

#[tokio::test]
async fn the_pages_server_functions_answer_with_the_status_their_error_means() {
    let app = TestApp::spawn().await;
    app.post_events(&serde_json::json!([event("auth.logout", "2025-01-10T08:00:00Z", ("user", "u1", "alice"))])).await;
    let cookie = format!("cc_session={}", app.auditor().await);
    let call = |path: &'static str, body: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let headers = [("content-type", "application/x-www-form-urlencoded"), ("cookie", cookie.as_str())];
            app.request_with(Method::POST, path, None, &headers, body.as_bytes().to_vec()).await
        }
    };
    let found = call("/api/audit_entry", "id=audit-1").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(found.json()["id"], "audit-1");
    let missing = call("/api/audit_entry", "id=audit-7").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert!(missing.text.contains("audit-7"));
    let bad = call("/api/audit_entries", "query=severity%3Dcritical").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("severity 'critical' is unknown"), "{}", bad.text);
    let listed = call("/api/audit_entries", "query=severity%3Dinfo").await;
    assert_eq!((listed.status, listed.json()["total"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(listed.json()["total_exact"], true);
    let counted = call("/api/audit_count", "query=q%3Dalice").await;
    assert_eq!((counted.status, counted.text.as_str()), (StatusCode::OK, "1"));
    let bad = call("/api/audit_count", "query=limit%3Dmany").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
}

#[tokio::test]
async fn each_entry_has_its_own_page() {
    let app = TestApp::spawn().await;
    let mut change = event("settings.updated", "2025-01-10T08:00:00Z", ("user", "user-1", "alice@contoso.com"));
    change["details"] = serde_json::json!({
        "setting": "audit.retention_days", "old_value": 90, "new_value": 180, "modified_by": "alice@contoso.com"
    });
    let reply = app.post_events(&Value::Array(vec![change])).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let html = app.page(Method::GET, "/audit/audit-1", Vec::new()).await.text;
    assert!(html.contains("<h1>Audit entry ") && html.contains("audit-1</h1>"), "{html}");
    assert!(html.contains("audit.retention_days"));
    assert!(html.contains(r#"<td class="before">90</td>"#) && html.contains(r#"<td class="after">180</td>"#), "{html}");

    // Provenance: when the server received it, and which token posted it.
    assert!(html.contains("<dt>Received</dt>") && html.contains("<dt>Ingested by</dt>"), "{html}");
    assert!(html.contains("API token") && html.contains("ingester"), "{html}");

    let missing = app.page(Method::GET, "/audit/audit-99", Vec::new()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "a missing entry's page says so in its status too");
    assert!(missing.text.contains("no audit entry has the id"), "{}", missing.text);
}

#[tokio::test]
async fn filters_in_the_url_are_applied_on_the_server() {
    let app = TestApp::spawn().await;
    let batch = serde_json::json!([
        event("auth.logout", "2025-01-10T08:00:00Z", ("user", "user-1", "alice@contoso.com")),
        event("sync.failed", "2025-01-10T09:00:00Z", ("service", "sp-sync", "sync-worker")),
    ]);
    assert_eq!(app.post_events(&batch).await.status, StatusCode::CREATED);
    // Empty fields, as a form submitted without script sends them, mean "no filter".
    let html = app.page(Method::GET, "/audit?severity=error&q=&actor=&start_date=", Vec::new()).await.text;
    assert!(html.contains("Showing 1–1 of 1"), "{html}");
    assert!(html.contains("sync.failed") && !html.contains("alice@contoso.com logged out"));
    // The filter shows as a removable chip, and its checkbox is checked.
    assert!(html.contains("Remove filter Severity: error"));
    assert!(html.contains(r#"value="error" checked"#), "{html}");
    // The timeline is drawn on the server too.
    assert!(html.contains("1 entries by hour") || html.contains("1 entries by day"), "{html}");
}
