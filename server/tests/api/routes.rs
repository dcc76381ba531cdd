//! The route table, walked: every route answers only with its permission, and every route
//! the app has (server functions and pages included) is declared in it.

use crate::helpers::TestApp;
use app::access::Permission;
use app::tokens::Scope;
use axum::http::{header, Method, StatusCode};
use server::http::caller::Served;
use server::http::routes::{Kind, ROUTES};

/// A request path for a route's pattern.
fn concrete(path: &str) -> String {
    path.replace("{entry_id}", "audit-1").replace("{id}", "audit-1").replace("{*file}", "certifyclouds.css")
}

fn body(route: &server::http::routes::Route) -> Vec<u8> {
    match route.kind {
        Kind::ServerFn => b"query=".to_vec(),
        _ if route.method == Method::POST => b"{}".to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn routes_that_need_a_scope_refuse_missing_unknown_malformed_and_insufficient_tokens() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        let Permission::Scope(scope) = route.permission else { continue };
        let uri = concrete(route.path);
        let m = route.method.clone();
        for token in [None, Some("cca_0000"), Some("")] {
            let reply = app.request(m.clone(), &uri, token, body(route)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{m} {uri} with {token:?}");
            assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
            assert!(reply.error().contains("bearer token"), "{m} {uri}");
        }
        let reply = app.request_with(m.clone(), &uri, None, &[("authorization", "Basic YTpi")], body(route)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{m} {uri} with a Basic credential");

        let wrong = if scope == Scope::Read { &app.ingest } else { &app.read };
        let reply = app.request(m.clone(), &uri, Some(wrong), body(route)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{m} {uri}");
        assert!(reply.error().contains(&format!("'{}' scope", scope.as_str())), "{m} {uri}: {}", reply.text);

        let right = if scope == Scope::Read { &app.read } else { &app.ingest };
        for token in [right, &app.admin] {
            let response = app.respond(m.clone(), &uri, Some(token), body(route)).await;
            let status = response.status();
            assert!(
                !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED),
                "{m} {uri}: {status}"
            );
            let served = response.extensions().get::<Served>().expect("answered by a declared route");
            assert_eq!(served.route, route.path);
        }
    }
}

#[tokio::test]
async fn open_routes_admit_anyone_and_pages_refuse_a_bad_credential() {
    let app = TestApp::spawn().await;
    let mut open = 0;
    for route in ROUTES.iter().filter(|r| !matches!(r.permission, Permission::Scope(_))) {
        open += 1;
        let uri = concrete(route.path);
        let m = route.method.clone();
        // The live stream never ends: only the response's head is looked at.
        let response = app.respond(m.clone(), &uri, None, body(route)).await;
        let status = response.status();
        assert!(
            !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED),
            "{m} {uri}: {status}"
        );
        let served = response.extensions().get::<Served>().expect("answered by a declared route");
        assert_eq!(served.route, route.path);
        let with_junk = app.respond(m.clone(), &uri, Some("cca_not_a_token"), body(route)).await.status();
        match route.permission {
            // A health check may carry any header a load balancer adds.
            Permission::Public => assert_ne!(with_junk, StatusCode::UNAUTHORIZED, "{m} {uri}"),
            _ => assert_eq!(with_junk, StatusCode::UNAUTHORIZED, "{m} {uri}: a bad credential is refused"),
        }
    }
    assert!(open >= 10, "the pages, their server functions, twins, health and assets");
}

#[tokio::test]
async fn every_server_function_and_page_of_the_app_is_declared() {
    let declared = |kind: Kind, method: &Method, path: &str| {
        ROUTES.iter().any(|r| r.kind == kind && r.method == *method && r.path == path)
    };
    let server_fns: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(server_fns.len() >= 4, "{server_fns:?}");
    for (path, method) in server_fns {
        assert!(declared(Kind::ServerFn, &method, path), "server function {method} {path} is not in the route table");
    }
    for listing in leptos_axum::generate_route_list(app::App) {
        assert!(
            declared(Kind::Page, &Method::GET, listing.path()),
            "page {} is not in the route table",
            listing.path()
        );
    }
    let mut seen = std::collections::HashSet::new();
    for route in ROUTES {
        assert!(seen.insert((route.method.clone(), route.path)), "{} {} is declared twice", route.method, route.path);
    }
}

#[tokio::test]
async fn undeclared_paths_and_methods_are_not_answered() {
    let app = TestApp::spawn().await;
    for (m, uri) in [("GET", "/audit/events"), ("DELETE", "/audit/entries/audit-1"), ("PUT", "/audit/events")] {
        let reply =
            app.request(Method::from_bytes(m.as_bytes()).expect("method"), uri, Some(&app.admin), Vec::new()).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {uri}");
    }
    for uri in ["/nope", "/api/unknown_function", "/audit/entries/audit-1/x", "/target/site/pkg/x"] {
        let response = app.respond(Method::GET, uri, Some(&app.admin), Vec::new()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(response.extensions().get::<Served>().is_none(), "{uri} is no route");
    }
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
