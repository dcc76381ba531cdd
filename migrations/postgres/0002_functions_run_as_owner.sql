-- The application may run as a role that can only read and append (docs/postgres-roles.sql):
-- the chain's head and new month partitions are then written by these functions with
-- their owner's rights, never by the application's. The search path is fixed, so that no
-- caller can put its own tables or operators in front of the owner's.
ALTER FUNCTION audit_entries_at_head_only() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION audit_ensure_partition(bigint) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION audit_ensure_partition(bigint) FROM PUBLIC;
