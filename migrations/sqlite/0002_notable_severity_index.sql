-- Informational entries, the great majority, are listed by walking the time index; only
-- warnings and errors are rare enough to need an index of their own. Leaving the
-- informational ones out of it spares every append most of that index's writes.
DROP INDEX audit_entries_severity_ts;
CREATE INDEX audit_entries_notable_ts ON audit_entries (severity, ts) WHERE severity > 0;
