-- The log as a Merkle tree (RFC 6962; app/src/integrity.rs, docs/integrity.md). The row of
-- entry N holds the hashes entry N completes: its leaf hash, then the root of each perfect
-- subtree it closes (trailing_zeros(N) + 1 hashes of 32 bytes, about two per entry), so a
-- proof or a root reads O(log n) rows. The rows are made by the appending instance from
-- the tree's frontier and written by audit_append with the entries, under the appends'
-- lock; a database from before this migration gets its rows when a store next opens it.
-- Rows are kept when old entries are purged: proofs for the kept ones still need them.
CREATE TABLE audit_tree (
    seq bigint PRIMARY KEY,
    hashes bytea NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note): one per tree size, since
-- signing the same tree again gives the same note (Ed25519 is deterministic).
-- signed_at is Unix microseconds.
CREATE TABLE audit_checkpoints (
    size bigint PRIMARY KEY,
    root bytea NOT NULL CHECK (length(root) = 32),
    signed_at bigint NOT NULL,
    note text NOT NULL
);

CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_tree_no_change BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();

-- The append of migrations/postgres/0003, which now also writes the entries' tree rows.
DROP FUNCTION audit_append(bigint, bytea, bigint[], bigint[], bigint[], text[], bigint[], text[], text[], text[],
    text[], text[], text[], text[], text[], text[], text[], text[], text[], bigint[], bigint[], text[], bytea[],
    bytea[], text[], text[], bigint[], bigint[], bigint[]);

CREATE FUNCTION audit_append(
    head_seq bigint, head_hash bytea,
    seqs bigint[], tss bigint[], days bigint[], event_types text[], severities bigint[], actor_types text[],
    actor_ids text[], actor_names text[], id_keys text[], name_keys text[],
    resource_types text[], resource_ids text[], resource_names text[], descriptions text[], details text[],
    ip_addresses text[], user_agents text[], received_ats bigint[], token_ids bigint[], token_names text[],
    prev_hashes bytea[], hashes bytea[], words text[],
    key_names text[], key_days bigint[], key_severities bigint[], key_counts bigint[],
    tree_seqs bigint[], tree_hashes bytea[]
) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head public.audit_head%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342580);
    SELECT * INTO head FROM public.audit_head;
    IF head.seq <> head_seq OR head.hash <> head_hash THEN
        RAISE EXCEPTION 'the head of the chain moved: entry % is the head now', head.seq USING ERRCODE = '40001';
    END IF;

    INSERT INTO public.audit_actors (id_key, name_key)
    SELECT DISTINCT i, n FROM unnest(id_keys, name_keys) AS u (i, n)
    ON CONFLICT (id_key, name_key) DO NOTHING;

    INSERT INTO public.audit_entries (seq, ts, event_type, severity, actor_type, actor_id, actor_name, actor_ref,
        resource_type, resource_id, resource_name, description, details, ip_address, user_agent, received_at,
        ingest_token_id, ingest_token_name, prev_hash, hash, words)
    SELECT u.s, u.t, u.et, u.sv, u.at, u.ai, u.an, a.ref, u.rt, u.ri, u.rn, u.d, u.dt, u.ip, u.ua, u.ra, u.ti, u.tn,
           u.ph, u.h, array_to_tsvector(string_to_array(u.w, ' '))
    FROM unnest(seqs, tss, event_types, severities, actor_types, actor_ids, actor_names, id_keys, name_keys,
                resource_types, resource_ids, resource_names, descriptions, details, ip_addresses, user_agents,
                received_ats, token_ids, token_names, prev_hashes, hashes, words)
         AS u (s, t, et, sv, at, ai, an, ik, nk, rt, ri, rn, d, dt, ip, ua, ra, ti, tn, ph, h, w)
    JOIN public.audit_actors a ON a.id_key = u.ik AND a.name_key = u.nk
    ORDER BY u.s;

    INSERT INTO public.audit_daily_counts (day, event_type, severity, actor_type, n)
    SELECT d, et, sv, at, count(*) FROM unnest(days, event_types, severities, actor_types) AS u (d, et, sv, at)
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, event_type, severity, actor_type) DO UPDATE SET n = audit_daily_counts.n + excluded.n;

    INSERT INTO public.audit_actor_counts (actor_ref, day, event_type, severity, n)
    SELECT a.ref, u.d, u.et, u.sv, count(*)
    FROM unnest(id_keys, name_keys, days, event_types, severities) AS u (ik, nk, d, et, sv)
    JOIN public.audit_actors a ON a.id_key = u.ik AND a.name_key = u.nk
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (actor_ref, day, event_type, severity) DO UPDATE SET n = audit_actor_counts.n + excluded.n;

    INSERT INTO public.audit_search_keys (key, day, severity, n)
    SELECT * FROM unnest(key_names, key_days, key_severities, key_counts)
    ON CONFLICT (key, day, severity) DO UPDATE SET n = audit_search_keys.n + excluded.n;

    INSERT INTO public.audit_tree (seq, hashes) SELECT * FROM unnest(tree_seqs, tree_hashes);

    PERFORM pg_notify('audit_head', seqs[array_upper(seqs, 1)]::text);
END;
$$;

-- A role given the rights of docs/postgres-roles.sql before this migration may append to
-- the tree and store checkpoints, and call the new append.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT ON public.audit_tree, public.audit_checkpoints TO %I', grantee);
        EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_append TO %I', grantee);
    END LOOP;
END;
$$;
