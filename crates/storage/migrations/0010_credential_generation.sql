-- Every principal gets an immutable id (never reused, so a re-created name is a
-- different principal) and a credential generation, bumped whenever its credentials
-- change (password set or reset, secret rotation, disable or enable, a second factor
-- confirmed or removed). Tokens, refresh tokens and sessions carry both and are
-- refused when either no longer matches. Personal access tokens already have an
-- immutable random id.
ALTER TABLE users ADD COLUMN uid TEXT;
ALTER TABLE users ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE users SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
CREATE UNIQUE INDEX users_uid ON users (uid);

ALTER TABLE service_tokens ADD COLUMN uid TEXT;
ALTER TABLE service_tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE service_tokens SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
CREATE UNIQUE INDEX service_tokens_uid ON service_tokens (uid);

ALTER TABLE personal_access_tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
