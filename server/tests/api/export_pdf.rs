//! `GET /audit/export?format=pdf`: a report whose text, read back with poppler's
//! `pdftotext`, holds every entry, the facts of its first page, a header row and a page
//! number on every page, and the summary on the last.

use crate::helpers::{event, Reply, TestApp};
use app::export::PDF_MAX_ENTRIES;
use axum::http::{header, StatusCode};
use serde_json::json;
use std::process::Command;

/// The text of a report, page by page, as `pdftotext` extracts it.
fn pages(app: &TestApp, reply: &Reply) -> Vec<String> {
    extract(app, reply, &[])
}

/// The same, with the columns laid out as on the page (`pdftotext -layout`).
fn layout_pages(app: &TestApp, reply: &Reply) -> Vec<String> {
    extract(app, reply, &["-layout"])
}

fn extract(app: &TestApp, reply: &Reply, flags: &[&str]) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(reply.bytes.starts_with(b"%PDF-"), "not a PDF");
    let file = app.dir.path().join("report.pdf");
    std::fs::write(&file, &reply.bytes).expect("report written");
    let text = Command::new("pdftotext")
        .args(flags)
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext (Debian's poppler-utils, installed by scripts/setup.sh test): {e}"));
    assert!(text.status.success(), "pdftotext refused the file: {}", String::from_utf8_lossy(&text.stderr));
    // pdftotext ends every page with a form feed.
    let text = String::from_utf8(text.stdout).expect("UTF-8 text");
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    pages.pop();
    pages
}

#[tokio::test]
async fn a_report_holds_every_entry_and_says_what_it_covers() {
    let app = TestApp::spawn().await;
    let words: Vec<String> = (1..=120).map(|i| format!("word{i:03}")).collect();
    let mut long = event("rotation.completed", "2025-01-11T10:00:00Z", ("user", "user-7", "Жанна Иванова"));
    long["description"] = json!(format!("Rotated after review: {}", words.join(" ")));
    long["resource"] = json!({"type": "secret", "id": "kv-prod-payments/stripe-api-key", "name": "stripe-api-key"});
    let batch = json!([
        event("auth.login.success", "2025-01-10T08:00:00Z", ("user", "user-1", "alice@contoso.com")),
        long,
        event("sync.failed", "2025-01-12T09:00:00Z", ("service", "sp-sync", "sync-worker")),
        event("auth.login.success", "2025-02-20T08:00:00Z", ("user", "user-1", "alice@contoso.com")),
    ]);
    assert_eq!(app.post_events(&batch).await.status, StatusCode::CREATED);

    let reply = app.get("/audit/export?format=pdf&start_date=2025-01-10&end_date=2025-01-31").await;
    assert_eq!(
        reply.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"certifyclouds-audit-2025-01-10_2025-01-31.pdf\""
    );
    let pages = pages(&app, &reply);
    assert_eq!(pages.len(), 1);
    let text = &pages[0];
    for fact in [
        "Audit log report",
        "From 2025-01-10 00:00:00 UTC up to 2025-02-01 00:00:00 UTC (not included)",
        "From: 2025-01-10; Until: 2025-01-31",
        "3 (2025-01-10 08:00:00 UTC to 2025-01-12 09:00:00 UTC)",
        "API token \"reader\"",
        "Page 1 of 1",
        "Summary by category and severity",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in:\n{text}");
    }
    // Every entry in the period, none outside it.
    for id in ["audit-1", "audit-2", "audit-3"] {
        assert!(text.split_whitespace().any(|w| w == id), "{id} missing");
    }
    assert!(!text.split_whitespace().any(|w| w == "audit-4"), "an entry outside the period");
    // Text in any script survives, and a long description is wrapped, not cut.
    assert!(text.contains("Жанна Иванова"), "Cyrillic lost:\n{text}");
    for word in &words {
        assert!(text.split_whitespace().any(|w| w == word), "{word} was cut from the description");
    }
    assert!(text.contains("sync-worker") && text.contains("kv-prod-payments/stripe-api-key"));
    // Provenance: these were posted long after they happened, by the ingest token.
    let received = app.get("/audit/entries/audit-1").await.json()["received_at"].as_str().expect("received").to_owned();
    let day = &received[..10];
    assert!(text.contains(&format!("received {day}")), "when it was received:\n{text}");
    assert_eq!(text.matches("via ingester").count(), 3, "which token posted each:\n{text}");
}

#[tokio::test]
async fn every_page_repeats_the_header_and_is_numbered() {
    let app = TestApp::spawn().await;
    app.seed(300, 3, 11, "2025-03-01T00:00:00Z").await;
    let reply = app.get("/audit/export?format=pdf").await;
    let pages = pages(&app, &reply);
    let count = pages.len();
    assert!(count > 3, "300 entries fill several pages, got {count}");
    for (i, page) in pages.iter().enumerate() {
        // Every page of the table repeats its header; a last page for the summary alone has no table.
        let table_page = page.contains("audit-");
        assert!(
            !table_page || (page.contains("Time (UTC) / entry") && page.contains("Description")),
            "no header on page {}",
            i + 1
        );
        assert!(table_page || i + 1 == count, "page {} holds no entries", i + 1);
        assert!(page.contains(&format!("Page {} of {count}", i + 1)), "no number on page {}", i + 1);
    }
    let all: Vec<&str> = pages.iter().flat_map(|p| p.split_whitespace()).collect();
    for seq in 1..=300 {
        assert!(all.contains(&format!("audit-{seq}").as_str()), "audit-{seq} missing");
    }
    let last = &pages[count - 1];
    assert!(last.contains("Summary by category and severity"));
    // The summary's last row: every category, info + warning + error = 300.
    let laid_out = layout_pages(&app, &reply);
    let total: Vec<u64> = laid_out[count - 1]
        .lines()
        .find(|l| l.trim_start().starts_with("All categories"))
        .map(|l| l.split_whitespace().skip(2).filter_map(|n| n.replace(',', "").parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(total.len(), 4, "info, warning, error, total");
    assert_eq!((total[0] + total[1] + total[2], total[3]), (300, 300));
    assert!(!pages[0].contains("Summary by category"), "the summary belongs on the last page");
}

#[tokio::test]
async fn an_empty_report_is_still_a_valid_document() {
    let app = TestApp::spawn().await;
    let pages = pages(&app, &app.get("/audit/export?format=pdf&start_date=2030-01-01").await);
    assert_eq!(pages.len(), 1);
    assert!(pages[0].contains("No entries match these filters."));
    assert!(pages[0].contains("Page 1 of 1"));
    let outcome = &app.list("event_type=audit.export.completed").await["entries"][0];
    assert_eq!((outcome["details"]["format"].as_str(), outcome["details"]["rows"].as_u64()), (Some("pdf"), Some(0)));
}

#[tokio::test]
async fn a_report_over_the_limit_is_refused_not_cut_short() {
    let app = TestApp::spawn().await;
    app.seed(PDF_MAX_ENTRIES + 1, 20, 3, "2025-03-01T00:00:00Z").await;
    let reply = app.get("/audit/export?format=pdf").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let error = reply.error();
    assert!(error.contains("at most 50000 entries") && error.contains("match 50001"), "{error}");
    assert!(error.contains("export CSV or JSON"), "{error}");
    // Refused, so nothing was exported and nothing recorded; a narrower filter works.
    assert_eq!(app.list("event_type=audit.exported").await["total"], 0);
    let narrow = "severity=error&start_date=2025-02-28";
    let expected = app.list(narrow).await["total"].as_u64().unwrap_or_default();
    let pages = pages(&app, &app.get(&format!("/audit/export?format=pdf&{narrow}")).await);
    // The first page states the count (thousands grouped with commas).
    let digits = expected.to_string();
    let grouped: String = digits
        .chars()
        .enumerate()
        .flat_map(|(i, c)| (i > 0 && (digits.len() - i).is_multiple_of(3)).then_some(',').into_iter().chain([c]))
        .collect();
    assert!(expected > 0 && pages[0].contains(&format!("\n{grouped} (")), "{expected} entries:\n{}", pages[0]);
}
