-- The entries of the product's own actor (actor=system) in time order. Without it that
-- filter could only walk the time index and check each entry, which a burst of other
-- entries makes slow; a partial index costs the appends of other actors nothing.
CREATE INDEX audit_entries_system_ts ON audit_entries (ts, seq, event_type, severity, actor_ref)
    WHERE actor_type = 'system';
