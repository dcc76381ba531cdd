//! `GET /audit/export?format=evidence`: the evidence pack, checked offline three ways (the
//! `verify-pack` command, the Python verifier of docs/ and openssl by the README's recipe),
//! and broken one byte at a time in each of its files.

use crate::helpers::{event, Reply, TestApp};
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

const FILES: [&str; 11] = [
    "README.txt",
    "report.pdf",
    "entries.csv",
    "entries.json",
    "checkpoint.txt",
    "public-key.pem",
    "verifier-key.txt",
    "verify_pack.py",
    "ed25519.py",
    "manifest.json",
    "manifest.sig",
];

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).expect("member");
        let mut content = Vec::new();
        member.read_to_end(&mut content).expect("reads");
        files.insert(member.name().expect("name").into_owned(), content);
    }
    files
}

fn rezip(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).expect("starts");
        zip.write_all(bytes).expect("writes");
    }
    zip.finish().expect("finishes").into_inner()
}

async fn verifier_key(app: &TestApp) -> String {
    app.get("/audit/integrity/public-key").await.json()["verifier_key"].as_str().expect("key").to_owned()
}

fn verify_pack_cli(file: &Path, key: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certifyclouds"));
    command.arg("verify-pack").arg(file).env("RUST_LOG", "warn");
    // Offline: no database is named; a store here would be a mistake.
    command.env_remove("CERTIFYCLOUDS_DATABASE_URL");
    if let Some(key) = key {
        command.args(["--verifier-key", key]);
    }
    command.output().expect("runs")
}

/// The verifier of docs/ (not the pack's copy, which a forger could replace).
fn verify_pack_python(file: &Path, key: &str) -> std::process::Output {
    Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/verify_pack.py"))
        .arg(file)
        .arg(key)
        .output()
        .expect("python3 runs")
}

async fn pack_of(app: &TestApp, query: &str) -> Reply {
    let reply = app.get(&format!("/audit/export?format=evidence&{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/zip");
    reply
}

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    let batch: Vec<Value> = (0..40)
        .map(|i| {
            let kind = if i % 4 == 0 { "sync.failed" } else { "auth.login.success" };
            event(kind, &format!("2025-01-{:02}T10:00:00Z", 1 + i % 28), ("user", "user-1", "alice@contoso.com"))
        })
        .collect();
    assert_eq!(app.post_events(&json!(batch)).await.status, StatusCode::CREATED);
    app
}

#[tokio::test]
async fn a_filtered_pack_proves_its_entries_and_verifies_offline_three_ways() {
    let app = seeded().await;
    let reply = pack_of(&app, "event_type=sync.failed&start_date=2025-01-01&end_date=2025-01-31").await;
    assert_eq!(
        reply.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"certifyclouds-audit-2025-01-01_2025-01-31.zip\""
    );
    let files = unzip(&reply.bytes);
    assert_eq!(files.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), FILES.into());

    // Only the filtered entries, each with a proof against the pack's checkpoint.
    let entries: Vec<Value> = serde_json::from_slice(&files["entries.json"]).expect("JSON");
    assert_eq!(entries.len(), 10);
    assert!(entries.iter().all(|e| e["event_type"] == "sync.failed" && e["inclusion_proof"]["proof"].is_array()));
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("JSON");
    assert_eq!(manifest["entries"]["count"], 10);
    assert_eq!(manifest["filters"]["query"], "event_type=sync.failed&start_date=2025-01-01&end_date=2025-01-31");
    assert_eq!(manifest["generated_by"], "API token \"reader\"");
    let size = manifest["checkpoint"]["size"].as_u64().expect("size");
    assert!(size > 40, "the checkpoint covers the whole log, not only the pack: {size}");
    assert_eq!(files["entries.csv"].iter().filter(|b| **b == b'\n').count(), 11, "a header and ten rows");
    let published = app.get("/audit/integrity/checkpoint").await.json();
    assert_eq!(published["size"], size, "the pack's checkpoint is the log's published one");
    assert_eq!(String::from_utf8_lossy(&files["checkpoint.txt"]), published["note"].as_str().expect("note"));

    // The report holds the integrity facts and the compliance view.
    let pdf = app.dir.path().join("report.pdf");
    std::fs::write(&pdf, &files["report.pdf"]).expect("writes");
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().expect("pdftotext runs");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in ["Integrity", "Compliance view", "SOC 2 CC6.1", "NIST 800-53 AU-9", &format!("{size} entries")] {
        assert!(text.contains(expected), "the report lacks {expected}");
    }

    let key = verifier_key(&app).await;
    let checked = server::evidence::verify_pack(&reply.bytes, Some(&key)).expect("verifies");
    assert_eq!((checked.checkpoint.size, checked.manifest.entries.count), (size, 10));

    let file = app.dir.path().join("pack.zip");
    std::fs::write(&file, &reply.bytes).expect("writes");
    let cli = verify_pack_cli(&file, Some(&key));
    let said = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success(), "{said}{}", String::from_utf8_lossy(&cli.stderr));
    assert!(said.contains("Evidence pack intact: 10 entries") && said.contains("Signed by the key given"), "{said}");
    // Without a key, the pack's own is used, and the command says what that does not prove.
    let unpinned = verify_pack_cli(&file, None);
    assert!(unpinned.status.success());
    assert!(String::from_utf8_lossy(&unpinned.stdout).contains("Warning: checked with the pack's own key"));

    let python = verify_pack_python(&file, &key);
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    assert!(String::from_utf8_lossy(&python.stdout).contains("Evidence pack intact: 10 entries"));
    // The pack's copies of the verifier are the published ones.
    assert_eq!(files["verify_pack.py"], include_bytes!("../../../docs/verify_pack.py"));
    assert_eq!(files["ed25519.py"], include_bytes!("../../../docs/ed25519.py"));
    // The Python verifier takes no key from the pack: without one it refuses.
    let keyless = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/verify_pack.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(!keyless.status.success());
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("FAILED: the command: takes PACK.zip and KEY"));
}

#[tokio::test]
async fn one_changed_byte_in_any_file_fails_and_names_that_file() {
    let app = seeded().await;
    let reply = pack_of(&app, "").await;
    let key = verifier_key(&app).await;
    let files = unzip(&reply.bytes);
    // The rezipped original still verifies: what fails below is the changed byte.
    assert!(server::evidence::verify_pack(&rezip(&files), Some(&key)).is_ok());
    let file = app.dir.path().join("changed.zip");
    for name in FILES {
        let mut changed = files.clone();
        let content = changed.get_mut(name).expect("present");
        // A byte in the middle, changed to one that keeps text text.
        let at = content.len() / 2;
        content[at] = if content[at] == b'A' { b'B' } else { b'A' };
        let bytes = rezip(&changed);
        match server::evidence::verify_pack(&bytes, Some(&key)) {
            Err(server::evidence::PackProblem::File { file, .. }) => assert_eq!(file, name),
            other => panic!("{name}: {other:?}"),
        }
        std::fs::write(&file, &bytes).expect("writes");
        let cli = verify_pack_cli(&file, Some(&key));
        assert!(!cli.status.success(), "{name}");
        let said = String::from_utf8_lossy(&cli.stderr);
        assert!(said.contains(&format!("verification: {name}: ")), "{name}: {said}");
        let python = verify_pack_python(&file, &key);
        assert!(!python.status.success(), "{name}");
        let said = String::from_utf8_lossy(&python.stderr);
        assert!(said.contains(&format!("FAILED: {name}: ")), "python, {name}: {said}");
    }

    // A file added, a file taken out.
    let mut added = files.clone();
    added.insert("extra.txt".into(), b"hello".to_vec());
    let added = server::evidence::verify_pack(&rezip(&added), Some(&key)).expect_err("fails");
    assert!(added.to_string().starts_with("extra.txt: added"), "{added}");
    let mut removed = files.clone();
    removed.remove("entries.csv");
    let removed = server::evidence::verify_pack(&rezip(&removed), Some(&key)).expect_err("fails");
    assert!(removed.to_string().starts_with("entries.csv: missing"), "{removed}");

    // A byte changed in the zip itself, inside a member's compressed data: its CRC names it.
    let mut raw = reply.bytes.to_vec();
    let data_at = find(&raw, b"entries.json").expect("local header") + "entries.json".len() + 40;
    raw[data_at] ^= 0x01;
    let damaged = server::evidence::verify_pack(&raw, Some(&key)).expect_err("fails");
    assert!(damaged.to_string().starts_with("entries.json: "), "{damaged}");

    // A file twice (a forged copy before the real one) is refused by both verifiers.
    let mut renamed = files.clone();
    let readme = renamed.remove("README.txt").expect("readme");
    renamed.insert("report.pdX".into(), readme);
    let mut twice = rezip(&renamed);
    // Rename it, in its local header and in the central directory, to a name it repeats.
    while let Some(at) = find(&twice, b"report.pdX") {
        twice[at + 9] = b'f';
    }
    assert!(server::evidence::verify_pack(&twice, Some(&key)).is_err(), "a file twice is refused");
    std::fs::write(&file, &twice).expect("writes");
    let python = verify_pack_python(&file, &key);
    assert!(!python.status.success());
    assert!(
        String::from_utf8_lossy(&python.stderr).contains("FAILED: the zip: "),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );

    // Another log's key: the pack is not that log's.
    let other = app::checkpoint::LogKey::ephemeral("other.example/audit").expect("key");
    let wrong = server::evidence::verify_pack(&reply.bytes, Some(other.verifier_key())).expect_err("fails");
    assert!(wrong.to_string().starts_with("verifier-key.txt: the pack was signed by"), "{wrong}");
    let garbage = server::evidence::verify_pack(&reply.bytes, Some("not a key")).expect_err("fails");
    assert!(matches!(garbage, server::evidence::PackProblem::BadKey(_)));
    assert!(matches!(
        server::evidence::verify_pack(b"PK not a zip", None),
        Err(server::evidence::PackProblem::NotAZip(_))
    ));
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn the_signature_verifies_with_the_public_key_alone_by_the_readme_recipe() {
    let app = seeded().await;
    let reply = pack_of(&app, "severity=error").await;
    let files = unzip(&reply.bytes);
    let dir = app.dir.path().join("unzipped");
    std::fs::create_dir(&dir).expect("dir");
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).expect("writes");
    }
    // The README's openssl steps, as written there.
    let readme = String::from_utf8(files["README.txt"].clone()).expect("text");
    let steps: Vec<&str> = readme
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("3. "))
        .filter(|l| l.starts_with("sed ") || l.starts_with("head ") || l.starts_with("openssl "))
        .collect();
    assert_eq!(steps.len(), 3, "{readme}");
    let run = |script: &str| Command::new("sh").arg("-c").arg(script).current_dir(&dir).output().expect("sh runs");
    let out = run(&steps.join(" && "));
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));
    let digest = run("sha256sum manifest.json | cut -d' ' -f1");
    let digest = String::from_utf8_lossy(&digest.stdout).trim().to_owned();
    assert!(String::from_utf8_lossy(&files["manifest.sig"]).contains(&format!("sha256 {digest}\n")));

    // A changed manifest: openssl still verifies the note, but the digest it signs differs.
    let mut manifest = files["manifest.json"].clone();
    manifest[10] ^= 0x01;
    std::fs::write(dir.join("manifest.json"), manifest).expect("writes");
    let changed = run("sha256sum manifest.json | cut -d' ' -f1");
    assert_ne!(String::from_utf8_lossy(&changed.stdout).trim(), digest);
    // And a changed signature fails openssl itself.
    let mut note = files["manifest.sig"].clone();
    let last = note.len() - 6;
    note[last] = if note[last] == b'A' { b'B' } else { b'A' };
    std::fs::write(dir.join("manifest.sig"), note).expect("writes");
    let out = run(&steps.join(" && "));
    assert!(!out.status.success(), "a changed signature must not verify");
}

#[tokio::test]
async fn a_pack_is_refused_clearly_and_only_to_whom_may_export() {
    let app = seeded().await;
    let anonymous = app.request(Method::GET, "/audit/export?format=evidence", None, Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let ingest_only = app.request(Method::GET, "/audit/export?format=evidence", Some(&app.ingest), Vec::new()).await;
    assert_eq!(ingest_only.status, StatusCode::FORBIDDEN);
    let bad = app.get("/audit/export?format=evidence&severity=loud").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = app.get("/audit/export?format=zipped").await;
    assert!(unknown.error().contains("json, ndjson, csv, pdf or evidence"), "{}", unknown.error());

    // An auditor downloads one from the Audit tab's dialog (the session's twin route).
    let page = app.page(Method::GET, "/api/audit/export?format=evidence&severity=error", Vec::new()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(unzip(&page.bytes).len(), FILES.len());

    // Each pack is audited like any export, with its outcome.
    let exported = app.list("event_type=audit.export.completed").await;
    let formats: Vec<&str> = exported["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["details"]["format"].as_str())
        .collect();
    assert_eq!(formats, ["evidence"]);
}

#[tokio::test]
async fn a_server_whose_key_is_not_the_logs_makes_no_pack() {
    let app = seeded().await;
    // The log's checkpoints are signed by this server's key...
    assert_eq!(
        app.request(Method::POST, "/audit/integrity/checkpoint", Some(&app.admin), Vec::new()).await.status,
        StatusCode::CREATED
    );
    // ...and another server, with another key (its own, made in memory), opens the same store.
    let other = TestApp::reopen(&app).await;
    let refused = other.get("/audit/export?format=evidence").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.error().contains("its checkpoint could not be signed"), "{}", refused.error());

    let aborted = app.list("event_type=audit.export.aborted").await;
    assert_eq!(aborted["entries"][0]["details"]["reason"], "the evidence pack could not be built");
}
