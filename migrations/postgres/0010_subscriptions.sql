-- The cloud subscriptions, as on SQLite (migrations/sqlite/0013).
CREATE TABLE subscriptions (
    subscription_id text COLLATE "C" PRIMARY KEY,
    display_name    text NOT NULL,
    cloud           text NOT NULL CHECK (cloud IN ('azure', 'aws', 'gcp')),
    added_at        bigint NOT NULL,
    added_by        text NOT NULL
);

-- A role given the rights of docs/postgres-roles.sql before this migration may read, add
-- and remove subscriptions.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON public.subscriptions TO %I', grantee);
    END LOOP;
END;
$$;
