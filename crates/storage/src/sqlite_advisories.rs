//! The SQLite adapter of the [`AdvisoryStore`] port.

use crate::advisories::{AdvisoryRecord, AdvisoryStore, ImportCounts};
use crate::meta::Result;
use crate::sqlite::SqliteMetaStore;
use async_trait::async_trait;

#[async_trait]
impl AdvisoryStore for SqliteMetaStore {
    async fn import_advisories(&self, records: &[AdvisoryRecord]) -> Result<ImportCounts> {
        let mut counts = ImportCounts::default();
        let mut tx = self.begin().await?;
        for r in records {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT modified FROM advisories WHERE id = ?")
                    .bind(&r.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match stored {
                Some(m) if m.as_str() >= r.modified.as_str() => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
                None => counts.added += 1,
            }
            sqlx::query(
                "INSERT INTO advisories (id, modified, withdrawn, record) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET modified = excluded.modified,
                    withdrawn = excluded.withdrawn, record = excluded.record",
            )
            .bind(&r.id)
            .bind(&r.modified)
            .bind(r.withdrawn as i64)
            .bind(&r.json)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM advisory_packages WHERE advisory_id = ?")
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
            for (eco, name) in &r.packages {
                sqlx::query(
                    "INSERT INTO advisory_packages (ecosystem, name, advisory_id) VALUES (?, ?, ?)
                     ON CONFLICT DO NOTHING",
                )
                .bind(eco)
                .bind(name)
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        if counts.added + counts.updated > 0 {
            sqlx::query(
                "UPDATE advisory_generation SET generation = generation + 1, changed_at = ?",
            )
            .bind(crate::now_unix())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn advisory_records(&self) -> Result<Vec<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT record FROM advisories ORDER BY id")
                .fetch_all(&self.reader)
                .await?,
        )
    }

    async fn advisory_records_for(&self, keys: &[(String, String)]) -> Result<Vec<Vec<u8>>> {
        let mut ids: Vec<String> = Vec::new();
        // Bounded statements: SQLite caps bound parameters per statement.
        for chunk in keys.chunks(200) {
            let wanted = vec!["(ecosystem = ? AND name = ?)"; chunk.len()].join(" OR ");
            let sql = format!("SELECT DISTINCT advisory_id FROM advisory_packages WHERE {wanted}");
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for (eco, name) in chunk {
                q = q.bind(eco).bind(name);
            }
            ids.extend(q.fetch_all(&self.reader).await?);
        }
        ids.sort();
        ids.dedup();
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT record FROM advisories WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query_scalar::<_, Vec<u8>>(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            records.extend(q.fetch_all(&self.reader).await?);
        }
        Ok(records)
    }

    async fn count_advisories(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM advisories")
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn advisory_generation(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT generation FROM advisory_generation WHERE id = 1")
                .fetch_one(&self.reader)
                .await?,
        )
    }
}
