-- The search index without `contentless_delete`. With it, FTS5 keeps a tombstone per
-- deleted entry beside each segment and looks every merged row up in those tombstones;
-- consecutive sequence numbers crowd one probe run, so a retention purge of a few hundred
-- thousand entries made merges (and the appends that run them) stall for seconds
-- (measured: 91% of the writer's time in the tombstone lookup). The purge now removes an
-- entry's words with FTS5's 'delete' command, given the words the entry was indexed with
-- (app/src/store/sqlite/purge.rs makes them as the append does), so merges simply drop
-- them. The store indexes the entries again on first open (the `search_index` mark).
DROP TABLE audit_search_vocab;
DROP TABLE audit_search;
CREATE VIRTUAL TABLE audit_search USING fts5(
    words, content = '', tokenize = 'ascii', detail = none
);
INSERT OR REPLACE INTO audit_meta (key, value) VALUES ('search_index', 'rebuild');
