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

    let reply = app.request(Method::GET, "/audit", None, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text;
    assert!(html.contains("Showing 1–50 of 60"), "{html}");
    assert!(html.contains("user59@contoso.com") && !html.contains("user9@contoso.com<"), "newest first, one page");
    assert!(html.contains("<tbody"));
    assert!(html.contains("/pkg/certifyclouds.js"), "hydration script linked");

    let second = app.request(Method::GET, "/audit?offset=50", None, Vec::new()).await.text;
    assert!(second.contains("Showing 51–60 of 60"));
    assert!(second.contains("user9@contoso.com"));

    let bad = app.request(Method::GET, "/audit?limit=0", None, Vec::new()).await.text;
    assert!(bad.contains("limit &#x27;0&#x27; is invalid") || bad.contains("limit '0' is invalid"), "{bad}");
}

#[tokio::test]
async fn root_redirects_to_the_audit_tab() {
    let app = TestApp::spawn().await;
    let reply = app.request(Method::GET, "/", None, Vec::new()).await;
    assert!(reply.status.is_redirection() || reply.text.contains("/audit"), "{}", reply.status);
}
