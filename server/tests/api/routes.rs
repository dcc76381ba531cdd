//! The route table, walked: every route answers only whom its permission names (nobody,
//! a junk credential, each token scope, each role), and every route the app has (server
//! functions and pages included) is declared in it (that last check is `tests/route_table.rs`).

use crate::helpers::TestApp;
use app::access::Permission;
use app::accounts::Role;
use app::tokens::Scope;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use server::http::caller::Served;
use server::http::routes::{Kind, Route, ROUTES};

/// A request path for a route's pattern.
fn concrete(path: &str) -> String {
    path.replace("{entry_id}", "audit-1").replace("{id}", "audit-1").replace("{*file}", "certifyclouds.css")
}

fn body(route: &Route) -> Vec<u8> {
    match route.kind {
        Kind::ServerFn => b"query=".to_vec(),
        _ if route.method == Method::POST => b"{}".to_vec(),
        _ => Vec::new(),
    }
}

/// Who asks, for the walk over the route table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Asker {
    Anonymous,
    JunkBearer,
    Token(Scope),
    Person(Role),
}

const ASKERS: [Asker; 7] = [
    Asker::Anonymous,
    Asker::JunkBearer,
    Asker::Token(Scope::Read),
    Asker::Token(Scope::Ingest),
    Asker::Token(Scope::Admin),
    Asker::Person(Role::Auditor),
    Asker::Person(Role::Admin),
];

/// Whether the route's permission lets `asker` in.
fn admits(permission: Permission, asker: Asker) -> bool {
    match (permission, asker) {
        (Permission::Public, _) => true,
        (Permission::SignedIn(needed), Asker::Person(role)) => role == Role::Admin || role == needed,
        (Permission::Scope(scope), Asker::Token(has)) => has == Scope::Admin || has == scope,
        (Permission::Scope(scope), Asker::Person(role)) => match scope {
            Scope::Read => true,
            Scope::Admin => role == Role::Admin,
            Scope::Ingest => false,
        },
        _ => false,
    }
}

/// The request `asker` sends (a person's from this site's own page, with a session of
/// their own, so that signing out ends no other check's session); its response unread.
async fn send(app: &TestApp, route: &Route, asker: Asker) -> axum::response::Response {
    let uri = concrete(route.path);
    let mut request = Request::builder().method(route.method.clone()).uri(&uri);
    if route.kind == Kind::ServerFn {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    request = match asker {
        Asker::Anonymous => request,
        Asker::JunkBearer => request.header(header::AUTHORIZATION, "Bearer cca_not_a_token"),
        Asker::Token(scope) => {
            let token = match scope {
                Scope::Read => &app.read,
                Scope::Ingest => &app.ingest,
                Scope::Admin => &app.admin,
            };
            request.header(header::AUTHORIZATION, format!("Bearer {token}"))
        }
        Asker::Person(role) => request
            .header(header::COOKIE, format!("cc_session={}", app.signed_in(role).await))
            .header("sec-fetch-site", "same-origin"),
    };
    let request = request.body(Body::from(body(route))).expect("request");
    crate::helpers::answer(&app.router, request).await
}

async fn read(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn every_route_admits_exactly_whom_its_permission_names() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        for asker in ASKERS {
            let response = send(&app, route, asker).await;
            let status = response.status();
            let what = format!("{} {} by {asker:?}", route.method, route.path);
            let served = response.extensions().get::<Served>().expect("answered by a declared route");
            assert_eq!(served.route, route.path, "{what}");
            if admits(route.permission, asker) {
                assert!(
                    !matches!(
                        status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED
                    ),
                    "{what}: {status}"
                );
                let to_sign_in =
                    response.headers().get(header::LOCATION).is_some_and(|l| l.as_bytes().starts_with(b"/login?"));
                assert!(!to_sign_in, "{what} is sent to sign in");
                continue;
            }
            let signed_out = matches!(asker, Asker::Anonymous | Asker::JunkBearer);
            match (route.kind, signed_out) {
                // A page visitor who is not signed in is sent to sign in, and back here after.
                (Kind::Page, true) => {
                    assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                    let next: String = form_urlencoded::byte_serialize(concrete(route.path).as_bytes()).collect();
                    assert_eq!(response.headers()[header::LOCATION], format!("/login?next={next}").as_str(), "{what}");
                }
                // A signed-in person whose role falls short gets the page that says so.
                (Kind::Page, false) if matches!(asker, Asker::Person(_)) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
                    let html = read(response).await;
                    assert!(html.contains("<h1>Not allowed</h1>") && html.contains("Sign out"), "{what}: {html}");
                }
                // The page's script is told the session ended, in its own error type.
                (Kind::ServerFn, true) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(read(response).await, app::access::SIGNED_OUT_REPLY, "{what}");
                }
                (_, true) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(
                        response.headers().get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()),
                        Some(&b"Bearer"[..])
                    );
                    let text = read(response).await;
                    assert!(text.contains("bearer token") && text.contains("signed-in session"), "{what}: {text}");
                }
                (_, false) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    let text = read(response).await;
                    let error: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    let expected = match route.permission {
                        Permission::Scope(scope) => format!("lacks the '{scope}' scope"),
                        Permission::SignedIn(Role::Admin) => "only an admin".to_owned(),
                        _ => "sign in to use the pages".to_owned(),
                    };
                    assert!(error["error"].as_str().is_some_and(|e| e.contains(&expected)), "{what}: {text}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_malformed_credential_is_refused_where_credentials_count() {
    let app = TestApp::spawn().await;
    for route in ROUTES.iter().filter(|r| r.permission != Permission::Public && r.kind != Kind::Page) {
        let uri = concrete(route.path);
        for value in ["Basic YTpi", "Bearer ", "Bearer"] {
            let reply =
                app.request_with(route.method.clone(), &uri, None, &[("authorization", value)], body(route)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{} {uri} with {value:?}", route.method);
        }
    }
    // A health check may carry any header a load balancer adds.
    let health = app.request_with(Method::GET, "/healthz", None, &[("authorization", "Basic YTpi")], Vec::new()).await;
    assert_eq!(health.status, StatusCode::OK);
    // A proxy's own credential (Basic) does not hide the session cookie; "bearer" is
    // read in any case.
    let cookie = format!("cc_session={}", app.auditor().await);
    let behind = [("authorization", "Basic YTpi"), ("cookie", cookie.as_str())];
    assert_eq!(app.request_with(Method::GET, "/audit", None, &behind, Vec::new()).await.status, StatusCode::OK);
    let lower = format!("bearer {}", app.read);
    let reply = app.request_with(Method::GET, "/audit/entries", None, &[("authorization", &lower)], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
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
