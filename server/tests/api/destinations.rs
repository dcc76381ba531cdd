//! `/admin/destinations`: validation naming the field, names unique ignoring case,
//! secrets taken but never answered or recorded (fingerprints only), each change
//! recorded with old and new values, and who may do what, on both engines.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

fn splunk() -> Value {
    json!({"name": "splunk", "kind": "splunk_hec", "url": "https://splunk:8088", "token": TOKEN,
           "event_types": ["audit.*"], "min_severity": "info"})
}

impl TestApp {
    async fn admin_call(&self, method: Method, uri: &str, body: Option<Value>) -> crate::helpers::Reply {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.request(method, uri, Some(&self.admin.clone()), body).await
    }

    /// Every entry of these types, oldest first, as JSON text.
    async fn entries_of(&self, event_type: &str) -> Vec<Value> {
        let page = self.list(&format!("event_type={event_type}&limit=1000")).await;
        let mut entries = page["entries"].as_array().expect("entries").clone();
        entries.reverse();
        entries
    }
}

#[tokio::test]
async fn a_splunk_destination_is_added_listed_and_its_token_never_answered_nor_recorded() {
    let app = TestApp::spawn().await;
    let created = app.admin_call(Method::POST, "/admin/destinations", Some(splunk())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    let destination = &body["destination"];
    assert_eq!(
        (&destination["name"], &destination["kind"], &destination["url"]),
        (&json!("splunk"), &json!("splunk_hec"), &json!("https://splunk:8088"))
    );
    assert_eq!(destination["event_types"], json!(["audit.*"]));
    assert_eq!((&destination["max_events"], &destination["enabled"]), (&json!(100), &json!(true)));
    assert_eq!(destination["created_by"], "admin");
    let fingerprint = destination["secret_fingerprint"].as_str().expect("a fingerprint").to_owned();
    assert!(fingerprint.starts_with("sha256:"));
    assert!(body.get("secret").is_none(), "the token was given, not made: nothing to show");
    let id = destination["id"].as_i64().expect("id");

    let listed = app.admin_call(Method::GET, "/admin/destinations", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    let one = app.admin_call(Method::GET, &format!("/admin/destinations/{id}"), None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["secret_fingerprint"], json!(fingerprint));
    let recorded = app.entries_of("destination.created").await;
    assert_eq!(recorded.len(), 1);
    let details = &recorded[0]["details"];
    assert_eq!((&details["destination_id"], &details["name"]), (&json!(id), &json!("splunk")));
    assert_eq!((&details["kind"], &details["created_by"]), (&json!("splunk_hec"), &json!("admin")));
    assert_eq!(details["secret_fingerprint"], json!(fingerprint));
    assert_eq!(recorded[0]["description"], "Destination splunk (splunk_hec) added by admin");
    assert_eq!(recorded[0]["resource"]["id"], format!("destination-{id}"));
    for text in [&created.text, &listed.text, &one.text, &recorded[0].to_string()] {
        assert!(!text.contains(TOKEN), "the token is never answered nor recorded: {text}");
    }
    let mut same_name = splunk();
    same_name["name"] = json!("SPLUNK");
    let again = app.admin_call(Method::POST, "/admin/destinations", Some(same_name)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.json()["field"], "name");
}

#[tokio::test]
async fn bad_destinations_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let with = |key: &str, value: Value| {
        let mut body = splunk();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("name", json!("  ")), "name"),
        (with("kind", json!("kafka")), "kind"),
        (with("url", json!("ftp://splunk")), "url"),
        (with("url", json!("https://user:pw@splunk:8088")), "url"),
        (with("url", json!("https://splunk:0")), "url"),
        (with("token", json!("")), "token"),
        (with("event_types", json!(["Auth.*"])), "event_types"),
        (with("event_types", json!([])), "event_types"),
        (with("min_severity", json!("critical")), "min_severity"),
        (with("max_events", json!(5000)), "max_events"),
        (with("max_bytes", json!(10)), "max_bytes"),
        (with("secret", json!("a-secret-for-a-webhook")), "secret"),
        (with("start", json!("yesterday")), "start"),
        (json!({"name": "la", "kind": "stdout", "url": "https://x"}), "url"),
        (json!({"name": "hook", "kind": "webhook"}), "url"),
        (json!({"name": "hook", "kind": "webhook", "url": "https://h.example", "secret": "short"}), "secret"),
        (
            json!({"name": "hook", "kind": "webhook", "url": "https://h.example", "headers": {"X-CertifyClouds-Signature": "x"}}),
            "headers",
        ),
    ] {
        let refused = app.admin_call(Method::POST, "/admin/destinations", Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.text);
        assert_eq!(refused.json()["field"], field, "{body}: {}", refused.text);
    }
    for body in [with("colour", json!("red")), with("max_events", json!("many")), json!([1]), json!({"name": "x"})] {
        let refused = app.admin_call(Method::POST, "/admin/destinations", Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.text);
        assert!(!refused.error().is_empty());
    }
    let listed = app.admin_call(Method::GET, "/admin/destinations", None).await;
    assert_eq!(listed.json(), json!([]));
    assert!(app.entries_of("destination.created").await.is_empty());
    // Nobody else may post the product's own events.
    let forged = app
        .post_events(&json!([crate::helpers::event(
            "destination.created",
            "2025-01-10T08:00:00Z",
            ("user", "u1", "eve")
        )]))
        .await;
    assert!(forged.status.is_client_error(), "{}", forged.text);
}

#[tokio::test]
async fn a_webhook_gets_a_secret_shown_once_and_changes_record_old_and_new_values() {
    let app = TestApp::spawn().await;
    let created = app
        .admin_call(
            Method::POST,
            "/admin/destinations",
            Some(json!({"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/audit",
                        "headers": {"X-Api-Key": "key-123"}, "event_types": ["auth.*"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.json()["secret"].as_str().expect("a secret made and shown once").to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = created.json()["destination"]["id"].as_i64().expect("id");
    let uri = format!("/admin/destinations/{id}");
    let shown = app.admin_call(Method::GET, &uri, None).await;
    assert!(!shown.text.contains(&secret) && !shown.text.contains("key-123"), "{}", shown.text);
    assert!(shown.json()["headers"]["x-api-key"].as_str().is_some_and(|v| v.starts_with("sha256:")));

    // A change of nothing records nothing.
    let same = app.admin_call(Method::PATCH, &uri, Some(json!({"event_types": ["auth.*"]}))).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.json()["destination"]["version"], 1);
    assert!(app.entries_of("destination.updated").await.is_empty());

    let changed = app
        .admin_call(
            Method::PATCH,
            &uri,
            Some(json!({"min_severity": "warning", "rotate_secret": true, "name": "hook-2"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let rotated = changed.json()["secret"].as_str().expect("the new secret, once").to_owned();
    assert_ne!(rotated, secret);
    assert_eq!(changed.json()["destination"]["version"], 2);
    let updated = app.entries_of("destination.updated").await;
    assert_eq!(updated.len(), 1);
    let details = &updated[0]["details"];
    assert_eq!(details["changed_fields"], json!(["min_severity", "name", "secret_fingerprint"]));
    assert_eq!(details["changes"]["min_severity"], json!({"old": "info", "new": "warning"}));
    assert_eq!(details["changes"]["name"], json!({"old": "hook", "new": "hook-2"}));
    let secrets = &details["changes"]["secret_fingerprint"];
    assert!(secrets["old"].as_str().is_some_and(|f| f.starts_with("sha256:")) && secrets["old"] != secrets["new"]);
    assert_eq!(details["modified_by"], "admin");
    let text = updated[0].to_string();
    assert!(!text.contains(&secret) && !text.contains(&rotated) && !text.contains("key-123"), "{text}");

    for (body, status, field) in [
        (json!({"kind": "stdout"}), StatusCode::BAD_REQUEST, None),
        (json!({"token": "t"}), StatusCode::BAD_REQUEST, Some("token")),
        (json!({"secret": "x".repeat(20), "rotate_secret": true}), StatusCode::BAD_REQUEST, Some("rotate_secret")),
        (json!({"url": "mailto:x"}), StatusCode::BAD_REQUEST, Some("url")),
        (json!({"max_events": 0}), StatusCode::BAD_REQUEST, Some("max_events")),
    ] {
        let refused = app.admin_call(Method::PATCH, &uri, Some(body.clone())).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.text);
        if let Some(field) = field {
            assert_eq!(refused.json()["field"], field, "{body}");
        }
    }
    let other = app.admin_call(Method::POST, "/admin/destinations", Some(splunk())).await;
    assert_eq!(other.status, StatusCode::CREATED);
    let taken = app.admin_call(Method::PATCH, &uri, Some(json!({"name": "Splunk"}))).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
    for missing in ["/admin/destinations/999", "/admin/destinations/abc", "/admin/destinations/-1"] {
        let reply = app.admin_call(Method::PATCH, missing, Some(json!({"enabled": false}))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}: {}", reply.text);
    }
    assert_eq!(app.entries_of("destination.updated").await.len(), 1, "refusals record nothing");
}

#[tokio::test]
async fn a_destination_is_removed_once_and_recorded() {
    let app = TestApp::spawn().await;
    let created = app
        .admin_call(
            Method::POST,
            "/admin/destinations",
            Some(json!({"name": "la", "kind": "stdout", "start": "beginning"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json()["destination"]["secret_fingerprint"], Value::Null);
    let id = created.json()["destination"]["id"].as_i64().expect("id");
    let uri = format!("/admin/destinations/{id}");
    let removed = app.admin_call(Method::DELETE, &uri, None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.json()["name"], "la");
    for method in [Method::DELETE, Method::GET] {
        let gone = app.admin_call(method.clone(), &uri, None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{method}: {}", gone.text);
    }
    let deleted = app.entries_of("destination.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["details"]["deleted_by"], "admin");
    assert_eq!(deleted[0]["details"]["destination_id"], id);
    assert_eq!(deleted[0]["severity"], "warning");
}

#[tokio::test]
async fn only_admins_manage_destinations() {
    let app = TestApp::spawn().await;
    let body = splunk().to_string().into_bytes();
    for (who, token) in
        [("read token", Some(app.read.clone())), ("ingest token", Some(app.ingest.clone())), ("nobody", None)]
    {
        let reply = app.request(Method::POST, "/admin/destinations", token.as_deref(), body.clone()).await;
        let expected = if token.is_some() { StatusCode::FORBIDDEN } else { StatusCode::UNAUTHORIZED };
        assert_eq!(reply.status, expected, "{who}: {}", reply.text);
    }
    // An auditor's session: signed in, but not an admin.
    for method in [Method::GET, Method::POST] {
        let reply = app
            .page_with(method.clone(), "/admin/destinations", &[("content-type", "application/json")], body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method}: {}", reply.text);
    }
    let listed = app.admin_call(Method::GET, "/admin/destinations", None).await;
    assert_eq!(listed.json(), json!([]), "nothing was added");
}

#[tokio::test]
async fn the_settings_pages_functions_keep_destinations_to_admins_and_refuse_bad_input() {
    use app::accounts::Role;
    let app = TestApp::spawn().await;
    let (admin, auditor) = (app.signed_in(Role::Admin).await, app.auditor().await);
    let json = ("content-type", "application/json");
    let new = json!({"new": splunk()}).to_string().into_bytes();
    let refused = app.as_person(Method::POST, "/api/settings_destination_add", &auditor, &[json], new.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let added = app.as_person(Method::POST, "/api/settings_destination_add", &admin, &[json], new).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    assert!(!added.text.contains(TOKEN));
    let mut bad = splunk();
    bad["url"] = json!("gopher://x");
    let bad = json!({"new": bad}).to_string().into_bytes();
    let invalid = app.as_person(Method::POST, "/api/settings_destination_add", &admin, &[json], bad).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.text);
    assert!(invalid.text.contains("url"), "{}", invalid.text);

    // An auditor is told the integrations are an admin's; an admin sees them with health.
    let seen = app.as_person(Method::POST, "/api/settings_destinations", &auditor, &[json], b"{}".to_vec()).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert_eq!(seen.json(), json!({"destinations": [], "may_change": false}));
    let seen = app.as_person(Method::POST, "/api/settings_destinations", &admin, &[json], b"{}".to_vec()).await;
    let listed = seen.json();
    assert_eq!(listed["destinations"][0][0]["name"], "splunk");
    assert_eq!(listed["destinations"][0][1]["state"], "idle");
    assert!(!seen.text.contains(TOKEN));
    let id = listed["destinations"][0][0]["id"].as_i64().expect("id");
    for (uri, body) in [
        ("/api/settings_destination_test", json!({"id": id})),
        ("/api/settings_destination_replay", json!({"id": id, "from_sequence": 1})),
        ("/api/settings_destination_remove", json!({"id": id})),
    ] {
        let reply = app.as_person(Method::POST, uri, &auditor, &[json], body.to_string().into_bytes()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let missing = app
        .as_person(
            Method::POST,
            "/api/settings_destination_test",
            &admin,
            &[json],
            json!({"id": 999}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let rule = json!({"fields": {"name": "r", "event_types": ["auth.*"], "threshold": 2}}).to_string().into_bytes();
    let bad_rule = app.as_person(Method::POST, "/api/settings_alert_rule_add", &admin, &[json], rule).await;
    assert_eq!(bad_rule.status, StatusCode::BAD_REQUEST, "{}", bad_rule.text);
    let off = json!({"id": 1, "enabled": false}).to_string().into_bytes();
    let refused = app.as_person(Method::POST, "/api/settings_alert_rule_enable", &auditor, &[json], off.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let turned = app.as_person(Method::POST, "/api/settings_alert_rule_enable", &admin, &[json], off).await;
    assert_eq!(turned.status, StatusCode::OK, "{}", turned.text);
    assert_eq!(turned.json()["enabled"], false);
    let rules = app.as_person(Method::POST, "/api/settings_alert_rules", &auditor, &[json], b"{}".to_vec()).await;
    assert_eq!(rules.json()["may_change"], false);
    assert_eq!(rules.json()["rules"][0]["name"], "Failed sign-ins");
}
