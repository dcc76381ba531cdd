-- Retention by whole partitions: when the oldest month partition lies entirely before the
-- cutoff and holds no entry the purge must keep (the newest, or one from `below` on), it is
-- dropped instead of deleted row by row: its runs of sequence numbers are recorded as the
-- row purge records them, the per-day counts and search keys of its days (all its own:
-- partitions are UTC months, days UTC days) go, and the table is dropped. The month is
-- locked against inserts (not reads) before it is looked at; the drop waits at most 40 ms
-- for its exclusive lock (readers and appends would queue behind it); when it cannot have
-- a lock, nothing of this is done, -1 is answered and the row purge (audit_purge) takes
-- the partition in steps instead. With its owner's rights, under the purge's own lock.
CREATE FUNCTION audit_purge_partition(cutoff bigint, purged_at bigint, below bigint DEFAULT NULL)
    RETURNS TABLE (deleted bigint, first_seq bigint, last_seq bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq bigint;
    limit_seq bigint;
    part_name text;
    part_from bigint;
    part_to bigint;
    n bigint;
    lo bigint;
    hi bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342582);
    IF cutoff > (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 30 * 86400000000::bigint THEN
        RAISE EXCEPTION 'a purge keeps at least the last 30 days';
    END IF;
    SELECT h.seq INTO head_seq FROM public.audit_head h;
    IF coalesce((SELECT max(t.seq) FROM public.audit_tree t), 0) < head_seq THEN
        RAISE EXCEPTION 'the Merkle tree is behind the log: nothing is purged until verify is run';
    END IF;
    limit_seq := least(head_seq, coalesce(below, head_seq));

    -- The oldest month partition (named audit_entries_YYYYMM by audit_ensure_partition).
    SELECT c.relname,
           (extract(epoch FROM to_date(substr(c.relname, 15), 'YYYYMM')::timestamp) * 1000000)::bigint,
           (extract(epoch FROM to_date(substr(c.relname, 15), 'YYYYMM')::timestamp + interval '1 month') * 1000000)::bigint
      INTO part_name, part_from, part_to
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.audit_entries'::regclass AND c.relname ~ '^audit_entries_[0-9]{6}$'
     ORDER BY c.relname LIMIT 1;
    IF part_name IS NULL OR part_to > cutoff THEN
        RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    BEGIN
        PERFORM set_config('lock_timeout', '40ms', true);
        -- SHARE: no entry goes into the month from here on (a late one waits), readers
        -- read on. Then it is looked at: an entry that arrived before the lock is seen.
        EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', part_name);
        SELECT h.seq INTO head_seq FROM public.audit_head h;
        limit_seq := least(head_seq, coalesce(below, head_seq));
        EXECUTE format('SELECT max(seq) FROM public.%I', part_name) INTO hi;
        IF hi >= limit_seq THEN
            RETURN QUERY SELECT 0::bigint, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
        EXECUTE format(
            'WITH runs AS ('
            '  INSERT INTO public.audit_purged (first_seq, last_seq, prev_hash, last_hash, purged_at, cutoff) '
            '  SELECT min(r.seq), max(r.seq), (array_agg(r.prev_hash ORDER BY r.seq))[1], '
            '         (array_agg(r.hash ORDER BY r.seq DESC))[1], $1, $2 '
            '  FROM (SELECT e.seq, e.prev_hash, e.hash, e.seq - row_number() OVER (ORDER BY e.seq) AS run '
            '        FROM public.%I e) r GROUP BY r.run '
            '  RETURNING first_seq, last_seq) '
            'SELECT coalesce(sum(last_seq - first_seq + 1), 0)::bigint, min(first_seq), max(last_seq) FROM runs',
            part_name)
            INTO n, lo, hi
            USING purged_at, cutoff;
        DELETE FROM public.audit_daily_counts c
         WHERE c.day >= part_from / 86400000000 AND c.day < part_to / 86400000000;
        DELETE FROM public.audit_actor_counts c
         WHERE c.day >= part_from / 86400000000 AND c.day < part_to / 86400000000;
        DELETE FROM public.audit_search_keys c
         WHERE c.day >= part_from / 86400000000 AND c.day < part_to / 86400000000;
        -- The drop itself locks the table and its parent exclusively: at most 40 ms of
        -- waiting for readers, or all of this is undone and the rows go in steps.
        EXECUTE format('DROP TABLE public.%I', part_name);
    EXCEPTION WHEN lock_not_available THEN
        -- Busy: the row purge takes it in steps (-1 says so: the caller stops trying the
        -- drop for a while).
        RETURN QUERY SELECT -1::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END;
    RETURN QUERY SELECT n, lo, hi;
END;
$$;
REVOKE ALL ON FUNCTION audit_purge_partition(bigint, bigint, bigint) FROM PUBLIC;

-- Whoever may run the purge may run this step of it.
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT p.grantee FROM information_schema.routine_privileges p
        WHERE p.routine_schema = 'public' AND p.routine_name = 'audit_purge' AND p.privilege_type = 'EXECUTE'
          AND p.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_purge_partition(bigint, bigint, bigint) TO %I', grantee);
    END LOOP;
END;
$$;
