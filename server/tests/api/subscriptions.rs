//! `/admin/subscriptions` and Settings > Subscriptions' server functions: validation,
//! duplicates, the events recorded and who may do what, on both engines.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const PROD: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn admins_add_and_remove_subscriptions_each_recorded_and_bad_ones_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin.clone();
    let post = |body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move { app.request(Method::POST, "/admin/subscriptions", Some(&admin), body.to_string().into_bytes()).await }
    };

    // Refused, naming the field; nothing stored or recorded.
    for (body, field) in [
        (json!({"subscription_id": "not-a-guid", "display_name": "Prod", "cloud": "azure"}), "subscription_id"),
        (
            json!({"subscription_id": "0f8fad5b-d9cb-469f-a165-70867728950", "display_name": "Prod", "cloud": "azure"}),
            "subscription_id",
        ),
        (json!({"subscription_id": PROD, "display_name": "  ", "cloud": "azure"}), "display_name"),
        (json!({"subscription_id": PROD, "display_name": "x".repeat(101), "cloud": "azure"}), "display_name"),
        (json!({"subscription_id": PROD, "display_name": "Prod", "cloud": "oracle"}), "cloud"),
    ] {
        let refused = post(body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.text);
        assert_eq!(refused.json()["field"], field, "{body}");
    }
    for body in [
        json!({"subscription_id": PROD}),
        json!({"subscription_id": PROD, "display_name": "P", "cloud": "aws", "x": 1}),
        json!([1]),
    ] {
        let refused = post(body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.text);
    }

    // Added (any case, stored in lower case), listed, a duplicate in another case refused.
    let added =
        post(json!({"subscription_id": PROD.to_uppercase(), "display_name": " Production ", "cloud": "Azure"})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let added = added.json();
    assert_eq!(
        (&added["subscription_id"], &added["display_name"], &added["cloud"]),
        (&json!(PROD), &json!("Production"), &json!("azure"))
    );
    assert_eq!(added["added_by"], "admin");
    let again = post(json!({"subscription_id": PROD, "display_name": "Again", "cloud": "aws"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.json()["error"].as_str().is_some_and(|e| e.contains("already added")));
    let listed = app.request(Method::GET, "/admin/subscriptions", Some(&admin), Vec::new()).await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));

    // Removed once: a second time is 404, a bad id 400.
    let path = format!("/admin/subscriptions/{}", PROD.to_uppercase());
    let removed = app.request(Method::DELETE, &path, Some(&admin), Vec::new()).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.json()["display_name"], "Production");
    let gone = app.request(Method::DELETE, &path, Some(&admin), Vec::new()).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
    let bad = app.request(Method::DELETE, "/admin/subscriptions/xyz", Some(&admin), Vec::new()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);

    // One entry each, with the spec's details.
    let added = app.list("event_type=subscription.added").await;
    let added = &added["entries"].as_array().expect("entries")[..];
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["details"]["subscription_id"], PROD);
    assert_eq!(added[0]["details"]["added_by"], "admin");
    assert_eq!(added[0]["details"]["cloud"], "azure");
    assert_eq!(added[0]["description"], format!("Subscription {PROD} added by admin"));
    let removed = app.list("event_type=subscription.removed").await;
    let removed = &removed["entries"].as_array().expect("entries")[..];
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (&removed[0]["details"]["subscription_id"], &removed[0]["details"]["removed_by"]),
        (&json!(PROD), &json!("admin"))
    );
}

#[tokio::test]
async fn the_subscriptions_page_is_read_by_everyone_and_changed_by_admins_only() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(app::accounts::Role::Admin).await;
    let auditor = app.auditor().await;
    let new = json!({"subscription_id": PROD, "display_name": "Production", "cloud": "gcp"}).to_string().into_bytes();

    let refused = app.as_person(Method::POST, "/api/settings_subscription_add", &auditor, &[JSON], new.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let added = app.as_person(Method::POST, "/api/settings_subscription_add", &admin, &[JSON], new.clone()).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let again = app.as_person(Method::POST, "/api/settings_subscription_add", &admin, &[JSON], new).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let bad = json!({"subscription_id": "123", "display_name": "P", "cloud": "gcp"}).to_string().into_bytes();
    let bad = app.as_person(Method::POST, "/api/settings_subscription_add", &admin, &[JSON], bad).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("Subscription ID must be a GUID"), "{}", bad.text);

    for (session, may_change) in [(&auditor, false), (&admin, true)] {
        let read = app.as_person(Method::POST, "/api/settings_subscriptions", session, &[], Vec::new()).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        assert_eq!(read.json()["may_change"], json!(may_change));
        assert_eq!(read.json()["subscriptions"][0]["cloud"], "gcp");
    }
    // The REST twins are for admins: an auditor's session and a read token are refused.
    let listed = app.as_person(Method::GET, "/admin/subscriptions", &auditor, &[], Vec::new()).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);
    let read = app.read.clone();
    let listed = app.request(Method::GET, "/admin/subscriptions", Some(&read), Vec::new()).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);

    let remove = json!({"subscription_id": PROD}).to_string().into_bytes();
    let refused =
        app.as_person(Method::POST, "/api/settings_subscription_remove", &auditor, &[JSON], remove.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let removed = app.as_person(Method::POST, "/api/settings_subscription_remove", &admin, &[JSON], remove).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    let recorded = app.list("event_type=subscription.added,subscription.removed").await;
    assert_eq!(recorded["entries"].as_array().map(Vec::len), Some(2));
}
