-- Registry metadata. Blob bytes live in the BlobStore; these rows decide visibility.

-- Every stored blob (layers, configs and manifest bytes), shared by all repositories.
-- state: 'live', or 'deleting' while garbage collection removes the bytes.
CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'live',
    touched_at INTEGER NOT NULL
);

-- A blob is readable in a repository only through a link.
CREATE TABLE repo_blobs (
    repo       TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES blobs(digest),
    touched_at INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);

CREATE TABLE manifests (
    repo          TEXT NOT NULL,
    digest        TEXT NOT NULL REFERENCES blobs(digest),
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX manifests_subject ON manifests(repo, subject);
CREATE INDEX manifests_digest ON manifests(digest);

-- What each manifest needs: blobs (config, layers) and child manifests (indexes).
CREATE TABLE manifest_refs (
    repo     TEXT NOT NULL,
    manifest TEXT NOT NULL,
    target   TEXT NOT NULL,
    kind     TEXT NOT NULL, -- 'blob' or 'manifest'
    PRIMARY KEY (repo, manifest, target)
);
CREATE INDEX manifest_refs_target ON manifest_refs(repo, target);

CREATE TABLE tags (
    repo       TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX tags_digest ON tags(repo, digest);

CREATE TABLE uploads (
    id         TEXT PRIMARY KEY NOT NULL,
    repo       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
