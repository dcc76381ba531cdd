-- Every distinct actor (its id and name, lower-cased as the actor filter compares them)
-- gets a small integer, so that entries are indexed by an integer rather than by two
-- case-insensitive strings, which made every insert several times dearer.
CREATE TABLE audit_actors (
    ref      INTEGER PRIMARY KEY,
    id_key   TEXT NOT NULL,
    name_key TEXT NOT NULL,
    UNIQUE (id_key, name_key)
);
CREATE INDEX audit_actors_name_key ON audit_actors (name_key);

-- The append-only audit store. Timestamps are microseconds since the Unix epoch (UTC) so
-- that they sort and range-scan as integers; `seq` is the position in the hash chain.
CREATE TABLE audit_entries (
    seq           INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,
    -- The latest ts of this and every earlier entry: no entry before this one in the
    -- chain is newer, which lets a search walk its matches newest-first by sequence
    -- and know when the rest cannot reach the page (see store/sqlite/search.rs).
    ts_high       INTEGER NOT NULL,
    event_type    TEXT    NOT NULL,
    severity      INTEGER NOT NULL CHECK (severity IN (0, 1, 2)),
    actor_type    TEXT    NOT NULL CHECK (actor_type IN ('user', 'system', 'service')),
    actor_id      TEXT    NOT NULL,
    actor_name    TEXT    NOT NULL,
    actor_ref     INTEGER NOT NULL REFERENCES audit_actors (ref),
    resource_type TEXT,
    resource_id   TEXT,
    resource_name TEXT,
    description   TEXT    NOT NULL,
    details       TEXT    NOT NULL,
    ip_address    TEXT,
    user_agent    TEXT,
    prev_hash     BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash          BLOB    NOT NULL CHECK (length(hash) = 32)
);

-- Newest first is ORDER BY ts DESC, seq DESC: every index below ends in ts, and SQLite
-- appends the rowid (seq), so each one yields rows already in display order.
CREATE INDEX audit_entries_ts ON audit_entries (ts);
CREATE INDEX audit_entries_type_ts ON audit_entries (event_type, ts);
CREATE INDEX audit_entries_severity_ts ON audit_entries (severity, ts);
CREATE INDEX audit_entries_actor_ts ON audit_entries (actor_ref, ts);

-- Entries are never changed. Only the retention purge may delete, and it will arrive
-- with its own migration that replaces the delete trigger with a guarded one.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

-- Full-text search over the spec's search fields. detail=none keeps only which entries
-- hold a word (enough for the all-words prefix search the API offers) and makes the
-- index several times cheaper to build. Rows are added by the append, in bulk.
CREATE VIRTUAL TABLE audit_search USING fts5(
    event_type, actor_name, description, resource_name,
    content = 'audit_entries', content_rowid = 'seq',
    tokenize = 'unicode61', detail = none
);

-- The indexed words, so that a search word's prefix can be expanded into the few whole
-- words it stands for: a query on whole words is several times cheaper than a prefix one.
CREATE VIRTUAL TABLE audit_search_vocab USING fts5vocab(audit_search, 'row');

-- Per-day counts, so that the total of a page (and the timeline) never counts a million
-- rows: whole days come from here, only the partial days at the edges from the entries.
-- The append adds one aggregated row per batch and key, not one write per entry.
CREATE TABLE audit_daily_counts (
    day        INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    severity   INTEGER NOT NULL,
    actor_type TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (day, event_type, severity, actor_type)
) WITHOUT ROWID;

-- The same per actor.
CREATE TABLE audit_actor_counts (
    actor_ref  INTEGER NOT NULL,
    day        INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    severity   INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (actor_ref, day, event_type, severity)
) WITHOUT ROWID;

-- Bearer tokens for the REST API: only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    token_hash BLOB    NOT NULL UNIQUE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
