-- Service tokens (robot accounts): a name, what they may do, until when, and two
-- independently rotatable passwords (argon2id PHC strings; NULL = slot empty).
CREATE TABLE service_tokens (
    name           TEXT PRIMARY KEY NOT NULL,
    scopes         TEXT NOT NULL,          -- space-separated scopes
    expires_at     INTEGER,                -- unix seconds; NULL = never
    password1_hash TEXT,
    password2_hash TEXT,
    enabled        INTEGER NOT NULL DEFAULT 1,
    allowed_cidrs  TEXT,                   -- space-separated; NULL = anywhere
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
