//! Users on either engine. The statements are the same on both (`$N` parameters, which
//! SQLite reads too), so they are written once and expanded for each engine's pool by
//! [`account_queries!`]; only how a change takes the accounts' lock differs. A change that
//! could leave no active admin runs under that lock, so two admins demoting each other at
//! once cannot both succeed.

use super::{Session, StoreError, StoredUser, UserUpdate};
use crate::accounts::User;
use chrono::DateTime;

/// The columns of a user, in [`UserRow`]'s order.
pub(super) const USER_COLUMNS: &str =
    "id, username, display_name, role, disabled, created_at, last_login_at, failed_attempts, locked_until, \
     password_hash, first_failed_at";

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
    first_failed_at: Option<i64>,
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
            failures_since: row.first_failed_at.map(time).transpose()?,
        })
    }
}

/// A session and its user, as [`SESSIONS_WITH_USERS`] reads them.
#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    session_created_at: i64,
    last_seen_at: i64,
    ip_address: Option<String>,
    user_agent: Option<String>,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRowWithHash {
    pub token_hash: Vec<u8>,
    #[sqlx(flatten)]
    pub row: SessionRow,
}

/// Sessions joined with their users; the session's own times are renamed, the user's
/// columns keep [`USER_COLUMNS`]' names.
pub(super) const SESSIONS_WITH_USERS: &str = "SELECT s.token_hash, s.created_at AS session_created_at, \
     s.last_seen_at, s.ip_address, s.user_agent, u.id, u.username, u.display_name, u.role, u.disabled, u.created_at, \
     u.last_login_at, u.failed_attempts, u.locked_until, u.password_hash, u.first_failed_at \
     FROM sessions s JOIN users u ON u.id = s.user_id";

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        let damaged = || StoreError::backend("a session's time is out of range");
        Ok(Session {
            created_at: DateTime::from_timestamp_micros(row.session_created_at).ok_or_else(damaged)?,
            last_seen_at: DateTime::from_timestamp_micros(row.last_seen_at).ok_or_else(damaged)?,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            user: StoredUser::try_from(row.user)?.user,
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
        after.failures_since = None;
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

/// The account queries for one engine (`$db`, its sqlx database): `$begin` opens a
/// transaction that holds the accounts' write lock, or is followed by `$lock` (a statement
/// that takes it). Every write of a user row goes through `locked`: a change read under
/// the lock and written back whole is never lost to another.
macro_rules! account_queries {
    ($db:ty, begin: $begin:expr, lock: $lock:expr, highest_id: $highest:expr) => {
        use $crate::accounts::User;
        use $crate::store::accounts::{
            apply, last_admin, username_key, SessionRow, SessionRowWithHash, UserRow, ADMIN, OTHER_ADMINS,
            SESSIONS_WITH_USERS, USER_COLUMNS,
        };
        use $crate::store::{NewSession, NewUser, Session, StoreError, StoredUser, UserUpdate};

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
            let rows: Vec<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users")).fetch_all(pool).await?;
            let mut users = rows.into_iter().map(|row| Ok(StoredUser::try_from(row)?.user)).collect::<Result<Vec<_>, StoreError>>()?;
            // Sorted here: a database's collation may order '.', '-' and '_' its own way.
            users.sort_by_cached_key(|u| username_key(&u.username));
            Ok(users)
        }

        pub async fn highest_id(pool: &sqlx::Pool<$db>) -> Result<i64, StoreError> {
            let highest: Option<i64> = sqlx::query_scalar($highest).fetch_optional(pool).await?.flatten();
            Ok(highest.unwrap_or(0))
        }

        pub async fn all_stored(pool: &sqlx::Pool<$db>) -> Result<Vec<StoredUser>, StoreError> {
            let rows: Vec<UserRow> =
                sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id")).fetch_all(pool).await?;
            rows.into_iter().map(StoredUser::try_from).collect()
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

        /// Writes every field a change may touch, from `after`.
        async fn write(tx: &mut sqlx::Transaction<'static, $db>, after: &StoredUser) -> Result<(), StoreError> {
            let u = &after.user;
            sqlx::query(
                "UPDATE users SET display_name = $2, role = $3, password_hash = $4, disabled = $5, \
                 failed_attempts = $6, first_failed_at = $7, locked_until = $8, last_login_at = $9 WHERE id = $1",
            )
            .bind(u.id)
            .bind(&u.display_name)
            .bind(u.role.as_str())
            .bind(&after.password_hash)
            .bind(u.disabled)
            .bind(i32::try_from(u.failed_attempts).unwrap_or(i32::MAX))
            .bind(after.failures_since.map(|t| t.timestamp_micros()))
            .bind(u.locked_until.map(|t| t.timestamp_micros()))
            .bind(u.last_login_at.map(|t| t.timestamp_micros()))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Ends every session of a user, in the transaction that disables or deletes them
        /// or changes their password.
        async fn end_sessions_of(tx: &mut sqlx::Transaction<'static, $db>, id: i64) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut **tx).await?;
            Ok(())
        }

        pub async fn update(pool: &sqlx::Pool<$db>, id: i64, update: &UserUpdate) -> Result<(User, User), StoreError> {
            let (mut tx, before) = locked(pool, id).await?;
            let (after, demotes) = apply(&before, update);
            if demotes && !another_admin(&mut tx, id).await? {
                let what = if after.user.disabled { "disabled" } else { "made an auditor" };
                return Err(last_admin(&before.user, what));
            }
            write(&mut tx, &after).await?;
            // Disabled, or a new password (the old one may be known to someone else): every
            // session of theirs ends with it.
            if after.user.disabled || update.password_hash.is_some() {
                end_sessions_of(&mut tx, id).await?;
            }
            tx.commit().await?;
            Ok((before.user, after.user))
        }

        pub async fn delete(pool: &sqlx::Pool<$db>, id: i64) -> Result<User, StoreError> {
            let (mut tx, StoredUser { user, .. }) = locked(pool, id).await?;
            if user.is_active_admin() && !another_admin(&mut tx, id).await? {
                return Err(last_admin(&user, "deleted"));
            }
            end_sessions_of(&mut tx, id).await?;
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(user)
        }

        pub async fn failed(
            pool: &sqlx::Pool<$db>,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
            lockout: &$crate::accounts::Lockout,
        ) -> Result<(User, bool), StoreError> {
            let (mut tx, before) = locked(pool, id).await?;
            let was_locked = before.user.locked_until.is_some_and(|until| until > now);
            let (user, since) = lockout.fail(&before.user, before.failures_since, now);
            let locks = !was_locked && user.locked_until.is_some_and(|until| until > now);
            let after = StoredUser { user, failures_since: Some(since), ..before };
            write(&mut tx, &after).await?;
            tx.commit().await?;
            Ok((after.user, locks))
        }

        pub async fn succeeded(
            pool: &sqlx::Pool<$db>,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<User>, StoreError> {
            let (mut tx, mut after) = locked(pool, id).await?;
            // Checked again under the lock: a guess checked while another locked the
            // account must not open it.
            if after.user.disabled || after.user.locked_until.is_some_and(|until| until > now) {
                return Ok(None);
            }
            after.user.failed_attempts = 0;
            after.user.locked_until = None;
            after.user.last_login_at = Some(now);
            after.failures_since = None;
            write(&mut tx, &after).await?;
            tx.commit().await?;
            Ok(Some(after.user))
        }

        pub async fn create_session(pool: &sqlx::Pool<$db>, new: &NewSession<'_>) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, ip_address, user_agent) \
                 VALUES ($1, $2, $3, $3, $4, $5)",
            )
            .bind(new.token_hash)
            .bind(new.user_id)
            .bind(new.now.timestamp_micros())
            .bind(new.ip_address)
            .bind(new.user_agent)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub async fn session(pool: &sqlx::Pool<$db>, token_hash: &[u8]) -> Result<Option<Session>, StoreError> {
            let row: Option<SessionRow> =
                sqlx::query_as(&format!("{SESSIONS_WITH_USERS} WHERE s.token_hash = $1"))
                    .bind(token_hash)
                    .fetch_optional(pool)
                    .await?;
            row.map(Session::try_from).transpose()
        }

        pub async fn touch_session(
            pool: &sqlx::Pool<$db>,
            token_hash: &[u8],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2")
                .bind(token_hash)
                .bind(now.timestamp_micros())
                .execute(pool)
                .await?;
            Ok(())
        }

        /// Deletes the session and answers whose it was, only to the one caller whose
        /// delete removed it: a sign-out is recorded once however many ask at once.
        pub async fn end_session(pool: &sqlx::Pool<$db>, token_hash: &[u8]) -> Result<Option<Session>, StoreError> {
            let Some(session) = session(pool, token_hash).await? else {
                return Ok(None);
            };
            let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await?;
            Ok((deleted.rows_affected() == 1).then_some(session))
        }

        /// Ends the sessions last used at or before `idle_before` or begun at or before
        /// `begun_before`,
        /// and answers whose they were (each to one caller only, as [`end_session`]).
        pub async fn end_expired_sessions(
            pool: &sqlx::Pool<$db>,
            idle_before: chrono::DateTime<chrono::Utc>,
            begun_before: chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<Session>, StoreError> {
            let rows: Vec<SessionRowWithHash> = sqlx::query_as(&format!(
                "{SESSIONS_WITH_USERS} WHERE s.last_seen_at <= $1 OR s.created_at <= $2 ORDER BY s.last_seen_at"
            ))
            .bind(idle_before.timestamp_micros())
            .bind(begun_before.timestamp_micros())
            .fetch_all(pool)
            .await?;
            let mut ended = Vec::with_capacity(rows.len());
            for SessionRowWithHash { token_hash, row } in rows {
                let deleted =
                    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&token_hash).execute(pool).await?;
                if deleted.rows_affected() == 1 {
                    ended.push(Session::try_from(row)?);
                }
            }
            Ok(ended)
        }
    };
}
pub(super) use account_queries;

/// The [`AccountStore`](crate::store::AccountStore) and
/// [`SessionStore`](crate::store::SessionStore) of an engine's store type, through the
/// queries [`account_queries!`] made in its `accounts` module: changes on the pool field
/// `changes`, lookups on `lookups`.
macro_rules! account_store {
    ($store:ty, changes: $w:ident, lookups: $r:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn create_user(
                &self,
                user: &$crate::store::NewUser,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::accounts::User, $crate::store::StoreError> {
                accounts::create(&self.$w, user, now).await
            }

            async fn user_named(
                &self,
                username: &str,
            ) -> Result<Option<$crate::store::StoredUser>, $crate::store::StoreError> {
                accounts::named(&self.$r, username).await
            }

            async fn user(&self, id: i64) -> Result<Option<$crate::store::StoredUser>, $crate::store::StoreError> {
                accounts::by_id(&self.$r, id).await
            }

            async fn users(&self) -> Result<Vec<$crate::accounts::User>, $crate::store::StoreError> {
                accounts::all(&self.$w).await
            }

            async fn all_users(&self) -> Result<Vec<$crate::store::StoredUser>, $crate::store::StoreError> {
                accounts::all_stored(&self.$w).await
            }

            async fn highest_user_id(&self) -> Result<i64, $crate::store::StoreError> {
                accounts::highest_id(&self.$w).await
            }

            async fn update_user(
                &self,
                id: i64,
                update: &$crate::store::UserUpdate,
            ) -> Result<($crate::accounts::User, $crate::accounts::User), $crate::store::StoreError> {
                accounts::update(&self.$w, id, update).await
            }

            async fn delete_user(&self, id: i64) -> Result<$crate::accounts::User, $crate::store::StoreError> {
                accounts::delete(&self.$w, id).await
            }

            async fn sign_in_failed(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
                lockout: &$crate::accounts::Lockout,
            ) -> Result<($crate::accounts::User, bool), $crate::store::StoreError> {
                accounts::failed(&self.$w, id, now, lockout).await
            }

            async fn signed_in(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::accounts::User>, $crate::store::StoreError> {
                accounts::succeeded(&self.$w, id, now).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::SessionStore for $store {
            async fn create_session(
                &self,
                session: &$crate::store::NewSession<'_>,
            ) -> Result<(), $crate::store::StoreError> {
                accounts::create_session(&self.$w, session).await
            }

            async fn session(
                &self,
                token_hash: &[u8],
            ) -> Result<Option<$crate::store::Session>, $crate::store::StoreError> {
                accounts::session(&self.$r, token_hash).await
            }

            async fn touch_session(
                &self,
                token_hash: &[u8],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                accounts::touch_session(&self.$w, token_hash, now).await
            }

            async fn end_session(
                &self,
                token_hash: &[u8],
            ) -> Result<Option<$crate::store::Session>, $crate::store::StoreError> {
                accounts::end_session(&self.$w, token_hash).await
            }

            async fn end_expired_sessions(
                &self,
                idle_before: chrono::DateTime<chrono::Utc>,
                begun_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::Session>, $crate::store::StoreError> {
                accounts::end_expired_sessions(&self.$w, idle_before, begun_before).await
            }
        }
    };
}
pub(super) use account_store;
