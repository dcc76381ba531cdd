-- How many entries hold each search word, per day and severity: the vocabulary a search
-- word's prefix expands against (FTS5's own vocabulary table reads every entry of a
-- word's list to count it), and the exact total and timeline of a one-word search
-- without reading its matches. The append adds one aggregated row per batch and key;
-- the store fills it from the entries on first open (the `search_terms` mark below).
CREATE TABLE audit_search_terms (
    term     TEXT    NOT NULL,
    day      INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (term, day, severity)
) WITHOUT ROWID;
INSERT INTO audit_meta (key, value) VALUES ('search_terms', 'rebuild');

