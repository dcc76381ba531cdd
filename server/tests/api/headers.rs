//! What every answer carries for the browser's protection, and the hosts the server
//! answers for.

use crate::helpers::TestApp;
use app::accounts::Role;
use axum::http::{header, Method, StatusCode};

fn header(reply: &crate::helpers::Reply, name: header::HeaderName) -> &str {
    reply.headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn pages_carry_a_policy_with_their_scripts_nonce_and_nothing_is_cached_or_framed() {
    let app = TestApp::spawn().await;
    for page in ["/audit", "/login"] {
        let reply = app.page(Method::GET, page, Vec::new()).await;
        assert_eq!(reply.status, StatusCode::OK, "{page}");
        let policy = header(&reply, header::CONTENT_SECURITY_POLICY);
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{page}: no nonce in {policy}"));
        assert!(nonce.len() >= 16, "{nonce}");
        assert!(
            reply.text.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
            "{page}: the inline script has it"
        );
        for part in ["default-src 'self'", "frame-ancestors 'none'", "'wasm-unsafe-eval'", "object-src 'none'"] {
            assert!(policy.contains(part), "{page}: {part} in {policy}");
        }
        let scripts = policy.split(';').find(|d| d.trim().starts_with("script-src")).expect("script-src");
        assert!(!scripts.contains("unsafe-inline") && !scripts.contains(" 'unsafe-eval'"), "{scripts}");
        assert_eq!(header(&reply, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&reply, header::REFERRER_POLICY), "same-origin");
        assert_eq!(header(&reply, header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(header(&reply, header::CACHE_CONTROL), "no-store", "{page} holds audit data");
    }
    // A new nonce for every response.
    let (a, b) = (app.page(Method::GET, "/audit", Vec::new()).await, app.page(Method::GET, "/audit", Vec::new()).await);
    assert_ne!(header(&a, header::CONTENT_SECURITY_POLICY), header(&b, header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn answers_holding_audit_data_are_not_stored_and_the_servers_own_pages_run_no_script() {
    let app = TestApp::spawn().await;
    for uri in ["/audit/entries", "/audit/export?format=csv", "/audit/event-types", "/openapi.json"] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(header(&reply, header::CACHE_CONTROL), "no-store", "{uri}");
        assert_eq!(header(&reply, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{uri}");
    }
    let auditor = app.signed_in(Role::Auditor).await;
    let not_allowed = app.as_person(Method::GET, "/users", &auditor, &[], Vec::new()).await;
    let missing = app.request_with(Method::GET, "/nowhere", None, &[("accept", "text/html")], Vec::new()).await;
    let docs = app.page(Method::GET, "/api-docs", Vec::new()).await;
    for reply in [&not_allowed, &missing, &docs] {
        let policy = header(reply, header::CONTENT_SECURITY_POLICY);
        assert!(policy.starts_with("default-src 'none'") && !policy.contains("script-src"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!reply.text.contains("<script"), "no script to allow");
    }
}

#[tokio::test]
async fn a_request_for_another_host_is_refused_before_anything_happens() {
    let app = TestApp::spawn().await;
    for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "192.0.2.7"] {
        let reply = app.request_with(Method::GET, "/healthz", None, &[("host", host)], Vec::new()).await;
        assert_eq!(reply.status, StatusCode::OK, "{host}");
    }
    for host in ["evil.example", "evil.example:8080", "audit.example.com"] {
        let reply = app
            .request_with(Method::GET, "/audit/entries", Some(&app.read.clone()), &[("host", host)], Vec::new())
            .await;
        assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
        assert!(reply.error().contains("--allowed-hosts"));
    }
    // A DNS-rebinding page's sign-in attempt never reaches the sign-in.
    let form = [("host", "evil.example"), ("content-type", "application/x-www-form-urlencoded")];
    let reply = app.request_with(Method::POST, "/login", None, &form, b"username=a&password=b".to_vec()).await;
    assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST);
    assert!(app.list("limit=5").await["entries"].as_array().expect("entries").is_empty(), "nothing recorded");

    let named =
        TestApp::spawn_with(|state| state.with_allowed_hosts("audit.example.com".parse().expect("a name"))).await;
    let reply =
        named.request_with(Method::GET, "/healthz", None, &[("host", "audit.example.com:443")], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = named.request_with(Method::GET, "/healthz", None, &[("host", "evil.example")], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST);
}
