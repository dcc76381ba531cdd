-- The rights of the role the application connects as, when it is not the owner of the
-- schema (recommended: the owner bypasses every grant). Run as the owner after the first
-- start (or after `certifyclouds serve` has created the schema once as the owner), with
-- psql: psql -v app=certifyclouds_app -f docs/postgres-roles.sql
-- The application role reads everything and appends; it cannot change or remove an
-- entry, move the chain's head, create or drop a partition, or create objects of its
-- own in the schema. It does write the per-day counts (derived data that `verify`
-- re-checks against the entries), and it manages the users who sign in, their sessions and
-- the API tokens.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"app";
GRANT INSERT ON audit_entries, audit_actors, api_tokens, audit_tree, audit_checkpoints TO :"app";
GRANT INSERT, UPDATE ON audit_daily_counts, audit_actor_counts, audit_search_keys TO :"app";
GRANT INSERT, UPDATE, DELETE ON users, sessions TO :"app";
GRANT INSERT, UPDATE ON settings TO :"app";
GRANT INSERT, DELETE ON subscriptions TO :"app";
-- Delivery destinations (Settings > Integrations) and where each one's delivery stands.
GRANT INSERT, UPDATE, DELETE ON destinations, delivery_state, delivery_parked TO :"app";
-- Alert rules (Settings > Alerts) and where the alert evaluator stands in the log.
GRANT INSERT, UPDATE, DELETE ON alert_rules, job_cursors TO :"app";
-- Tokens: created, noted when used, revoked (deleted); what a token may do never changes.
GRANT UPDATE (last_used_at), DELETE ON api_tokens TO :"app";
GRANT EXECUTE ON FUNCTION audit_ensure_partition(bigint), audit_ensure_months_ahead(), audit_upkeep(), audit_append
    TO :"app";
-- The retention purge: the only delete, with the owner's rights, recording what it removes
-- (SELECT on audit_purged comes with ALL TABLES above). The role itself deletes nothing.
GRANT EXECUTE ON FUNCTION audit_purge(bigint, integer, bigint, bigint), audit_purge_partition(bigint, bigint, bigint)
    TO :"app";
