//! Users on either engine. The statements are the same on both (`$N` parameters, which
//! SQLite reads too), so they are written once and expanded for each engine's pool by
//! [`account_queries!`]; only how a change takes the accounts' lock differs. A change that
//! could leave no active admin runs under that lock, so two admins demoting each other at
//! once cannot both succeed.

use super::{StoreError, StoredUser, UserUpdate};
use crate::accounts::User;
use chrono::DateTime;

/// The columns of a user, in [`UserRow`]'s order.
pub(super) const USER_COLUMNS: &str =
    "id, username, display_name, role, disabled, created_at, last_login_at, failed_attempts, locked_until, \
     password_hash";

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    disabled: bool,
    created_at: i64,
    last_login_at: Option<i64>,
    failed_attempts: i32,
    locked_until: Option<i64>,
    password_hash: String,
}

impl TryFrom<UserRow> for StoredUser {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let damaged = |what: &str| StoreError::backend(format!("user {} cannot be read: {what}", row.id));
        let time = |micros: i64| DateTime::from_timestamp_micros(micros).ok_or_else(|| damaged("a time out of range"));
        Ok(StoredUser {
            user: User {
                id: row.id,
                role: row.role.parse().map_err(|_| damaged("an unknown role"))?,
                disabled: row.disabled,
                created_at: time(row.created_at)?,
                last_login_at: row.last_login_at.map(time).transpose()?,
                failed_attempts: u32::try_from(row.failed_attempts).unwrap_or(0),
                locked_until: row.locked_until.map(time).transpose()?,
                username: row.username,
                display_name: row.display_name,
            },
            password_hash: row.password_hash,
        })
    }
}

/// The key a username is unique under: its case folded (usernames are ASCII).
pub(super) fn username_key(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

/// The user after `update`, and whether the change needs the accounts' lock and a count
/// of the other active admins (it takes away the last one's rights otherwise).
pub(super) fn apply(before: &StoredUser, update: &UserUpdate) -> (StoredUser, bool) {
    let mut after = before.clone();
    if let Some(name) = &update.display_name {
        after.user.display_name.clone_from(name);
    }
    if let Some(role) = update.role {
        after.user.role = role;
    }
    if let Some(disabled) = update.disabled {
        after.user.disabled = disabled;
    }
    if let Some(hash) = &update.password_hash {
        after.password_hash.clone_from(hash);
    }
    if update.unlock {
        after.user.failed_attempts = 0;
        after.user.locked_until = None;
    }
    let demotes = before.user.is_active_admin() && !after.user.is_active_admin();
    (after, demotes)
}

/// The refusal of a change that would leave no active admin.
pub(super) fn last_admin(user: &User, what: &str) -> StoreError {
    StoreError::Conflict(format!(
        "'{}' is the last active admin and cannot be {what}: make another user an admin first",
        user.username
    ))
}

/// Counts the active admins other than `id`.
pub(super) const OTHER_ADMINS: &str = "SELECT count(*) FROM users WHERE role = $1 AND disabled = $2 AND id <> $3";

pub(super) const ADMIN: &str = "admin";

/// The account queries for one engine (`$db`, its sqlx database): `$begin` opens a transaction that holds the
/// accounts' write lock, or is followed by `$lock` (a statement that takes it).
macro_rules! account_queries {
    ($db:ty, begin: $begin:expr, lock: $lock:expr) => {
        use $crate::accounts::User;
        use $crate::store::accounts::{apply, last_admin, username_key, UserRow, ADMIN, OTHER_ADMINS, USER_COLUMNS};
        use $crate::store::{NewUser, StoreError, StoredUser, UserUpdate};

        pub async fn create(
            pool: &sqlx::Pool<$db>,
            new: &NewUser,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<User, StoreError> {
            let row: Result<UserRow, _> = sqlx::query_as(&format!(
                "INSERT INTO users (username, username_key, display_name, role, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
            ))
            .bind(new.username.trim())
            .bind(username_key(&new.username))
            .bind(new.display_name.trim())
            .bind(new.role.as_str())
            .bind(&new.password_hash)
            .bind(now.timestamp_micros())
            .fetch_one(pool)
            .await;
            match row {
                Ok(row) => Ok(StoredUser::try_from(row)?.user),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    Err(StoreError::Conflict(format!("a user named '{}' already exists", new.username.trim())))
                }
                Err(e) => Err(e.into()),
            }
        }

        pub async fn named(pool: &sqlx::Pool<$db>, username: &str) -> Result<Option<StoredUser>, StoreError> {
            let row: Option<UserRow> =
                sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"))
                    .bind(username_key(username))
                    .fetch_optional(pool)
                    .await?;
            row.map(StoredUser::try_from).transpose()
        }

        pub async fn by_id(pool: &sqlx::Pool<$db>, id: i64) -> Result<Option<StoredUser>, StoreError> {
            let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(StoredUser::try_from).transpose()
        }

        pub async fn all(pool: &sqlx::Pool<$db>) -> Result<Vec<User>, StoreError> {
            let rows: Vec<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username_key"))
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|row| Ok(StoredUser::try_from(row)?.user)).collect()
        }

        /// A transaction holding the accounts' lock, and the user `id` as it is.
        async fn locked(
            pool: &sqlx::Pool<$db>,
            id: i64,
        ) -> Result<(sqlx::Transaction<'static, $db>, StoredUser), StoreError> {
            let mut tx = pool.begin_with($begin).await?;
            if let Some(lock) = $lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let user = StoredUser::try_from(row.ok_or_else(|| StoreError::NotFound(format!("user {id}")))?)?;
            Ok((tx, user))
        }

        /// Whether an active admin other than `id` remains.
        async fn another_admin(tx: &mut sqlx::Transaction<'static, $db>, id: i64) -> Result<bool, StoreError> {
            let others: i64 =
                sqlx::query_scalar(OTHER_ADMINS).bind(ADMIN).bind(false).bind(id).fetch_one(&mut **tx).await?;
            Ok(others > 0)
        }

        pub async fn update(pool: &sqlx::Pool<$db>, id: i64, update: &UserUpdate) -> Result<(User, User), StoreError> {
            let (mut tx, before) = locked(pool, id).await?;
            let (after, demotes) = apply(&before, update);
            if demotes && !another_admin(&mut tx, id).await? {
                let what = if after.user.disabled { "disabled" } else { "made an auditor" };
                return Err(last_admin(&before.user, what));
            }
            let u = &after.user;
            sqlx::query(
                "UPDATE users SET display_name = $2, role = $3, password_hash = $4, disabled = $5, \
                 failed_attempts = $6, first_failed_at = CASE WHEN $6 = 0 THEN NULL ELSE first_failed_at END, \
                 locked_until = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(&u.display_name)
            .bind(u.role.as_str())
            .bind(&after.password_hash)
            .bind(u.disabled)
            .bind(i32::try_from(u.failed_attempts).unwrap_or(i32::MAX))
            .bind(u.locked_until.map(|t| t.timestamp_micros()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok((before.user, after.user))
        }

        pub async fn delete(pool: &sqlx::Pool<$db>, id: i64) -> Result<User, StoreError> {
            let (mut tx, StoredUser { user, .. }) = locked(pool, id).await?;
            if user.is_active_admin() && !another_admin(&mut tx, id).await? {
                return Err(last_admin(&user, "deleted"));
            }
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(user)
        }
    };
}
pub(super) use account_queries;
