-- Users, groups, custom roles, role bindings, personal access tokens and the
-- registry's runtime settings. Secrets are stored only as argon2id hashes (passwords,
-- tokens), SHA-256 hashes (high-entropy recovery codes) or sealed with AES-GCM
-- (TOTP secrets, which must be read back).
CREATE TABLE users (
    name             TEXT PRIMARY KEY NOT NULL,
    password_hash    TEXT NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL,
    totp_secret      TEXT,               -- sealed; NULL = no second factor
    totp_confirmed   INTEGER NOT NULL DEFAULT 0,
    totp_last_step   INTEGER NOT NULL DEFAULT 0, -- replay protection
    recovery_codes   TEXT NOT NULL DEFAULT '' -- space-separated sha256 hex, unused ones
);

CREATE TABLE groups (
    name       TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);

CREATE TABLE roles (
    name    TEXT PRIMARY KEY NOT NULL,
    actions TEXT NOT NULL                -- comma-separated actions
);

CREATE TABLE bindings (
    principal TEXT NOT NULL,             -- user:NAME, group:NAME or token:NAME
    pattern   TEXT NOT NULL,             -- repository pattern
    role      TEXT NOT NULL,             -- built-in or custom role name
    PRIMARY KEY (principal, pattern, role)
);

CREATE TABLE personal_access_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    user_name     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    expires_at    INTEGER,
    password_hash TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    allowed_cidrs TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    UNIQUE (user_name, name)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL                  -- JSON
);
