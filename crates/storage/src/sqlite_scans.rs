//! The SQLite adapter of the [`ScanStore`] port.

use crate::meta::Result;
use crate::scans::{ScanJob, ScanStore};
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
            "UPDATE scan_jobs SET state = 'done', error = NULL, updated_at = ?
             WHERE repository = ? AND digest = ?",
        )
        .bind(now)
        .bind(repository)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
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

    async fn scan_report(&self, repository: &str, digest: &str) -> Result<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT scanned_at, report FROM scan_reports WHERE repository = ? AND digest = ?",
        )
        .bind(repository)
        .bind(digest)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| (r.get("scanned_at"), r.get("report"))))
    }
}
