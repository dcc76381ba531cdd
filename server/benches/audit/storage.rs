//! Bytes per entry: what a seeded store takes on disk, divided by its entries. On SQLite
//! the database's pages (`page_count * page_size`, the pages still in the write-ahead log
//! included; the WAL file's own length is said apart); on PostgreSQL the database
//! (`pg_database_size`: the entries' partitions with their indexes, the text index, the
//! per-day and per-key counts, the Merkle tree and the catalog, and the dead row versions
//! the count tables' updates left while the store was seeded, which autovacuum reuses
//! but does not give back).

use sqlx::Connection;

/// The store's size in bytes and, on SQLite, its WAL file's length; or why it could not
/// be read.
pub async fn size(url: &str) -> Result<(u64, Option<u64>), String> {
    match url.strip_prefix("sqlite:") {
        Some(path) => {
            let path = path.split('?').next().unwrap_or(path);
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{path}?mode=ro"))
                .await
                .map_err(|e| format!("{path}: {e}"))?;
            let (pages, page_size): (i64, i64) =
                sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()")
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| format!("{path}: {e}"))?;
            let database = u64::try_from(pages.saturating_mul(page_size)).map_err(|e| e.to_string())?;
            let wal = match std::fs::metadata(format!("{path}-wal")) {
                Ok(meta) => meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(format!("{path}-wal: {e}")),
            };
            Ok((database, Some(wal)))
        }
        None => {
            let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok((u64::try_from(bytes).map_err(|e| e.to_string())?, None))
        }
    }
}

/// The ingest table's row for one profile's store of `entries`.
pub async fn row(profile: &str, url: &str, entries: u64) -> String {
    match size(url).await {
        Ok((bytes, wal)) => format!(
            "| bytes per entry on disk, {profile} profile | {:.0} bytes ({:.1} MB for {entries} entries, every index, \
             the text search and the counts included{}) | |\n",
            bytes as f64 / entries.max(1) as f64,
            bytes as f64 / 1e6,
            wal.map(|w| format!("; WAL file {:.1} MB", w as f64 / 1e6)).unwrap_or_default()
        ),
        Err(why) => format!("| bytes per entry on disk, {profile} profile | not measured: {why} | |\n"),
    }
}
