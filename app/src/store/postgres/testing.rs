//! A database of its own for each test, on the private server `scripts/with-postgres.sh`
//! starts (`make test` runs every test under it).

use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// An empty database, dropped with this guard.
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let server = std::env::var("CERTIFYCLOUDS_TEST_POSTGRES_URL").expect(
            "CERTIFYCLOUDS_TEST_POSTGRES_URL is not set: run the tests with `make unit` or scripts/with-postgres.sh",
        );
        let name = format!("audit_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = PgConnection::connect(&server).await.expect("the test server answers");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("creates a database");
        // The harness's URL ends in the database's name and has no query.
        let (base, _) = server.rsplit_once('/').expect("a URL with a database");
        let url = format!("{base}/{name}");
        TestDatabase { server, name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of
        // its own drops the database (the server would be thrown away anyway).
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&server).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                    }
                });
            }
        })
        .join();
    }
}
