//! The SQLite adapter of the [`ScanStore`] port.

use crate::meta::Result;
use crate::scans::{Rematch, ScanEvent, ScanJob, ScanStore, StoredReport};
use crate::sqlite::SqliteMetaStore;
use async_trait::async_trait;
use sqlx::Row;

fn job(r: sqlx::sqlite::SqliteRow) -> ScanJob {
    ScanJob {
        repository: r.get("repository"),
        digest: r.get("digest"),
        state: r.get("state"),
        attempts: r.get("attempts"),
        error: r.get("error"),
        queued_at: r.get("queued_at"),
        updated_at: r.get("updated_at"),
    }
}

#[async_trait]
impl ScanStore for SqliteMetaStore {
    async fn enqueue_scan(&self, repository: &str, digest: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO scan_jobs (repository, digest, state, queued_at, updated_at)
             VALUES (?, ?, 'queued', ?, ?)
             ON CONFLICT (repository, digest) DO UPDATE SET state = 'queued', attempts = 0,
                error = NULL, queued_at = excluded.queued_at, updated_at = excluded.updated_at
             WHERE scan_jobs.state <> 'running'",
        )
        .bind(repository)
        .bind(digest)
        .bind(now)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn claim_scan(&self, now: i64, stale_before: i64) -> Result<Option<ScanJob>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT * FROM scan_jobs WHERE state = 'queued' OR (state = 'running' AND updated_at < ?)
             ORDER BY queued_at LIMIT 1",
        )
        .bind(stale_before)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut j = job(row);
        sqlx::query(
            "UPDATE scan_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?
             WHERE repository = ? AND digest = ?",
        )
        .bind(now)
        .bind(&j.repository)
        .bind(&j.digest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        j.state = "running".into();
        j.attempts += 1;
        j.updated_at = now;
        Ok(Some(j))
    }

    async fn finish_scan(
        &self,
        repository: &str,
        digest: &str,
        report: &str,
        findings: &str,
        generation: i64,
        event: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO scan_reports (repository, digest, scanned_at, report) VALUES (?, ?, ?, ?)
             ON CONFLICT (repository, digest) DO UPDATE SET scanned_at = excluded.scanned_at,
                report = excluded.report",
        )
        .bind(repository)
        .bind(digest)
        .bind(now)
        .bind(report)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO scan_findings (repository, digest, generation, findings) VALUES (?, ?, ?, ?)
             ON CONFLICT (repository, digest) DO UPDATE SET generation = excluded.generation,
                findings = excluded.findings",
        )
        .bind(repository)
        .bind(digest)
        .bind(generation)
        .bind(findings)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE scan_jobs SET state = 'done', error = NULL, updated_at = ?
             WHERE repository = ? AND digest = ?",
        )
        .bind(now)
        .bind(repository)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, now, repository, digest, "scanned", event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail_scan(&self, repository: &str, digest: &str, error: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE scan_jobs SET state = 'failed', error = ?, updated_at = ?
             WHERE repository = ? AND digest = ?",
        )
        .bind(error)
        .bind(now)
        .bind(repository)
        .bind(digest)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn scan_job(&self, repository: &str, digest: &str) -> Result<Option<ScanJob>> {
        Ok(
            sqlx::query("SELECT * FROM scan_jobs WHERE repository = ? AND digest = ?")
                .bind(repository)
                .bind(digest)
                .fetch_optional(&self.reader)
                .await?
                .map(job),
        )
    }

    async fn scan_report(&self, repository: &str, digest: &str) -> Result<Option<StoredReport>> {
        Ok(sqlx::query(
            "SELECT r.repository, r.digest, r.scanned_at, f.generation, r.report, f.findings
             FROM scan_reports r JOIN scan_findings f USING (repository, digest)
             WHERE r.repository = ? AND r.digest = ?",
        )
        .bind(repository)
        .bind(digest)
        .fetch_optional(&self.reader)
        .await?
        .map(stored_report))
    }

    async fn reports_behind(
        &self,
        generation: i64,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<StoredReport>> {
        let (repo, digest) = after.unwrap_or(("", ""));
        Ok(sqlx::query(
            "SELECT f.repository, f.digest, r.scanned_at, f.generation, r.report, f.findings
             FROM scan_findings f JOIN scan_reports r USING (repository, digest)
             WHERE f.generation < ? AND (f.repository, f.digest) > (?, ?)
             ORDER BY f.repository, f.digest LIMIT ?",
        )
        .bind(generation)
        .bind(repo)
        .bind(digest)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(stored_report)
        .collect())
    }

    async fn record_rematches(
        &self,
        outcomes: &[Rematch],
        generation: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for o in outcomes {
            let updated = sqlx::query(
                "UPDATE scan_findings SET generation = ?, findings = COALESCE(?, findings)
                 WHERE repository = ? AND digest = ? AND generation < ?",
            )
            .bind(generation)
            .bind(&o.findings)
            .bind(&o.repository)
            .bind(&o.digest)
            .bind(generation)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if let (1, Some(detail)) = (updated, &o.event) {
                insert_event(
                    &mut tx,
                    now,
                    &o.repository,
                    &o.digest,
                    "findings_changed",
                    detail,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn scan_events(&self, after: i64, limit: u32) -> Result<Vec<ScanEvent>> {
        Ok(sqlx::query(
            "SELECT id, at, repository, digest, kind, detail FROM scan_events WHERE id > ?
             ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| ScanEvent {
            id: r.get("id"),
            at: r.get("at"),
            repository: r.get("repository"),
            digest: r.get("digest"),
            kind: r.get("kind"),
            detail: r.get("detail"),
        })
        .collect())
    }
}

fn stored_report(r: sqlx::sqlite::SqliteRow) -> StoredReport {
    StoredReport {
        repository: r.get("repository"),
        digest: r.get("digest"),
        scanned_at: r.get("scanned_at"),
        generation: r.get("generation"),
        report: r.get("report"),
        findings: r.get("findings"),
    }
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    now: i64,
    repository: &str,
    digest: &str,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scan_events (at, repository, digest, kind, detail) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(now)
    .bind(repository)
    .bind(digest)
    .bind(kind)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
