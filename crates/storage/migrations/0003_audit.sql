-- Append-only, hash-chained audit log: each record's hash covers its fields and the
-- previous record's hash, so an edit, a removal or a reordering breaks the chain.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at_ms     INTEGER NOT NULL,
    identity  TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    action    TEXT NOT NULL,
    resource  TEXT NOT NULL,
    result    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at_ms);
