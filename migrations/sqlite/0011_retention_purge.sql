-- The retention purge, the only delete (app/src/store/retention.rs). Each run of sequence
-- numbers it removes is recorded here first, in the same transaction, with the hashes at
-- its ends, so that verification goes on across it; the Merkle tree keeps its rows. Times
-- are Unix microseconds.
CREATE TABLE audit_purged (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL UNIQUE,
    -- The link of the first entry removed, and the hash of the last one.
    prev_hash BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    last_hash BLOB    NOT NULL CHECK (length(last_hash) = 32),
    -- The latest time up to the last entry removed (its ts_high): what the entries after
    -- it still count as the latest time before them.
    ts_high   INTEGER NOT NULL,
    purged_at INTEGER NOT NULL,
    cutoff    INTEGER NOT NULL,
    CHECK (first_seq > 0 AND last_seq >= first_seq)
);

CREATE TRIGGER audit_purged_no_update BEFORE UPDATE ON audit_purged
BEGIN
    SELECT RAISE(ABORT, 'purge records are append-only');
END;

CREATE TRIGGER audit_purged_no_delete BEFORE DELETE ON audit_purged
BEGIN
    SELECT RAISE(ABORT, 'purge records are append-only');
END;

-- A delete is refused unless a purge record covers the entry (the record that starts last
-- at or before it: one lookup), and the newest entry (which the next append links to) is
-- never deleted.
DROP TRIGGER audit_entries_no_delete;
CREATE TRIGGER audit_entries_purge_only BEFORE DELETE ON audit_entries
WHEN COALESCE((SELECT last_seq FROM audit_purged WHERE first_seq <= OLD.seq ORDER BY first_seq DESC LIMIT 1), 0)
       < OLD.seq
  OR OLD.seq = (SELECT MAX(seq) FROM audit_entries)
BEGIN
    SELECT RAISE(ABORT, 'audit entries are deleted only by the retention purge, which records what it deletes');
END;
