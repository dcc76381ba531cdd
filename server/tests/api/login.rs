//! Signing in and out over HTTP, as a browser does it: the form, the cookie, the refusals
//! that all read the same, the session ended on the server, cross-site posts refused and
//! attempts limited per address. Each outcome in the log.

use crate::helpers::{TestApp, PEER};
use app::accounts::Role;
use app::entry::{Actor, ActorType};
use axum::http::{header, Method, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "correct-horse-battery-staple";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn add_user(app: &TestApp, name: &str, role: Role) {
    let request = app::users::CreateUser { username: name.into(), display_name: None, role, password: PASSWORD.into() };
    let by = Actor { kind: ActorType::User, id: "os:test".into(), name: "test".into() };
    app::users::create(&app.store, request, by).await.expect("creates");
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

/// Posts the sign-in form; the reply and the session cookie it set, if any.
async fn sign_in(
    app: &TestApp,
    name: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (crate::helpers::Reply, Option<String>) {
    let mut headers = vec![FORM, ("user-agent", "Mozilla/5.0 Tests")];
    headers.extend_from_slice(extra);
    let body = form(&[("username", name), ("password", password), ("next", "/audit?q=vault")]);
    let reply = app.request_with(Method::POST, "/login", None, &headers, body).await;
    let cookie = reply
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(|pair| pair.strip_prefix("cc_session="))
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    (reply, cookie)
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    uri: &str,
    cookie: &str,
    extra: &[(&str, &str)],
) -> crate::helpers::Reply {
    let value = format!("cc_session={cookie}");
    let mut headers = vec![("cookie", value.as_str())];
    headers.extend_from_slice(extra);
    app.request_with(method, uri, None, &headers, Vec::new()).await
}

async fn recorded(app: &TestApp, event_type: &str) -> Vec<Value> {
    let page = app.list(&format!("event_type={event_type}&limit=100")).await;
    let mut entries = page["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    entries
}

fn location(reply: &crate::helpers::Reply) -> &str {
    reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn the_sign_in_page_has_labelled_fields_and_a_sign_in_button_without_a_script() {
    let app = TestApp::spawn().await;
    let page = app.request(Method::GET, "/login?next=%2Faudit%3Fq%3Dx", None, Vec::new()).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.text;
    for part in [
        r#"<form method="post" action="/login""#,
        r#"<label for="login-username">Username</label>"#,
        r#"<label for="login-password">Password</label>"#,
        r#"type="password""#,
        r#"<button type="submit">Sign in</button>"#,
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    assert!(!html.contains(app::login::REFUSED));
    let failed = app.request(Method::GET, "/login?failed=1", None, Vec::new()).await;
    assert!(failed.text.contains(app::login::REFUSED), "{}", failed.text);
}

#[tokio::test]
async fn signing_in_sets_a_lax_http_only_session_cookie_that_opens_the_api_and_is_recorded() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    let (reply, cookie) = sign_in(&app, "ana", PASSWORD, &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert_eq!(location(&reply), "/audit?q=vault");
    let set = reply.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.starts_with("ccs_"), "{cookie}");

    let entries = with_cookie(&app, Method::GET, "/audit/entries?limit=1", &cookie, &[]).await;
    assert_eq!(entries.status, StatusCode::OK, "an auditor reads the log");
    let ingest = app
        .request_with(
            Method::POST,
            "/audit/events",
            None,
            &[("cookie", &format!("cc_session={cookie}"))],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(ingest.status, StatusCode::FORBIDDEN, "nobody posts events from a browser");
    let forged = with_cookie(&app, Method::GET, "/audit/entries", "ccs_0000", &[]).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let success = recorded(&app, "auth.login.success").await;
    assert_eq!(success.len(), 1);
    let entry = &success[0];
    assert_eq!(entry["details"]["username"], "ana");
    assert_eq!(entry["ip_address"], std::net::IpAddr::from(PEER.0).to_string());
    assert_eq!(entry["user_agent"], "Mozilla/5.0 Tests");
    assert_eq!(entry["actor"]["type"], "user");
    assert_eq!(entry["actor"]["name"], "ana");
}

#[tokio::test]
async fn behind_a_trusted_https_proxy_the_cookie_is_secure() {
    let app = TestApp::spawn_with(|state| {
        let proxies = format!("{}", std::net::IpAddr::from(PEER.0)).parse().expect("proxies");
        state.with_trusted_proxies(proxies)
    })
    .await;
    add_user(&app, "ana", Role::Auditor).await;
    let (reply, _) = sign_in(&app, "ana", PASSWORD, &[("x-forwarded-proto", "https")]).await;
    let set = reply.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(set.contains("; Secure"), "{set}");
}

#[tokio::test]
async fn every_refusal_goes_back_to_the_form_alike_and_the_log_says_why() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    let (unknown, none) = sign_in(&app, "mallory", PASSWORD, &[]).await;
    let (wrong, none_either) = sign_in(&app, "ana", "not-the-password", &[]).await;
    assert!(none.is_none() && none_either.is_none(), "no cookie for a refusal");
    for reply in [&unknown, &wrong] {
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(location(reply), "/login?failed=1&next=%2Faudit%3Fq%3Dvault");
    }
    let reasons: Vec<Value> =
        recorded(&app, "auth.login.failed").await.iter().map(|e| e["details"]["reason"].clone()).collect();
    assert_eq!(reasons, ["unknown user", "wrong password"]);
    let garbled = app.request_with(Method::POST, "/login", None, &[FORM], b"%%%".to_vec()).await;
    assert_eq!(garbled.status, StatusCode::SEE_OTHER, "empty fields are a refusal like any other");
    let not_a_form = app.request(Method::POST, "/login", None, b"{}".to_vec()).await;
    assert_eq!(not_a_form.status, StatusCode::BAD_REQUEST);
    assert!(not_a_form.error().contains("sign-in form"), "{}", not_a_form.text);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_and_a_new_sign_in_gets_a_new_id() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Admin).await;
    let (_, first) = sign_in(&app, "ana", PASSWORD, &[]).await;
    let first = first.expect("cookie");
    // A mistyped password from the same browser ends nothing.
    let held = format!("cc_session={first}");
    let (_, none) = sign_in(&app, "ana", "not-the-password", &[("cookie", &held)]).await;
    assert!(none.is_none());
    assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &first, &[]).await.status, StatusCode::OK);
    // Signing in again from the same browser: a new session, the old one ended.
    let (_, second) = sign_in(&app, "ana", PASSWORD, &[("cookie", &held)]).await;
    let second = second.expect("cookie");
    assert_ne!(first, second);
    assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &first, &[]).await.status, StatusCode::UNAUTHORIZED);

    let out = with_cookie(&app, Method::POST, "/logout", &second, &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/login");
    let cleared = out.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cleared.starts_with("cc_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &second, &[]).await.status, StatusCode::UNAUTHORIZED);
    let logouts = recorded(&app, "auth.logout").await;
    assert_eq!(logouts.len(), 2, "the replaced session and the signed-out one");
    assert!(logouts.iter().all(|e| e["details"]["username"] == "ana" && e["details"]["reason"] == "signed out"));

    // Signing out of a session that has already ended still forgets the cookie.
    let again = with_cookie(&app, Method::POST, "/logout", &second, &[]).await;
    assert_eq!((again.status, location(&again)), (StatusCode::SEE_OTHER, "/login"));
    assert!(again.headers.get(header::SET_COOKIE).is_some());
    assert_eq!(recorded(&app, "auth.logout").await.len(), 2, "nothing more to record");
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    for headers in [
        vec![("origin", "https://evil.example"), ("host", "localhost:8080")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let (reply, cookie) = sign_in(&app, "ana", PASSWORD, &headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(cookie.is_none());
    }
    assert!(recorded(&app, "auth.login.*").await.is_empty(), "nothing was tried");
    let same = [("origin", "http://localhost:8080"), ("host", "localhost:8080")];
    let (reply, cookie) = sign_in(&app, "ana", PASSWORD, &same).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "our own page: {}", reply.text);
    let cookie = cookie.expect("cookie");

    let out = with_cookie(&app, Method::POST, "/logout", &cookie, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let server_fn = app
        .request_with(
            Method::POST,
            "/api/audit_entries",
            None,
            &[("cookie", &format!("cc_session={cookie}")), ("sec-fetch-site", "cross-site"), FORM],
            b"query=".to_vec(),
        )
        .await;
    assert_eq!(server_fn.status, StatusCode::FORBIDDEN, "{}", server_fn.text);
    assert_eq!(
        with_cookie(&app, Method::GET, "/audit/entries", &cookie, &[]).await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address_and_successes_are_not() {
    let app = TestApp::spawn_with(|state| {
        let policy = server::state::SignInPolicy {
            attempts: server::state::Attempts::new(10),
            ..server::state::SignInPolicy::default()
        };
        state.with_sign_in(policy)
    })
    .await;
    add_user(&app, "ana", Role::Auditor).await;
    for _ in 0..12 {
        let (reply, cookie) = sign_in(&app, "ana", PASSWORD, &[]).await;
        assert!(reply.status == StatusCode::SEE_OTHER && cookie.is_some(), "successes are not limited");
    }
    for _ in 0..10 {
        let (reply, _) = sign_in(&app, "nobody", "whatever-it-is", &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
    }
    let (limited, _) = sign_in(&app, "nobody", "whatever-it-is", &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 =
        limited.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(recorded(&app, "auth.login.failed").await.len(), 10, "the refused attempt was not even tried");
    let (also, _) = sign_in(&app, "ana", PASSWORD, &[]).await;
    assert_eq!(also.status, StatusCode::TOO_MANY_REQUESTS, "until the minute is over, from that address");
}

#[tokio::test]
async fn a_session_idle_past_its_timeout_is_refused_and_its_end_recorded() {
    let app = TestApp::spawn_with(|state| {
        let mut policy = server::state::SignInPolicy::default();
        policy.timeouts.idle = chrono::Duration::seconds(1);
        state.with_sign_in(policy)
    })
    .await;
    add_user(&app, "ana", Role::Auditor).await;
    let (_, cookie) = sign_in(&app, "ana", PASSWORD, &[]).await;
    let cookie = cookie.expect("cookie");
    assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &cookie, &[]).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &cookie, &[]).await.status, StatusCode::UNAUTHORIZED);
    let logouts = recorded(&app, "auth.logout").await;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["details"]["reason"], "session timed out after inactivity");
}

#[tokio::test]
async fn a_client_that_sends_no_user_agent_signs_in_and_is_recorded_as_such() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    let body = form(&[("username", "ana"), ("password", PASSWORD)]);
    let reply = app.request_with(Method::POST, "/login", None, &[FORM], body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert_eq!(location(&reply), "/audit", "no next: the Audit tab");
    let success = recorded(&app, "auth.login.success").await;
    assert_eq!(success[0]["user_agent"], "(none sent)");
    // A typed name with control characters is refused like any other, and recorded without them.
    let body = form(&[("username", "mal\u{7}lory\u{202e}"), ("password", PASSWORD)]);
    let reply = app.request_with(Method::POST, "/login", None, &[FORM], body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let failed = recorded(&app, "auth.login.failed").await;
    assert_eq!(failed[0]["details"]["username"], "mallory");
}

#[tokio::test]
async fn a_page_visit_without_a_session_goes_to_sign_in_and_comes_back_after_it() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    let wanted = "/audit?severity=error&q=caf%C3%A9";
    let visit = app.request(Method::GET, wanted, None, Vec::new()).await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER);
    let to = location(&visit).to_owned();
    assert_eq!(to, "/login?next=%2Faudit%3Fseverity%3Derror%26q%3Dcaf%25C3%25A9");
    // The sign-in page carries the page to come back to in its form…
    let page = app.request(Method::GET, &to, None, Vec::new()).await;
    assert!(page.text.contains(r#"name="next" value="/audit?severity=error&amp;q=café""#), "{}", page.text);
    // …and the sign-in goes there.
    let body = form(&[("username", "ana"), ("password", PASSWORD), ("next", wanted)]);
    let reply = app.request_with(Method::POST, "/login", None, &[FORM], body).await;
    assert_eq!((reply.status, location(&reply)), (StatusCode::SEE_OTHER, wanted));
    // An ended or forged session is no session: back to sign in.
    let forged = with_cookie(&app, Method::GET, "/audit/audit-1", "ccs_0000", &[]).await;
    assert_eq!((forged.status, location(&forged)), (StatusCode::SEE_OTHER, "/login?next=%2Faudit%2Faudit-1"));
}

#[tokio::test]
async fn the_top_bar_shows_who_is_signed_in_their_role_and_a_sign_out_button() {
    let app = TestApp::spawn().await;
    add_user(&app, "ana", Role::Auditor).await;
    let (_, cookie) = sign_in(&app, "ana", PASSWORD, &[]).await;
    let html = with_cookie(&app, Method::GET, "/audit", &cookie.expect("cookie"), &[]).await.text;
    let bar = &html[html.find(r#"<header class="topbar""#).expect("a top bar")..];
    let bar = &bar[..bar.find("</header>").expect("its end")];
    assert!(bar.contains(r#"title="Signed in as ana (ana)""#) && bar.contains(">ana</span>"), "{bar}");
    assert!(bar.contains(r#"<span class="role">auditor</span>"#), "{bar}");
    assert!(bar.contains(r#"<form method="post" action="/logout"><button type="submit">Sign out</button>"#), "{bar}");
    assert!(bar.contains(r#"<a href="/audit" aria-current="page">Audit</a>"#), "{bar}");
    // The sign-in page has no one to show.
    let login = app.request(Method::GET, "/login", None, Vec::new()).await.text;
    assert!(!login.contains("Sign out") && !login.contains(r#"class="role""#), "{login}");
}

#[tokio::test]
async fn a_busy_session_still_ends_at_its_absolute_timeout_and_the_end_is_recorded() {
    let app = TestApp::spawn_with(|state| {
        let mut policy = server::state::SignInPolicy::default();
        policy.timeouts.absolute = chrono::Duration::seconds(2);
        state.with_sign_in(policy)
    })
    .await;
    add_user(&app, "ana", Role::Auditor).await;
    let (_, cookie) = sign_in(&app, "ana", PASSWORD, &[]).await;
    let cookie = cookie.expect("cookie");
    // In use all along: never idle, yet over once two seconds have passed since sign-in.
    for _ in 0..4 {
        assert_eq!(with_cookie(&app, Method::GET, "/audit/entries", &cookie, &[]).await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let page = with_cookie(&app, Method::GET, "/audit", &cookie, &[]).await;
    assert_eq!((page.status, location(&page)), (StatusCode::SEE_OTHER, "/login?next=%2Faudit"));
    let logouts = recorded(&app, "auth.logout").await;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["details"]["reason"], "session reached its maximum duration");
    assert_eq!(logouts[0]["details"]["username"], "ana");
}
