use app::store::{self, AuditStore};
use app::tokens::{self, Scope};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::startup::{router, AppState};
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn AuditStore>,
    pub database_url: String,
    pub read: String,
    pub ingest: String,
    pub admin: String,
    // Dropped last: removes the database file.
    pub dir: TempDir,
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
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite:{}", dir.path().join("audit.db").display());
        let store = store::open(&database_url).await.expect("store opens");
        let mut app = TestApp {
            router: router(AppState::new(store.clone(), "target/site")),
            store,
            database_url,
            read: String::new(),
            ingest: String::new(),
            admin: String::new(),
            dir,
        };
        app.read = app.token("reader", &[Scope::Read]).await;
        app.ingest = app.token("ingester", &[Scope::Ingest]).await;
        app.admin = app.token("admin", &[Scope::Admin]).await;
        app
    }

    pub async fn token(&self, name: &str, scopes: &[Scope]) -> String {
        let token = tokens::generate();
        self.store.create_token(name, scopes, &tokens::hash(&token)).await.expect("token stored");
        token
    }

    pub async fn request(&self, method: Method, uri: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let response =
            self.router.clone().oneshot(builder.body(Body::from(body)).expect("request")).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, text: String::from_utf8_lossy(&bytes).into_owned(), bytes }
    }

    /// `GET` with the read token.
    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri, Some(&self.read.clone()), Vec::new()).await
    }

    /// `POST /audit/events` with the ingest token.
    pub async fn post_events(&self, body: &Value) -> Reply {
        self.request(Method::POST, "/audit/events", Some(&self.ingest.clone()), body.to_string().into_bytes()).await
    }

    /// Lists with the read token and asserts success.
    pub async fn list(&self, query: &str) -> Value {
        let reply = self.get(&format!("/audit/entries?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
        reply.json()
    }

    pub async fn seed(&self, events: u64, days: u32, seed: u64, until: &str) {
        let args = server::config::SeedArgs { events, days, seed };
        server::seed::seed_store(self.store.as_ref(), &args, until.parse().expect("time")).await.expect("seeded");
    }
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
