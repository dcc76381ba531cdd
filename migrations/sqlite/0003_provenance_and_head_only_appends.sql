-- Provenance: when the server received each entry and which API token posted it (the
-- product's own events have no token). Both are part of the hashed content; entries
-- stored before this migration have neither, and their canonical form is unchanged.
ALTER TABLE audit_entries ADD COLUMN received_at INTEGER;
ALTER TABLE audit_entries ADD COLUMN ingest_token_id INTEGER;
ALTER TABLE audit_entries ADD COLUMN ingest_token_name TEXT;

-- Nothing enters the chain behind the store's back: a row goes in only at the head, as
-- the next sequence number, linked to the hash of the entry before it and with the
-- running latest time that searches rely on. This refuses a sequence of 0 or below, a
-- gap, a duplicate, and INSERT OR REPLACE over an existing entry (which would delete it
-- without firing the delete trigger). The hash itself is checked by `verify`.
CREATE TRIGGER audit_entries_at_head_only BEFORE INSERT ON audit_entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_entries)
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_entries WHERE seq = NEW.seq - 1), zeroblob(32))
  OR NEW.ts_high IS NOT MAX(NEW.ts, COALESCE((SELECT ts_high FROM audit_entries WHERE seq = NEW.seq - 1), NEW.ts))
BEGIN
    SELECT RAISE(ABORT, 'audit entries are appended at the head of the chain only');
END;

-- Search by the product's own rules (app/src/search.rs): the index holds, for each
-- entry, the folded words of its event type, actor name, description and resource name
-- as the Rust code makes them (accents removed, lower case), so that the store, the live
-- stream and the page's highlighting agree on every match: `muller` and `müller` find
-- the same entries everywhere. The ascii tokenizer only splits those words back at the
-- spaces. Contentless: the words are not kept twice. The store fills it again from the
-- entries on first open (the `search_index` mark below).
DROP TABLE audit_search_vocab;
DROP TABLE audit_search;
CREATE VIRTUAL TABLE audit_search USING fts5(
    words, content = '', contentless_delete = 1, tokenize = 'ascii', detail = none
);
CREATE VIRTUAL TABLE audit_search_vocab USING fts5vocab(audit_search, 'row');

-- Work the store owes the database, done on open (key: what, value: the state).
CREATE TABLE audit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO audit_meta (key, value) VALUES ('search_index', 'rebuild');
