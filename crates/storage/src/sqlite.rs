//! The SQLite `MetaStore` adapter: an embedded database in WAL mode.
//!
//! Writes go through a pool of one connection (SQLite allows one writer) and begin
//! with `BEGIN IMMEDIATE`, so a transaction that reads before it writes can never be
//! refused half-way by another process; reads use a separate pool.

use crate::access::{AccessStore, ServiceTokenRecord};
use crate::audit::{chain_hash, AuditEntry, AuditRecord, AuditStore, ChainKey};
use crate::meta::{
    Claim, ManifestRecord, MetaStore, NewManifest, PutManifestError, ReferrerRecord, Removal,
    Result, UploadRecord,
};
use crate::UploadId;
use airlock_oci::{Digest, RepositoryName, Tag};
use anyhow::Context;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

pub struct SqliteMetaStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
}

fn digest(s: String) -> Result<Digest> {
    Digest::parse(&s).with_context(|| format!("stored digest {s:?} is invalid"))
}

impl SqliteMetaStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(15))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening database {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .context("migrating the database")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await
            .context("opening read connections")?;
        Ok(SqliteMetaStore { writer, reader })
    }

    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl MetaStore for SqliteMetaStore {
    async fn claim_blob(&self, digest: &Digest, size: u64, now: i64) -> Result<Claim> {
        let mut tx = self.begin().await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM blobs WHERE digest = ?")
            .bind(digest.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if state.as_deref() == Some("deleting") {
            return Ok(Claim::BeingDeleted);
        }
        sqlx::query(
            "INSERT INTO blobs (digest, size, state, touched_at) VALUES (?, ?, 'live', ?)
             ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claim::Claimed)
    }

    async fn link_blob(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO repo_blobs (repo, digest, touched_at) VALUES (?, ?, ?)
             ON CONFLICT (repo, digest) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(repo.as_str())
        .bind(digest.as_str())
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn blob_in_repo(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM blobs b WHERE b.digest = ?1 AND b.state = 'live' AND (
                 EXISTS (SELECT 1 FROM repo_blobs l WHERE l.repo = ?2 AND l.digest = ?1)
              OR EXISTS (SELECT 1 FROM manifests m WHERE m.repo = ?2 AND m.digest = ?1))",
        )
        .bind(digest.as_str())
        .bind(repo.as_str())
        .fetch_optional(&self.reader)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn touch_link(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        now: i64,
        stale_before: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE repo_blobs SET touched_at = ? WHERE repo = ? AND digest = ? AND touched_at < ?",
        )
        .bind(now)
        .bind(repo.as_str())
        .bind(digest.as_str())
        .bind(stale_before)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn mount_blob(
        &self,
        from: &RepositoryName,
        to: &RepositoryName,
        digest: &Digest,
        now: i64,
    ) -> Result<Option<u64>> {
        let mut tx = self.begin().await?;
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM blobs b JOIN repo_blobs l ON l.digest = b.digest
             WHERE l.repo = ? AND b.digest = ? AND b.state = 'live'",
        )
        .bind(from.as_str())
        .bind(digest.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if size.is_some() {
            sqlx::query(
                "INSERT INTO repo_blobs (repo, digest, touched_at) VALUES (?, ?, ?)
                 ON CONFLICT (repo, digest) DO UPDATE SET touched_at = excluded.touched_at",
            )
            .bind(to.as_str())
            .bind(digest.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(size.map(|s| s as u64))
    }

    async fn unlink_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<Removal> {
        let mut tx = self.begin().await?;
        if let Some(user) = referencing_manifest(&mut tx, repo, digest).await? {
            return Ok(Removal::InUseBy(user));
        }
        let done = sqlx::query("DELETE FROM repo_blobs WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if done.rows_affected() > 0 {
            Removal::Removed
        } else {
            Removal::Absent
        })
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO uploads (id, repo, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(upload.id.to_string())
        .bind(upload.repo.as_str())
        .bind(upload.owner.as_deref())
        .bind(upload.created_at)
        .bind(upload.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>> {
        let row =
            sqlx::query("SELECT repo, owner, created_at, updated_at FROM uploads WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.reader)
                .await?;
        row.map(|r| {
            Ok(UploadRecord {
                id: id.clone(),
                repo: RepositoryName::parse(r.get::<&str, _>(0))?,
                owner: r.get(1),
                created_at: r.get(2),
                updated_at: r.get(3),
            })
        })
        .transpose()
    }

    async fn touch_upload(&self, id: &UploadId, now: i64) -> Result<()> {
        sqlx::query("UPDATE uploads SET updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn open_uploads(
        &self,
        owner: &str,
        repo: &RepositoryName,
        updated_since: i64,
    ) -> Result<(u64, u64)> {
        let (by_owner, by_repo): (i64, i64) = sqlx::query_as(
            "SELECT
               (SELECT COUNT(*) FROM uploads WHERE owner = ?1 AND updated_at >= ?3),
               (SELECT COUNT(*) FROM uploads WHERE repo = ?2 AND updated_at >= ?3)",
        )
        .bind(owner)
        .bind(repo.as_str())
        .bind(updated_since)
        .fetch_one(&self.reader)
        .await?;
        Ok((by_owner as u64, by_repo as u64))
    }

    async fn expired_uploads(&self, updated_before: i64) -> Result<Vec<UploadId>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM uploads WHERE updated_at < ?")
            .bind(updated_before)
            .fetch_all(&self.reader)
            .await?;
        Ok(ids.iter().filter_map(|s| UploadId::parse(s)).collect())
    }

    async fn put_manifest(
        &self,
        m: &NewManifest,
        now: i64,
    ) -> std::result::Result<(), PutManifestError> {
        let mut tx = self.begin().await?;
        let repo = m.repo.as_str();
        for blob in &m.blobs {
            let present: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
                 WHERE l.repo = ? AND l.digest = ? AND b.state = 'live'",
            )
            .bind(repo)
            .bind(blob.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(anyhow::Error::from)?;
            if present.is_none() {
                return Err(PutManifestError::MissingBlob(blob.clone()));
            }
        }
        for child in &m.children {
            let present: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM manifests WHERE repo = ? AND digest = ?")
                    .bind(repo)
                    .bind(child.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(anyhow::Error::from)?;
            if present.is_none() {
                return Err(PutManifestError::MissingManifest(child.clone()));
            }
        }
        let run = async {
            sqlx::query(
                "INSERT INTO manifests
                   (repo, digest, media_type, size, artifact_type, subject, annotations, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (repo, digest) DO NOTHING",
            )
            .bind(repo)
            .bind(m.digest.as_str())
            .bind(&m.media_type)
            .bind(m.size as i64)
            .bind(&m.artifact_type)
            .bind(m.subject.as_ref().map(|s| s.as_str()))
            .bind(&m.annotations)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let refs = m
                .blobs
                .iter()
                .map(|d| (d, "blob"))
                .chain(m.children.iter().map(|d| (d, "manifest")));
            for (target, kind) in refs {
                sqlx::query(
                    "INSERT INTO manifest_refs (repo, manifest, target, kind) VALUES (?, ?, ?, ?)
                     ON CONFLICT DO NOTHING",
                )
                .bind(repo)
                .bind(m.digest.as_str())
                .bind(target.as_str())
                .bind(kind)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(tag) = &m.tag {
                sqlx::query(
                    "INSERT INTO tags (repo, tag, digest, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (repo, tag) DO UPDATE
                     SET digest = excluded.digest, updated_at = excluded.updated_at",
                )
                .bind(repo)
                .bind(tag.as_str())
                .bind(m.digest.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        };
        run.await.map_err(|e| PutManifestError::Other(e.into()))
    }

    async fn manifest(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>> {
        let row =
            sqlx::query("SELECT media_type, size FROM manifests WHERE repo = ? AND digest = ?")
                .bind(repo.as_str())
                .bind(digest.as_str())
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|r| ManifestRecord {
            digest: digest.clone(),
            media_type: r.get(0),
            size: r.get::<i64, _>(1) as u64,
        }))
    }

    async fn resolve_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<Option<Digest>> {
        let d: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE repo = ? AND tag = ?")
                .bind(repo.as_str())
                .bind(tag.as_str())
                .fetch_optional(&self.reader)
                .await?;
        d.map(digest).transpose()
    }

    async fn delete_manifest(&self, repo: &RepositoryName, d: &Digest) -> Result<Removal> {
        let mut tx = self.begin().await?;
        if let Some(user) = referencing_manifest(&mut tx, repo, d).await? {
            return Ok(Removal::InUseBy(user));
        }
        let gone = sqlx::query("DELETE FROM manifests WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(d.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM manifest_refs WHERE repo = ? AND manifest = ?")
            .bind(repo.as_str())
            .bind(d.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tags WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(d.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(if gone.rows_affected() > 0 {
            Removal::Removed
        } else {
            Removal::Absent
        })
    }

    async fn delete_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM tags WHERE repo = ? AND tag = ?")
            .bind(repo.as_str())
            .bind(tag.as_str())
            .execute(&self.writer)
            .await?;
        Ok(gone.rows_affected() > 0)
    }

    async fn tags(
        &self,
        repo: &RepositoryName,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag LIMIT ?",
        )
        .bind(repo.as_str())
        .bind(last.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn repository_exists(&self, repo: &RepositoryName) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM manifests WHERE repo = ? LIMIT 1")
                .bind(repo.as_str())
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn repositories(&self, last: Option<&str>, limit: u32) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT repo FROM manifests WHERE repo > ? ORDER BY repo LIMIT ?",
        )
        .bind(last.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn referrers(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRecord>> {
        let rows = sqlx::query(
            "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
             WHERE repo = ?1 AND subject = ?2 AND (?3 IS NULL OR artifact_type = ?3)
             ORDER BY created_at, digest LIMIT 10000",
        )
        .bind(repo.as_str())
        .bind(subject.as_str())
        .bind(artifact_type)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ReferrerRecord {
                    digest: digest(r.get(0))?,
                    media_type: r.get(1),
                    size: r.get::<i64, _>(2) as u64,
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn unlink_unreferenced(&self, cutoff: i64, dry_run: bool) -> Result<u64> {
        const UNREFERENCED: &str = "FROM repo_blobs WHERE touched_at < ? AND NOT EXISTS (
            SELECT 1 FROM manifest_refs r
            WHERE r.repo = repo_blobs.repo AND r.target = repo_blobs.digest AND r.kind = 'blob')";
        if dry_run {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {UNREFERENCED}"))
                .bind(cutoff)
                .fetch_one(&self.reader)
                .await?;
            return Ok(n as u64);
        }
        let done = sqlx::query(&format!("DELETE {UNREFERENCED}"))
            .bind(cutoff)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn collectable_blobs(&self, cutoff: i64, dry_run: bool) -> Result<Vec<(Digest, u64)>> {
        const COLLECTABLE: &str = "state = 'live' AND touched_at < ?
            AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = blobs.digest)
            AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)";
        // A dry run has not removed the unreferenced links, so it discounts them here:
        // the blobs it reports are exactly those a real run would delete.
        const COLLECTABLE_AFTER_UNLINK: &str = "state = 'live' AND touched_at < ?
            AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = blobs.digest
                AND (l.touched_at >= ? OR EXISTS (SELECT 1 FROM manifest_refs r
                    WHERE r.repo = l.repo AND r.target = l.digest AND r.kind = 'blob')))
            AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)";
        let rows = if dry_run {
            sqlx::query(&format!(
                "SELECT digest, size FROM blobs WHERE {COLLECTABLE_AFTER_UNLINK}"
            ))
            .bind(cutoff)
            .bind(cutoff)
            .fetch_all(&self.reader)
            .await?
        } else {
            sqlx::query(&format!(
                "UPDATE blobs SET state = 'deleting' WHERE {COLLECTABLE} RETURNING digest, size"
            ))
            .bind(cutoff)
            .fetch_all(&self.writer)
            .await?
        };
        rows.into_iter()
            .map(|r| Ok((digest(r.get(0))?, r.get::<i64, _>(1) as u64)))
            .collect()
    }

    async fn blobs_being_deleted(&self) -> Result<Vec<Digest>> {
        let ds: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM blobs WHERE state = 'deleting'")
                .fetch_all(&self.reader)
                .await?;
        ds.into_iter().map(digest).collect()
    }

    async fn forget_blob(&self, d: &Digest) -> Result<()> {
        sqlx::query("DELETE FROM blobs WHERE digest = ? AND state = 'deleting'")
            .bind(d.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn referenced_blobs(&self) -> Result<Vec<(Digest, u64)>> {
        let rows = sqlx::query(
            "SELECT digest, size FROM blobs WHERE state = 'live' AND (
                EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = blobs.digest)
             OR EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest))",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| Ok((digest(r.get(0))?, r.get::<i64, _>(1) as u64)))
            .collect()
    }

    async fn consistency_problems(&self) -> Result<Vec<String>> {
        let checks: [(&str, &str); 4] = [
            (
                "tag points at a missing manifest",
                "SELECT t.repo || ':' || t.tag || ' -> ' || t.digest FROM tags t
                 WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repo = t.repo AND m.digest = t.digest)",
            ),
            (
                "manifest needs a blob the repository lacks",
                "SELECT r.repo || '@' || r.manifest || ' needs ' || r.target FROM manifest_refs r
                 WHERE r.kind = 'blob' AND NOT EXISTS (
                   SELECT 1 FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
                   WHERE l.repo = r.repo AND l.digest = r.target AND b.state = 'live')",
            ),
            (
                "index needs a manifest the repository lacks",
                "SELECT r.repo || '@' || r.manifest || ' needs ' || r.target FROM manifest_refs r
                 WHERE r.kind = 'manifest' AND NOT EXISTS (
                   SELECT 1 FROM manifests m WHERE m.repo = r.repo AND m.digest = r.target)",
            ),
            (
                "manifest bytes are not a live blob",
                "SELECT m.repo || '@' || m.digest FROM manifests m
                 WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = m.digest AND b.state = 'live')",
            ),
        ];
        let mut problems = Vec::new();
        for (what, sql) in checks {
            let found: Vec<String> = sqlx::query_scalar(sql).fetch_all(&self.reader).await?;
            problems.extend(found.into_iter().map(|f| format!("{what}: {f}")));
        }
        Ok(problems)
    }
}

/// A manifest of `repo` that needs `target` (as a blob or a child manifest), if any.
async fn referencing_manifest(
    tx: &mut sqlx::SqliteConnection,
    repo: &RepositoryName,
    target: &Digest,
) -> Result<Option<Digest>> {
    let user: Option<String> = sqlx::query_scalar(
        "SELECT manifest FROM manifest_refs WHERE repo = ? AND target = ? LIMIT 1",
    )
    .bind(repo.as_str())
    .bind(target.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    user.map(digest).transpose()
}

fn token_record(r: sqlx::sqlite::SqliteRow) -> ServiceTokenRecord {
    ServiceTokenRecord {
        name: r.get("name"),
        uid: r.get("uid"),
        generation: r.get("generation"),
        scopes: r.get("scopes"),
        expires_at: r.get("expires_at"),
        password_hashes: [r.get("password1_hash"), r.get("password2_hash")],
        enabled: r.get::<i64, _>("enabled") != 0,
        allowed_cidrs: r.get("allowed_cidrs"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
    }
}

#[async_trait]
impl AccessStore for SqliteMetaStore {
    async fn create_token(&self, t: &ServiceTokenRecord) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO service_tokens (name, uid, scopes, expires_at, password1_hash,
                password2_hash, enabled, allowed_cidrs, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&t.name)
        .bind(&t.uid)
        .bind(&t.scopes)
        .bind(t.expires_at)
        .bind(&t.password_hashes[0])
        .bind(&t.password_hashes[1])
        .bind(t.enabled as i64)
        .bind(&t.allowed_cidrs)
        .bind(t.created_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token(&self, name: &str) -> Result<Option<ServiceTokenRecord>> {
        Ok(sqlx::query("SELECT * FROM service_tokens WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
            .map(token_record))
    }

    async fn tokens(&self) -> Result<Vec<ServiceTokenRecord>> {
        Ok(sqlx::query("SELECT * FROM service_tokens ORDER BY name")
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(token_record)
            .collect())
    }

    async fn set_token_password(&self, name: &str, slot: u8, hash: Option<&str>) -> Result<bool> {
        let column = match slot {
            1 => "password1_hash",
            2 => "password2_hash",
            _ => anyhow::bail!("password slot must be 1 or 2"),
        };
        let done = sqlx::query(&format!(
            "UPDATE service_tokens SET {column} = ?, generation = generation + 1 WHERE name = ?"
        ))
        .bind(hash)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_token_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE service_tokens SET enabled = ?, generation = generation + 1 WHERE name = ?",
        )
        .bind(enabled as i64)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Its bindings go with it: a token re-created under the name starts with none.
    async fn delete_token(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM bindings WHERE principal = ?")
            .bind(format!("token:{name}"))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM service_tokens WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_token(&self, name: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE service_tokens SET last_used_at = ? WHERE name = ?")
            .bind(now)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

fn audit_record(r: sqlx::sqlite::SqliteRow) -> AuditRecord {
    AuditRecord {
        seq: r.get("seq"),
        entry: AuditEntry {
            at_ms: r.get("at_ms"),
            identity: r.get("identity"),
            client_ip: r.get("client_ip"),
            action: r.get("action"),
            resource: r.get("resource"),
            result: r.get("result"),
            reason: r.get("reason"),
        },
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

#[async_trait]
impl AuditStore for SqliteMetaStore {
    async fn append_audit(&self, entries: &[AuditEntry], key: &ChainKey) -> Result<()> {
        let mut tx = self.begin().await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (mut seq, mut prev) = last.unwrap_or((0, crate::audit::GENESIS.to_owned()));
        for e in entries {
            seq += 1;
            let hash = chain_hash(key, &prev, seq, e);
            sqlx::query(
                "INSERT INTO audit_log (seq, at_ms, identity, client_ip, action, resource, result,
                    reason, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(seq)
            .bind(e.at_ms)
            .bind(&e.identity)
            .bind(&e.client_ip)
            .bind(&e.action)
            .bind(&e.resource)
            .bind(&e.result)
            .bind(&e.reason)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            prev = hash;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.reader)
                .await?;
        Ok(last.unwrap_or((0, crate::audit::GENESIS.to_owned())))
    }

    async fn audit_records(&self, since_ms: i64) -> Result<Vec<AuditRecord>> {
        Ok(
            sqlx::query("SELECT * FROM audit_log WHERE at_ms >= ? ORDER BY seq")
                .bind(since_ms)
                .fetch_all(&self.reader)
                .await?
                .into_iter()
                .map(audit_record)
                .collect(),
        )
    }
}
