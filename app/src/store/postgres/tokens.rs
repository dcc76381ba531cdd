//! API tokens on PostgreSQL: the queries both engines share, and the copy of another
//! store's tokens (`migrate-store`).

crate::store::api_tokens::token_queries!(sqlx::Postgres);

/// Adds tokens under the ids they had in another store, in one transaction, skipping those
/// already here (a resumed copy); the ids handed out next start above them. Nothing is
/// added if any id or name here belongs to another token. Returns how many were added.
pub async fn copy(pool: &sqlx::PgPool, tokens: &[StoredToken]) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let here: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, name, token_hash FROM api_tokens").fetch_all(&mut *tx).await?;
    let mut added = 0;
    for token in tokens {
        let (id, name) = (token.info.id, &token.info.name);
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
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, scopes, created_at, created_by, expires_at, last_used_at) \
             OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(name)
        .bind(&token.token_hash)
        .bind(scope_list(&token.info.scopes))
        .bind(token.info.created_at.timestamp())
        .bind(token.info.created_by.as_deref())
        .bind(token.info.expires_at.map(|t| t.timestamp()))
        .bind(token.info.last_used_at.map(|t| t.timestamp()))
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
