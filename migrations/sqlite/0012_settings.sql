-- Settings (Settings > Advanced and later pages): a row for each setting changed from its
-- default; a setting without one has its default (app/src/settings.rs). Every change is
-- recorded in the log as `settings.updated`, with its old and new value. Times are Unix
-- microseconds.
CREATE TABLE settings (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    -- The value the last change replaced: a change answers it in the same statement.
    previous   TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
