-- Scan-on-push: a queue of manifests to scan, and the latest report of each.
CREATE TABLE scan_jobs (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    state      TEXT NOT NULL,            -- queued | running | done | failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    queued_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX scan_jobs_by_state ON scan_jobs (state, queued_at);

CREATE TABLE scan_reports (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    scanned_at INTEGER NOT NULL,
    report     TEXT NOT NULL,            -- JSON
    PRIMARY KEY (repository, digest)
);
