-- The log as a Merkle tree (RFC 6962; app/src/integrity.rs, docs/integrity.md). The row of
-- entry N holds the hashes entry N completes: its leaf hash, then the root of each perfect
-- subtree it closes (trailing_zeros(N) + 1 hashes of 32 bytes, about two per entry), so a
-- proof or a root reads O(log n) rows. Written in the transaction that appends the entry;
-- a store from before this migration gets its rows when it next opens for writing.
-- Rows are kept when old entries are purged: proofs for the kept ones still need them.
CREATE TABLE audit_tree (
    seq INTEGER PRIMARY KEY,
    hashes BLOB NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'the audit tree is append-only');
END;

CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'the audit tree is append-only');
END;

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note): one per tree size, since
-- signing the same tree again gives the same note (Ed25519 is deterministic).
-- signed_at is Unix microseconds.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL CHECK (length(root) = 32),
    signed_at INTEGER NOT NULL,
    note TEXT NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
