//! Lock waits longer than the purge's 50 ms bound, as PostgreSQL itself reports them: with
//! `log_lock_waits` on and `deadlock_timeout` at 50 ms, the server logs every session that
//! has waited that long for a table, row or advisory lock, whatever held it ("still
//! waiting for ..."), the purge's own waits included. Counting those lines in each spell of
//! a run says whether any statement waited on another transaction beyond the bound. Waits
//! the log does not see: for a connection of the app's pools, for the app's own locks, and
//! PostgreSQL's short internal locks. The log is the private server's
//! (`scripts/with-postgres.sh` names it in `CERTIFYCLOUDS_TEST_POSTGRES_LOG`).

use sqlx::Connection;
use std::path::PathBuf;

/// The server's log, watched from the moment the waits began to be logged.
pub struct LockWaits {
    server: String,
    log: PathBuf,
}

/// A place in the log.
#[derive(Clone, Copy)]
pub struct Mark(u64);

impl LockWaits {
    /// Turns the logging on; `None` when the server's log is not known (a server of one's
    /// own rather than the benchmark's private one).
    pub async fn start(server: &str) -> Option<Self> {
        let log = PathBuf::from(std::env::var_os("CERTIFYCLOUDS_TEST_POSTGRES_LOG")?);
        // Readable, or not counted at all (never a silent zero).
        std::fs::File::open(&log).ok()?;
        configure(server, &["ALTER SYSTEM SET log_lock_waits = on", "ALTER SYSTEM SET deadlock_timeout = '50ms'"])
            .await;
        Some(LockWaits { server: server.to_owned(), log })
    }

    pub fn mark(&self) -> Mark {
        Mark(std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0))
    }

    /// The waits logged between two marks, and the statements that waited (at most a few,
    /// to say what they were).
    pub fn between(&self, from: Mark, to: Mark) -> (usize, Vec<String>) {
        let text = std::fs::read(&self.log).expect("reads the server's log");
        let end = usize::try_from(to.0).unwrap_or(usize::MAX).min(text.len());
        let start = usize::try_from(from.0).unwrap_or(usize::MAX).min(end);
        let text = String::from_utf8_lossy(&text[start..end]);
        let mut waits = 0;
        let mut examples = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if !line.contains("still waiting for") {
                continue;
            }
            waits += 1;
            // The wait's DETAIL, CONTEXT (for a statement of a function, with lines of its
            // own, indented) and STATEMENT lines follow it.
            let mut said = line.trim().to_owned();
            let told =
                |l: &&str| ["DETAIL:", "CONTEXT:", "STATEMENT:"].iter().any(|k| l.contains(k)) || l.starts_with('\t');
            while let Some(next) = lines.next_if(told) {
                said.push_str(" | ");
                said.push_str(next.trim());
            }
            if examples.len() < 5 {
                examples.push(said);
            }
        }
        (waits, examples)
    }

    /// Puts the server's settings back.
    pub async fn stop(self) {
        configure(&self.server, &["ALTER SYSTEM RESET log_lock_waits", "ALTER SYSTEM RESET deadlock_timeout"]).await;
    }
}

async fn configure(server: &str, statements: &[&str]) {
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connects to the server");
    for sql in statements.iter().copied().chain(["SELECT pg_reload_conf()"]) {
        sqlx::query(sql).execute(&mut admin).await.expect(sql);
    }
    // The server reads its configuration again on a signal: give it the moment it takes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}
