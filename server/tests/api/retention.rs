//! Settings > Advanced (the audit log retention) through the page's server functions, the
//! `purge` command, and the scheduled purge: on both engines.

use crate::cli::certifyclouds;
use crate::helpers::{event, TestApp};
use axum::http::{Method, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// `count` events `days_ago` days before now, by user `who`.
fn aged(count: usize, days_ago: i64, who: &str) -> Vec<Value> {
    let at = (Utc::now() - Duration::days(days_ago)).to_rfc3339_opts(SecondsFormat::Secs, true);
    (0..count).map(|_| event("auth.login", &at, ("user", who, who))).collect()
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn the_retention_is_shown_to_everyone_previewed_and_changed_by_admins_only() {
    let app = TestApp::spawn().await;
    let mut events = aged(5, 200, "old");
    events.extend(aged(3, 45, "middle"));
    events.extend(aged(2, 1, "young"));
    app.record(&Value::Array(events)).await;
    let admin = app.signed_in(app::accounts::Role::Admin).await;
    let auditor = app.auditor().await;

    // Both roles read it: the value, its bounds, the oldest entry kept, no purge yet;
    // only the admin may change it.
    for (session, may_change) in [(&auditor, false), (&admin, true)] {
        let read = app.as_person(Method::POST, "/api/settings_retention", session, &[], Vec::new()).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        let view = read.json();
        assert_eq!(
            (view["days"].as_i64(), view["min"].as_i64(), view["max"].as_i64()),
            (Some(90), Some(30), Some(365))
        );
        assert_eq!(view["may_change"], json!(may_change));
        assert_eq!(view["last_purge"], Value::Null);
        let oldest: chrono::DateTime<Utc> = view["oldest_entry"].as_str().expect("oldest").parse().expect("time");
        assert!((Utc::now() - oldest).num_days() >= 199, "{oldest}");
    }

    // The server renders the whole section (the form works once the page's script runs,
    // but is there before): read-only for the auditor.
    let page = app.page(Method::GET, "/settings/advanced", Vec::new()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Audit log retention (days)") && page.text.contains("Only an admin can change"),
        "{}",
        page.text
    );
    let page = app.as_person(Method::GET, "/settings", &admin, &[], Vec::new()).await;
    assert!(page.text.contains("Entries older than 90 days are deleted at the next purge"), "{}", page.text);
    assert!(!page.text.contains("Only an admin can change"));
    let subscriptions = app.page(Method::GET, "/settings/subscriptions", Vec::new()).await;
    assert!(subscriptions.text.contains("No subscriptions yet."), "{}", subscriptions.text);

    // What a shorter retention would delete: 5 at 90 days, 8 at 30.
    let preview = |days: &str| json!({ "days": days }).to_string().into_bytes();
    for (days, due) in [("90", 5), ("30", 8), ("365", 0)] {
        let got = app.as_person(Method::POST, "/api/settings_retention_preview", &admin, &[JSON], preview(days)).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.text);
        assert_eq!(got.json()["due"].as_u64(), Some(due), "{days}");
    }
    for bad in ["29", "366", "90.5", "abc", ""] {
        let got = app.as_person(Method::POST, "/api/settings_retention_preview", &admin, &[JSON], preview(bad)).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{bad}: {}", got.text);
    }
    let refused =
        app.as_person(Method::POST, "/api/settings_retention_preview", &auditor, &[JSON], preview("30")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Saving: bad values refused with the form's label, an auditor refused, nothing
    // recorded for either; a change recorded with old and new value; the same value again
    // records nothing.
    let save = |value: &str| json!({ "values": [["audit_retention_days", value]] }).to_string().into_bytes();
    for bad in ["29", "366", "90.5", "abc", ""] {
        let got = app.as_person(Method::POST, "/api/settings_save", &admin, &[JSON], save(bad)).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{bad}: {}", got.text);
        assert!(
            got.text.contains("Audit log retention (days): must be a whole number of days from 30 to 365"),
            "{}",
            got.text
        );
    }
    let refused = app.as_person(Method::POST, "/api/settings_save", &auditor, &[JSON], save("120")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let unknown = json!({ "values": [["retention", "30"]] }).to_string().into_bytes();
    let got = app.as_person(Method::POST, "/api/settings_save", &admin, &[JSON], unknown).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", got.text);
    assert_eq!(app.list("event_type=settings.updated").await["entries"], json!([]));

    let saved = app.as_person(Method::POST, "/api/settings_save", &admin, &[JSON], save("30")).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!((saved.json()[0]["old"].as_i64(), saved.json()[0]["new"].as_i64()), (Some(90), Some(30)));
    let again = app.as_person(Method::POST, "/api/settings_save", &admin, &[JSON], save("30")).await;
    assert_eq!((again.status, again.json()), (StatusCode::OK, json!([])));
    let recorded = app.list("event_type=settings.updated").await;
    let entries = recorded["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    let details = &entries[0]["details"];
    assert_eq!((&details["old_value"], &details["new_value"]), (&json!(90), &json!(30)));
    assert_eq!(entries[0]["actor"]["type"], "user");
    assert_eq!(details["modified_by"], entries[0]["actor"]["name"]);
    let read = app.as_person(Method::POST, "/api/settings_retention", &auditor, &[], Vec::new()).await;
    assert_eq!(read.json()["days"].as_i64(), Some(30));
}

#[tokio::test]
async fn purge_dry_run_says_what_would_go_and_purge_deletes_it_recorded_and_verifiable() {
    let app = TestApp::spawn().await;
    // Day 0 to day 120 with a retention of 90: the 120-, 100- and 91-day-old entries go,
    // the 89-day-old one stays, and a late one with an old timestamp that arrives after
    // younger entries goes too.
    let mut events = aged(3, 120, "oldest");
    events.extend(aged(2, 100, "older"));
    events.extend(aged(4, 10, "recent"));
    events.extend(aged(1, 91, "just-over"));
    events.extend(aged(1, 89, "just-under"));
    app.record(&Value::Array(events)).await;
    app.record(&Value::Array(aged(1, 95, "late"))).await;
    app.record(&Value::Array(aged(1, 0, "today"))).await;

    let dry = certifyclouds(&app.database_url, &["purge", "--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(said.contains("a purge now would delete 7 entries") && said.contains("Nothing was deleted"), "{said}");
    assert_eq!(app.list("limit=100").await["entries"].as_array().map(Vec::len), Some(13));

    let purged = certifyclouds(&app.database_url, &["purge"]);
    assert!(purged.status.success(), "{}", String::from_utf8_lossy(&purged.stderr));
    let said = String::from_utf8_lossy(&purged.stdout);
    assert!(said.starts_with("Purged 7 entries older than 90 days"), "{said}");

    // Exactly the old ones went, the late one included; counts and search agree.
    let kept = app.list("limit=100&event_type=auth.login").await;
    let actors: Vec<&str> =
        kept["entries"].as_array().expect("entries").iter().filter_map(|e| e["actor"]["id"].as_str()).collect();
    assert_eq!(actors.len(), 6, "{actors:?}");
    assert!(actors.iter().all(|a| ["recent", "today", "just-under"].contains(a)), "{actors:?}");
    assert_eq!(app.get("/audit/entries/count?event_type=auth.login").await.json()["count"].as_u64(), Some(6));
    assert_eq!(app.list("q=oldest").await["entries"], json!([]));

    let recorded = app.list("event_type=retention.purge.completed").await;
    let run = &recorded["entries"].as_array().expect("entries")[0];
    assert_eq!(run["details"]["deleted_count"].as_u64(), Some(7));
    assert_eq!(run["details"]["retention_days"].as_u64(), Some(90));
    // Sequence numbers 1-5 and 10 (the first batch), 12 (the late one).
    assert_eq!((run["details"]["first_seq"].as_u64(), run["details"]["last_seq"].as_u64()), (Some(1), Some(12)));
    // The cutoff is 90 days before the run, to the second.
    let cutoff: chrono::DateTime<Utc> = run["details"]["cutoff"].as_str().expect("cutoff").parse().expect("a time");
    let ran: chrono::DateTime<Utc> = run["timestamp"].as_str().expect("timestamp").parse().expect("a time");
    assert!(((ran - Duration::days(90)) - cutoff).num_seconds().abs() <= 2, "{cutoff} for a run at {ran}");

    let verified = certifyclouds(&app.database_url, &["verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));

    // The settings page tells of it.
    let read = app.page(Method::POST, "/api/settings_retention", Vec::new()).await;
    let last = &read.json()["last_purge"];
    assert_eq!((last["completed"].as_bool(), last["deleted"].as_u64()), (Some(true), Some(7)), "{last}");
    assert_eq!(last["entry_id"], run["id"]);

    // Nothing due now: the dry run says 0, the purge deletes nothing and is recorded.
    let dry = certifyclouds(&app.database_url, &["purge", "--dry-run"]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would delete 0 entries"));
    let idle = certifyclouds(&app.database_url, &["purge"]);
    assert!(String::from_utf8_lossy(&idle.stdout).starts_with("Purged 0 entries"), "{idle:?}");
    let runs = app.get("/audit/entries/count?event_type=retention.purge.completed").await;
    assert_eq!(runs.json()["count"].as_u64(), Some(2));
}

#[tokio::test]
async fn the_scheduled_purge_runs_soon_after_start_with_the_retention_set() {
    let schedule = app::purge_runs::Schedule::every(std::time::Duration::from_secs(3600))
        .starting_after(std::time::Duration::from_millis(200));
    let app = TestApp::spawn_with(|state| state.with_purge(schedule)).await;
    app.record(&Value::Array(aged(4, 50, "old"))).await;
    app.record(&Value::Array(aged(1, 1, "young"))).await;
    app::settings::change(
        &app.store,
        app::internal_event::system_actor(),
        "audit_retention_days",
        &json!(30),
        Utc::now(),
    )
    .await
    .expect("set");
    let jobs = server::jobs::Jobs::start(&app.state);
    let mut done = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        done = app.list("event_type=retention.purge.completed").await["entries"].clone();
        if done.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
    }
    app.state.shutdown.trigger();
    jobs.stopped().await;
    assert_eq!(done[0]["details"]["deleted_count"].as_u64(), Some(4), "{done}");
    assert_eq!(done[0]["details"]["retention_days"].as_u64(), Some(30));
    assert_eq!(done[0]["actor"]["type"], "system");
    let next = app.state.purging.next().expect("the next run is known");
    assert!(next > Utc::now() + Duration::minutes(50), "{next}");
    // The settings page says when, and how often.
    let read = app.page(Method::POST, "/api/settings_retention", Vec::new()).await.json();
    assert_eq!(read["purge_every_minutes"].as_u64(), Some(60));
    assert_eq!(read["next_purge_at"].as_str().map(|t| t.parse::<chrono::DateTime<Utc>>().ok()), Some(Some(next)));
}

#[tokio::test]
async fn with_an_archive_directory_the_purge_archives_first_and_purges_nothing_when_it_cannot() {
    let app = TestApp::spawn().await;
    let archives = app.dir.path().join("archives");
    std::fs::create_dir(&archives).expect("dir");
    let set = json!({ "audit_archive_dir": archives.display().to_string() }).to_string().into_bytes();
    let admin = app.admin.clone();
    let patched = app.request(Method::PATCH, "/admin/settings", Some(&admin), set).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json()["audit_archive_dir"], json!(archives.display().to_string()));
    app.record(&Value::Array(aged(7, 100, "old"))).await;
    app.record(&Value::Array(aged(1, 0, "today"))).await;

    let purged = certifyclouds(&app.database_url, &["purge"]);
    assert!(purged.status.success(), "{}", String::from_utf8_lossy(&purged.stderr));
    let said = String::from_utf8_lossy(&purged.stdout);
    assert!(said.starts_with("Purged 7 entries") && said.contains("archived first to certifyclouds-purge-"), "{said}");
    let files: Vec<_> = std::fs::read_dir(&archives).expect("lists").map(|f| f.expect("file").path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&files[0]).expect("opens")),
        &mut text,
    )
    .expect("gzip");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!((lines.len(), lines[0]["entries"].as_u64()), (8, Some(7)));
    assert!(lines[1..].iter().all(|l| l["actor"]["id"] == "old" && l["inclusion_proof"]["proof"].is_array()));
    let run = app.list("event_type=retention.purge.completed").await;
    let details = &run["entries"][0]["details"];
    assert_eq!(details["archive_entries"].as_u64(), Some(7));
    assert_eq!(details["archive_file"].as_str(), files[0].file_name().and_then(|n| n.to_str()));

    // The directory gone: the purge fails, deletes nothing and says why.
    std::fs::remove_dir_all(&archives).expect("removed");
    app.record(&Value::Array(aged(3, 100, "later"))).await;
    app.record(&Value::Array(aged(1, 0, "today"))).await;
    let failed = certifyclouds(&app.database_url, &["purge"]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("nothing was purged"), "{failed:?}");
    assert_eq!(app.list("q=later").await["entries"].as_array().map(Vec::len), Some(3));
    let recorded = app.list("event_type=retention.purge.failed").await;
    let reason = recorded["entries"][0]["details"]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("the archive could not be written to"), "{reason}");
}
