-- The cloud subscriptions discovery scans (Settings > Subscriptions): added and removed by
-- admins, each change recorded in the log as `subscription.added` / `subscription.removed`.
-- The id is the subscription's GUID in lower case. Times are Unix microseconds.
CREATE TABLE subscriptions (
    subscription_id TEXT    PRIMARY KEY,
    display_name    TEXT    NOT NULL,
    cloud           TEXT    NOT NULL CHECK (cloud IN ('azure', 'aws', 'gcp')),
    added_at        INTEGER NOT NULL,
    added_by        TEXT    NOT NULL
) WITHOUT ROWID;
