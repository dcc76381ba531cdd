//! API tokens in SQLite: only each token's SHA-256 is stored.

use crate::store::rows::{stored_tokens, TOKEN_COLUMNS};
use crate::store::StoreError;
use crate::tokens::{Scope, StoredToken, TokenRecord};
use chrono::Utc;
use sqlx::SqlitePool;

pub async fn create(
    pool: &SqlitePool,
    name: &str,
    scopes: &[Scope],
    token_hash: &[u8],
) -> Result<TokenRecord, StoreError> {
    let listed: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let result = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(name)
    .bind(token_hash)
    .bind(listed.join(","))
    .bind(Utc::now().timestamp())
    .fetch_one(pool)
    .await;
    match result {
        Ok(id) => Ok(TokenRecord { id, name: name.to_owned(), scopes: scopes.to_vec() }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(format!("a token named '{name}' already exists")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn find(pool: &SqlitePool, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, scopes FROM api_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id, name, scopes)| TokenRecord {
        id,
        name,
        scopes: crate::filter::comma_list(&scopes).filter_map(|s| s.parse().ok()).collect(),
    }))
}

pub async fn all(pool: &SqlitePool) -> Result<Vec<StoredToken>, StoreError> {
    let rows = sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).fetch_all(pool).await?;
    stored_tokens(rows)
}
