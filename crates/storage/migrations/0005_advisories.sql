-- The vulnerability database: OSV records as imported, and which (ecosystem, package)
-- each one is about, for lookups.
CREATE TABLE advisories (
    id        TEXT PRIMARY KEY NOT NULL,
    modified  TEXT NOT NULL,             -- OSV `modified`, RFC 3339
    withdrawn INTEGER NOT NULL DEFAULT 0,
    record    BLOB NOT NULL              -- the OSV JSON
);

CREATE TABLE advisory_packages (
    ecosystem   TEXT NOT NULL,
    name        TEXT NOT NULL,
    advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX advisory_packages_by_advisory ON advisory_packages (advisory_id);
