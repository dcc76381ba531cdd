-- The purge step takes an upper bound on sequence numbers (`below`, exclusive; NULL for
-- none besides the newest entry): a purge that archived the entries due first deletes
-- exactly those, never an entry with an old timestamp that arrived after the archive was
-- written. Otherwise the step of migration 0008 unchanged; the three-argument function
-- goes, its grants passed to the new one.
CREATE FUNCTION audit_purge(cutoff bigint, max_rows integer, purged_at bigint, below bigint DEFAULT NULL)
    RETURNS TABLE (deleted bigint, first_seq bigint, last_seq bigint, more boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq bigint;
    limit_seq bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342582);
    IF cutoff > (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 30 * 86400000000::bigint THEN
        RAISE EXCEPTION 'a purge keeps at least the last 30 days';
    END IF;
    SELECT h.seq INTO head_seq FROM public.audit_head h;
    limit_seq := least(head_seq, coalesce(below, head_seq));
    IF coalesce((SELECT max(t.seq) FROM public.audit_tree t), 0) < head_seq THEN
        RAISE EXCEPTION 'the Merkle tree is behind the log: nothing is purged until verify is run';
    END IF;
    CREATE TEMP TABLE audit_due ON COMMIT DROP AS
        SELECT e.seq, e.ts, floor(e.ts::numeric / 86400000000)::int8 AS day, e.event_type, e.severity,
               e.actor_type, e.actor_ref, e.words, e.prev_hash, e.hash
        FROM public.audit_entries e WHERE e.ts < cutoff AND e.seq < limit_seq ORDER BY e.ts, e.seq LIMIT max_rows;
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
               EXISTS (SELECT 1 FROM public.audit_entries e WHERE e.ts < cutoff AND e.seq < limit_seq)
        FROM audit_due d;
    DROP TABLE audit_due;
END;
$$;
REVOKE ALL ON FUNCTION audit_purge(bigint, integer, bigint, bigint) FROM PUBLIC;

DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT p.grantee FROM information_schema.routine_privileges p
        WHERE p.routine_schema = 'public' AND p.routine_name = 'audit_purge' AND p.privilege_type = 'EXECUTE'
          AND p.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_purge(bigint, integer, bigint, bigint) TO %I', grantee);
    END LOOP;
END;
$$;
DROP FUNCTION audit_purge(bigint, integer, bigint);
