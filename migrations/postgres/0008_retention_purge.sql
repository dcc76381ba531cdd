-- The retention purge, the only delete (app/src/store/retention.rs): as on SQLite
-- (migrations/sqlite/0011), each run of sequence numbers it removes is recorded first,
-- with the hashes at its ends, and the Merkle tree keeps its rows. The delete itself is a
-- function owned by the schema's owner (the application's role may not delete entries),
-- and a trigger refuses any delete of an entry no purge record covers, and of the newest.
CREATE TABLE audit_purged (
    first_seq bigint PRIMARY KEY CHECK (first_seq > 0),
    last_seq  bigint NOT NULL UNIQUE,
    prev_hash bytea  NOT NULL CHECK (length(prev_hash) = 32),
    last_hash bytea  NOT NULL CHECK (length(last_hash) = 32),
    purged_at bigint NOT NULL,
    cutoff    bigint NOT NULL,
    CHECK (last_seq >= first_seq)
);

CREATE FUNCTION audit_purged_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'purge records are append-only';
END;
$$;
CREATE TRIGGER audit_purged_no_change BEFORE UPDATE OR DELETE ON audit_purged
    FOR EACH ROW EXECUTE FUNCTION audit_purged_append_only();
CREATE TRIGGER audit_purged_no_truncate BEFORE TRUNCATE ON audit_purged
    FOR EACH STATEMENT EXECUTE FUNCTION audit_purged_append_only();

-- Updates stay refused; a delete needs a purge record covering the entry, and never takes
-- the newest entry (the head the next append links to).
DROP TRIGGER audit_entries_no_change ON audit_entries;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();

CREATE FUNCTION audit_entries_purge_only() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The record that starts last at or before the entry: one lookup of the primary key.
    IF OLD.seq >= (SELECT seq FROM public.audit_head)
       OR coalesce((SELECT p.last_seq FROM public.audit_purged p WHERE p.first_seq <= OLD.seq
                    ORDER BY p.first_seq DESC LIMIT 1), 0) < OLD.seq THEN
        RAISE EXCEPTION 'audit entries are deleted only by the retention purge, which records what it deletes';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER audit_entries_purge_only BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_purge_only();

-- One step of the purge: at most `max_rows` entries older than `cutoff` (microseconds),
-- oldest first, never the newest; their runs recorded, their counts and search keys taken
-- out, then the rows deleted. With its owner's rights, in the caller's transaction, one
-- step at a time across instances (a lock of its own: appends are not held up). It
-- refuses a cutoff within the last 30 days by the database's clock (retention is 30 days
-- at least), and a log whose Merkle tree is behind it (the tree rows are what proofs of
-- the kept entries need).
CREATE FUNCTION audit_purge(cutoff bigint, max_rows integer, purged_at bigint)
    RETURNS TABLE (deleted bigint, first_seq bigint, last_seq bigint, more boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342582);
    IF cutoff > (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 30 * 86400000000::bigint THEN
        RAISE EXCEPTION 'a purge keeps at least the last 30 days';
    END IF;
    SELECT h.seq INTO head_seq FROM public.audit_head h;
    IF coalesce((SELECT max(t.seq) FROM public.audit_tree t), 0) < head_seq THEN
        RAISE EXCEPTION 'the Merkle tree is behind the log: nothing is purged until verify is run';
    END IF;
    CREATE TEMP TABLE audit_due ON COMMIT DROP AS
        SELECT e.seq, e.ts, floor(e.ts::numeric / 86400000000)::int8 AS day, e.event_type, e.severity,
               e.actor_type, e.actor_ref, e.words, e.prev_hash, e.hash
        FROM public.audit_entries e WHERE e.ts < cutoff AND e.seq < head_seq ORDER BY e.ts, e.seq LIMIT max_rows;
    IF NOT EXISTS (SELECT 1 FROM audit_due) THEN
        DROP TABLE audit_due;
        RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint, false;
        RETURN;
    END IF;

    INSERT INTO public.audit_purged (first_seq, last_seq, prev_hash, last_hash, purged_at, cutoff)
    SELECT min(r.seq), max(r.seq), (array_agg(r.prev_hash ORDER BY r.seq))[1],
           (array_agg(r.hash ORDER BY r.seq DESC))[1], audit_purge.purged_at, audit_purge.cutoff
    FROM (SELECT d.seq, d.prev_hash, d.hash, d.seq - row_number() OVER (ORDER BY d.seq) AS run FROM audit_due d) r
    GROUP BY r.run;

    UPDATE public.audit_daily_counts c SET n = c.n - g.n
    FROM (SELECT d.day, d.event_type, d.severity, d.actor_type, count(*) AS n FROM audit_due d GROUP BY 1, 2, 3, 4) g
    WHERE c.day = g.day AND c.event_type = g.event_type AND c.severity = g.severity AND c.actor_type = g.actor_type;
    DELETE FROM public.audit_daily_counts c USING (SELECT DISTINCT d.day FROM audit_due d) g
    WHERE c.day = g.day AND c.n <= 0;

    UPDATE public.audit_actor_counts c SET n = c.n - g.n
    FROM (SELECT d.actor_ref, d.day, d.event_type, d.severity, count(*) AS n FROM audit_due d GROUP BY 1, 2, 3, 4) g
    WHERE c.actor_ref = g.actor_ref AND c.day = g.day AND c.event_type = g.event_type AND c.severity = g.severity;
    DELETE FROM public.audit_actor_counts c USING (SELECT DISTINCT d.day FROM audit_due d) g
    WHERE c.day = g.day AND c.n <= 0;

    -- Each entry's search keys (its words, and each beginning of three to eight
    -- characters), once per entry, as the append counted them.
    UPDATE public.audit_search_keys c SET n = c.n - g.n
    FROM (SELECT k.key, d.day, d.severity, count(*) AS n FROM audit_due d
          CROSS JOIN LATERAL (
              SELECT word AS key FROM unnest(tsvector_to_array(d.words)) AS word
              UNION
              SELECT left(word, chars) FROM unnest(tsvector_to_array(d.words)) AS word,
                     generate_series(3, least(char_length(word) - 1, 8)) AS chars
          ) AS k
          GROUP BY 1, 2, 3) g
    WHERE c.key = g.key AND c.day = g.day AND c.severity = g.severity;
    DELETE FROM public.audit_search_keys c USING (SELECT DISTINCT d.day FROM audit_due d) g
    WHERE c.day = g.day AND c.n <= 0;

    DELETE FROM public.audit_entries e USING audit_due d WHERE e.ts = d.ts AND e.seq = d.seq;

    RETURN QUERY
        SELECT count(*)::bigint, min(d.seq), max(d.seq),
               EXISTS (SELECT 1 FROM public.audit_entries e WHERE e.ts < cutoff AND e.seq < head_seq)
        FROM audit_due d;
    DROP TABLE audit_due;
END;
$$;
REVOKE ALL ON FUNCTION audit_purge(bigint, integer, bigint) FROM PUBLIC;

-- A role given the rights of docs/postgres-roles.sql before this migration may read the
-- purge records and run the purge (never delete by itself).
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = 'public' AND g.table_name = 'audit_daily_counts' AND g.privilege_type = 'INSERT'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT SELECT ON public.audit_purged TO %I', grantee);
        EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_purge(bigint, integer, bigint) TO %I', grantee);
    END LOOP;
END;
$$;
