-- The people who sign in. A username is unique whatever its case (`username_key` is the
-- name lower-cased); ids are never reused (AUTOINCREMENT), so that nothing recorded for a
-- deleted user passes to a later one of the same name. Times are Unix microseconds.
-- `failed_attempts` counts failed sign-ins since `first_failed_at` (the lockout window);
-- `locked_until` is set when they reach the limit.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT    NOT NULL,
    username_key    TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'auditor')),
    password_hash   TEXT    NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL,
    last_login_at   INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER,
    locked_until    INTEGER
);

-- Signed-in sessions. Only the SHA-256 of a session's secret (the cookie's value) is
-- kept, so whoever reads the database cannot take a session over. Timeouts (idle and
-- absolute) are the server's settings, applied to these two times on every use.
CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip_address   TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);
