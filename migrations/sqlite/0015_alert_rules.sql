-- Alert rules (Settings > Alerts, /admin/alert-rules): `config` is the rule's settings as
-- JSON (app/src/alert_rules.rs RuleConfig). Names are unique ignoring case (`name_key`).
-- The built-in rule watches failed sign-ins: it may be changed or disabled, not deleted.
CREATE TABLE alert_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    config     TEXT    NOT NULL,
    builtin    INTEGER NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

INSERT INTO alert_rules (name, name_key, config, builtin, version, created_at, created_by, updated_at, updated_by)
VALUES ('Failed sign-ins', 'failed sign-ins',
        '{"event_types":["auth.login.failed"],"min_severity":"info","threshold":{"count":5,"window_seconds":600,"group_by":"details.username"},"cooldown_seconds":600,"destinations":[],"enabled":true}',
        1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, 'system',
        CAST(strftime('%s', 'now') AS INTEGER) * 1000000, 'system');

-- Where each job that follows the log stands (the alert evaluator: 'alerts').
CREATE TABLE job_cursors (
    name   TEXT    PRIMARY KEY,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;
