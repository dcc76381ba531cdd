-- A search's timeline from the search index alone, day by day: entries are numbered in
-- arrival order and `ts_high` (the latest time up to each entry) never decreases, so the
-- entries whose `ts_high` falls on one day are one range of sequence numbers. This table
-- names where each day's range begins; the append adds a row when `ts_high` reaches a
-- new day.
CREATE TABLE audit_day_seqs (
    day       INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL
);
INSERT INTO audit_day_seqs (day, first_seq)
    SELECT ts_high / 86400000000, MIN(seq) FROM audit_entries GROUP BY ts_high / 86400000000;

-- A day's range holds the entries of that day, and the late ones: entries that arrived
-- after a later day had begun (`ts` on an earlier day than `ts_high`). They are few and
-- counted apart, in their own day. Only those recorded since the counted days began can
-- matter (`ts_high` rises with `seq`), so the index leads with `ts_high`. (Times are
-- after the year 2000: the division rounds down, as the day of a time does.)
CREATE INDEX audit_entries_late ON audit_entries (ts_high, ts, seq, severity)
    WHERE ts / 86400000000 < ts_high / 86400000000;

-- The search index now also holds a word for each severity but info (see
-- `severity_word` in app/src/store/sqlite/search.rs): it is rebuilt on first open.
INSERT INTO audit_meta (key, value) VALUES ('search_index', 'rebuild')
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
