//! What a browser downloads: compressed pages and answers, the site's files under names
//! that change with their content (kept for a year), and nothing compressed that must
//! stream (exports, live updates).

use crate::helpers::{event, TestApp};
use axum::http::{header, Method, StatusCode};
use flate2::read::GzDecoder;
use std::io::Read;

/// A built site as `make build` leaves it: hashed names, compressed copies, output-name.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    for (file, body) in [
        ("certifyclouds.0123456789abcdef.js", "export default function init() {}"),
        ("certifyclouds.0123456789abcdef_bg.wasm", "\0asm"),
        ("certifyclouds.0123456789abcdef.css", "body { margin: 0 }"),
    ] {
        std::fs::write(pkg.join(file), body).expect("file");
    }
    std::fs::write(pkg.join("certifyclouds.0123456789abcdef.js.br"), b"brotli bytes").expect("br");
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").expect("icon");
    std::fs::write(dir.path().join("output-name"), "certifyclouds.0123456789abcdef\n").expect("name");
    dir
}

async fn with_site(site: &tempfile::TempDir) -> TestApp {
    let root = site.path().display().to_string();
    TestApp::spawn_with(|state| server::state::AppState::new(state.store.clone(), &root)).await
}

#[tokio::test]
async fn the_page_names_the_hashed_files_and_they_are_kept_for_a_year() {
    let site = site();
    let app = with_site(&site).await;
    let html = app.page(Method::GET, "/audit", Vec::new()).await.text;
    for name in ["/pkg/certifyclouds.0123456789abcdef.js", "/pkg/certifyclouds.0123456789abcdef.css"] {
        assert!(html.contains(name), "{name} not in the page");
    }
    assert!(html.contains("certifyclouds.0123456789abcdef_bg.wasm"));

    let js = app
        .request_with(
            Method::GET,
            "/pkg/certifyclouds.0123456789abcdef.js",
            None,
            &[("accept-encoding", "br, gzip")],
            Vec::new(),
        )
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.headers[header::CONTENT_ENCODING], "br", "the stored brotli copy");
    assert_eq!(js.text, "brotli bytes");
    assert_eq!(js.headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(js.headers[header::VARY], "accept-encoding", "a shared cache keeps brotli and plain apart");
    assert_eq!(js.headers[header::CONTENT_TYPE], "text/javascript");
    let plain = app.request(Method::GET, "/pkg/certifyclouds.0123456789abcdef.css", None, Vec::new()).await;
    assert_eq!((plain.status, plain.text.as_str()), (StatusCode::OK, "body { margin: 0 }"));
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.headers[header::VARY], "accept-encoding");

    let icon = app.request(Method::GET, "/favicon.svg", None, Vec::new()).await;
    assert_eq!((icon.status, icon.headers[header::CACHE_CONTROL].to_str().ok()), (StatusCode::OK, Some("no-cache")));
    for missing in ["/pkg/certifyclouds.js", "/pkg/../output-name", "/pkg/%2e%2e/output-name"] {
        let reply = app.request(Method::GET, missing, None, Vec::new()).await;
        assert!(reply.status.is_client_error(), "{missing}: {}", reply.status);
    }
}

#[tokio::test]
async fn a_stale_output_name_falls_back_to_the_plain_names() {
    let site = site();
    std::fs::write(site.path().join("output-name"), "certifyclouds.ffffffffffffffff\n").expect("name");
    let app = with_site(&site).await;
    let html = app.page(Method::GET, "/audit", Vec::new()).await.text;
    assert!(html.contains("/pkg/certifyclouds.css") && !html.contains("ffffffffffffffff"));
}

#[tokio::test]
async fn plain_files_built_after_the_hashed_ones_are_served_instead() {
    let site = site();
    // `cargo leptos watch` run after `make build`: plain names, newer than the hashed ones.
    let hashed = site.path().join("pkg/certifyclouds.0123456789abcdef.js");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&hashed).and_then(|f| f.set_modified(old)).expect("age the build");
    std::fs::write(site.path().join("pkg/certifyclouds.js"), "export default function init() {}").expect("js");
    let app = with_site(&site).await;
    let html = app.page(Method::GET, "/audit", Vec::new()).await.text;
    assert!(html.contains("/pkg/certifyclouds.css") && !html.contains("0123456789abcdef"));

    // A plain file older than the hashed build is a leftover: the hashed build wins.
    std::fs::File::options()
        .write(true)
        .open(site.path().join("pkg/certifyclouds.js"))
        .and_then(|f| f.set_modified(old - std::time::Duration::from_secs(60)))
        .expect("age the leftover");
    let app = with_site(&site).await;
    let html = app.page(Method::GET, "/audit", Vec::new()).await.text;
    assert!(html.contains("/pkg/certifyclouds.0123456789abcdef.css"));
}

#[tokio::test]
async fn pages_and_answers_are_compressed_but_downloads_and_live_streams_are_not() {
    let app = TestApp::spawn().await;
    let batch: Vec<_> =
        (0..60).map(|i| event("auth.logout", &format!("2025-01-10T08:{i:02}:00Z"), ("user", "u1", "alice"))).collect();
    assert_eq!(app.post_events(&serde_json::Value::Array(batch)).await.status, StatusCode::CREATED);

    let plain = app.page(Method::GET, "/audit", Vec::new()).await;
    let gzipped = app.page_with(Method::GET, "/audit", &[("accept-encoding", "gzip")], Vec::new()).await;
    assert_eq!(gzipped.headers[header::CONTENT_ENCODING], "gzip");
    let mut html = String::new();
    GzDecoder::new(&gzipped.bytes[..]).read_to_string(&mut html).expect("gzip");
    assert!(html.contains("Showing 1–50 of 60"));
    assert!(gzipped.bytes.len() * 4 < plain.bytes.len(), "{} vs {}", gzipped.bytes.len(), plain.bytes.len());
    let br = app.page_with(Method::GET, "/audit", &[("accept-encoding", "br")], Vec::new()).await;
    assert_eq!(br.headers[header::CONTENT_ENCODING], "br");

    let api = app
        .request_with(
            Method::GET,
            "/audit/entries?limit=60",
            Some(&app.read),
            &[("accept-encoding", "gzip")],
            Vec::new(),
        )
        .await;
    assert_eq!(api.headers[header::CONTENT_ENCODING], "gzip");

    let export = app
        .request_with(
            Method::GET,
            "/audit/export?format=csv",
            Some(&app.read),
            &[("accept-encoding", "gzip, br")],
            Vec::new(),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers.get(header::CONTENT_ENCODING).is_none(), "a download streams as it is");
    assert!(export.text.starts_with("id,timestamp,"));

    let live = app.page_stream("/api/audit/live", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(live.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert!(live.headers().get(header::CONTENT_ENCODING).is_none(), "events reach the page one by one");
}
