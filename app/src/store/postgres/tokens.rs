//! API tokens on PostgreSQL: only each token's SHA-256 is stored.

use crate::store::StoreError;
use crate::tokens::{Scope, StoredToken, TokenRecord};
use chrono::Utc;
use sqlx::PgPool;

pub async fn create(pool: &PgPool, name: &str, scopes: &[Scope], token_hash: &[u8]) -> Result<TokenRecord, StoreError> {
    let listed: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let result = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
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

pub async fn find(pool: &PgPool, token_hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, scopes FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id, name, scopes)| TokenRecord {
        id,
        name,
        scopes: crate::filter::comma_list(&scopes).filter_map(|s| s.parse().ok()).collect(),
    }))
}

pub async fn all(pool: &PgPool) -> Result<Vec<StoredToken>, StoreError> {
    let rows: Vec<(i64, String, String, Vec<u8>, i64)> =
        sqlx::query_as("SELECT id, name, scopes, token_hash, created_at FROM api_tokens ORDER BY id")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(StoredToken::from_columns).collect())
}

/// Adds a token under the id it had in another store, unless that id is already taken by
/// the same token (a resumed copy); the ids handed out next start above it.
pub async fn copy(pool: &PgPool, token: &StoredToken) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let existing: Option<(String, Vec<u8>)> = sqlx::query_as("SELECT name, token_hash FROM api_tokens WHERE id = $1")
        .bind(token.record.id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some((name, hash)) = existing {
        if name == token.record.name && hash == token.token_hash {
            return Ok(false);
        }
        return Err(StoreError::Conflict(format!(
            "token {} ('{name}') here is not the source's token {} ('{}'): this database holds another store's tokens",
            token.record.id, token.record.id, token.record.name
        )));
    }
    let listed: Vec<&str> = token.record.scopes.iter().map(|s| s.as_str()).collect();
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (id, name, token_hash, scopes, created_at) OVERRIDING SYSTEM VALUE \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token.record.id)
    .bind(&token.record.name)
    .bind(&token.token_hash)
    .bind(listed.join(","))
    .bind(token.created_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::Conflict(format!(
                "a token named '{}' (or with the same hash) already exists here under another id",
                token.record.name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    sqlx::query("SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), (SELECT max(id) FROM api_tokens))")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
