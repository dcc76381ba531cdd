//! API tokens on PostgreSQL: only each token's SHA-256 is stored.

use crate::store::rows::{stored_tokens, TOKEN_COLUMNS};
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
    let rows = sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).fetch_all(pool).await?;
    stored_tokens(rows)
}

/// Adds tokens under the ids they had in another store, in one transaction, skipping those
/// already here (a resumed copy); the ids handed out next start above them. Nothing is
/// added if any id or name here belongs to another token. Returns how many were added.
pub async fn copy(pool: &PgPool, tokens: &[StoredToken]) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let here: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, name, token_hash FROM api_tokens").fetch_all(&mut *tx).await?;
    let mut added = 0;
    for token in tokens {
        let (id, name) = (token.record.id, &token.record.name);
        match here.iter().find(|(i, n, h)| *i == id || n == name || *h == token.token_hash) {
            Some((i, n, h)) if *i == id && n == name && *h == token.token_hash => continue,
            Some((i, n, _)) => {
                return Err(StoreError::Conflict(format!(
                    "the source's token {id} ('{name}') clashes with token {i} ('{n}') here: this database holds \
                     another store's tokens"
                )))
            }
            None => {}
        }
        let listed: Vec<&str> = token.record.scopes.iter().map(|s| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, scopes, created_at) OVERRIDING SYSTEM VALUE \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(&token.token_hash)
        .bind(listed.join(","))
        .bind(token.created_at)
        .execute(&mut *tx)
        .await?;
        added += 1;
    }
    if added > 0 {
        sqlx::query("SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), (SELECT max(id) FROM api_tokens))")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(added)
}
