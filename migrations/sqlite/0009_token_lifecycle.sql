-- API tokens get a lifecycle: who created each one, when it expires (Unix seconds; NULL:
-- never) and when it was last used (written at most once a minute per token). A revoked
-- token's row is deleted (the log's token.revoked entry is its history), so ids become
-- AUTOINCREMENT: a new token never takes the id, and so the actor id `token-N`, of one
-- revoked before it. (No token was ever deleted before this migration.)
CREATE TABLE api_tokens_lifecycle (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    token_hash   BLOB    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT,
    expires_at   INTEGER,
    last_used_at INTEGER
);
INSERT INTO api_tokens_lifecycle (id, name, token_hash, scopes, created_at)
    SELECT id, name, token_hash, scopes, created_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_lifecycle RENAME TO api_tokens;
