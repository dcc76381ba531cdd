-- Settings, as on SQLite (migrations/sqlite/0012): a row for each setting changed from its
-- default, every change recorded in the log as `settings.updated`.
CREATE TABLE settings (
    name       text COLLATE "C" PRIMARY KEY,
    value      text NOT NULL,
    previous   text,
    updated_at bigint NOT NULL
);

-- A role given the rights of docs/postgres-roles.sql before this migration may read and
-- change settings.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON public.settings TO %I', grantee);
    END LOOP;
END;
$$;
