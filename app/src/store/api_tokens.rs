//! API tokens on either engine: the statements are the same on both (`$N` parameters,
//! which SQLite reads too), written once and expanded for each engine's pool by
//! [`token_queries!`]. Only a token's SHA-256 is stored; times are Unix seconds.

use super::StoreError;
use crate::tokens::{Scope, StoredToken, TokenInfo};
use chrono::DateTime;

/// The columns of a token, in [`TokenRow`]'s order.
pub(super) const TOKEN_COLUMNS: &str = "id, name, scopes, token_hash, created_at, created_by, expires_at, last_used_at";

/// How often a token's use is written down (per process): "last used" is shown to the
/// minute, and a busy ingest token must not cost a write per request.
pub const USE_NOTED_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    token_hash: Vec<u8>,
    created_at: i64,
    created_by: Option<String>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TryFrom<TokenRow> for StoredToken {
    type Error = StoreError;

    /// A scope this version does not know is an error: a token is never read with fewer
    /// rights than it was given, or more.
    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        let damaged = |what: String| StoreError::backend(format!("token {} cannot be read: {what}", row.id));
        let time = |secs: i64| DateTime::from_timestamp(secs, 0).ok_or_else(|| damaged("a time out of range".into()));
        let scopes = crate::filter::comma_list(&row.scopes).map(str::parse).collect::<Result<Vec<Scope>, _>>();
        Ok(StoredToken {
            info: TokenInfo {
                id: row.id,
                scopes: scopes.map_err(damaged)?,
                created_at: time(row.created_at)?,
                created_by: row.created_by,
                expires_at: row.expires_at.map(time).transpose()?,
                last_used_at: row.last_used_at.map(time).transpose()?,
                name: row.name,
            },
            token_hash: row.token_hash,
        })
    }
}

pub(super) fn scope_list(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

pub(super) fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("a token named '{name}' already exists"))
}

/// The token queries for one engine (`$db`, its sqlx database).
macro_rules! token_queries {
    ($db:ty) => {
        use $crate::store::api_tokens::{name_taken, scope_list, TokenRow, TOKEN_COLUMNS};
        use $crate::store::{NewToken, StoreError};
        use $crate::tokens::{StoredToken, TokenInfo, TokenRecord};

        pub async fn create(pool: &sqlx::Pool<$db>, new: &NewToken<'_>) -> Result<TokenInfo, StoreError> {
            let row: Result<TokenRow, _> = sqlx::query_as(&format!(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at, created_by, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
            ))
            .bind(new.name)
            .bind(new.token_hash)
            .bind(scope_list(new.scopes))
            .bind(new.now.timestamp())
            .bind(new.created_by)
            .bind(new.expires_at.map(|t| t.timestamp()))
            .fetch_one(pool)
            .await;
            match row {
                Ok(row) => Ok(StoredToken::try_from(row)?.info),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(name_taken(new.name)),
                Err(e) => Err(e.into()),
            }
        }

        /// The token with this hash, unless it has expired.
        pub async fn find(
            pool: &sqlx::Pool<$db>,
            token_hash: &[u8],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<TokenRecord>, StoreError> {
            let row: Option<TokenRow> = sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)"
            ))
            .bind(token_hash)
            .bind(now.timestamp())
            .fetch_optional(pool)
            .await?;
            Ok(row.map(StoredToken::try_from).transpose()?.map(|t| t.info.record()))
        }

        /// Every token, oldest first.
        pub async fn all(pool: &sqlx::Pool<$db>) -> Result<Vec<StoredToken>, StoreError> {
            let rows: Vec<TokenRow> =
                sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).fetch_all(pool).await?;
            rows.into_iter().map(StoredToken::try_from).collect()
        }

        /// Deletes a token: it stops working at once.
        pub async fn revoke(pool: &sqlx::Pool<$db>, id: i64) -> Result<TokenInfo, StoreError> {
            let row: Option<TokenRow> =
                sqlx::query_as(&format!("DELETE FROM api_tokens WHERE id = $1 RETURNING {TOKEN_COLUMNS}"))
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            match row {
                Some(row) => Ok(StoredToken::try_from(row)?.info),
                None => Err(StoreError::NotFound(format!("no API token has the id {id}"))),
            }
        }

        pub async fn used(
            pool: &sqlx::Pool<$db>,
            id: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)")
                .bind(now.timestamp())
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        }
    };
}

pub(super) use token_queries;
