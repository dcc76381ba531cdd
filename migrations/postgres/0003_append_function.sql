-- One append in one statement: a round trip to the server per group of entries instead of
-- one per step (under load each round trip waits for a CPU behind the readers' queries).
-- Sent on its own, the statement is its own transaction, so the commit rides with it.
-- Runs with the caller's rights: the application's role may insert entries and counts.
--
-- It takes the appends' lock (418581342580: "audit" in ASCII, the number every version's
-- appends lock, so that instances of two versions still extend one chain), checks that
-- the head is still the one the entries were chained to (else 40001: the caller reads the
-- head again and chains them anew), registers new actors, inserts the rows (the head-only
-- trigger checks each link and moves the head), adds them to the per-day and per-actor
-- counts and their search keys to theirs (counted by the caller: search.rs), and
-- announces the new head.
CREATE FUNCTION audit_append(
    head_seq bigint, head_hash bytea,
    seqs bigint[], tss bigint[], days bigint[], event_types text[], severities bigint[], actor_types text[],
    actor_ids text[], actor_names text[], id_keys text[], name_keys text[],
    resource_types text[], resource_ids text[], resource_names text[], descriptions text[], details text[],
    ip_addresses text[], user_agents text[], received_ats bigint[], token_ids bigint[], token_names text[],
    prev_hashes bytea[], hashes bytea[], words text[],
    key_names text[], key_days bigint[], key_severities bigint[], key_counts bigint[]
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

    PERFORM pg_notify('audit_head', seqs[array_upper(seqs, 1)]::text);
END;
$$;
