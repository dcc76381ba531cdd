-- API tokens get a lifecycle: who created each one, when it expires (Unix seconds; NULL:
-- never) and when it was last used (written at most once a minute per token). A revoked
-- token's row is deleted: the log's token.revoked entry is its history.
ALTER TABLE api_tokens ADD COLUMN created_by TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
