-- The people who sign in, as on SQLite (migrations/sqlite/0008_accounts.sql): a username
-- is unique whatever its case (`username_key`), ids are never reused, times are Unix
-- microseconds. Unlike entries, users and their sessions are changed and deleted: the
-- application's role may do both (docs/postgres-roles.sql).
CREATE TABLE users (
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text    NOT NULL,
    username_key    text    NOT NULL UNIQUE,
    display_name    text    NOT NULL,
    role            text    NOT NULL CHECK (role IN ('admin', 'auditor')),
    password_hash   text    NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    created_at      bigint  NOT NULL,
    last_login_at   bigint,
    failed_attempts integer NOT NULL DEFAULT 0,
    first_failed_at bigint,
    locked_until    bigint
);

-- Signed-in sessions, as on SQLite: only the SHA-256 of a session's secret is kept.
CREATE TABLE sessions (
    token_hash   bytea  PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    ip_address   text,
    user_agent   text
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- A role given the rights of docs/postgres-roles.sql before this table existed gets its
-- rights on it too.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.users, public.sessions TO %I', grantee);
    END LOOP;
END;
$$;
