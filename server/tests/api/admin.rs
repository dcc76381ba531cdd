//! The users and API tokens REST twins (`/admin/users`, `/admin/tokens`): for an admin
//! token or an admin's session, each change recorded with the caller as actor, bad input
//! refused with the field named, secrets never shown twice.

use crate::helpers::TestApp;
use app::accounts::Role;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "correct-horse-battery-staple";

async fn admin_json(app: &TestApp, method: Method, uri: &str, body: Value) -> crate::helpers::Reply {
    app.request(method, uri, Some(&app.admin.clone()), body.to_string().into_bytes()).await
}

async fn recorded(app: &TestApp, event_type: &str) -> Vec<Value> {
    let page = app.list(&format!("event_type={event_type}&limit=100")).await;
    let mut entries = page["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    entries
}

#[tokio::test]
async fn users_are_created_changed_and_deleted_over_rest_and_each_change_is_recorded() {
    let app = TestApp::spawn().await;
    let body = json!({"username": "ana", "display_name": "Ana A.", "role": "admin", "password": PASSWORD});
    let created = admin_json(&app, Method::POST, "/admin/users", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let ana = created.json();
    assert_eq!((ana["username"].as_str(), ana["role"].as_str()), (Some("ana"), Some("admin")));
    assert!(!created.text.contains("password_hash") && !created.text.contains(PASSWORD));
    let id = ana["id"].as_i64().expect("an id");
    let body = json!({"username": "bob", "role": "auditor", "password": PASSWORD});
    let bob = admin_json(&app, Method::POST, "/admin/users", body).await.json();
    let bob_id = bob["id"].as_i64().expect("an id");

    let listed = admin_json(&app, Method::GET, "/admin/users", Value::Null).await.json();
    let names: Vec<&str> = listed.as_array().expect("a list").iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["ana", "bob"]);
    assert_eq!(listed[0]["status"], "active", "{listed}");
    for by in [format!("/admin/users/{bob_id}"), "/admin/users/BOB".to_owned()] {
        let one = admin_json(&app, Method::GET, &by, Value::Null).await;
        assert_eq!((one.status, one.json()["username"].as_str()), (StatusCode::OK, Some("bob")), "{by}");
    }
    assert_eq!(admin_json(&app, Method::GET, "/admin/users/nobody", Value::Null).await.status, StatusCode::NOT_FOUND);

    let change =
        json!({"role": "admin", "display_name": "Bob B.", "password": "another-long-pass-phrase", "unlock": true});
    // By username as well as by id.
    let changed = admin_json(&app, Method::PATCH, "/admin/users/bob", change).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!((changed.json()["role"].as_str(), changed.json()["id"].as_i64()), (Some("admin"), Some(bob_id)));
    let update = recorded(&app, "user.updated").await.pop().expect("recorded");
    assert_eq!(update["actor"], json!({"type": "service", "id": "token-3", "name": "admin"}), "the token is the actor");
    assert_eq!(update["details"]["changes"]["role"], json!({"old": "auditor", "new": "admin"}));
    assert_eq!(update["details"]["changes"]["password"], "password changed");
    assert!(!update.to_string().contains("another-long-pass-phrase"));

    let deleted = admin_json(&app, Method::DELETE, &format!("/admin/users/{bob_id}"), Value::Null).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    let gone = recorded(&app, "user.deleted").await;
    assert_eq!((gone.len(), gone[0]["details"]["username"].as_str()), (1, Some("bob")));
    assert_eq!(recorded(&app, "user.created").await.len(), 2);

    // The last active admin stays one.
    for (method, body) in [(Method::PATCH, json!({"role": "auditor"})), (Method::PATCH, json!({"disabled": true}))] {
        let refused = admin_json(&app, method, &format!("/admin/users/{id}"), body).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert!(refused.error().contains("last active admin"), "{}", refused.text);
    }
    let refused = admin_json(&app, Method::DELETE, &format!("/admin/users/{id}"), Value::Null).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"username": "ana", "role": "admin", "password": "short"}), Some("password")),
        (json!({"username": "ana", "role": "admin", "password": "password12345678"}), Some("password")),
        (json!({"username": "-ana", "role": "admin", "password": PASSWORD}), Some("username")),
        (
            json!({"username": "ana", "display_name": "a\u{7}b", "role": "admin", "password": PASSWORD}),
            Some("display_name"),
        ),
        (json!({"username": "ana", "role": "owner", "password": PASSWORD}), None),
        (json!({"username": "ana", "role": "admin", "password": PASSWORD, "is_admin": true}), None),
        (json!({"role": "admin", "password": PASSWORD}), None),
        (json!("ana"), None),
    ];
    for (body, field) in cases {
        let reply = admin_json(&app, Method::POST, "/admin/users", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text);
        assert!(!reply.error().is_empty());
        assert_eq!(reply.json()["field"].as_str(), field, "{body}: {}", reply.text);
    }
    let reply = app.request(Method::POST, "/admin/users", Some(&app.admin.clone()), b"{not json".to_vec()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(admin_json(&app, Method::GET, "/admin/users", Value::Null)
        .await
        .json()
        .as_array()
        .expect("list")
        .is_empty());
    for uri in ["/admin/users/999", "/admin/users/x", "/admin/tokens/999", "/admin/tokens/1e3"] {
        let reply = admin_json(&app, Method::DELETE, uri, Value::Null).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}: {}", reply.text);
    }
    let reply = admin_json(&app, Method::PATCH, "/admin/users/999", json!({"role": "admin"})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    for body in [
        json!({"name": "", "scopes": ["read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["write"]}),
    ] {
        let reply = admin_json(&app, Method::POST, "/admin/tokens", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text);
    }
    let past = json!({"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"});
    let reply = admin_json(&app, Method::POST, "/admin/tokens", past).await;
    assert_eq!((reply.status, reply.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("expires_at")));
    assert!(app.list("limit=10").await["entries"].as_array().expect("entries").is_empty(), "nothing recorded");
}

#[tokio::test]
async fn an_admin_session_administers_from_this_site_only_and_an_auditor_not_at_all() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let auditor = app.signed_in(Role::Auditor).await;
    let body = json!({"username": "ana", "role": "auditor", "password": PASSWORD}).to_string().into_bytes();
    let json = ("content-type", "application/json");
    let refused = app.as_person(Method::POST, "/admin/users", &auditor, &[json], body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let cookie = format!("cc_session={admin}");
    let cross = [("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site"), json];
    let refused = app.request_with(Method::POST, "/admin/users", None, &cross, body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a cross-site post is refused");
    assert!(app.store.accounts.user_named("ana").await.expect("reads").is_none());

    let made = app.as_person(Method::POST, "/admin/users", &admin, &[json], body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let created = recorded(&app, "user.created").await.pop().expect("recorded");
    assert_eq!(created["actor"]["name"], "admin-1", "the admin signed in is the actor");
    assert_eq!(created["details"]["created_by"], "admin-1");
    let listed = app.as_person(Method::GET, "/admin/tokens", &auditor, &[], Vec::new()).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(Role::Auditor).await;
    assert_eq!(app.as_person(Method::GET, "/audit", &session, &[], Vec::new()).await.status, StatusCode::OK);
    let user = app.store.accounts.user_named("auditor-1").await.expect("reads").expect("the auditor").user;
    let reply = admin_json(&app, Method::PATCH, &format!("/admin/users/{}", user.id), json!({"disabled": true})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let after = app.as_person(Method::GET, "/audit", &session, &[], Vec::new()).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "back to sign in");
}

#[tokio::test]
async fn a_token_is_issued_once_used_listed_without_its_secret_and_refused_once_revoked_or_expired() {
    let app = TestApp::spawn().await;
    let reply = admin_json(&app, Method::POST, "/admin/tokens", json!({"name": "splunk", "scopes": ["read"]})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let issued = reply.json();
    let secret = issued["token"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("cca_"));
    assert_eq!((issued["name"].as_str(), issued["created_by"].as_str()), (Some("splunk"), Some("admin (token-3)")));
    let id = issued["id"].as_i64().expect("an id");

    assert_eq!(app.request(Method::GET, "/audit/entries", Some(&secret), Vec::new()).await.status, StatusCode::OK);
    // Its use is written down in the background, at most once a minute.
    let mut used = Value::Null;
    for _ in 0..50 {
        let listed = admin_json(&app, Method::GET, "/admin/tokens", Value::Null).await;
        assert!(!listed.text.contains(&secret) && !listed.text.contains("hash"), "{}", listed.text);
        used = listed.json().as_array().expect("a list").iter().find(|t| t["id"] == id).expect("listed")
            ["last_used_at"]
            .clone();
        if !used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(used.is_string(), "last used is shown");

    let revoked = admin_json(&app, Method::DELETE, &format!("/admin/tokens/{id}"), Value::Null).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let refused = app.request(Method::GET, "/audit/entries", Some(&secret), Vec::new()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "refused at once");

    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let body = json!({"name": "short-lived", "scopes": ["read"], "expires_at": soon});
    let brief = admin_json(&app, Method::POST, "/admin/tokens", body).await.json();
    let brief = brief["token"].as_str().expect("secret").to_owned();
    assert_eq!(app.request(Method::GET, "/audit/entries", Some(&brief), Vec::new()).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(
        app.request(Method::GET, "/audit/entries", Some(&brief), Vec::new()).await.status,
        StatusCode::UNAUTHORIZED
    );

    let created = recorded(&app, "token.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(
        created[0]["details"],
        json!({"name": "splunk", "scopes": ["read"], "expires_at": null, "created_by": "admin"})
    );
    assert_eq!(created[0]["resource"], json!({"type": "api_token", "id": format!("token-{id}"), "name": "splunk"}));
    let revoked = recorded(&app, "token.revoked").await;
    assert_eq!(revoked[0]["details"], json!({"name": "splunk", "revoked_by": "admin"}));
    let everything = app.list("limit=100").await.to_string();
    assert!(!everything.contains(&secret) && !everything.contains(&brief), "no secret in the log");

    // Nobody forges the product's own token entries.
    let forged = crate::helpers::event("token.revoked", "2025-01-10T08:00:00Z", ("user", "u1", "mallory"));
    assert_eq!(app.post_events(&json!([forged])).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_users_and_tokens_pages_are_for_admins_and_their_functions_record_the_admin() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let auditor = app.signed_in(Role::Auditor).await;
    for page in ["/users", "/tokens"] {
        let html = app.as_person(Method::GET, page, &admin, &[], Vec::new()).await;
        assert_eq!(html.status, StatusCode::OK, "{page}");
        let bar = &html.text[..html.text.find("</header>").expect("a top bar")];
        assert!(
            bar.contains(r#"<a href="/users""#) && bar.contains(r#"<a href="/tokens""#),
            "admins see the admin pages"
        );
        let refused = app.as_person(Method::GET, page, &auditor, &[], Vec::new()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{page}");
        assert!(refused.text.contains("Not allowed") && refused.text.contains("auditor"), "{}", refused.text);
    }
    let users = app.as_person(Method::GET, "/users", &admin, &[], Vec::new()).await.text;
    assert!(users.contains("<h1>Users</h1>") && users.contains(r#"<td class="username">admin-1</td>"#), "{users}");
    assert!(users.contains(r#"<label for="new-username">Username</label>"#) && users.contains("Create user"));
    let audit = app.as_person(Method::GET, "/audit", &auditor, &[], Vec::new()).await.text;
    let bar = &audit[..audit.find("</header>").expect("a top bar")];
    assert!(!bar.contains("/users") && !bar.contains("/tokens"), "auditors do not see the admin pages: {bar}");

    let json = ("content-type", "application/json");
    let add = json!({"username": "ana", "display_name": "Ana A.", "role": "auditor", "password": PASSWORD});
    let add = add.to_string().into_bytes();
    let refused = app.as_person(Method::POST, "/api/admin_add_user", &auditor, &[json], add.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let made = app.as_person(Method::POST, "/api/admin_add_user", &admin, &[json], add.clone()).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let created = recorded(&app, "user.created").await.pop().expect("recorded");
    let admin_user = app.store.accounts.user_named("admin-1").await.expect("reads").expect("the admin").user;
    assert_eq!(created["actor"], json!({"type": "user", "id": format!("user-{}", admin_user.id), "name": "admin-1"}));
    assert_eq!(created["details"]["username"], "ana");
    let again = app.as_person(Method::POST, "/api/admin_add_user", &admin, &[json], add).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let weak = json!({"username": "bo", "display_name": "", "role": "auditor", "password": "short"});
    let weak = app.as_person(Method::POST, "/api/admin_add_user", &admin, &[json], weak.to_string().into_bytes()).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.json()["Invalid"]["field"], "password", "{}", weak.text);

    let token = json!({"name": "splunk", "scopes": ["read"], "expires_in_days": 30}).to_string().into_bytes();
    let made = app.as_person(Method::POST, "/api/admin_create_token", &admin, &[json], token).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let secret = made.json()["secret"].as_str().expect("the secret").to_owned();
    assert_eq!(app.request(Method::GET, "/audit/entries", Some(&secret), Vec::new()).await.status, StatusCode::OK);
    let listed = app.as_person(Method::POST, "/api/admin_tokens", &admin, &[], Vec::new()).await;
    assert!(listed.text.contains("splunk") && !listed.text.contains(&secret), "{}", listed.text);
    let page = app.as_person(Method::GET, "/tokens", &admin, &[], Vec::new()).await.text;
    assert!(page.contains(r#"<td class="name">splunk</td>"#) && !page.contains(&secret), "{page}");
    let long = json!({"name": "x", "scopes": ["read"], "expires_in_days": 0}).to_string().into_bytes();
    let long = app.as_person(Method::POST, "/api/admin_create_token", &admin, &[json], long).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.text);
}

#[tokio::test]
async fn a_locked_account_stays_locked_to_the_right_password_until_an_admin_unlocks_it() {
    let app = TestApp::spawn().await;
    let body = json!({"username": "ana", "role": "auditor", "password": PASSWORD});
    let ana = admin_json(&app, Method::POST, "/admin/users", body).await.json();
    let sign_in = |password: &'static str| {
        let app = &app;
        async move {
            let body = format!("username=ana&password={password}").into_bytes();
            let form = [("content-type", "application/x-www-form-urlencoded")];
            let reply = app.request_with(Method::POST, "/login", None, &form, body).await;
            reply.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
        }
    };
    for _ in 0..5 {
        assert!(sign_in("wrong-password-1234").await.starts_with("/login?failed=1"));
    }
    let locked = recorded(&app, "auth.account.locked").await;
    assert_eq!((locked.len(), locked[0]["details"]["attempts"].as_u64()), (1, Some(5)));
    assert!(sign_in("correct-horse-battery-staple").await.starts_with("/login?failed=1"), "locked: the right one too");
    let reasons: Vec<Value> =
        recorded(&app, "auth.login.failed").await.iter().map(|e| e["details"]["reason"].clone()).collect();
    assert_eq!(reasons.first(), Some(&json!("wrong password")));
    assert_eq!(reasons.last(), Some(&json!("locked")), "the log says why, the person is not told");
    let users = admin_json(&app, Method::GET, "/admin/users", Value::Null).await.json();
    assert!(users[0]["locked_until"].is_string(), "the users list says until when: {users}");
    assert_eq!(users[0]["status"], "locked");

    let id = ana["id"].as_i64().expect("an id");
    let unlocked = admin_json(&app, Method::PATCH, &format!("/admin/users/{id}"), json!({"unlock": true})).await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.text);
    assert!(unlocked.json()["locked_until"].is_null());
    let update = recorded(&app, "user.updated").await.pop().expect("the unlock is recorded");
    assert_eq!(update["details"]["changes"]["locked_until"]["new"], Value::Null);
    assert!(update["details"]["changes"]["locked_until"]["old"].is_string(), "{update}");
    assert_eq!(sign_in("correct-horse-battery-staple").await, "/audit", "signs in again");

    // Disabled: refused, and the log says so.
    admin_json(&app, Method::PATCH, &format!("/admin/users/{id}"), json!({"disabled": true})).await;
    assert!(sign_in("correct-horse-battery-staple").await.starts_with("/login?failed=1"));
    let last = recorded(&app, "auth.login.failed").await.pop().expect("recorded");
    assert_eq!(last["details"]["reason"], "disabled");
}

#[tokio::test]
async fn settings_are_read_and_changed_by_admins_each_change_recorded_and_bad_values_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin.clone();
    let call = |method: Method, body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
            app.request(method, "/admin/settings", Some(&admin), bytes).await
        }
    };
    let got = call(Method::GET, Value::Null).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.json(), json!({"audit_retention_days": 90, "audit_archive_dir": null}));

    let changed = call(Method::PATCH, json!({"audit_retention_days": 120})).await;
    assert_eq!(
        (changed.status, changed.json()),
        (StatusCode::OK, json!({"audit_retention_days": 120, "audit_archive_dir": null}))
    );
    let same = call(Method::PATCH, json!({"audit_retention_days": 120})).await;
    assert_eq!(same.status, StatusCode::OK);

    // Bad input is refused with a message naming the field, and changes nothing, even when
    // another setting of the same request was fine.
    for (body, field) in [
        (json!({"audit_retention_days": 29}), "audit_retention_days"),
        (json!({"audit_retention_days": 366}), "audit_retention_days"),
        (json!({"audit_retention_days": 90.5}), "audit_retention_days"),
        (json!({"audit_retention_days": "abc"}), "audit_retention_days"),
        (json!({"audit_retention_days": ""}), "audit_retention_days"),
        (json!({"audit_retention_days": null}), "audit_retention_days"),
        (json!({"audit_retention_days": 100, "retention": 30}), "retention"),
        (json!({"audit_retention_days": 100, "audit_archive_dir": "relative/dir"}), "audit_archive_dir"),
        (json!({"audit_archive_dir": "/no/such/directory"}), "audit_archive_dir"),
        (json!({"audit_archive_dir": 7}), "audit_archive_dir"),
    ] {
        let refused = call(Method::PATCH, body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.json()["field"], field, "{body}: {}", refused.text);
        assert!(refused.error().contains(field), "{body}: {}", refused.error());
    }
    for body in [json!([1]), json!({}), json!("x")] {
        assert_eq!(call(Method::PATCH, body.clone()).await.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let malformed = app.request(Method::PATCH, "/admin/settings", Some(&admin), b"{not json".to_vec()).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let twice = br#"{"audit_retention_days": 100, "audit_retention_days": 200}"#.to_vec();
    let twice = app.request(Method::PATCH, "/admin/settings", Some(&admin), twice).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.text);
    assert_eq!(twice.json()["field"], "audit_retention_days");
    assert_eq!(
        call(Method::GET, Value::Null).await.json(),
        json!({"audit_retention_days": 120, "audit_archive_dir": null}),
        "nothing changed"
    );
    // Both bounds are taken, each recorded.
    for days in [30, 365, 120] {
        let taken = call(Method::PATCH, json!({ "audit_retention_days": days })).await;
        assert_eq!((taken.status, taken.json()["audit_retention_days"].as_i64()), (StatusCode::OK, Some(days)));
    }

    // An admin's session changes it too; an auditor's may not.
    let person = app.signed_in(Role::Admin).await;
    let json_type = ("content-type", "application/json");
    let body = json!({"audit_retention_days": 180}).to_string().into_bytes();
    let made = app.as_person(Method::PATCH, "/admin/settings", &person, &[json_type], body.clone()).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let auditor = app.auditor().await;
    let refused = app.as_person(Method::PATCH, "/admin/settings", &auditor, &[json_type], body).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let read = app.get("/admin/settings").await;
    assert_eq!(read.status, StatusCode::FORBIDDEN, "a read token may not even read them");

    // Five changes, five entries, old and new values and who: the no-op and the refusals
    // recorded nothing.
    let recorded = app.list("event_type=settings.updated").await;
    let entries = recorded["entries"].as_array().expect("entries");
    let changes: Vec<(Value, Value, Value)> = entries
        .iter()
        .rev()
        .map(|e| (e["details"]["old_value"].clone(), e["details"]["new_value"].clone(), e["actor"]["type"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (json!(90), json!(120), json!("service")),
            (json!(120), json!(30), json!("service")),
            (json!(30), json!(365), json!("service")),
            (json!(365), json!(120), json!("service")),
            (json!(120), json!(180), json!("user"))
        ]
    );
    assert!(entries.iter().all(
        |e| e["details"]["setting"] == "audit_retention_days" && e["details"]["modified_by"] == e["actor"]["name"]
    ));
}
