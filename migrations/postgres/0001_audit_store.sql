-- The audit store on PostgreSQL: the same entries, chain and counts as the SQLite store
-- (migrations/sqlite), laid out for size. Times are microseconds since the epoch (bigint)
-- as in SQLite, so that both engines share their SQL conditions and write the same
-- export bytes. Text that is compared or ordered is COLLATE "C": filters and suggestions
-- compare bytes, as SQLite does, whatever the server's default collation.

CREATE TABLE audit_actors (
    ref      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_key   text COLLATE "C" NOT NULL,
    name_key text COLLATE "C" NOT NULL,
    UNIQUE (id_key, name_key)
);
CREATE INDEX audit_actors_name_key ON audit_actors (name_key);

-- Partitioned by month of `ts`, so that a retention purge drops whole months. A row's
-- place in the chain is `seq`; the head-only trigger below keeps it gapless and unique
-- (a unique index across partitions would have to include `ts`).
CREATE TABLE audit_entries (
    seq               bigint NOT NULL CHECK (seq > 0),
    ts                bigint NOT NULL,
    event_type        text COLLATE "C" NOT NULL,
    severity          bigint NOT NULL CHECK (severity IN (0, 1, 2)),
    actor_type        text COLLATE "C" NOT NULL CHECK (actor_type IN ('user', 'system', 'service')),
    actor_id          text NOT NULL,
    actor_name        text NOT NULL,
    actor_ref         bigint NOT NULL,
    resource_type     text,
    resource_id       text,
    resource_name     text,
    description       text NOT NULL,
    -- Text, not jsonb: jsonb reorders keys, and the stored bytes are hashed and exported.
    details           text NOT NULL,
    ip_address        text,
    user_agent        text,
    received_at       bigint,
    ingest_token_id   bigint,
    ingest_token_name text,
    prev_hash         bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash              bytea NOT NULL CHECK (length(hash) = 32),
    -- The entry's search words, made by the application (app/src/search.rs) so that both
    -- engines split and fold words alike; stored as lexemes, never parsed by PostgreSQL.
    words             tsvector NOT NULL,
    PRIMARY KEY (ts, seq)
) PARTITION BY RANGE (ts);

CREATE INDEX audit_entries_seq ON audit_entries (seq);
CREATE INDEX audit_entries_type_ts ON audit_entries (event_type, ts, seq);
CREATE INDEX audit_entries_notable_ts ON audit_entries (severity, ts, seq) WHERE severity > 0;
CREATE INDEX audit_entries_actor_ts ON audit_entries (actor_ref, ts, seq);
CREATE INDEX audit_entries_system_ts ON audit_entries (ts, seq) WHERE actor_type = 'system';
CREATE INDEX audit_entries_words ON audit_entries USING gin (words);

-- The end of the chain: one row, moved only by the trigger that checks each insert.
CREATE TABLE audit_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint NOT NULL,
    hash     bytea NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Checks once per statement that the inserted rows are the next links of the chain (each
-- row's sequence number one above the row before it and its prev_hash that row's hash,
-- the first one's the head's), then moves the head. Once per statement and in one pass
-- over the rows in sequence order: a row trigger updated the head row once per entry,
-- and each update of one row in one transaction made the next one slower (ingest at 3k
-- entries/s instead of 26k).
CREATE FUNCTION audit_entries_at_head_only() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head public.audit_head%ROWTYPE;
    rows_in bigint;
    broken bigint;
    last_seq bigint;
    last_hash bytea;
BEGIN
    SELECT * INTO head FROM public.audit_head FOR UPDATE;
    SELECT count(*),
           count(*) FILTER (WHERE seq IS DISTINCT FROM before_seq + 1 OR prev_hash IS DISTINCT FROM before_hash),
           max(seq),
           (array_agg(hash ORDER BY seq DESC))[1]
        INTO rows_in, broken, last_seq, last_hash
        FROM (SELECT seq, prev_hash, hash,
                     coalesce(lag(seq) OVER by_seq, head.seq) AS before_seq,
                     coalesce(lag(hash) OVER by_seq, head.hash) AS before_hash
              FROM new_entries WINDOW by_seq AS (ORDER BY seq)) AS links;
    IF rows_in = 0 THEN
        RETURN NULL;
    END IF;
    IF broken > 0 THEN
        RAISE EXCEPTION 'audit entries are appended at the head of the chain only';
    END IF;
    UPDATE public.audit_head SET seq = last_seq, hash = last_hash;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_entries_at_head_only AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_at_head_only();

-- Refuses a change of entries; on a partition, also an insert that names the partition
-- itself (a statement trigger of the parent fires only for statements that name the
-- parent, so the head-only check above would not see it).
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'audit entries are inserted through audit_entries only, at the head of the chain';
    END IF;
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$;

CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

-- The month partition that holds `at` (microseconds), created if missing, with the
-- trigger that refuses inserts and truncates naming it. Appends call it for each month
-- they have not seen; the store's upkeep, for the months around now. It runs with its
-- owner's rights (the application's role may be one that cannot create tables), with a
-- search path no other role can write to.
CREATE FUNCTION audit_ensure_partition(micros bigint) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    first_day timestamp := date_trunc('month', to_timestamp(micros / 1000000.0) AT TIME ZONE 'UTC');
    part_name text := format('audit_entries_%s', to_char(first_day, 'YYYYMM'));
    from_micros bigint := (extract(epoch FROM first_day) * 1000000)::bigint;
    to_micros bigint := (extract(epoch FROM first_day + interval '1 month') * 1000000)::bigint;
BEGIN
    IF to_regclass(format('public.%I', part_name)) IS NULL THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_entries FOR VALUES FROM (%s) TO (%s)',
                       part_name, from_micros, to_micros);
        EXECUTE format('CREATE TRIGGER audit_entries_through_parent_only BEFORE INSERT OR TRUNCATE ON public.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_entries_append_only()', part_name);
    END IF;
EXCEPTION WHEN duplicate_table THEN
    -- Another instance created it at the same moment.
    NULL;
END;
$$;
REVOKE ALL ON FUNCTION audit_ensure_partition(bigint) FROM PUBLIC;

-- The partitions of last month to three months ahead, so that appends seldom create one
-- (creating one waits for every reader of the table): at migration, at every start and
-- with the hourly upkeep.
CREATE FUNCTION audit_ensure_months_ahead() RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM public.audit_ensure_partition((extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC')
                                                   + make_interval(months => k)) * 1000000)::bigint)
    FROM generate_series(-1, 3) AS k;
END;
$$;
REVOKE ALL ON FUNCTION audit_ensure_months_ahead() FROM PUBLIC;

-- The store's hourly upkeep (one instance runs it): the months ahead and fresh planner
-- statistics. With its owner's rights: ANALYZE skips tables the caller does not own, and
-- autovacuum never analyses a partitioned parent.
CREATE FUNCTION audit_upkeep() RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM public.audit_ensure_months_ahead();
    ANALYZE public.audit_entries, public.audit_actors, public.audit_daily_counts, public.audit_actor_counts;
END;
$$;
REVOKE ALL ON FUNCTION audit_upkeep() FROM PUBLIC;

SELECT audit_ensure_months_ahead();

CREATE TABLE audit_daily_counts (
    day        bigint NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    severity   bigint NOT NULL,
    actor_type text COLLATE "C" NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (day, event_type, severity, actor_type)
);

CREATE TABLE audit_actor_counts (
    actor_ref  bigint NOT NULL,
    day        bigint NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    severity   bigint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (actor_ref, day, event_type, severity)
);

CREATE TABLE api_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    token_hash bytea NOT NULL UNIQUE,
    scopes     text NOT NULL,
    created_at bigint NOT NULL
);
