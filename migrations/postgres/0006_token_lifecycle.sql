-- API tokens get a lifecycle: who created each one, when it expires (Unix seconds; NULL:
-- never) and when it was last used (written at most once a minute per token). A revoked
-- token's row is deleted: the log's token.revoked entry is its history.
ALTER TABLE api_tokens ADD COLUMN created_by text;
ALTER TABLE api_tokens ADD COLUMN expires_at bigint;
ALTER TABLE api_tokens ADD COLUMN last_used_at bigint;

-- A role given the rights of docs/postgres-roles.sql before this migration may now note a
-- token's use and revoke a token; it still cannot change what a token may do.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT UPDATE (last_used_at), DELETE ON public.api_tokens TO %I', grantee);
    END LOOP;
END;
$$;
