//! The binary's commands, run as a user would.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;
use std::process::Command;

/// Runs the binary on the store at `database_url` with its signing key.
pub fn certifyclouds(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(args)
        .env("CERTIFYCLOUDS_DATABASE_URL", database_url)
        .env("CERTIFYCLOUDS_SIGNING_KEY", crate::helpers::key_path(database_url))
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs")
}

/// Runs the binary with no signing key named, as an operator who left the default would.
fn certifyclouds_without_a_key(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(args)
        .env_remove("CERTIFYCLOUDS_SIGNING_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs")
}

#[tokio::test]
async fn token_create_prints_a_working_token_on_the_last_line_once() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let out = certifyclouds(&app.database_url, &["token", "create", "--name", "splunk", "--scopes", "read"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let token = stdout.lines().last().expect("a line").trim().to_owned();
    assert!(token.starts_with("cca_"), "{stdout}");

    let reply = app.request(Method::GET, "/audit/entries", Some(&token), Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.request(Method::POST, "/audit/events", Some(&token), b"{}".to_vec()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let again = certifyclouds(&app.database_url, &["token", "create", "--name", "splunk", "--scopes", "read"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Recorded, with the operator's OS user as actor and without the secret.
    let created = app.list("event_type=token.created").await;
    assert_eq!(created["total"], 1, "the refused second one is not recorded");
    let entry = &created["entries"][0];
    assert!(entry["actor"]["id"].as_str().is_some_and(|id| id.starts_with("os:")), "{entry}");
    assert_eq!(entry["details"]["name"], "splunk");
    assert!(!created.to_string().contains(&token));

    let listed = certifyclouds(&app.database_url, &["token", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.starts_with("NAME") && listed.contains("splunk") && !listed.contains(&token), "{listed}");
    let brief = certifyclouds(
        &app.database_url,
        &["token", "create", "--name", "brief", "--scopes", "read", "--expires-in-days", "2"],
    );
    assert!(String::from_utf8_lossy(&brief.stdout).contains(", until "), "{}", String::from_utf8_lossy(&brief.stdout));
    let never = certifyclouds(
        &app.database_url,
        &["token", "create", "--name", "x", "--scopes", "read", "--expires-in-days", "0"],
    );
    assert!(!never.status.success(), "an expiry of 0 days is refused");

    let revoked = certifyclouds(&app.database_url, &["token", "revoke", "--name", "splunk"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert_eq!(
        app.request(Method::GET, "/audit/entries", Some(&token), Vec::new()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.list("event_type=token.revoked").await["total"], 1);
    let unknown = certifyclouds(&app.database_url, &["token", "revoke", "--name", "splunk"]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("no such"));

    // Only a hash is stored. (Read last: closing a file of the database releases this
    // process's SQLite locks on it, which the store's connections would then miss.)
    let db = std::fs::read(app.dir.path().join("audit.db")).expect("db file");
    let wal = std::fs::read(app.dir.path().join("audit.db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));
}

#[tokio::test]
async fn seed_is_deterministic_and_verify_checks_the_chain() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    let a = TestApp::spawn().await;
    let out = certifyclouds(&a.database_url, &["seed", "--events", "300", "--days", "3", "--seed", "11"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Seeded 300 events"));
    let page = a.list("limit=1000").await;
    assert_eq!(page["total"], 300);

    // A bulk load leaves planner statistics behind.
    let mut conn = sqlx::SqliteConnection::connect(&a.database_url).await.expect("connects");
    let stats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'audit_entries'")
        .fetch_one(&mut conn)
        .await
        .expect("sqlite_stat1 exists");
    assert!(stats > 0);

    let verify = certifyclouds(&a.database_url, &["verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(stdout.contains("300 entries verified"), "{stdout}");
    assert!(stdout.contains("Head: 300:"), "{stdout}");
}

#[tokio::test]
async fn verify_of_a_missing_or_mistyped_database_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("nope").join("audit.db");
    for url in [format!("sqlite:{}", missing.display()), format!("sqlite://{}", missing.display())] {
        let out = certifyclouds(&url, &["verify"]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no audit database at") && stderr.contains("nope"), "{stderr}");
        assert!(!dir.path().join("nope").exists(), "verify created {url}");
    }
    let plain = dir.path().join("notes.txt");
    std::fs::write(&plain, "hello").expect("write");
    let out = certifyclouds(&format!("sqlite:{}", plain.display()), &["verify"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a CertifyClouds audit database"));
    assert_eq!(std::fs::read_to_string(&plain).expect("read"), "hello", "nothing written");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1, "no -wal or -shm files left");

    let unreachable = certifyclouds("postgres://audit@nowhere.invalid/audit", &["verify"]);
    assert!(!unreachable.status.success());
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    let other = certifyclouds("mysql://nowhere/db", &["verify"]);
    assert!(String::from_utf8_lossy(&other.stderr).contains("unsupported database URL"));
    let typo = certifyclouds("sqlit:data/audit.db", &["verify"]);
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unsupported database URL"));
}

#[tokio::test]
async fn verify_with_an_expected_head_finds_entries_removed_from_the_end() {
    // SQLite's own files and connections; the PostgreSQL engine's twins of these checks
    // are in app/src/store/postgres.
    if crate::helpers::on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    app.seed(50, 2, 3, "2025-03-01T00:00:00Z").await;
    let out = certifyclouds(&app.database_url, &["verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let head = stdout.lines().find_map(|l| l.strip_prefix("Head: ")).expect("a head").trim().to_owned();
    assert!(certifyclouds(&app.database_url, &["verify", "--expect-head", &head]).status.success());

    // Someone with the file removes the last entries, and tidies the counts, the index and
    // the Merkle tree (left alone, the tree would say how many there were).
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.expect("connects");
    for sql in [
        "DROP TRIGGER audit_entries_purge_only",
        "DROP TRIGGER audit_tree_no_delete",
        "DELETE FROM audit_tree WHERE seq > 47",
        "DELETE FROM audit_daily_counts",
        "DELETE FROM audit_actor_counts",
        "DELETE FROM audit_entries WHERE seq > 47",
        "INSERT INTO audit_daily_counts SELECT ts / 86400000000, event_type, severity, actor_type, COUNT(*) FROM audit_entries GROUP BY 1, 2, 3, 4",
        "INSERT INTO audit_actor_counts SELECT actor_ref, ts / 86400000000, event_type, severity, COUNT(*) FROM audit_entries GROUP BY 1, 2, 3, 4",
        // The index and the per-word counts are made by the product's own rules: it is asked
        // to redo them.
        "INSERT INTO audit_meta (key, value) VALUES ('search_index', 'rebuild')",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    drop(conn);
    let reopened = app::store::open(&app.database_url).await.expect("reopens");
    reopened.maintenance.close().await;
    let plain = certifyclouds(&app.database_url, &["verify"]);
    assert!(
        plain.status.success(),
        "the shortened log is consistent in itself: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let checked = certifyclouds(&app.database_url, &["verify", "--expect-head", &head]);
    assert!(!checked.status.success());
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(stderr.contains("ends at sequence 47 but sequence 50 was expected"), "{stderr}");

    let malformed = certifyclouds(&app.database_url, &["verify", "--expect-head", "50"]);
    assert!(!malformed.status.success());
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("SEQ:HASH"));
}

#[tokio::test]
async fn the_server_logs_json_lines_per_request_and_stops_on_sigterm() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let Served { mut child, mut lines, addr, mut logged } = serve(&app.database_url).await;
    for path in ["/healthz", "/audit/entries"] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connects");
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("sends");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    let pid = child.id().expect("pid").to_string();
    assert!(std::process::Command::new("kill").arg(&pid).status().expect("kill").success());
    let status =
        tokio::time::timeout(std::time::Duration::from_secs(20), child.wait()).await.expect("stops").expect("waits");
    assert!(status.success(), "a SIGTERM is an orderly stop: {status}");
    while let Some(line) = lines.next_line().await.expect("reads") {
        logged.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")));
    }
    let health = logged.iter().find(|l| l["route"] == "/healthz").expect("a line for the health check");
    assert_eq!((health["level"].as_str(), health["status"].as_u64()), (Some("INFO"), Some(200)), "{health}");
    assert_eq!(health["principal"], "anonymous");
    assert!(health["ms"].as_f64().is_some() && health["method"] == "GET", "{health}");
    let denied = logged.iter().find(|l| l["route"] == "/audit/entries").expect("a line for the denied request");
    assert_eq!((denied["level"].as_str(), denied["status"].as_u64()), (Some("WARN"), Some(401)), "{denied}");
    assert_eq!(denied["reason"], "no credentials");
    assert!(logged.iter().any(|l| l["message"] == "stopped"), "{logged:?}");
}

/// A `certifyclouds serve` process on a free port, logging JSON lines at `info`.
struct Served {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    addr: String,
    /// What it logged before it said where it listens.
    logged: Vec<serde_json::Value>,
}

async fn serve(database_url: &str) -> Served {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = crate::helpers::serve_command(database_url, "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut logged: Vec<serde_json::Value> = Vec::new();
    let addr = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("logs in time")
            .expect("reads")
            .expect("a line before exit");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(addr) = json["addr"].as_str() {
            break addr.to_owned();
        }
        logged.push(json);
    };
    Served { child, lines, addr, logged }
}

/// Starts `serve` on `database_url` (with `password` as the first admin's, if given) until
/// it listens, stops it, and returns what it printed on standard output.
async fn first_start(database_url: &str, password: Option<&str>) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--log-format", "json"])
        .env("CERTIFYCLOUDS_DATABASE_URL", database_url)
        .env("CERTIFYCLOUDS_SIGNING_KEY", crate::helpers::key_path(database_url))
        .env("RUST_LOG", "info")
        .env_remove(server::ADMIN_PASSWORD_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(password) = password {
        command.env(server::ADMIN_PASSWORD_ENV, password);
    }
    let mut child = command.spawn().expect("starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("logs in time")
            .expect("reads")
            .expect("a line before exit");
        if line.contains("\"addr\"") {
            break;
        }
    }
    child.start_kill().expect("stops");
    let mut printed = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut printed).await.expect("reads");
    printed
}

#[tokio::test]
async fn the_first_start_creates_the_admin_and_shows_a_made_up_password_once() {
    let app = TestApp::spawn().await;
    let printed = first_start(&app.database_url, None).await;
    let password = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("Password: "))
        .unwrap_or_else(|| panic!("no password shown: {printed}"))
        .to_owned();
    assert!(printed.contains("Username: admin") && printed.contains("shown only once"), "{printed}");
    let admin = app.store.accounts.user_named("admin").await.expect("reads").expect("an admin");
    assert_eq!(admin.user.role, app::accounts::Role::Admin);
    assert!(app::accounts::password::verify(admin.password_hash, password.clone()).await, "the password shown works");
    let created = app.list("event_type=user.created").await;
    assert_eq!(created["total"], 1);
    assert_eq!(created["entries"][0]["actor"]["type"], "system");
    assert!(!created.to_string().contains(&password));

    // Started again: the admin exists, nothing is made up or shown.
    let again = first_start(&app.database_url, None).await;
    assert!(!again.contains("Password") && !again.contains("First start"), "{again}");
    assert_eq!(app.list("event_type=user.created").await["total"], 1);
}

#[tokio::test]
async fn the_first_admins_password_may_be_given_and_a_weak_one_is_refused() {
    let app = TestApp::spawn().await;
    let weak = tokio::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("CERTIFYCLOUDS_DATABASE_URL", &app.database_url)
        .env("CERTIFYCLOUDS_SIGNING_KEY", crate::helpers::key_path(&app.database_url))
        .env(server::ADMIN_PASSWORD_ENV, "admin123")
        .output()
        .await
        .expect("runs");
    assert!(!weak.status.success(), "a weak password stops the start");
    let said = String::from_utf8_lossy(&weak.stderr);
    assert!(said.contains(server::ADMIN_PASSWORD_ENV) && said.contains("password"), "{said}");
    assert!(app.store.accounts.user_named("admin").await.expect("reads").is_none());

    let given = "a long passphrase nobody guesses";
    let printed = first_start(&app.database_url, Some(given)).await;
    assert!(printed.contains(server::ADMIN_PASSWORD_ENV) && !printed.contains(given), "{printed}");
    let admin = app.store.accounts.user_named("admin").await.expect("reads").expect("an admin");
    assert!(app::accounts::password::verify(admin.password_hash, given.to_owned()).await);
}

/// Sends one HTTP/1.1 request and reads the whole answer (the connection closes after it).
async fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("reads");
    answer
}

/// Two server processes on one PostgreSQL database: events posted to either extend one
/// chain with no gaps, and the live stream of one shows what the other appended.
#[tokio::test]
async fn two_server_processes_on_one_postgres_database_keep_one_chain_and_one_live_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !crate::helpers::on_postgres() {
        return;
    }
    let db = app::store::testing::TestDatabase::create().await;
    let store = app::store::open(db.url()).await.expect("opens");
    let token = app::tokens::generate();
    let scopes = [app::tokens::Scope::Ingest, app::tokens::Scope::Read];
    store.tokens.create_token("both", &scopes, &app::tokens::hash(&token)).await.expect("creates a token");
    // Someone to follow the live stream (and, a user existing, no first admin is made).
    let session = crate::helpers::signed_in(&store, app::accounts::Role::Auditor).await;
    store.maintenance.close().await;
    let (a, b) = (serve(db.url()).await, serve(db.url()).await);

    let mut live = tokio::net::TcpStream::connect(&a.addr).await.expect("connects");
    let request = format!("GET /api/audit/live HTTP/1.1\r\nHost: localhost\r\nCookie: cc_session={session}\r\n\r\n");
    live.write_all(request.as_bytes()).await.expect("sends");
    let mut seen = String::new();
    let mut chunk = [0u8; 8192];
    while !seen.contains("\r\n\r\n") {
        let n = live.read(&mut chunk).await.expect("reads");
        assert!(n > 0, "the stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");

    let posts = (0..40).map(|i| {
        let addr = if i % 2 == 0 { a.addr.clone() } else { b.addr.clone() };
        let token = token.clone();
        let body = serde_json::json!(crate::helpers::event(
            "secret.read",
            "2025-06-01T12:00:00Z",
            ("user", &format!("u-{i}"), "Ana")
        ))
        .to_string();
        tokio::spawn(async move { http(&addr, "POST", "/audit/events", &token, &body).await })
    });
    for answer in futures_util::future::join_all(posts).await {
        let answer = answer.expect("posts");
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    }

    // Entries 1 to 40, half of them appended by the other process, in order.
    let wanted: Vec<String> = (1..=40).map(|n| format!("\"id\":\"audit-{n}\"")).collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.contains(&wanted[39]) {
        let n = tokio::time::timeout_at(deadline, live.read(&mut chunk)).await.expect("all 40 in time").expect("reads");
        assert!(n > 0, "the stream closed");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    let places: Vec<usize> = wanted.iter().map(|id| seen.find(id.as_str()).expect(id)).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "in sequence order");
    assert!(!seen.contains("\"id\":\"audit-41\""), "nothing else was appended");

    let verified = certifyclouds(db.url(), &["verify"]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && stdout.contains("40 entries verified"), "{stdout}");
    for served in [a, b] {
        let page = http(&served.addr, "GET", "/audit/entries?limit=1", &token, "").await;
        assert!(page.contains("\"total\":40"), "each instance sees the whole log: {page}");
    }
}

/// `migrate-store` into PostgreSQL after an interrupted run: what the first run committed
/// stays, the rest follows, and the target's log is the source's, chain, head, tokens,
/// provenance and pages alike.
#[tokio::test]
async fn migrate_store_copies_a_sqlite_log_into_postgres_and_resumes_an_interrupted_copy() {
    use app::store::{testing::TestDatabase, PgStore};
    if !crate::helpers::on_postgres() {
        return;
    }
    let source = TestApp::spawn_engine(false, |s| s).await;
    source.seed(2500, 10, 5, "2025-06-01T00:00:00Z").await;
    let event = crate::helpers::event("secret.read", "2025-06-01T12:00:00Z", ("user", "u-7", "Ana"));
    assert_eq!(source.post_events(&serde_json::json!([event.clone()])).await.status, StatusCode::CREATED);
    // Users, the last one deleted: the copy keeps each id and hash, and never gives the
    // deleted user's id to someone else.
    let now = chrono::Utc::now();
    for (name, role) in [
        ("alice", app::accounts::Role::Admin),
        ("carol", app::accounts::Role::Auditor),
        ("gone", app::accounts::Role::Auditor),
    ] {
        let new = app::store::NewUser {
            username: name.into(),
            display_name: name.into(),
            role,
            password_hash: format!("$argon2id$hash-of-{name}"),
        };
        source.store.accounts.create_user(&new, now).await.expect("creates");
    }
    let gone = source.store.accounts.user_named("gone").await.expect("reads").expect("found").user.id;
    source.store.accounts.delete_user(gone).await.expect("deletes");
    // The configuration: a setting, a subscription, a destination (its secret, and where its
    // delivery stands), a rule naming it, the built-in rule changed, a signed checkpoint.
    let admin = source.admin.clone();
    let call = |method: Method, uri: &'static str, body: serde_json::Value| {
        let (source, admin) = (&source, admin.clone());
        async move { source.request(method, uri, Some(&admin), body.to_string().into_bytes()).await }
    };
    assert_eq!(
        call(Method::PATCH, "/admin/settings", json!({"audit_retention_days": 120})).await.status,
        StatusCode::OK
    );
    let subscription =
        json!({"subscription_id": "8f0e6c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "display_name": "Prod", "cloud": "azure"});
    assert_eq!(call(Method::POST, "/admin/subscriptions", subscription).await.status, StatusCode::CREATED);
    // Destinations 1 and 2 (3, the newest, removed), not in name order: ids are kept, not
    // given anew, and 3 is never given again.
    let destination = |name: &str| {
        json!({"name": name, "kind": "webhook", "url": "https://siem.example/hook", "secret": "whsec_copied_0123456789",
               "headers": {"X-Api-Key": "key-copied"}})
    };
    let mut ids = Vec::new();
    for name in ["SIEM hook", "Audit lake", "Gone"] {
        let made = call(Method::POST, "/admin/destinations", destination(name)).await;
        ids.push(made.json()["destination"]["id"].as_i64().expect("id"));
    }
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(call(Method::DELETE, "/admin/destinations/3", json!(null)).await.status, StatusCode::OK);
    let rule = json!({"name": "Deletions", "event_types": ["secret.deleted"], "destinations": [1, 2]});
    assert_eq!(call(Method::POST, "/admin/alert-rules", rule).await.status, StatusCode::CREATED);
    // Delivery to the hook failing, an entry set aside; the alert evaluator somewhere.
    let epoch = source.store.delivery.delivery_state(1).await.expect("reads").expect("there").epoch;
    assert!(source.store.delivery.set_failing(1, true, now).await.expect("marks"));
    assert!(source.store.delivery.park_delivery(1, 5, "bad index", epoch, now).await.expect("parks"));
    assert!(source.store.alerts.move_job_cursor(app::alerting::JOB, None, 42).await.expect("moves"));
    assert_eq!(call(Method::PATCH, "/admin/alert-rules/1", json!({"threshold": 3})).await.status, StatusCode::OK);
    assert!(certifyclouds(&source.database_url, &["checkpoint"]).status.success());
    let total = source.store.tree.tree_size().await.expect("size");
    // As if the evaluator had gone on past what this copy takes: the target's never points
    // past its own log.
    assert!(source.store.alerts.move_job_cursor(app::alerting::JOB, Some(42), total + 1000).await.expect("moves"));
    let target_db = TestDatabase::create().await;

    // An earlier run committed the first batches, then stopped.
    let first = source.store.log.entries_after(0, 1200).await.expect("reads");
    let partial = PgStore::open(target_db.url()).await.expect("opens the target");
    for batch in first.chunks(500) {
        partial.append_copies(batch).await.expect("copies");
    }
    let out_of_place = partial.append_copies(&first[100..101]).await.expect_err("not at the head");
    assert!(out_of_place.to_string().contains("would not continue the same chain"), "{out_of_place}");
    app::store::Maintenance::close(&partial).await;

    // Run as the source's operator would, naming no key: the one beside the source is checked.
    let out = certifyclouds_without_a_key(&["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("Copied {} entries (resumed after entry 1200", total - 1200)), "{stdout}");
    assert!(stdout.contains("and 3 API tokens, with 2 users"), "{stdout}");
    assert!(
        stdout.contains(
            "Configuration mirrored: 1 settings, 1 subscriptions, 2 delivery destinations, 2 alert rules; 1 checkpoints added."
        ),
        "{stdout}"
    );
    let verified = certifyclouds(&source.database_url, &["verify"]);
    let source_head = String::from_utf8_lossy(&verified.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Head: ").map(str::to_owned))
        .expect("the source's head");
    assert!(stdout.contains(&format!("same chain, head {source_head}")), "{stdout}");
    // The key beside the source signed the copied checkpoint: the command names it.
    let key_path = crate::helpers::key_path(&source.database_url);
    let key = app::checkpoint::LogKey::load(&key_path).expect("reads").expect("the source's key");
    let said = format!(
        "Signing key: {} (key {}) signed the copied checkpoints. Give that file (mode 0600) to the target's server",
        std::path::absolute(&key_path).expect("a path").display(),
        key.key_id()
    );
    assert!(stdout.contains(&said), "{stdout}");
    let on_target = certifyclouds(target_db.url(), &["verify", "--expect-head", &source_head]);
    assert!(on_target.status.success(), "{}", String::from_utf8_lossy(&on_target.stderr));
    assert!(String::from_utf8_lossy(&on_target.stdout).contains(&format!("{total} entries verified")));

    // The same pages, the same provenance, the same tokens under the same ids.
    let target = app::store::open(target_db.url()).await.expect("opens");
    for query in ["limit=100", "q=vault&limit=20&offset=10", "actor=Ana", "severity=error&offset=30"] {
        let (filter, page) =
            app::filter::EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("a valid query");
        let (a, b) = (
            source.store.log.list(&filter, page).await.expect("lists"),
            target.log.list(&filter, page).await.expect("lists"),
        );
        assert_eq!(a.entries, b.entries, "{query}");
        assert_eq!(a.total, b.total, "{query}");
    }
    let newest = target.log.get(2501).await.expect("reads").expect("the posted entry");
    let ingester = target.tokens.find_token(&app::tokens::hash(&source.ingest)).await.expect("finds");
    assert_eq!(newest.ingested_by.map(|t| t.id), ingester.map(|t| t.id), "provenance names the copied token");
    let next = target.tokens.create_token("after-the-move", &[app::tokens::Scope::Read], &[3; 32]).await;
    assert!(next.expect("new ids do not collide with copied ones").id > 3);
    let users = target.accounts.all_users().await.expect("reads");
    assert_eq!(users, source.store.accounts.all_users().await.expect("reads"), "the same users, ids and hashes");
    assert_eq!(users.iter().map(|u| u.user.id).collect::<Vec<_>>(), [1, 2]);
    let later = app::store::NewUser {
        username: "dave".into(),
        display_name: "dave".into(),
        role: app::accounts::Role::Auditor,
        password_hash: "h".into(),
    };
    let dave = target.accounts.create_user(&later, now).await.expect("new ids do not collide").id;
    assert!(dave > 3, "not the deleted user's id 3: {dave}");
    let settings = target.settings.settings().await.expect("reads");
    assert_eq!(settings, source.store.settings.settings().await.expect("reads"), "the retention of 120 days");
    assert_eq!(
        target.settings.subscriptions().await.expect("reads"),
        source.store.settings.subscriptions().await.expect("reads")
    );
    // Destinations with their ids, secrets, headers and delivery (failing, what was set aside).
    let moved = target.delivery.destinations().await.expect("reads");
    let theirs = source.store.delivery.destinations().await.expect("reads");
    let shown = |all: &[app::store::StoredDestination]| {
        all.iter().map(|d| (d.id, d.name.clone(), d.secret.clone(), d.config.clone())).collect::<Vec<_>>()
    };
    assert_eq!(shown(&moved), shown(&theirs));
    assert_eq!(moved.iter().map(|d| d.id).collect::<Vec<_>>(), [2, 1], "by name, each with its own id");
    assert_eq!(moved[1].config.headers.get("x-api-key").map(String::as_str), Some("key-copied"));
    for id in [1, 2] {
        let state = target.delivery.delivery_state(id).await.expect("reads");
        assert_eq!(state, source.store.delivery.delivery_state(id).await.expect("reads"), "destination {id}");
    }
    assert!(target.delivery.delivery_state(1).await.expect("reads").is_some_and(|s| s.failing && s.parked == 1));
    assert_eq!(target.delivery.parked_deliveries(1, 0, 10).await.expect("reads"), [5]);
    assert_eq!(target.alerts.job_cursor(app::alerting::JOB).await.expect("reads"), Some(total), "not past the copy");
    let rules = target.alerts.rules().await.expect("reads");
    assert_eq!(rules, source.store.alerts.rules().await.expect("reads"), "the rules, ids and versions alike");
    let deletions = rules.iter().find(|r| r.name == "Deletions").expect("copied");
    assert_eq!(deletions.config.destinations, [1, 2], "naming the destinations by the ids the log knows");
    let builtin = rules.iter().find(|r| r.builtin).expect("built in");
    assert_eq!(builtin.config.threshold.as_ref().map(|t| t.count), Some(3), "the built-in rule as changed");
    // An id given on the target is past every id the source gave, removed ones included.
    let next = app::store::StoredDestination { name: "After the move".into(), ..moved[0].clone() };
    let next = target.delivery.create_destination(&next, 0).await.expect("adds").expect("added");
    assert_eq!(next.id, 4);
    let signed = target.tree.latest_checkpoint().await.expect("reads");
    assert_eq!(signed, source.store.tree.latest_checkpoint().await.expect("reads"));
    assert!(signed.is_some());
    target.maintenance.close().await;

    // Run again: nothing left to copy. Into another log: refused, nothing written.
    let again =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    let again_out = String::from_utf8_lossy(&again.stdout);
    assert!(again_out.contains(&format!("Copied 0 entries (resumed after entry {total}")), "{again_out}");
    assert!(again_out.contains("with 0 users"), "{again_out}");
    assert!(again_out.contains("2 alert rules; 0 checkpoints added"), "{again_out}");
    // Another log's key, or none where it is looked for: a warning, the copy stands.
    let keys = tempfile::tempdir().expect("dir");
    let other_key = keys.path().join("other.key");
    app::checkpoint::LogKey::load_or_create(&other_key, "other.example/log").expect("makes a key");
    let missing_key = keys.path().join("missing.key");
    let not_a_key = keys.path().join("not-a.key");
    std::fs::write(&not_a_key, "certifyclouds.local/audit+0123abcd+AQID\n").expect("writes");
    for (path, said) in [
        (&other_key, "did not sign the copied checkpoints"),
        (&missing_key, "no signing key at"),
        (&not_a_key, "could not be checked ("),
    ] {
        let path = path.to_str().expect("a path");
        let run = certifyclouds(
            "sqlite:unused",
            &["migrate-store", "--from", &source.database_url, "--to", target_db.url(), "--signing-key", path],
        );
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{out}");
        assert!(out.contains("Warning: ") && out.contains(said) && out.contains(path), "{out}");
        assert!(!out.contains("Pass --signing-key"), "a key was named: {out}");
    }
    // No key named, none beside the source: the command says how to name one.
    let away = keys.path().join("moved-away.key");
    std::fs::rename(&key_path, &away).expect("moves the source's key away");
    let unnamed =
        certifyclouds_without_a_key(&["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    std::fs::rename(&away, &key_path).expect("puts it back");
    let out = String::from_utf8_lossy(&unnamed.stdout);
    assert!(unnamed.status.success(), "{out}");
    assert!(out.contains("Warning: no signing key at") && out.contains("Pass --signing-key to migrate-store"), "{out}");
    let other = TestApp::spawn_engine(true, |s| s).await;
    other.seed(20, 1, 9, "2025-06-01T00:00:00Z").await;
    let refused =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", &other.database_url]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds another log"), "{refused:?}");
    assert_eq!(other.list("limit=1").await["total"], 20);
    let into_sqlite =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", "sqlite:x.db"]);
    assert!(!into_sqlite.status.success());
    assert!(String::from_utf8_lossy(&into_sqlite.stderr).contains("must be a PostgreSQL database URL"));

    // Entries appended to the target after the move: a new copy of the source is refused.
    let moved = app::store::open(target_db.url()).await.expect("opens");
    let receipt = app::ingest::Receipt { received_at: chrono::Utc::now(), token: None };
    let more = app::ingest::parse_batch(serde_json::json!([event]).to_string().as_bytes(), &receipt).expect("valid");
    moved.log.append(more).await.expect("appends after the move");
    moved.maintenance.close().await;
    let behind =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    assert!(!behind.status.success());
    let stderr = String::from_utf8_lossy(&behind.stderr);
    assert!(stderr.contains(&format!("entries up to {} but the source ends at entry {total}", total + 1)), "{stderr}");
}

/// `migrate-store` of a log the retention purge has thinned: the runs it removed (the
/// oldest entries, in several steps, and a late entry with an old timestamp between
/// younger ones) come with their records and Merkle tree rows, so the target verifies
/// with the source's head and keeps proving entries as the source does; a copy stopped
/// right after a purged run resumes from there.
#[tokio::test]
async fn migrate_store_copies_a_purged_log_with_its_purge_records_and_tree() {
    use app::store::{inclusion_proofs, testing::TestDatabase, PgStore};
    if !crate::helpers::on_postgres() {
        return;
    }
    let source = TestApp::spawn_engine(false, |s| s).await;
    // Entries 1 to 1500, a year and more old; 1501 to 1530 young; 1531 late with an old
    // timestamp; 1532 young.
    source.seed(1500, 10, 7, "2025-06-01T00:00:00Z").await;
    let now = chrono::Utc::now();
    let at = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let young: Vec<_> =
        (0..30).map(|i| crate::helpers::event("secret.read", &at(5), ("user", &format!("u-{i}"), "Ana"))).collect();
    source.record(&json!(young)).await;
    source.record(&json!([crate::helpers::event("secret.read", &at(200), ("user", "late", "Late"))])).await;
    source.record(&json!([crate::helpers::event("secret.read", &at(1), ("user", "zed", "Zed"))])).await;
    assert!(certifyclouds(&source.database_url, &["checkpoint"]).status.success(), "signed before the purge");
    let purged = certifyclouds(&source.database_url, &["purge"]);
    assert!(purged.status.success(), "{}", String::from_utf8_lossy(&purged.stderr));
    let runs = source.store.retention.purged().await.expect("reads");
    assert_eq!(runs.first().map(|r| r.first), Some(1), "{runs:?}");
    assert!(runs.len() >= 3, "the oldest in steps of at most 1000, and the late one: {runs:?}");
    assert!(runs.iter().any(|r| (r.first, r.last) == (1531, 1531)), "{runs:?}");
    let kept = source.store.log.count(&Default::default()).await.expect("counts");
    assert_eq!(kept, 32, "the 31 young entries and the purge's own");

    // An earlier run copied the first purged run, then stopped.
    let target_db = TestDatabase::create().await;
    let partial = PgStore::open(target_db.url()).await.expect("opens the target");
    partial.copy_purged(&runs[0], source.store.tree.as_ref()).await.expect("copies the first run");
    let twice = partial.copy_purged(&runs[0], source.store.tree.as_ref()).await.expect_err("not at the head");
    assert!(twice.to_string().contains("do not follow this log's head"), "{twice}");
    app::store::Maintenance::close(&partial).await;

    let out =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("Copied {kept} entries (resumed after entry {}", runs[0].last)), "{stdout}");
    let verified = certifyclouds(&source.database_url, &["verify"]);
    let said = String::from_utf8_lossy(&verified.stdout).into_owned();
    let head = said.lines().find_map(|l| l.strip_prefix("Head: ")).expect("the source's head").to_owned();
    assert!(said.contains("Purged by retention"), "{said}");
    // The signing key moved along, as README says: the checkpoints are checked on both.
    let key = crate::helpers::key_path(target_db.url());
    std::fs::create_dir_all(key.parent().expect("a directory")).expect("makes it");
    std::fs::copy(crate::helpers::key_path(&source.database_url), &key).expect("moves the key");
    let on_target = certifyclouds(target_db.url(), &["verify", "--expect-head", &head]);
    assert!(on_target.status.success(), "{}", String::from_utf8_lossy(&on_target.stderr));
    assert_eq!(String::from_utf8_lossy(&on_target.stdout), said, "the same report, purged runs and checkpoint alike");

    let target = app::store::open(target_db.url()).await.expect("opens");
    assert_eq!(target.retention.purged().await.expect("reads"), runs);
    let size = source.store.tree.tree_size().await.expect("size");
    assert_eq!(target.tree.tree_size().await.expect("size"), size);
    let signed = target.tree.checkpoints_after(0, 10).await.expect("reads");
    assert_eq!(signed, source.store.tree.checkpoints_after(0, 10).await.expect("reads"));
    assert_eq!(signed.first().map(|c| c.head.size), Some(1532), "the checkpoint signed before the purge");
    // Kept and purged entries are proven by the same paths, at the size signed before the
    // purge and at the head.
    for at_size in [1532, size] {
        let leaves = [0, 999, 1000, 1499, 1500, 1530, 1531];
        assert_eq!(
            inclusion_proofs(target.tree.as_ref(), at_size, &leaves).await.expect("proves"),
            inclusion_proofs(source.store.tree.as_ref(), at_size, &leaves).await.expect("proves"),
            "at {at_size}"
        );
    }
    for query in ["limit=100", "q=ana&limit=10", "actor=Zed"] {
        let (filter, page) =
            app::filter::EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("a valid query");
        let (a, b) = (
            source.store.log.list(&filter, page).await.expect("lists"),
            target.log.list(&filter, page).await.expect("lists"),
        );
        assert_eq!((a.entries, a.total), (b.entries, b.total), "{query}");
    }
    // The log goes on on the target.
    let receipt = app::ingest::Receipt { received_at: now, token: None };
    let more = crate::helpers::event("secret.read", &at(0), ("user", "after", "After"));
    let more = app::ingest::parse_batch(json!([more]).to_string().as_bytes(), &receipt).expect("valid");
    assert_eq!(target.log.append(more).await.expect("appends").sequences, [size + 1]);
    target.maintenance.close().await;
    let later = certifyclouds(target_db.url(), &["verify"]);
    assert!(later.status.success(), "{}", String::from_utf8_lossy(&later.stderr));
}

/// From one PostgreSQL database to another: the configuration is read in one snapshot and
/// mirrored with its ids, the highest id ever given remembered.
#[tokio::test]
async fn migrate_store_mirrors_the_configuration_of_a_postgres_source_too() {
    use app::store::testing::TestDatabase;
    if !crate::helpers::on_postgres() {
        return;
    }
    let source = TestApp::spawn_engine(true, |s| s).await;
    source.seed(50, 1, 3, "2025-06-01T00:00:00Z").await;
    let admin = source.admin.clone();
    for name in ["hook", "gone"] {
        let body = json!({"name": name, "kind": "stdout"}).to_string().into_bytes();
        let made = source.request(Method::POST, "/admin/destinations", Some(&admin), body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    }
    let gone = source.request(Method::DELETE, "/admin/destinations/2", Some(&admin), Vec::new()).await;
    assert_eq!(gone.status, StatusCode::OK);
    let rule = json!({"name": "Hooked", "event_types": ["secret.deleted"], "destinations": [1]}).to_string();
    let made = source.request(Method::POST, "/admin/alert-rules", Some(&admin), rule.into_bytes()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);

    let target_db = TestDatabase::create().await;
    let out =
        certifyclouds("sqlite:unused", &["migrate-store", "--from", &source.database_url, "--to", target_db.url()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 delivery destinations, 2 alert rules"), "{stdout}");
    let target = app::store::open(target_db.url()).await.expect("opens");
    let ids = |all: Vec<app::store::StoredDestination>| all.into_iter().map(|d| (d.id, d.name)).collect::<Vec<_>>();
    assert_eq!(ids(target.delivery.destinations().await.expect("reads")), [(1, "hook".to_owned())]);
    assert_eq!(target.alerts.rules().await.expect("reads"), source.store.alerts.rules().await.expect("reads"));
    let next = app::store::StoredDestination {
        name: "after".into(),
        ..target.delivery.destinations().await.expect("reads")[0].clone()
    };
    let next = target.delivery.create_destination(&next, 0).await.expect("adds").expect("added");
    assert_eq!(next.id, 3, "past the removed 2");
    target.maintenance.close().await;
}

/// Runs the binary with `stdin` on its standard input.
fn certifyclouds_with_input(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_certifyclouds"))
        .args(args)
        .env("CERTIFYCLOUDS_DATABASE_URL", database_url)
        .env("CERTIFYCLOUDS_SIGNING_KEY", crate::helpers::key_path(database_url))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writes");
    child.wait_with_output().expect("ends")
}

#[tokio::test]
async fn user_commands_check_hash_and_record_every_change_with_the_operator_as_actor() {
    let app = TestApp::spawn().await;
    let url = app.database_url.clone();
    let strong = "correct-horse-battery-staple";
    let create = |name: &str, role: &str, password: &str| {
        certifyclouds_with_input(
            &url,
            &[
                "user",
                "create",
                "--username",
                name,
                "--role",
                role,
                "--display-name",
                "Alice Admin",
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    };
    let out = create("alice", "admin", strong);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created user 'alice'"));
    for (name, password, says) in [
        ("ALICE", strong, "already exists"),
        ("carol", "password1234", "too easy to guess"),
        ("carol", "short", "at least 12 characters"),
        ("al ice", strong, "username:"),
        ("carol", "", "no password on standard input"),
    ] {
        let out = create(name, "auditor", password);
        assert!(!out.status.success(), "{name} {password}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{name} {password}: {stderr}");
    }
    let out = certifyclouds_with_input(
        &url,
        &["user", "create", "--username", "bob", "--role", "auditor", "--password-stdin"],
        &format!("{strong}!\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = certifyclouds(&url, &["user", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success());
    let rows: Vec<Vec<&str>> = listed.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!((rows[0][0], rows[0][3], rows[0][4]), ("alice", "admin", "active"), "{listed}");
    assert_eq!((rows[1][0], rows[1][1], rows[1][2]), ("bob", "bob", "auditor"), "{listed}");

    let new_password = "seven dwarfs behind the mountains";
    let out = certifyclouds_with_input(
        &url,
        &["user", "reset-password", "Bob", "--password-stdin"],
        &format!("{new_password}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = certifyclouds(&url, &["user", "unlock", "bob"]);
    assert!(out.status.success(), "nothing to lift is not an error");
    let out = certifyclouds(&url, &["user", "unlock", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such user"));

    let stored = app.store.accounts.user_named("bob").await.expect("reads").expect("found");
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert!(app::accounts::password::verify(stored.password_hash.clone(), new_password.into()).await);

    // Two creations and one password change, each by the operator; the unlock that lifted
    // nothing and every refused command left no entry.
    let page = app.list("event_type=user.*&limit=100").await;
    let entries = page["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries.iter().rev().map(|e| e["event_type"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["user.created", "user.created", "user.updated"], "{page}");
    // The operator is the OS user running the command (as `id -un` names it).
    let id = Command::new("id").arg("-un").output().expect("id runs");
    let me = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    for entry in entries {
        assert_eq!(entry["actor"], serde_json::json!({"type": "user", "id": format!("os:{me}"), "name": me}));
    }
    let (updated, bob, alice) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(alice["details"]["created_by"], me.as_str());
    assert_eq!(
        (alice["details"]["username"].as_str(), alice["details"]["role"].as_str()),
        (Some("alice"), Some("admin"))
    );
    assert_eq!(bob["description"], format!("User bob created with role auditor by {me}"));
    assert_eq!(updated["details"]["changes"]["password"], "password changed");
    assert_eq!(updated["details"]["modified_by"], me.as_str());
    assert_eq!(updated["resource"]["id"], format!("user-{}", stored.user.id));
    let text = page.to_string();
    assert!(!text.contains("argon2") && !text.contains(strong) && !text.contains(new_password), "{text}");
}

#[tokio::test]
async fn settings_are_read_and_changed_from_the_command_line_each_change_recorded() {
    let app = TestApp::spawn().await;
    let got = certifyclouds(&app.database_url, &["settings", "get"]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert!(String::from_utf8_lossy(&got.stdout).starts_with("audit_retention_days = 90  (Audit log retention (days)"));

    let set = certifyclouds(&app.database_url, &["settings", "set", "audit_retention_days", "120"]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert!(String::from_utf8_lossy(&set.stdout).starts_with("audit_retention_days: 90 -> 120 (recorded as audit-"));
    let same = certifyclouds(&app.database_url, &["settings", "set", "audit_retention_days", "120"]);
    assert!(same.status.success(), "{}", String::from_utf8_lossy(&same.stderr));
    assert!(String::from_utf8_lossy(&same.stdout).contains("unchanged"));
    for bad in ["29", "366", "90.5", "abc", "", "-5"] {
        let refused = certifyclouds(&app.database_url, &["settings", "set", "audit_retention_days", bad]);
        assert!(!refused.status.success(), "{bad}");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("audit_retention_days: must be a whole number of days from 30 to 365"), "{bad}: {said}");
    }
    let unknown = certifyclouds(&app.database_url, &["settings", "get", "retention"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown setting 'retention'"));

    // One change, one entry: the old and new values and the operator who made it.
    let recorded = app.list("event_type=settings.updated").await;
    let entries = recorded["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    let details = &entries[0]["details"];
    assert_eq!(
        (&details["setting"], &details["old_value"], &details["new_value"]),
        (&json!("audit_retention_days"), &json!(90), &json!(120))
    );
    assert!(entries[0]["actor"]["id"].as_str().is_some_and(|id| id.starts_with("os:")));
    assert_eq!(details["modified_by"], entries[0]["actor"]["name"]);
    let got = certifyclouds(&app.database_url, &["settings", "get", "audit_retention_days"]);
    assert!(String::from_utf8_lossy(&got.stdout).starts_with("audit_retention_days = 120"));
}
