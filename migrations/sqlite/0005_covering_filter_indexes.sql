-- Each filter index carries every filter column, so that a filter combining several (a
-- prefix, a severity and an actor) is answered from one index without reading a single
-- entry row for the others: a row read costs about ten index entries. Each index still
-- sorts by its own column, then time, then sequence (seq named explicitly, ahead of the
-- carried columns), so that it yields entries newest first, as pages are shown.
DROP INDEX audit_entries_ts;
CREATE INDEX audit_entries_ts ON audit_entries (ts, seq, event_type, severity, actor_ref, actor_type);
DROP INDEX audit_entries_type_ts;
CREATE INDEX audit_entries_type_ts ON audit_entries (event_type, ts, seq, severity, actor_ref, actor_type);
DROP INDEX audit_entries_notable_ts;
CREATE INDEX audit_entries_notable_ts ON audit_entries (severity, ts, seq, event_type, actor_ref, actor_type)
    WHERE severity > 0;
DROP INDEX audit_entries_actor_ts;
CREATE INDEX audit_entries_actor_ts ON audit_entries (actor_ref, ts, seq, event_type, severity, actor_type);
