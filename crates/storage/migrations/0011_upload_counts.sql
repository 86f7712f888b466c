-- Open upload sessions are counted per principal and per repository (caps).
CREATE INDEX uploads_owner ON uploads (owner, updated_at);
CREATE INDEX uploads_repo ON uploads (repo, updated_at);
