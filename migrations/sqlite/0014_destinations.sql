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
-- so that an advance computed before it is refused.
CREATE TABLE delivery_state (
    destination_id INTEGER PRIMARY KEY,
    cursor         INTEGER NOT NULL,
    epoch          INTEGER NOT NULL DEFAULT 0
);
