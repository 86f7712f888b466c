-- Continuous rescans. The advisory database has a generation, bumped by every import
-- that adds or changes a record; each report remembers the generation its findings
-- were matched against, so reports behind the current one are re-matched from their
-- stored inventory (no layer is read again). Findings live apart from the inventory
-- so a re-match rewrites only them. Every scan and every change of an image's
-- findings leaves an event.
CREATE TABLE advisory_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
INSERT INTO advisory_generation (id, generation, changed_at)
    SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM advisories) THEN 1 ELSE 0 END, 0;

-- Apart from the (large) inventory so that rewriting findings does not rewrite it.
CREATE TABLE scan_findings (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    generation INTEGER NOT NULL,
    -- JSON: one array of finding rows per platform of the report; NULL for reports
    -- stored before this migration, whose findings are still inside the inventory.
    findings   TEXT,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX scan_findings_by_generation ON scan_findings (generation, repository, digest);
INSERT INTO scan_findings (repository, digest, generation, findings)
    SELECT repository, digest, 0, NULL FROM scan_reports;

CREATE TABLE scan_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    kind       TEXT NOT NULL,            -- scanned | findings_changed
    detail     TEXT NOT NULL             -- JSON
);
