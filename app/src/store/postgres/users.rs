//! Users copied from another store (`migrate-store`) under the ids they had there, so that
//! the log's entries about them (`user-<id>`) still name the same people, with their
//! password hashes: everyone signs in on the copy as before. New users get ids above any
//! the source ever gave.

use crate::store::accounts::username_key;
use crate::store::{StoreError, StoredUser};
use sqlx::PgPool;

/// Adds the users this database lacks, in one transaction; a user already here with the
/// same id, name and hash is skipped (a resumed copy). Nothing is added if an id or a
/// name here belongs to someone else. Returns how many were added.
pub async fn copy(pool: &PgPool, users: &[StoredUser], highest_id: i64) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let here: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, username_key, password_hash FROM users").fetch_all(&mut *tx).await?;
    let mut added = 0;
    for stored in users {
        let (user, key) = (&stored.user, username_key(&stored.user.username));
        match here.iter().find(|(id, k, _)| *id == user.id || *k == key) {
            Some((id, k, hash)) if *id == user.id && *k == key && *hash == stored.password_hash => continue,
            Some((id, k, _)) => {
                return Err(StoreError::Conflict(format!(
                    "the source's user {} ('{}') clashes with user {id} ('{k}') here: this database holds another \
                     store's users",
                    user.id, user.username
                )))
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO users (id, username, username_key, display_name, role, password_hash, disabled, created_at, \
             last_login_at, failed_attempts, first_failed_at, locked_until) OVERRIDING SYSTEM VALUE \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(user.id)
        .bind(&user.username)
        .bind(&key)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&stored.password_hash)
        .bind(user.disabled)
        .bind(user.created_at.timestamp_micros())
        .bind(user.last_login_at.map(|t| t.timestamp_micros()))
        .bind(i32::try_from(user.failed_attempts).unwrap_or(i32::MAX))
        .bind(stored.failures_since.map(|t| t.timestamp_micros()))
        .bind(user.locked_until.map(|t| t.timestamp_micros()))
        .execute(&mut *tx)
        .await?;
        added += 1;
    }
    // Ids go on above every id the source gave, deleted users' included.
    if added > 0 || highest_id > 0 {
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             greatest((SELECT coalesce(max(id), 0) FROM users), $1, \
                      (SELECT coalesce(last_value, 0) FROM pg_sequences \
                       WHERE schemaname = current_schema() AND sequencename = 'users_id_seq'), 1))",
        )
        .bind(highest_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(added)
}
