//! The retention purge on PostgreSQL ([`crate::store::Retention`]): each step is one call
//! of `audit_purge_partition` (0012: a whole month partition due is dropped) or else of
//! `audit_purge` (migrations/postgres/0008, bounded by 0011, its counts taken out by key
//! since 0015), which runs with the schema owner's rights:
//! the application's role may run the purge but delete nothing itself.

use crate::store::retention::{self, PurgeStep, PurgedGap, PurgedRange, PurgedRow, PURGED_ROWS};
use crate::store::rows::seq_u64;
use crate::store::{Problem, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long the purge deletes rows only after a month's drop was refused its lock.
const DROP_PAUSE: Duration = Duration::from_secs(60);

pub async fn step(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    below: Option<u64>,
    limit: u32,
    now: DateTime<Utc>,
    drops_paused_until: &Mutex<Option<Instant>>,
) -> Result<PurgeStep, StoreError> {
    retention::check_cutoff(cutoff)?;
    let started = Instant::now();
    let below = below.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    // A whole month partition due goes at once (migrations/postgres/0012); then another
    // step looks again. One refused for want of its lock (readers kept it) is not tried
    // again for a while: the rows go in steps meanwhile.
    let paused = drops_paused_until.lock().unwrap_or_else(PoisonError::into_inner).is_some_and(|t| Instant::now() < t);
    if !paused {
        let (dropped, first, last): (i64, Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT deleted, first_seq, last_seq FROM audit_purge_partition($1, $2, $3)")
                .bind(cutoff.timestamp_micros())
                .bind(now.timestamp_micros())
                .bind(below)
                .fetch_one(&mut *conn)
                .await?;
        if dropped < 0 {
            *drops_paused_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + DROP_PAUSE);
        }
        if dropped > 0 {
            let (first, last) = (first.map(seq_u64), last.map(seq_u64));
            return Ok(PurgeStep { deleted: seq_u64(dropped), first, last, more: true, took: started.elapsed() });
        }
    }
    let (deleted, first, last, more): (i64, Option<i64>, Option<i64>, bool) =
        sqlx::query_as("SELECT deleted, first_seq, last_seq, more FROM audit_purge($1, $2, $3, $4)")
            .bind(cutoff.timestamp_micros())
            .bind(i32::try_from(limit).unwrap_or(i32::MAX))
            .bind(now.timestamp_micros())
            .bind(below)
            .fetch_one(conn)
            .await?;
    let (first, last) = (first.map(seq_u64), last.map(seq_u64));
    Ok(PurgeStep { deleted: seq_u64(deleted), first, last, more, took: started.elapsed() })
}

pub async fn due(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE ts < $1 AND seq < (SELECT seq FROM audit_head)")
            .bind(cutoff.timestamp_micros())
            .fetch_one(conn)
            .await?;
    Ok(seq_u64(n))
}

pub async fn ranges(conn: &mut PgConnection) -> Result<Vec<PurgedRange>, StoreError> {
    let rows: Vec<PurgedRow> = sqlx::query_as(PURGED_ROWS).fetch_all(conn).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The recorded runs with the tree after each, read in the caller's snapshot, and the
/// problems of those whose tree rows are missing.
pub async fn gaps(conn: &mut PgConnection) -> Result<(Vec<PurgedGap>, Vec<Problem>), StoreError> {
    let ranges = ranges(&mut *conn).await?;
    let rows: Vec<i64> = retention::rows_needed(&ranges).iter().filter_map(|r| i64::try_from(*r).ok()).collect();
    let stored = super::tree::read_rows(conn, &rows).await?;
    Ok(retention::gaps(ranges, &stored))
}
