-- The purge step of migration 0011, made cheap at scale. That step deleted the search-key
-- and actor count rows its subtraction emptied by their day alone, which neither table's
-- index leads with, so every step read both tables whole; and its plans hashed whole
-- tables (below). Here the subtraction returns the rows it emptied and only those are
-- deleted, by their primary keys; the daily counts lead with the day and stay as they
-- were. Replaced in place, so the grants on the function stay.
CREATE OR REPLACE FUNCTION audit_purge(cutoff bigint, max_rows integer, purged_at bigint, below bigint DEFAULT NULL)
    RETURNS TABLE (deleted bigint, first_seq bigint, last_seq bigint, more boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    -- Every join here takes a step's few hundred rows to their rows in a large table by its
    -- key. The planner cannot see that (the step's table is new each time, and it guesses a
    -- thousand search keys an entry where there are about thirty): it chose to hash whole
    -- tables and to compile the plan (JIT), 290 ms for a step of 100 entries at a million
    -- entries instead of 23 ms.
    SET jit = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
    head_seq bigint;
    limit_seq bigint;
    emptied_keys text[];
    emptied_refs bigint[];
    emptied_days bigint[];
    emptied_types text[];
    emptied_severities bigint[];
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

    -- A row updated by a statement cannot be deleted by the same one: the emptied rows'
    -- keys are kept, then deleted by the next.
    WITH emptied AS (
        UPDATE public.audit_actor_counts c SET n = c.n - g.n
        FROM (SELECT d.actor_ref, d.day, d.event_type, d.severity, count(*) AS n FROM audit_due d GROUP BY 1, 2, 3, 4) g
        WHERE c.actor_ref = g.actor_ref AND c.day = g.day AND c.event_type = g.event_type AND c.severity = g.severity
        RETURNING c.actor_ref, c.day, c.event_type, c.severity, c.n)
    SELECT array_agg(e.actor_ref), array_agg(e.day), array_agg(e.event_type), array_agg(e.severity)
      INTO emptied_refs, emptied_days, emptied_types, emptied_severities
      FROM emptied e WHERE e.n <= 0;
    DELETE FROM public.audit_actor_counts c
     USING unnest(emptied_refs, emptied_days, emptied_types, emptied_severities) AS t(actor_ref, day, event_type, severity)
     WHERE c.actor_ref = t.actor_ref AND c.day = t.day AND c.event_type = t.event_type AND c.severity = t.severity;

    -- Each entry's search keys (its words, and each beginning of three to eight
    -- characters), once per entry, as the append counted them.
    WITH emptied AS (
        UPDATE public.audit_search_keys c SET n = c.n - g.n
        FROM (SELECT k.key, d.day, d.severity, count(*) AS n FROM audit_due d
              CROSS JOIN LATERAL (
                  SELECT word AS key FROM unnest(tsvector_to_array(d.words)) AS word
                  UNION
                  SELECT left(word, chars) FROM unnest(tsvector_to_array(d.words)) AS word,
                         generate_series(3, least(char_length(word) - 1, 8)) AS chars
              ) AS k
              GROUP BY 1, 2, 3) g
        WHERE c.key = g.key AND c.day = g.day AND c.severity = g.severity
        RETURNING c.key, c.day, c.severity, c.n)
    SELECT array_agg(e.key), array_agg(e.day), array_agg(e.severity)
      INTO emptied_keys, emptied_days, emptied_severities
      FROM emptied e WHERE e.n <= 0;
    DELETE FROM public.audit_search_keys c
     USING unnest(emptied_keys, emptied_days, emptied_severities) AS t(key, day, severity)
     WHERE c.key = t.key AND c.day = t.day AND c.severity = t.severity;

    DELETE FROM public.audit_entries e USING audit_due d WHERE e.ts = d.ts AND e.seq = d.seq;

    RETURN QUERY
        SELECT count(*)::bigint, min(d.seq), max(d.seq),
               EXISTS (SELECT 1 FROM public.audit_entries e WHERE e.ts < cutoff AND e.seq < limit_seq)
        FROM audit_due d;
    DROP TABLE audit_due;
END;
$$;
