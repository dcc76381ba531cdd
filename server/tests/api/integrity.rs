//! The log as a Merkle tree: `verify` reports its head, and an outsider with nothing but a
//! JSON export and the standard library of Python (docs/tree_root.py) gets the same.

use crate::helpers::{event, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_outsider_recomputes_the_tree_head_that_verify_reports_from_a_json_export() {
    let app = TestApp::spawn().await;
    app.seed(200, 3, 7, "2026-03-01T00:00:00Z").await;
    // Numbers and keys where canonical JSON is easy to get wrong.
    let mut tricky = event("sync.failed", "2026-03-01T00:00:01Z", ("service", "sp-sync", "sync-worker"));
    tricky["details"] = json!({
        "ratio": 1.0, "tiny": 1e-7, "small": 0.000001, "big": 1e21, "huge": 9_007_199_254_740_991u64, "low": -9_007_199_254_740_991i64,
        "neg": -2.5e-8, "\u{e000}": "private use", "\u{1F600}": "emoji", "é": "accent", "quote\"d": "a\nb",
        "failed_secrets": 3, "error": "vault unreachable"
    });
    assert_eq!(app.post_events(&json!([tricky])).await.status, StatusCode::CREATED);

    let export = app.get("/audit/export?format=json").await;
    assert_eq!(export.status, StatusCode::OK);
    let file = app.dir.path().join("export.json");
    std::fs::write(&file, &export.bytes).expect("writes the export");
    // The export is itself recorded (after its snapshot): verify sees those entries too,
    // so the outsider's tree covers the entries the export holds, counted from the file.
    let exported = serde_json::from_slice::<Vec<serde_json::Value>>(&export.bytes).expect("JSON").len();

    let outsider = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tree_root.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(outsider.status.success(), "{}", String::from_utf8_lossy(&outsider.stderr));
    let outsider = String::from_utf8(outsider.stdout).expect("utf-8").trim().to_owned();
    assert!(outsider.starts_with(&format!("size {exported}, root ")), "{outsider}");

    // The store's own tree of the same entries.
    let entries = app.store.log.entries_after(0, exported as u32).await.expect("reads");
    let mut tree = app::integrity::TreeBuilder::default();
    for entry in &entries {
        tree.push(app::integrity::entry_leaf_hash(entry));
    }
    assert_eq!(outsider, tree.head().to_string());

    // And `verify --tree-size N` prints the same, though the log has grown since (the
    // export is itself recorded), and the head of the whole log.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(["verify", "--tree-size", &exported.to_string()])
        .env("CERTIFYCLOUDS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let printed = String::from_utf8(verify.stdout).expect("utf-8");
    assert!(
        printed.contains(&format!("Merkle tree (RFC 6962) of the first {exported} entries: {outsider}")),
        "{printed}"
    );
    let all = app.store.log.entries_after(0, 1000).await.expect("reads");
    assert!(all.len() > exported, "the export was recorded");
    let mut whole = app::integrity::TreeBuilder::default();
    for entry in &all {
        whole.push(app::integrity::entry_leaf_hash(entry));
    }
    assert!(printed.contains(&format!("Merkle tree (RFC 6962): {}", whole.head())), "{printed}");

    // A filtered export is no whole log: the outsider's script says so.
    let filtered = app.get("/audit/export?format=json&severity=error").await;
    std::fs::write(&file, &filtered.bytes).expect("writes");
    let refused = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tree_root.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a whole log"));
}

/// The log's key as the API publishes it, and the tree head a signed note states once its
/// signature verifies with that key alone.
async fn opened(app: &TestApp, note: &str) -> app::integrity::TreeHead {
    let key = app.get("/audit/integrity/public-key").await.json();
    let verifier = key["verifier_key"].as_str().expect("a verifier key");
    app::checkpoint::open_note(note, verifier).expect("the note verifies with the published key")
}

fn hash(b64: &serde_json::Value) -> [u8; 32] {
    tlog_tiles::Hash::parse_hash(b64.as_str().expect("a base64 hash")).expect("a hash").0
}

#[tokio::test]
async fn checkpoints_are_signed_on_demand_by_admins_and_published() {
    let app = TestApp::spawn().await;
    let none = app.get("/audit/integrity/checkpoint").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
    assert!(none.error().contains("no checkpoint"));
    let empty = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&app.admin.clone()), Vec::new()).await;
    assert_eq!(empty.status, StatusCode::CONFLICT, "no tree to sign: {}", empty.text);
    assert!(empty.error().contains("empty"));
    app.seed(50, 3, 7, "2026-03-01T00:00:00Z").await;

    let key = app.get("/audit/integrity/public-key").await;
    assert_eq!(key.status, StatusCode::OK);
    let key = key.json();
    assert_eq!(
        (key["algorithm"].as_str(), key["origin"].as_str()),
        (Some("Ed25519"), Some("certifyclouds.local/audit"))
    );
    assert!(key["public_key_pem"].as_str().expect("pem").starts_with("-----BEGIN PUBLIC KEY-----\n"));

    let admin = app.admin.clone();
    let signed = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);
    let signed = signed.json();
    assert_eq!(signed["size"], 50);
    let note = signed["note"].as_str().expect("a note");
    assert!(note.starts_with("certifyclouds.local/audit\n50\n"), "{note}");
    let head = opened(&app, note).await;
    assert_eq!((head.size, head.root), (50, hash(&signed["root"])));
    let mut tree = app::integrity::TreeBuilder::default();
    for entry in app.store.log.entries_after(0, 100).await.expect("reads") {
        tree.push(app::integrity::entry_leaf_hash(&entry));
    }
    assert_eq!(tree.head(), head, "the signed root is the root of the served entries");

    let again = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await;
    assert_eq!(again.status, StatusCode::OK, "nothing new: the latest stands");
    assert_eq!(again.json(), signed);
    assert_eq!(app.get("/audit/integrity/checkpoint").await.json(), signed);

    let read = app.read.clone();
    let refused = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&read), Vec::new()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app.request(Method::POST, "/audit/integrity/checkpoint", None, Vec::new()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    for uri in ["/audit/integrity/public-key", "/audit/integrity/checkpoint", "/audit/integrity/checkpoints"] {
        assert_eq!(app.request(Method::GET, uri, None, Vec::new()).await.status, StatusCode::UNAUTHORIZED, "{uri}");
    }

    app.seed(5, 1, 9, "2026-03-02T00:00:00Z").await;
    let later = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await.json();
    assert_eq!(later["size"], 55);
    let list = app.get("/audit/integrity/checkpoints").await.json();
    let sizes: Vec<u64> =
        list["checkpoints"].as_array().expect("list").iter().map(|c| c["size"].as_u64().expect("size")).collect();
    assert_eq!(sizes, vec![50, 55]);
    assert_eq!(list["next_after"], serde_json::Value::Null);
    let page = app.get("/audit/integrity/checkpoints?after=0&limit=1").await.json();
    assert_eq!((page["checkpoints"][0]["size"].as_u64(), page["next_after"].as_u64()), (Some(50), Some(50)));
    let rest = app.get("/audit/integrity/checkpoints?after=50").await.json();
    assert_eq!(rest["checkpoints"][0], later);
    // A server holding another key (an instance started with its own key file) signs nothing.
    let other = TestApp::reopen(&app).await;
    other.seed(1, 1, 3, "2026-03-03T00:00:00Z").await;
    let refused =
        other.request(Method::POST, "/audit/integrity/checkpoint", Some(&other.admin.clone()), Vec::new()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.error().contains("does not verify the log's latest checkpoint"), "{}", refused.error());
    for (query, says) in [
        ("after=x", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("since=1", "unknown"),
        ("after=1&after=2", "twice"),
    ] {
        let bad = app.get(&format!("/audit/integrity/checkpoints?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.error().contains(says), "{query}: {}", bad.error());
    }
}

#[tokio::test]
async fn proofs_check_against_the_signed_checkpoints() {
    use app::integrity::{check_consistency, check_inclusion, TreeHead};
    let app = TestApp::spawn().await;
    let admin = app.admin.clone();
    app.seed(40, 3, 7, "2026-03-01T00:00:00Z").await;
    let first = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await.json();
    let old = opened(&app, first["note"].as_str().expect("note")).await;
    app.seed(23, 1, 8, "2026-03-02T00:00:00Z").await;
    let second = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await.json();
    let new = opened(&app, second["note"].as_str().expect("note")).await;
    assert_eq!((old.size, new.size), (40, 63));

    for (id, size) in [("audit-1", 40), ("audit-7", 40), ("audit-40", 40), ("audit-41", 63), ("audit-63", 63)] {
        let reply = app.get(&format!("/audit/integrity/inclusion?id={id}&size={size}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.text);
        let proof = reply.json();
        let signed = if size == 40 { old } else { new };
        assert_eq!(proof["checkpoint"]["size"], size, "the checkpoint of that size comes with it");
        assert_eq!(hash(&proof["root"]), signed.root);
        let entry = app.get(&format!("/audit/entries/{id}")).await.json();
        let entry: app::entry::AuditEntry = serde_json::from_value(entry).expect("an entry");
        let leaf = app::integrity::entry_leaf_hash(&entry);
        assert_eq!(hash(&proof["leaf_hash"]), leaf);
        let path: Vec<[u8; 32]> = proof["proof"].as_array().expect("path").iter().map(hash).collect();
        let index = proof["leaf_index"].as_u64().expect("index");
        assert!(check_inclusion(&path, index, signed.size, signed.root, leaf), "{id} in {size}");
        let mut changed = entry.clone();
        changed.description.push('!');
        let changed = app::integrity::entry_leaf_hash(&changed);
        assert!(!check_inclusion(&path, index, signed.size, signed.root, changed), "a changed entry is not in it");
    }
    // Without a size: against the latest checkpoint.
    let latest = app.get("/audit/integrity/inclusion?id=audit-3").await.json();
    assert_eq!(latest["tree_size"], 63);

    let reply = app.get("/audit/integrity/consistency?from=40&to=63").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let proof = reply.json();
    let path: Vec<[u8; 32]> = proof["proof"].as_array().expect("path").iter().map(hash).collect();
    assert!(check_consistency(&path, old, new));
    assert!(!check_consistency(&path, TreeHead { root: new.root, ..old }, new), "another old root");
    assert_eq!((hash(&proof["from_root"]), hash(&proof["to_root"])), (old.root, new.root));
    assert_eq!(app.get("/audit/integrity/consistency?from=40").await.json(), proof, "to: the latest checkpoint");

    // An implementation that shares nothing with the server's (docs/check_proof.py:
    // Python's standard library, Ed25519 written out) agrees, and refuses what is forged.
    let dir = app.dir.path();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("writes");
        path
    };
    let python = |args: &[&std::path::Path]| {
        let out = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/check_proof.py"))
            .args(args)
            .output()
            .expect("python3 runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let key = app.get("/audit/integrity/public-key").await.json()["verifier_key"].as_str().expect("key").to_owned();
    let note = write("note", second["note"].as_str().expect("note"));
    let key_file = std::path::PathBuf::from(&key);
    let (ok, said) = python(&[std::path::Path::new("checkpoint"), &note, &key_file]);
    assert!(ok && said.trim() == format!("size 63, root {}", second["root"].as_str().expect("root")), "{said}");
    let forged = write("forged", &second["note"].as_str().expect("note").replacen("\n63\n", "\n64\n", 1));
    let (ok, said) = python(&[std::path::Path::new("checkpoint"), &forged, &key_file]);
    assert!(!ok && said.contains("no valid signature"), "{said}");
    let proof = app.get("/audit/integrity/inclusion?id=audit-41&size=63").await.text;
    let entry = app.get("/audit/entries/audit-41").await.json();
    let (proof_file, entry_file) = (write("inclusion.json", &proof), write("entry.json", &entry.to_string()));
    let (ok, said) = python(&[std::path::Path::new("inclusion"), &proof_file, &entry_file]);
    assert!(ok && said.contains("audit-41 is in the tree of 63 entries"), "{said}");
    let mut changed = entry.clone();
    changed["severity"] = json!("critical");
    let changed = write("changed.json", &changed.to_string());
    let (ok, said) = python(&[std::path::Path::new("inclusion"), &proof_file, &changed]);
    assert!(!ok && said.contains("it was changed"), "{said}");
    for (from, to) in [(40, 63), (1, 63), (32, 63), (63, 63), (7, 40)] {
        let proof = app.get(&format!("/audit/integrity/consistency?from={from}&to={to}")).await.text;
        let (ok, said) = python(&[std::path::Path::new("consistency"), &write("consistency.json", &proof)]);
        assert!(ok && said.contains(&format!("tree of {from} entries is a prefix")), "{from}..{to}: {said}");
    }
    let mut bent: serde_json::Value =
        serde_json::from_str(&app.get("/audit/integrity/consistency?from=40&to=63").await.text).expect("json");
    bent["from_root"] = bent["to_root"].clone();
    let (ok, _) = python(&[std::path::Path::new("consistency"), &write("bent.json", &bent.to_string())]);
    assert!(!ok, "a proof for other roots fails");

    let with_proof = app.get("/audit/entries/audit-5?proof=true").await;
    assert_eq!(with_proof.status, StatusCode::OK, "{}", with_proof.text);
    let with_proof = with_proof.json();
    assert_eq!(with_proof["id"], "audit-5");
    assert_eq!(with_proof["inclusion_proof"]["tree_size"], 63);
    let plain = app.get("/audit/entries/audit-5").await.json();
    assert!(plain.get("inclusion_proof").is_none());
    assert_eq!(app.get("/audit/entries/audit-5?proof=false").await.json(), plain);

    for (uri, status, says) in [
        ("/audit/integrity/inclusion?size=5", StatusCode::BAD_REQUEST, "id is required"),
        ("/audit/integrity/inclusion?id=7", StatusCode::BAD_REQUEST, "not an entry id"),
        ("/audit/integrity/inclusion?id=audit-0", StatusCode::BAD_REQUEST, "not an entry id"),
        ("/audit/integrity/inclusion?id=audit-9999", StatusCode::NOT_FOUND, "audit-9999"),
        ("/audit/integrity/inclusion?id=audit-50&size=40", StatusCode::BAD_REQUEST, "size must be from 50"),
        ("/audit/integrity/inclusion?id=audit-5&size=64", StatusCode::BAD_REQUEST, "size must be from 5"),
        ("/audit/integrity/inclusion?id=audit-5&size=-1", StatusCode::BAD_REQUEST, "whole number"),
        ("/audit/integrity/inclusion?id=audit-5&sise=4", StatusCode::BAD_REQUEST, "unknown parameter"),
        ("/audit/integrity/consistency", StatusCode::BAD_REQUEST, "from is required"),
        ("/audit/integrity/consistency?from=50&to=40", StatusCode::BAD_REQUEST, "must not exceed"),
        ("/audit/integrity/consistency?from=1&to=64", StatusCode::BAD_REQUEST, "tree's size"),
        ("/audit/entries/audit-5?proof=yes", StatusCode::BAD_REQUEST, "true or false"),
        ("/audit/entries/audit-5?proofs=true", StatusCode::BAD_REQUEST, "unknown parameter"),
    ] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text);
        assert!(reply.error().contains(says), "{uri}: {}", reply.error());
    }
}

/// `certifyclouds checkpoint` signs with the key file beside the database, made on first
/// use with mode 0600, and says so when nothing is new.
#[tokio::test]
async fn the_checkpoint_command_signs_with_the_key_file_beside_the_database() {
    if crate::helpers::on_postgres() {
        return; // The key's default place is beside a SQLite file.
    }
    let app = TestApp::spawn().await;
    app.seed(12, 1, 7, "2026-03-01T00:00:00Z").await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
            .arg("checkpoint")
            .env("CERTIFYCLOUDS_DATABASE_URL", &app.database_url)
            .env("CERTIFYCLOUDS_LOG_ORIGIN", "audit.example/test")
            .output()
            .expect("runs")
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let printed = String::from_utf8(first.stdout).expect("utf-8");
    assert!(printed.starts_with("audit.example/test\n12\n"), "{printed}");
    assert!(printed.contains("Checkpoint signed: size 12, root "), "{printed}");
    let key_file = app.dir.path().join("audit.db.signing-key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).expect("the key file").permissions().mode() & 0o777, 0o600);
    let (key, created) = app::checkpoint::LogKey::load_or_create(&key_file, "unused").expect("reads");
    assert!(!created);
    let note = printed.split("\nCheckpoint").next().expect("the note");
    assert_eq!(key.open(note).expect("verifies").size, 12);
    let stored = app.store.tree.latest_checkpoint().await.expect("reads").expect("stored");
    assert_eq!(stored.note, note);
    let logged = String::from_utf8_lossy(&first.stderr);
    assert!(logged.contains("created the log's signing key") && !logged.contains("PRIVATE"), "{logged}");

    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("Checkpoint unchanged"));
}

/// The entries of one type, newest first, as the API serves them.
async fn recorded(app: &TestApp, event_type: &str) -> Vec<serde_json::Value> {
    app.list(&format!("event_type={event_type}")).await["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn a_verification_from_the_page_is_recorded_and_a_failure_stays_until_an_admin_acknowledges_it() {
    use app::accounts::Role;
    let app = TestApp::spawn().await;
    app.seed(40, 2, 7, "2026-03-01T00:00:00Z").await;
    let (auditor, admin) = (app.auditor().await, app.signed_in(Role::Admin).await);
    let form = ("content-type", "application/x-www-form-urlencoded");
    let json = ("content-type", "application/json");

    let page = app.as_person(Method::GET, "/integrity", &auditor, &[], Vec::new()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Verify now") && page.text.contains("Public key"), "the page renders on the server");
    assert!(!page.text.contains("Sign a checkpoint now"), "auditors do not sign");
    let signed = app.as_person(Method::POST, "/api/integrity_sign", &auditor, &[form], Vec::new()).await;
    assert_eq!(signed.status, StatusCode::FORBIDDEN);
    let signed = app.as_person(Method::POST, "/api/integrity_sign", &admin, &[form], Vec::new()).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    assert!(app
        .as_person(Method::GET, "/integrity", &admin, &[], Vec::new())
        .await
        .text
        .contains("Sign a checkpoint now"));

    let run = app.as_person(Method::POST, "/api/integrity_verify", &auditor, &[form], Vec::new()).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run = run.json();
    assert_eq!((run["intact"].as_bool(), run["trigger"].as_str()), (Some(true), Some("on demand")));
    assert_eq!(run["checkpoint_size"], 40);
    let verified = recorded(&app, "integrity.verified").await;
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0]["severity"], "info");
    assert_eq!(verified[0]["actor"]["type"], "user");
    assert_eq!(verified[0]["details"]["entries"], 40);
    assert_eq!(run["entry_id"], verified[0]["id"]);
    let anonymous = app.request(Method::POST, "/api/integrity_verify", None, Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let tokened = app.request(Method::POST, "/api/integrity_verify", Some(&app.read.clone()), Vec::new()).await;
    assert_eq!(tokened.status, StatusCode::FORBIDDEN, "tokens are for the REST API");

    if crate::helpers::on_postgres() {
        return; // Tampering with the file below is SQLite's; the tamper matrix covers the rest.
    }
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.database_url).await.expect("connects");
    for sql in
        ["DROP TRIGGER audit_entries_no_update", "UPDATE audit_entries SET description = 'nothing' WHERE seq = 12"]
    {
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
    }
    let run = app.as_person(Method::POST, "/api/integrity_verify", &auditor, &[form], Vec::new()).await.json();
    assert_eq!(run["intact"], false);
    let failed = recorded(&app, "integrity.failed").await;
    assert_eq!((failed.len(), failed[0]["severity"].as_str()), (1, Some("error")));
    let first = failed[0]["details"]["first_problem"].as_str().expect("a problem").to_owned();
    assert!(first.contains("broken at sequence 12"), "{first}");
    let failure_id = failed[0]["id"].as_str().expect("an id").to_owned();

    for session in [&auditor, &admin] {
        let audit = app.as_person(Method::GET, "/audit", session, &[], Vec::new()).await.text;
        assert!(audit.contains(r#"class="integrity-banner""#) && audit.contains(&first), "a banner on every page");
    }
    let body = |id: &str| serde_json::json!({ "failure_id": id }).to_string().into_bytes();
    let by_auditor =
        app.as_person(Method::POST, "/api/integrity_acknowledge", &auditor, &[json], body(&failure_id)).await;
    assert_eq!(by_auditor.status, StatusCode::FORBIDDEN);
    let wrong = app.as_person(Method::POST, "/api/integrity_acknowledge", &admin, &[json], body("audit-1")).await;
    assert_eq!(wrong.status, StatusCode::CONFLICT, "{}", wrong.text);
    let done = app.as_person(Method::POST, "/api/integrity_acknowledge", &admin, &[json], body(&failure_id)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let acknowledged = recorded(&app, "integrity.failure.acknowledged").await;
    assert_eq!(acknowledged[0]["details"]["failure_id"], failure_id.as_str());
    let audit = app.as_person(Method::GET, "/audit", &auditor, &[], Vec::new()).await.text;
    assert!(!audit.contains(r#"class="integrity-banner""#), "the banner is gone once acknowledged");
    let again = app.as_person(Method::POST, "/api/integrity_acknowledge", &admin, &[json], body(&failure_id)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing open to acknowledge");
}

#[tokio::test]
async fn the_compliance_view_maps_each_control_to_the_entries_that_cover_it_in_the_period() {
    let app = TestApp::spawn().await;
    app.seed(300, 3, 7, "2026-03-04T00:00:00Z").await;
    let auditor = app.auditor().await;
    let page = app
        .as_person(Method::GET, "/compliance?start_date=2026-03-01&end_date=2026-03-03", &auditor, &[], Vec::new())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for control in [
        "CC6.1", "CC7.2", "CC7.5", "A.12.4.1", "A.12.4.2", "A.12.4.3", "AU-2", "AU-3", "AU-6", "AU-9", "AU-11", "AU-12",
    ] {
        assert!(page.text.contains(&format!(">{control}<")), "{control} is on the page");
    }
    let form = ("content-type", "application/x-www-form-urlencoded");
    let body = b"start_date=2026-03-01&end_date=2026-03-03".to_vec();
    let view = app.as_person(Method::POST, "/api/compliance_report", &auditor, &[form], body).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    let view = view.json();
    let cc61 = &view["controls"][0];
    assert_eq!((cc61["framework"].as_str(), cc61["id"].as_str()), (Some("SOC 2"), Some("CC6.1")));
    let sign_ins = &cc61["evidence"][0];
    let expected =
        app.get("/audit/entries/count?event_type=auth.*&start_date=2026-03-01&end_date=2026-03-03").await.json()
            ["count"]
            .clone();
    assert!(expected.as_u64().expect("a count") > 0);
    assert_eq!(sign_ins["found"], format!("{expected} entries (auth.*)"));
    let link = sign_ins["link"].as_str().expect("a link to the entries");
    assert!(
        link.starts_with("/audit?") && link.contains("event_type=auth.*") && link.contains("start_date=2026-03-01"),
        "{link}"
    );
    let bad = app
        .as_person(
            Method::POST,
            "/api/compliance_report",
            &auditor,
            &[form],
            b"start_date=yesterday&end_date=".to_vec(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("start_date"), "{}", bad.text);
}
