//! Every REST route needs a token with the right scope.

use crate::helpers::TestApp;
use app::tokens::Scope;
use axum::http::{header, Method, StatusCode};
use server::rest::ROUTES;

fn concrete(path: &str) -> String {
    path.replace("{entry_id}", "audit-1")
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("method")
}

#[tokio::test]
async fn every_route_refuses_missing_unknown_and_malformed_tokens() {
    let app = TestApp::spawn().await;
    for (m, path, _) in ROUTES {
        let uri = concrete(path);
        for token in [None, Some("cca_0000"), Some("")] {
            let reply = app.request(method(m), &uri, token, b"{}".to_vec()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{m} {uri} with {token:?}");
            assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
            assert!(reply.error().contains("bearer token"));
        }
    }
}

#[tokio::test]
async fn every_route_refuses_a_token_without_its_scope_and_admits_its_scope_and_admin() {
    let app = TestApp::spawn().await;
    for (m, path, scope) in ROUTES {
        let uri = concrete(path);
        let wrong = match scope {
            Scope::Read => &app.ingest,
            _ => &app.read,
        };
        let reply = app.request(method(m), &uri, Some(wrong), b"{}".to_vec()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{m} {uri}");
        assert!(reply.error().contains(scope.as_str()));

        let right = match scope {
            Scope::Read => &app.read,
            _ => &app.ingest,
        };
        for token in [right, &app.admin] {
            let reply = app.request(method(m), &uri, Some(token), b"{}".to_vec()).await;
            assert!(
                !matches!(
                    reply.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED
                ),
                "{m} {uri}: {}",
                reply.status
            );
            // The route exists: a 404 here could only be "no such entry", never "no such route".
            if reply.status == StatusCode::NOT_FOUND {
                assert!(reply.error().contains("no audit entry"), "{m} {uri}");
            }
        }
    }
}

#[tokio::test]
async fn the_route_list_covers_every_api_path_the_router_answers() {
    let app = TestApp::spawn().await;
    // Any other path under /audit/ that is not a page is not an API route.
    for (m, uri) in [("GET", "/audit/events"), ("DELETE", "/audit/entries/audit-1"), ("PUT", "/audit/events")] {
        let reply = app.request(method(m), uri, None, Vec::new()).await;
        assert_ne!(reply.status, StatusCode::OK, "{m} {uri} answered without a token");
    }
    let listed: Vec<&str> = ROUTES.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(
        listed,
        ["/audit/entries", "/audit/entries/{entry_id}", "/audit/event-types", "/audit/export", "/audit/events"]
    );
}

#[tokio::test]
async fn a_token_from_another_database_is_unknown() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let reply = app.request(Method::GET, "/audit/entries", Some(&other.admin), Vec::new()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_check_needs_no_token() {
    let app = TestApp::spawn().await;
    let reply = app.request(Method::GET, "/healthz", None, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}
