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
