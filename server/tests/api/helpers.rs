use app::accounts::Role;
use app::store::{self, NewSession, NewUser, Store};
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::state::AppState;
use std::net::SocketAddr;
use tempfile::TempDir;
use tower::ServiceExt;

/// How long a response's head may take. A test app answers in milliseconds: one that has
/// not answered by then never will, and the test says which request it was rather than
/// holding the whole run until CI gives up.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

/// The router's response to `request` (its body unread).
pub async fn answer(router: &Router, request: Request<Body>) -> axum::response::Response {
    let what = format!("{} {}", request.method(), request.uri());
    match tokio::time::timeout(ANSWER_WITHIN, router.clone().oneshot(request)).await {
        Ok(response) => response.expect("response"),
        Err(_) => panic!("{what} was not answered within {ANSWER_WITHIN:?}"),
    }
}

/// The address requests of the test app come from.
pub const PEER: ([u8; 4], u16) = ([192, 0, 2, 10], 5555);

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Store,
    pub database_url: String,
    pub read: String,
    pub ingest: String,
    pub admin: String,
    /// An auditor's session, made on first use by [`TestApp::page`].
    auditor: tokio::sync::OnceCell<String>,
    /// The PostgreSQL database of a run on that engine, dropped with the app.
    _postgres: Option<store::testing::TestDatabase>,
    // Dropped last: removes the database file.
    pub dir: TempDir,
}

/// Whether this run tests the PostgreSQL engine (`make unit` runs the API tests on both).
pub fn on_postgres() -> bool {
    std::env::var("CERTIFYCLOUDS_TEST_ENGINE").is_ok_and(|e| e == "postgres")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    /// The body as sent, for files that are not text (PDF).
    pub bytes: axum::body::Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().map(str::to_owned).unwrap_or_else(|| panic!("no error field: {}", self.text))
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|state| state).await
    }

    /// An app whose state the test adjusts (limits, trusted proxies).
    pub async fn spawn_with(adjust: impl FnOnce(AppState) -> AppState) -> Self {
        Self::spawn_engine(on_postgres(), adjust).await
    }

    /// An app on the given engine, whichever this run tests (to compare the two).
    pub async fn spawn_engine(postgres: bool, adjust: impl FnOnce(AppState) -> AppState) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let postgres = if postgres { Some(store::testing::TestDatabase::create().await) } else { None };
        let database_url = match &postgres {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite:{}", dir.path().join("audit.db").display()),
        };
        let store = store::open(&database_url).await.expect("store opens");
        let state = adjust(AppState::new(store.clone(), "target/site"));
        let mut app = TestApp {
            router: server::http::app(state.clone()).layer(MockConnectInfo(SocketAddr::from(PEER))),
            state,
            store,
            database_url,
            read: String::new(),
            ingest: String::new(),
            admin: String::new(),
            auditor: tokio::sync::OnceCell::new(),
            _postgres: postgres,
            dir,
        };
        app.read = app.token("reader", &[Scope::Read]).await;
        app.ingest = app.token("ingester", &[Scope::Ingest]).await;
        app.admin = app.token("admin", &[Scope::Admin]).await;
        app
    }

    /// A new app over the same database file (as after a restart), with its own tokens.
    pub async fn reopen(previous: &TestApp) -> TestApp {
        let store = store::open(&previous.database_url).await.expect("store reopens");
        let state = AppState::new(store.clone(), "target/site");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut app = TestApp {
            router: server::http::app(state.clone()).layer(MockConnectInfo(SocketAddr::from(PEER))),
            state,
            store,
            database_url: previous.database_url.clone(),
            read: String::new(),
            ingest: String::new(),
            admin: String::new(),
            auditor: tokio::sync::OnceCell::new(),
            _postgres: None,
            dir,
        };
        app.read = app.token("reader-2", &[Scope::Read]).await;
        app.ingest = app.token("ingester-2", &[Scope::Ingest]).await;
        app.admin = app.token("admin-2", &[Scope::Admin]).await;
        app
    }

    pub async fn token(&self, name: &str, scopes: &[Scope]) -> String {
        let token = tokens::generate();
        self.store.tokens.create_token(name, scopes, &tokens::hash(&token)).await.expect("token stored");
        token
    }

    pub async fn request(&self, method: Method, uri: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        self.request_with(method, uri, token, &[], body).await
    }

    /// The response itself, its body unread (for streams that never end).
    pub async fn respond(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> axum::response::Response {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        answer(&self.router, builder.body(Body::from(body)).expect("request")).await
    }

    /// A request with extra headers.
    pub async fn request_with(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let response = answer(&self.router, builder.body(Body::from(body)).expect("request")).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, text: String::from_utf8_lossy(&bytes).into_owned(), bytes }
    }

    /// A person of `role` signed in, made straight in the store (nothing is recorded, so
    /// that a test's entries stay its own): the session cookie's value.
    pub async fn signed_in(&self, role: Role) -> String {
        signed_in(&self.store, role).await
    }

    /// A request from a browser page of this site, signed in with `session`.
    pub async fn as_person(
        &self,
        method: Method,
        uri: &str,
        session: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let cookie = format!("cc_session={session}");
        let mut headers = vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")];
        headers.extend_from_slice(extra);
        self.request_with(method, uri, None, &headers, body).await
    }

    /// The session of an auditor signed in (the same one for every call of a test).
    pub async fn auditor(&self) -> String {
        self.auditor.get_or_init(|| self.signed_in(Role::Auditor)).await.clone()
    }

    /// A page (or another route of the pages) as a signed-in auditor reads it.
    pub async fn page(&self, method: Method, uri: &str, body: Vec<u8>) -> Reply {
        self.page_with(method, uri, &[], body).await
    }

    /// [`TestApp::page`] with more headers.
    pub async fn page_with(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let session = self.auditor().await;
        self.as_person(method, uri, &session, headers, body).await
    }

    /// A `GET` of the pages as a signed-in auditor sends it, its body unread (for the live
    /// stream, which never ends).
    pub async fn page_stream(&self, uri: &str, headers: &[(&str, &str)]) -> axum::response::Response {
        let mut builder =
            Request::builder().uri(uri).header(header::COOKIE, format!("cc_session={}", self.auditor().await));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        answer(&self.router, builder.body(Body::empty()).expect("request")).await
    }

    /// `GET` with the read token.
    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri, Some(&self.read.clone()), Vec::new()).await
    }

    /// `POST /audit/events` with the ingest token.
    pub async fn post_events(&self, body: &Value) -> Reply {
        self.request(Method::POST, "/audit/events", Some(&self.ingest.clone()), body.to_string().into_bytes()).await
    }

    /// Appends events straight to the store, with ingest's checks, as the product records
    /// its own: the actor `system` (which ingest refuses) included.
    pub async fn record(&self, events: &Value) {
        let mut events = events.clone();
        let mut system = Vec::new();
        for (i, event) in events.as_array_mut().expect("an array").iter_mut().enumerate() {
            if event["actor"]["type"] == "system" {
                event["actor"]["type"] = json!("service");
                system.push(i);
            }
        }
        let receipt = app::ingest::Receipt { received_at: chrono::Utc::now(), token: None };
        let mut entries = app::ingest::parse_batch(events.to_string().as_bytes(), &receipt).expect("valid events");
        for i in system {
            entries[i].actor.kind = app::entry::ActorType::System;
        }
        self.store.log.append(entries).await.expect("appended");
    }

    /// Lists with the read token and asserts success.
    pub async fn list(&self, query: &str) -> Value {
        let reply = self.get(&format!("/audit/entries?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
        reply.json()
    }

    pub async fn seed(&self, events: u64, days: u32, seed: u64, until: &str) {
        let args = server::config::SeedArgs { events, days, seed, profile: server::config::Profile::Catalogue };
        server::seed::seed_store(self.store.log.as_ref(), &args, until.parse().expect("time")).await.expect("seeded");
    }
}

/// A person of `role` signed in, made straight in `store` without a log entry: the
/// session cookie's value.
pub async fn signed_in(store: &Store, role: Role) -> String {
    let n = store.accounts.highest_user_id().await.expect("reads") + 1;
    let new = NewUser {
        username: format!("{role}-{n}"),
        display_name: format!("Test {role} {n}"),
        role,
        password_hash: "not-a-hash".into(),
    };
    let user = store.accounts.create_user(&new, chrono::Utc::now()).await.expect("user stored");
    let token = format!("ccs_test_{}", tokens::generate());
    let session = NewSession {
        token_hash: &app::signin::token_hash(&token),
        user_id: user.id,
        now: chrono::Utc::now(),
        ip_address: None,
        user_agent: None,
    };
    store.sessions.create_session(&session).await.expect("session stored");
    token
}

/// A valid event of a known type.
pub fn event(event_type: &str, timestamp: &str, actor: (&str, &str, &str)) -> Value {
    let (kind, id, name) = actor;
    json!({
        "timestamp": timestamp,
        "event_type": event_type,
        "actor": {"type": kind, "id": id, "name": name},
        "description": format!("{event_type} by {name}"),
        "details": details_for(event_type),
        "ip_address": "192.0.2.50",
        "user_agent": "Mozilla/5.0 (test)",
    })
}

fn details_for(event_type: &str) -> Value {
    let spec = app::catalogue::lookup(event_type);
    let mut details = serde_json::Map::new();
    for field in spec.map(|s| s.required).unwrap_or(&[]) {
        if let Some(key) = field.strip_prefix("details.") {
            details.insert(key.to_owned(), json!("x"));
        }
    }
    Value::Object(details)
}

pub fn ids(page: &Value) -> Vec<String> {
    page["entries"].as_array().expect("entries").iter().map(|e| e["id"].as_str().expect("id").to_owned()).collect()
}

/// `certifyclouds serve` on `database_url` at a free loopback port, with the test's
/// signing key, logging at `log` level in JSON; killed when dropped. Its output is the
/// caller's to direct.
pub fn serve_command(database_url: &str, log: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_certifyclouds"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--log-format", "json"])
        .env("CERTIFYCLOUDS_DATABASE_URL", database_url)
        .env("CERTIFYCLOUDS_SIGNING_KEY", key_path(database_url))
        .env("RUST_LOG", log)
        .kill_on_drop(true);
    command
}

/// Where the binary run by a test keeps the log's signing key: beside a SQLite file, and
/// in the temporary directory for a PostgreSQL database (never the working directory).
pub fn key_path(database_url: &str) -> std::path::PathBuf {
    match database_url.strip_prefix("sqlite:") {
        Some(path) => std::path::PathBuf::from(format!("{path}.signing-key")),
        None => {
            let name = database_url.rsplit('/').next().unwrap_or("postgres").replace(['?', '&', '='], "_");
            std::env::temp_dir().join("certifyclouds-test-keys").join(format!("{name}.signing-key"))
        }
    }
}

/// A valid entry of `event_type` by a user, as ingest makes it, to append straight to a store.
pub fn valid(event_type: &str) -> app::ingest::ValidEntry {
    let receipt = app::ingest::Receipt { received_at: chrono::Utc::now(), token: None };
    let mut body = event(event_type, "2026-03-03T00:00:00Z", ("user", "u-9", "someone"));
    body["details"] = json!({ "username": "someone" });
    let mut entries = app::ingest::parse_batch(json!([body]).to_string().as_bytes(), &receipt).expect("valid");
    entries.remove(0)
}
