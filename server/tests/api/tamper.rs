//! The tamper matrix: copies of a real store, each changed the way someone with the
//! database file could change it, verified as `certifyclouds verify` and the Integrity page
//! do. Each time verification names the first bad entry or the rollback; the signed
//! checkpoints catch what the database alone cannot (a rewrite with every hash
//! recomputed, an older copy of the file restored).

use crate::helpers::{on_postgres, TestApp};
use app::integrity::{entry_leaf_hash, EntryFields, TreeBuilder};
use app::store::{entry_hash, Problem, GENESIS_HASH};
use app::verification::{verify_integrity, OutsideCheckpoint, Verification};
use axum::http::{Method, StatusCode};
use sqlx::{Connection, SqliteConnection};

struct Original {
    app: TestApp,
    verifier: String,
}

async fn original() -> Original {
    let app = TestApp::spawn().await;
    app.seed(30, 2, 7, "2026-03-01T00:00:00Z").await;
    sign(&app, 30).await;
    app.seed(30, 2, 8, "2026-03-02T00:00:00Z").await;
    sign(&app, 60).await;
    let verifier = app.state.signing.key.verifier_key().to_owned();
    Original { app, verifier }
}

async fn sign(app: &TestApp, size: u64) -> String {
    let admin = app.admin.clone();
    let reply = app.request(Method::POST, "/audit/integrity/checkpoint", Some(&admin), Vec::new()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["size"], size);
    reply.json()["note"].as_str().expect("a note").to_owned()
}

/// A consistent copy of the original's database file, changed by `sql`.
async fn copy(original: &Original, name: &str, sql: &[&str]) -> String {
    let path = original.app.dir.path().join(format!("{name}.db"));
    let mut conn = SqliteConnection::connect(&original.app.database_url).await.expect("connects");
    sqlx::query(&format!("VACUUM INTO '{}'", path.display())).execute(&mut conn).await.expect("copies");
    let url = format!("sqlite:{}", path.display());
    let mut copy = SqliteConnection::connect(&url).await.expect("connects to the copy");
    for statement in sql {
        sqlx::query(statement).execute(&mut copy).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    url
}

async fn verified(url: &str, key: Option<&str>, outside: &[OutsideCheckpoint]) -> Verification {
    let store = app::store::open_read_only(url).await.expect("opens the copy");
    let checked = verify_integrity(&store, key, None, outside).await.expect("verifies");
    store.maintenance.close().await;
    checked
}

const UNGUARDED: [&str; 4] = [
    "DROP TRIGGER audit_entries_no_update",
    "DROP TRIGGER audit_entries_purge_only",
    "DROP TRIGGER audit_tree_no_update",
    "DROP TRIGGER audit_tree_no_delete",
];

fn with_triggers_dropped<'a>(sql: &[&'a str]) -> Vec<&'a str> {
    UNGUARDED.iter().copied().chain(sql.iter().copied()).collect()
}

/// Rewrites entry `seq`'s details as someone who knows the product would: the hash chain
/// from there on and every row of the tree recomputed, so that the database agrees with
/// itself.
async fn rewrite(url: &str, seq: u64) {
    let store = app::store::open_read_only(url).await.expect("opens");
    let mut entries = store.log.entries_after(0, 1000).await.expect("reads");
    store.maintenance.close().await;
    entries[(seq - 1) as usize].details.insert("forged".into(), serde_json::json!(true));
    let mut conn = SqliteConnection::connect(url).await.expect("connects");
    for statement in UNGUARDED {
        sqlx::query(statement).execute(&mut conn).await.expect("drops");
    }
    sqlx::query("DELETE FROM audit_tree").execute(&mut conn).await.expect("clears the tree");
    let (mut prev, mut tree) = (GENESIS_HASH, TreeBuilder::default());
    for entry in &entries {
        let hash = entry_hash(&prev, &EntryFields::of_stored(entry));
        let mut row = Vec::new();
        tree.push_stored(entry_leaf_hash(entry), &mut row);
        let details = serde_json::to_string(&entry.details).expect("json");
        sqlx::query("UPDATE audit_entries SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(details)
            .bind(&prev[..])
            .bind(&hash[..])
            .bind(entry.sequence as i64)
            .execute(&mut conn)
            .await
            .expect("rewrites");
        sqlx::query("INSERT INTO audit_tree (seq, hashes) VALUES (?, ?)")
            .bind(entry.sequence as i64)
            .bind(row)
            .execute(&mut conn)
            .await
            .expect("re-adds the row");
        prev = hash;
    }
}

fn problems(checked: &Verification) -> String {
    checked.report.problems.iter().map(|p| format!("{p}\n")).collect()
}

#[tokio::test]
async fn every_kind_of_tampering_is_named() {
    if on_postgres() {
        return; // Copies of a SQLite file; the PostgreSQL engine's triggers and rights are tested in app.
    }
    let original = original().await;
    let key = Some(original.verifier.as_str());
    let intact = verified(&original.app.database_url, key, &[]).await;
    assert!(intact.is_intact(), "{}", problems(&intact));
    assert_eq!((intact.checkpoints, intact.latest.as_ref().map(|c| c.head.size)), (2, Some(60)));

    // A field changed in place: its link breaks.
    let url = copy(
        &original,
        "updated",
        &with_triggers_dropped(&["UPDATE audit_entries SET description = 'nothing happened' WHERE seq = 17"]),
    )
    .await;
    let checked = verified(&url, key, &[]).await;
    assert!(
        matches!(checked.report.problems.first(), Some(Problem::BrokenLink { seq: 17, .. })),
        "{}",
        problems(&checked)
    );

    // A middle row deleted.
    let url = copy(&original, "deleted", &with_triggers_dropped(&["DELETE FROM audit_entries WHERE seq = 25"])).await;
    let checked = verified(&url, key, &[]).await;
    assert!(
        checked.report.problems.contains(&Problem::OutOfPlace { stored_seq: 26, expected: 25 }),
        "{}",
        problems(&checked)
    );

    // Two entries' contents swapped.
    let swap = "UPDATE audit_entries SET description = CASE seq WHEN 10 THEN (SELECT description FROM audit_entries WHERE seq = 11) \
                ELSE (SELECT description FROM audit_entries WHERE seq = 10) END, \
                details = CASE seq WHEN 10 THEN (SELECT details FROM audit_entries WHERE seq = 11) \
                ELSE (SELECT details FROM audit_entries WHERE seq = 10) END WHERE seq IN (10, 11)";
    let url = copy(&original, "swapped", &with_triggers_dropped(&[swap])).await;
    let checked = verified(&url, key, &[]).await;
    assert!(
        matches!(checked.report.problems.first(), Some(Problem::BrokenLink { seq: 10, .. })),
        "{}",
        problems(&checked)
    );

    // A forged row at the head, linked into the chain but never put in the tree.
    let url = copy(&original, "forged", &[]).await;
    forge_at_head(&url).await;
    let checked = verified(&url, key, &[]).await;
    assert!(
        checked.report.problems.contains(&Problem::TreeRow { seq: 61, reason: "is missing" }),
        "{}",
        problems(&checked)
    );

    // The tree's row of an entry changed.
    let url = copy(
        &original,
        "tree",
        &with_triggers_dropped(&["UPDATE audit_tree SET hashes = zeroblob(32) WHERE seq = 33"]),
    )
    .await;
    let checked = verified(&url, key, &[]).await;
    assert!(
        matches!(checked.report.problems.first(), Some(Problem::TreeRow { seq: 33, .. })),
        "{}",
        problems(&checked)
    );

    // The newest entries deleted: the tree and the checkpoint still say how many there were.
    let url = copy(&original, "cut", &with_triggers_dropped(&["DELETE FROM audit_entries WHERE seq > 55"])).await;
    let checked = verified(&url, key, &[]).await;
    let found = problems(&checked);
    assert!(checked.report.problems.contains(&Problem::TreeBeyondLog { tree: 60, entries: 55 }), "{found}");
    assert!(
        checked.report.problems.iter().any(|p| matches!(p, Problem::RolledBack { size: 60, entries: 55, .. })),
        "{found}"
    );
    assert!(found.contains("entries audit-56 to audit-60 were removed from the end"), "{found}");

    // Rewritten with every hash recomputed: the database agrees with itself; the
    // checkpoints do not, and say after which entry the change lies.
    let url = copy(&original, "rewritten", &[]).await;
    rewrite(&url, 40).await;
    let store = app::store::open_read_only(&url).await.expect("opens");
    let alone = store.log.verify(None).await.expect("verifies");
    store.maintenance.close().await;
    assert!(alone.is_intact(), "the database alone sees nothing: {:?}", alone.problems);
    let checked = verified(&url, key, &[]).await;
    assert!(
        checked.report.problems.iter().any(|p| matches!(p, Problem::Rewritten { size: 60, intact: 30, .. })),
        "{}",
        problems(&checked)
    );
    assert!(problems(&checked).contains("an entry from audit-31 to audit-60 was changed"));

    // A checkpoint's stored root edited: its note no longer says the same.
    let url = copy(
        &original,
        "checkpoint",
        &["DROP TRIGGER audit_checkpoints_no_update", "UPDATE audit_checkpoints SET size = 31 WHERE size = 30"],
    )
    .await;
    let checked = verified(&url, key, &[]).await;
    assert!(problems(&checked).contains("was edited"), "{}", problems(&checked));
    // Signed with another key: not genuine.
    let other = app::checkpoint::LogKey::ephemeral("certifyclouds.local/audit").expect("key");
    let checked = verified(&original.app.database_url, Some(other.verifier_key()), &[]).await;
    assert!(problems(&checked).contains("is not genuine"), "{}", problems(&checked));
}

/// An older copy of the database file, restored: it agrees with itself and with its own
/// checkpoints; a checkpoint kept elsewhere shows the rollback.
#[tokio::test]
async fn an_older_copy_restored_is_caught_by_a_checkpoint_kept_elsewhere() {
    if on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    app.seed(30, 2, 7, "2026-03-01T00:00:00Z").await;
    sign(&app, 30).await;
    let older = app.dir.path().join("older.db");
    let mut conn = SqliteConnection::connect(&app.database_url).await.expect("connects");
    sqlx::query(&format!("VACUUM INTO '{}'", older.display())).execute(&mut conn).await.expect("copies");
    app.seed(30, 2, 8, "2026-03-02T00:00:00Z").await;
    let kept = sign(&app, 60).await;
    let key = app.state.signing.key.verifier_key().to_owned();

    let restored = format!("sqlite:{}", older.display());
    let alone = verified(&restored, Some(&key), &[]).await;
    assert!(alone.is_intact(), "{}", problems(&alone));
    let outside = [OutsideCheckpoint { source: "kept.txt".into(), note: kept }];
    let checked = verified(&restored, Some(&key), &outside).await;
    assert!(
        checked
            .report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::RolledBack { size: 60, entries: 30, source, .. } if source == "kept.txt")),
        "{}",
        problems(&checked)
    );

    // The command line says the same, given the kept note as a file, and exits non-zero.
    let file = app.dir.path().join("kept.txt");
    std::fs::write(&file, &outside[0].note).expect("writes");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(["verify", "--verifier-key", &key, "--checkpoint"])
        .arg(&file)
        .env("CERTIFYCLOUDS_DATABASE_URL", &restored)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("covers 60 entries but the log holds 30"), "{stderr}");
    let fine = std::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(["verify", "--verifier-key", &key, "--checkpoint"])
        .arg(&file)
        .env("CERTIFYCLOUDS_DATABASE_URL", &app.database_url)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&fine.stdout);
    assert!(fine.status.success(), "{}", String::from_utf8_lossy(&fine.stderr));
    assert!(stdout.contains("Checkpoints: 3 checked, each signature verified"), "{stdout}");
    assert!(stdout.contains("Latest checkpoint: size 60, root "), "{stdout}");
}

async fn forge_at_head(url: &str) {
    let store = app::store::open_read_only(url).await.expect("opens");
    let head = store.log.get(60).await.expect("reads").expect("entry 60");
    store.maintenance.close().await;
    let mut forged = head.clone();
    forged.sequence = 61;
    forged.description = "a forged entry".into();
    let prev: [u8; 32] = hex::decode(&head.hash).expect("hex").try_into().expect("32 bytes");
    let hash = entry_hash(&prev, &EntryFields::of_stored(&forged));
    let mut conn = SqliteConnection::connect(url).await.expect("connects");
    sqlx::query(
        "INSERT INTO audit_entries (seq, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, actor_ref, \
         resource_type, resource_id, resource_name, description, details, ip_address, user_agent, received_at, \
         ingest_token_id, ingest_token_name, prev_hash, hash) \
         SELECT 61, ts, ts_high, event_type, severity, actor_type, actor_id, actor_name, actor_ref, resource_type, \
         resource_id, resource_name, 'a forged entry', details, ip_address, user_agent, received_at, ingest_token_id, \
         ingest_token_name, hash, ? FROM audit_entries WHERE seq = 60",
    )
    .bind(&hash[..])
    .execute(&mut conn)
    .await
    .expect("forges");
}

/// The restored copy then grows again and gets a new checkpoint, signed with the same key:
/// it agrees with itself and with its newer checkpoints, but not with one from the
/// history it replaced, which names where the histories part. The checkpoint directory
/// refuses to be overwritten by the other history, and verification reads it.
#[tokio::test]
async fn a_restored_copy_that_grew_again_is_named_by_a_checkpoint_of_the_history_it_replaced() {
    if on_postgres() {
        return;
    }
    use app::checkpoint::{checkpoint_now, CheckpointError, CheckpointPolicy, LogKey, Signing};
    let published = tempfile::tempdir().expect("dir");
    let key_file = published.path().join("log.key");
    let key = || LogKey::load_or_create(&key_file, "audit.example/log").expect("key").0;
    let policy =
        CheckpointPolicy { directory: Some(published.path().join("checkpoints")), ..CheckpointPolicy::default() };
    let with_policy = policy.clone();
    let app = TestApp::spawn_with(move |state| state.with_signing(Signing { key: key(), policy: with_policy })).await;
    app.seed(20, 2, 7, "2026-03-01T00:00:00Z").await;
    let older = app.dir.path().join("older.db");
    let mut conn = SqliteConnection::connect(&app.database_url).await.expect("connects");
    sqlx::query(&format!("VACUUM INTO '{}'", older.display())).execute(&mut conn).await.expect("copies");
    app.seed(10, 2, 8, "2026-03-02T00:00:00Z").await;
    let kept = sign(&app, 30).await;
    let dir = published.path().join("checkpoints");
    assert_eq!(std::fs::read_to_string(dir.join("latest")).expect("published"), kept);
    assert_eq!(std::fs::read_to_string(dir.join("checkpoint-000000000030")).expect("published"), kept);

    // The older copy is put back and grows to 60 entries of another history.
    let restored_url = format!("sqlite:{}", older.display());
    let restored = app::store::open(&restored_url).await.expect("opens the restored copy");
    let until = "2026-03-05T00:00:00Z".parse().expect("time");
    let args = server::config::SeedArgs { events: 40, days: 1, seed: 99, profile: server::config::Profile::Catalogue };
    server::seed::seed_store(restored.log.as_ref(), &args, until).await.expect("seeds");
    let refused = checkpoint_now(restored.tree.as_ref(), &key(), &policy, chrono::Utc::now()).await;
    assert!(matches!(refused, Err(CheckpointError::Diverged(_))), "the directory is not overwritten: {refused:?}");
    assert_eq!(std::fs::read_to_string(dir.join("latest")).expect("still there"), kept);
    // Signed anyway (without the directory), as a database rolled back behind the server's back would be.
    let signed = checkpoint_now(restored.tree.as_ref(), &key(), &CheckpointPolicy::default(), chrono::Utc::now())
        .await
        .expect("signs the other history");
    assert_eq!(signed.checkpoint.head.size, 60);

    let verifier = key().verifier_key().to_owned();
    let alone = verify_integrity(&restored, Some(&verifier), None, &[]).await.expect("verifies");
    assert!(alone.is_intact(), "the restored database agrees with itself: {}", problems(&alone));
    let outside: Vec<OutsideCheckpoint> =
        app::checkpoint::published(&dir).into_iter().map(|(source, note)| OutsideCheckpoint { source, note }).collect();
    let checked = verify_integrity(&restored, Some(&verifier), None, &outside).await.expect("verifies");
    assert!(
        checked.report.problems.iter().any(|p| matches!(p, Problem::Rewritten { size: 30, intact: 0, .. })),
        "{}",
        problems(&checked)
    );
    restored.maintenance.close().await;
}

/// With the tree left behind by entries deleted from the end, appends go on without it
/// (the evidence stays as it is), and a verification from the page is recorded as failed.
#[tokio::test]
async fn a_store_whose_tree_was_left_behind_still_records_and_its_verification_fails() {
    if on_postgres() {
        return;
    }
    let original = original().await;
    let url = copy(&original, "cut-open", &with_triggers_dropped(&["DELETE FROM audit_entries WHERE seq > 55"])).await;
    let store = app::store::open(&url).await.expect("opens the damaged copy for writing");
    let receipt = store.log.append(vec![crate::helpers::valid("auth.logout")]).await.expect("still records");
    assert_eq!(receipt.sequences, vec![56]);
    assert_eq!(store.tree.tree_size().await.expect("size"), 60, "the tree is left as evidence");
    let signing = original.app.state.signing.clone();
    let run = app::verify_runs::run(
        &store,
        &signing,
        app::internal_event::system_actor(),
        app::verify_runs::Trigger::Scheduled,
        chrono::Utc::now(),
    )
    .await
    .expect("runs and is recorded");
    assert!(!run.intact);
    assert!(run.problems.iter().any(|p| p.contains("tree row") || p.contains("Merkle tree")), "{:?}", run.problems);
    let open = app::verify_runs::open_failure(&store).await.expect("reads").expect("a failure is open");
    assert_eq!(open.entry_id, run.entry_id);
    store.maintenance.close().await;
}

/// The retention purge (the store's only sanctioned delete) keeps what proofs need: after
/// it, every checkpoint still verifies, including one inside the purged run (held to the
/// stored tree, whose rows are kept), kept entries are still proven, and verification
/// reports the run as purged. On a SQLite copy, a purged entry's tree row changed is then
/// caught by that checkpoint.
#[tokio::test]
async fn a_purge_keeps_checkpoints_and_proofs_and_verification_reports_the_purged_run() {
    use app::integrity::{TreeHead, TreeQuery};
    use app::store::{tree_answer, StoredCheckpoint};
    let app = TestApp::spawn().await;
    let old: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            crate::helpers::event("auth.login.success", &format!("2025-01-01T{i:02}:00:00Z"), ("user", "u-1", "alice"))
        })
        .collect();
    assert_eq!(app.post_events(&serde_json::json!(old)).await.status, StatusCode::CREATED);
    // A checkpoint of the first 10 entries, all of which the purge will remove.
    let key = &app.state.signing.key;
    let root = tree_answer(app.store.tree.as_ref(), TreeQuery::Root { size: 10 }).await.expect("root")[0];
    let head = TreeHead { size: 10, root };
    let at_ten = StoredCheckpoint { head, signed_at: chrono::Utc::now(), note: key.sign(head).expect("signs") };
    assert!(app.store.tree.add_checkpoint(&at_ten).await.expect("stores"));
    sign(&app, 20).await;
    let recent: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            crate::helpers::event("sync.completed", &format!("2026-11-01T{i:02}:00:00Z"), ("service", "s", "sync"))
        })
        .collect();
    assert_eq!(app.post_events(&serde_json::json!(recent)).await.status, StatusCode::CREATED);
    let signed = sign(&app, 30).await;

    let cutoff = "2025-06-01T00:00:00Z".parse().expect("time");
    let mut purged = 0;
    loop {
        let step = app.store.retention.purge_step(cutoff, None, 6, chrono::Utc::now()).await.expect("purges");
        purged += step.deleted;
        if !step.more {
            break;
        }
    }
    assert_eq!(purged, 20);

    let verifier = key.verifier_key().to_owned();
    let checked = verify_integrity(&app.store, Some(&verifier), None, &[]).await.expect("verifies");
    assert!(checked.is_intact(), "{}", problems(&checked));
    assert_eq!((checked.checkpoints, checked.report.purged, checked.report.entries), (3, 20, 30));
    assert_eq!(checked.report.purged_runs, vec![(1, 20)]);
    assert_eq!(checked.latest.map(|c| c.head.size), Some(30));

    // Kept entries are proven against the checkpoint signed before the purge; purged ones
    // are gone; the older trees are still prefixes of the newer.
    let proof = app.get("/audit/integrity/inclusion?id=audit-25&size=30").await;
    assert_eq!(proof.status, StatusCode::OK, "{}", proof.text);
    assert_eq!(proof.json()["checkpoint"]["note"], signed.as_str());
    assert_eq!(app.get("/audit/integrity/inclusion?id=audit-5&size=30").await.status, StatusCode::NOT_FOUND);
    let consistency = app.get("/audit/integrity/consistency?from=10&to=30").await;
    assert_eq!(consistency.status, StatusCode::OK, "{}", consistency.text);

    if on_postgres() {
        return; // The rest changes a copy of the SQLite file.
    }
    // Row 8 holds the hash of entries 1 to 8: only the checkpoint of 10 still depends on it.
    let original = Original { app, verifier };
    let url = copy(
        &original,
        "purged-row",
        &with_triggers_dropped(&["UPDATE audit_tree SET hashes = zeroblob(128) WHERE seq = 8"]),
    )
    .await;
    let checked = verified(&url, Some(&original.verifier), &[]).await;
    assert!(
        checked.report.problems.iter().any(|p| matches!(p, Problem::Rewritten { size: 10, .. })),
        "{}",
        problems(&checked)
    );
}
