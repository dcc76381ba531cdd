//! `/admin/alert-rules` and the alert evaluator: rules checked and recorded as the spec
//! lists (`alert.rule.created/updated/deleted`), the built-in failed sign-in rule, and a
//! threshold rule that fires exactly once per window, its alert delivered to the
//! destination it names even when that destination's own filter would not take it.

use crate::helpers::{event, TestApp};
use app::delivery::{worker, Outcome, Policy, Sender};
use app::entry::AuditEntry;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

impl TestApp {
    async fn rules_call(&self, method: Method, uri: &str, body: Option<Value>) -> crate::helpers::Reply {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.request(method, uri, Some(&self.admin.clone()), body).await
    }
}

#[tokio::test]
async fn rules_are_checked_recorded_with_their_details_and_the_builtin_one_is_kept() {
    let app = TestApp::spawn().await;
    let listed = app.rules_call(Method::GET, "/admin/alert-rules", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let builtin = listed.json()[0].clone();
    assert_eq!((&builtin["name"], &builtin["builtin"]), (&json!("Failed sign-ins"), &json!(true)));
    assert_eq!(builtin["threshold"], json!({"count": 5, "window_seconds": 600, "group_by": "details.username"}));

    for (body, field) in [
        (json!({"event_types": ["auth.*"]}), "name"),
        (json!({"name": "x", "event_types": ["nope"]}), "event_types"),
        (json!({"name": "x", "event_types": ["auth.*"], "threshold": 3}), "window_seconds"),
        (json!({"name": "x", "event_types": ["auth.*"], "destinations": [99]}), "destinations"),
        (json!({"name": "failed SIGN-INS", "event_types": ["auth.*"]}), "name"),
    ] {
        let refused = app.rules_call(Method::POST, "/admin/alert-rules", Some(body.clone())).await;
        assert!(
            refused.status == StatusCode::BAD_REQUEST || refused.status == StatusCode::CONFLICT,
            "{body}: {}",
            refused.text
        );
        assert_eq!(refused.json()["field"], field, "{body}");
    }
    assert_eq!(
        app.rules_call(Method::POST, "/admin/alert-rules", Some(json!({"name": "x", "colour": 1}))).await.status,
        StatusCode::BAD_REQUEST
    );

    let created = app
        .rules_call(
            Method::POST,
            "/admin/alert-rules",
            Some(json!({"name": "Secrets read", "event_types": ["secret.read"], "actor": "ada"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json()["id"].as_i64().expect("id");
    let entry = &app.list("event_type=alert.rule.created").await["entries"][0];
    assert_eq!(entry["details"]["created_by"], "admin");
    assert_eq!(entry["details"]["rule"]["name"], "Secrets read");
    assert_eq!(entry["details"]["rule"]["event_types"], json!(["secret.read"]));

    let uri = format!("/admin/alert-rules/{id}");
    let same = app.rules_call(Method::PATCH, &uri, Some(json!({"actor": "ada"}))).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(app.list("event_type=alert.rule.updated").await["total"], 0, "nothing changed: nothing recorded");
    let changed = app.rules_call(Method::PATCH, &uri, Some(json!({"min_severity": "warning", "enabled": false}))).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let updated = &app.list("event_type=alert.rule.updated").await["entries"][0]["details"];
    assert_eq!(updated["changed_fields"], json!(["enabled", "min_severity"]));
    assert_eq!(updated["changes"]["min_severity"], json!({"old": "info", "new": "warning"}));
    assert_eq!((&updated["rule_id"], &updated["modified_by"]), (&json!(id), &json!("admin")));

    let removed = app.rules_call(Method::DELETE, &uri, None).await;
    assert_eq!(removed.status, StatusCode::OK);
    let deleted = &app.list("event_type=alert.rule.deleted").await["entries"][0]["details"];
    assert_eq!((&deleted["rule_id"], &deleted["deleted_by"]), (&json!(id), &json!("admin")));
    assert_eq!(app.rules_call(Method::DELETE, &uri, None).await.status, StatusCode::NOT_FOUND);
    let builtin_uri = format!("/admin/alert-rules/{}", builtin["id"]);
    let kept = app.rules_call(Method::DELETE, &builtin_uri, None).await;
    assert_eq!(kept.status, StatusCode::CONFLICT, "{}", kept.text);
    assert!(kept.error().contains("disable it instead"));
    let edited = app.rules_call(Method::PATCH, &builtin_uri, Some(json!({"threshold": 3}))).await;
    assert_eq!(edited.status, StatusCode::OK, "the built-in rule is editable: {}", edited.text);
    // A rule naming a destination removed since can still be changed.
    let hook = json!({"name": "la", "kind": "stdout"});
    let created = app.rules_call(Method::POST, "/admin/destinations", Some(hook)).await;
    let destination = created.json()["destination"]["id"].as_i64().expect("id");
    let named = json!({"name": "Named", "event_types": ["secret.*"], "destinations": [destination]});
    let named =
        app.rules_call(Method::POST, "/admin/alert-rules", Some(named)).await.json()["id"].as_i64().expect("id");
    app.rules_call(Method::DELETE, &format!("/admin/destinations/{destination}"), None).await;
    let off =
        app.rules_call(Method::PATCH, &format!("/admin/alert-rules/{named}"), Some(json!({"enabled": false}))).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    let more = json!({"destinations": [destination, 424242]});
    let refused = app.rules_call(Method::PATCH, &format!("/admin/alert-rules/{named}"), Some(more)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a destination added must exist: {}", refused.text);
    let auditor = app.page(Method::GET, "/admin/alert-rules", Vec::new()).await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
}

/// A receiver that takes everything and keeps it.
#[derive(Default)]
struct Keep(Mutex<Vec<AuditEntry>>);

#[async_trait::async_trait]
impl Sender for Keep {
    async fn send(&self, batch: &[AuditEntry]) -> Outcome {
        self.0.lock().expect("lock").extend_from_slice(batch);
        Outcome::Accepted
    }
}

#[tokio::test]
async fn a_threshold_rule_fires_once_per_window_and_its_alert_reaches_the_destination_it_names() {
    let app = TestApp::spawn().await;
    // A destination that takes only errors of secret.*: not alerts, unless addressed.
    let body = json!({"name": "pager", "kind": "stdout", "event_types": ["secret.*"], "min_severity": "error"});
    let created = app.rules_call(Method::POST, "/admin/destinations", Some(body)).await;
    let destination = created.json()["destination"]["id"].as_i64().expect("id");
    // No cooldown: it is quiet for its window all the same.
    let rule = json!({"name": "Brute force", "event_types": ["auth.login.failed"], "threshold": 5, "window_seconds": 600,
                      "group_by": "details.username", "cooldown_seconds": 0, "destinations": [destination]});
    assert_eq!(app.rules_call(Method::POST, "/admin/alert-rules", Some(rule)).await.status, StatusCode::CREATED);
    // Every failed rotation alerts, none kept quiet.
    let each = json!({"name": "Rotation failed", "event_types": ["rotation.failed"], "cooldown_seconds": 0});
    assert_eq!(app.rules_call(Method::POST, "/admin/alert-rules", Some(each)).await.status, StatusCode::CREATED);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let evaluating = tokio::spawn(app::alerting::run(app.store.clone(), stopped.clone()));
    // Let it take its place at the head before the failures come.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.store.alerts.job_cursor(app::alerting::JOB).await.expect("reads").is_none() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failure = |user: &str| {
        let mut e = event("auth.login.failed", "2025-01-10T08:00:00Z", ("user", "anon", "anonymous"));
        e["details"] = json!({"username": user, "reason": "bad password"});
        e
    };
    let before = app.store.alerts.job_cursor(app::alerting::JOB).await.expect("reads").expect("placed");
    // A failed rotation, then twelve failures for ana and four for bo, in one burst: the
    // built-in rule (5 per username) and this one both fire once, for ana only (not again
    // at her tenth); the rotation rule once.
    let rotation = event("rotation.failed", "2025-01-10T08:00:00Z", ("service", "rotator", "rotator"));
    let burst: Vec<Value> =
        [rotation].into_iter().chain((0..12).map(|_| failure("ana"))).chain((0..4).map(|_| failure("bo"))).collect();
    assert_eq!(app.post_events(&json!(burst)).await.status, StatusCode::CREATED);
    let alerts = || async { app.list("event_type=alert.triggered").await };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while alerts().await["total"].as_u64() < Some(3) {
        assert!(tokio::time::Instant::now() < deadline, "fired in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fired = alerts().await;
    assert_eq!(fired["total"], 3, "once per rule for ana, never for bo, once for the rotation: {fired}");
    let ours = fired["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["details"]["rule_name"] == "Brute force")
        .cloned()
        .expect("ours");
    assert_eq!((&ours["details"]["group_value"], &ours["details"]["count"]), (&json!("ana"), &json!(5)));
    assert_eq!(ours["details"]["entry_ids"].as_array().map(Vec::len), Some(5));
    assert_eq!(ours["details"]["destination_ids"], json!([destination]));
    let (start, end) = (ours["details"]["window_start"].as_str(), ours["details"]["window_end"].as_str());
    assert!(start.is_some() && start <= end, "the window it counted: {ours}");
    let time = |field: &str| {
        ours["details"][field].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).expect(field)
    };
    assert_eq!(time("quiet_until") - time("window_end"), chrono::Duration::seconds(600), "quiet for the window");

    // Killed after recording its alerts, before moving its cursor: started again there, it
    // reads the burst again and alerts for none of it a second time.
    stop.send(true).expect("running");
    evaluating.await.expect("stops");
    let at = app.store.alerts.job_cursor(app::alerting::JOB).await.expect("reads").expect("placed");
    assert!(app.store.alerts.move_job_cursor(app::alerting::JOB, Some(at), before).await.expect("moves back"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let evaluating = tokio::spawn(app::alerting::run(app.store.clone(), stopped.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.store.alerts.job_cursor(app::alerting::JOB).await.expect("reads") < Some(at) {
        assert!(tokio::time::Instant::now() < deadline, "read again in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(alerts().await["total"], 3, "no alert twice: {}", alerts().await);

    // A restart within the window alerts no more for what was counted, and counts what
    // came before it (bo's four, stamped long ago by their client): his fifth fires both
    // rules.
    stop.send(true).expect("running");
    evaluating.await.expect("stops");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let evaluating = tokio::spawn(app::alerting::run(app.store.clone(), stopped));
    app.post_events(&json!((0..3).map(|_| failure("ana")).chain([failure("bo")]).collect::<Vec<_>>())).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while alerts().await["total"].as_u64() < Some(5) {
        assert!(tokio::time::Instant::now() < deadline, "bo's fifth fired in time: {}", alerts().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fired = alerts().await;
    assert_eq!(fired["total"], 5, "quiet for ana across the restart: {fired}");
    for newest in &fired["entries"].as_array().expect("entries")[..2] {
        assert_eq!((&newest["details"]["group_value"], &newest["details"]["count"]), (&json!("bo"), &json!(5)));
    }
    stop.send(true).expect("running");
    evaluating.await.expect("stops");

    // Delivery: the alert addressed to the destination reaches it; nothing else of this burst.
    let keep = Arc::new(Keep::default());
    let sender: Arc<dyn Sender> = keep.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let policy = Policy { poll: Duration::from_millis(20), ..Policy::default() };
    let delivering = tokio::spawn(worker::run(app.store.clone(), destination, policy, Some(sender), stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while keep.0.lock().expect("lock").len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "delivered in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).expect("running");
    delivering.await.expect("stops");
    let got = keep.0.lock().expect("lock").clone();
    // Its two alerts (ana's, bo's); not the built-in rule's, nor anything else.
    let told: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|e| {
            let name = e.details["rule_name"].as_str().unwrap_or_default();
            (e.event_type.as_str(), name, e.details["group_value"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(told, [("alert.triggered", "Brute force", "ana"), ("alert.triggered", "Brute force", "bo")]);
}
