-- Delivery destinations (Settings > Integrations, /admin/destinations): a Splunk HTTP Event
-- Collector, a signed webhook or JSON lines on stdout, each with its event filter. `config`
-- is the destination's settings as JSON (app/src/destinations.rs DestinationConfig); the
-- secret (HEC token, signing secret) has a column of its own that no view reads. Names
-- are unique ignoring case (`name_key`, the name in lower case). Ids are never reused.
-- Times are Unix microseconds.
CREATE TABLE destinations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL CHECK (kind IN ('splunk_hec', 'webhook', 'stdout')),
    config     TEXT    NOT NULL,
    secret     TEXT,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

-- Where each destination's delivery stands: the last sequence number delivered (or
-- passed over as not matching). `epoch` goes up when the cursor is moved back (replay),
-- so that an advance computed before it is refused. The rest is its health: `failing` is
-- set once when delivery starts failing and cleared once when it recovers (each change is
-- one `delivery.failed` / `delivery.recovered` entry, whichever instance sees it).
CREATE TABLE delivery_state (
    destination_id  INTEGER PRIMARY KEY,
    cursor          INTEGER NOT NULL,
    epoch           INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL DEFAULT 'idle',
    delivered       INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failing         INTEGER NOT NULL DEFAULT 0,
    failing_since   INTEGER,
    last_success_at INTEGER,
    last_error_at   INTEGER,
    last_error      TEXT,
    next_retry_at   INTEGER
);

-- Entries a receiver refused as bad data (Splunk HEC codes 5, 6, 7, 12, 13): set aside with
-- the reason, recorded as `delivery.parked`, and passed over so that the rest goes on.
CREATE TABLE delivery_parked (
    destination_id INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    parked_at      INTEGER NOT NULL,
    PRIMARY KEY (destination_id, seq)
) WITHOUT ROWID;
