//! The SQLite adapter of the [`DirectoryStore`] port.

use crate::directory::{
    BindingRecord, DirectoryStore, GroupRecord, PatRecord, RoleRecord, TotpUpdate, UserRecord,
};
use crate::meta::Result;
use crate::sqlite::SqliteMetaStore;
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

fn user_record(r: SqliteRow) -> UserRecord {
    let codes: String = r.get("recovery_codes");
    UserRecord {
        name: r.get("name"),
        uid: r.get("uid"),
        generation: r.get("generation"),
        password_hash: r.get("password_hash"),
        enabled: r.get::<i64, _>("enabled") != 0,
        created_at: r.get("created_at"),
        totp_secret: r.get("totp_secret"),
        totp_confirmed: r.get::<i64, _>("totp_confirmed") != 0,
        totp_last_step: r.get("totp_last_step"),
        recovery_codes: codes.split_whitespace().map(str::to_owned).collect(),
    }
}

fn pat_record(r: SqliteRow) -> PatRecord {
    PatRecord {
        id: r.get("id"),
        generation: r.get("generation"),
        user: r.get("user_name"),
        name: r.get("name"),
        scopes: r.get("scopes"),
        expires_at: r.get("expires_at"),
        password_hash: r.get("password_hash"),
        password2_hash: r.get("password2_hash"),
        enabled: r.get::<i64, _>("enabled") != 0,
        allowed_cidrs: r.get("allowed_cidrs"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
    }
}

impl SqliteMetaStore {
    /// Runs one write statement binding only text values; whether it changed a row.
    async fn write(&self, sql: &str, args: &[&str]) -> Result<bool> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        Ok(q.execute(&self.writer).await?.rows_affected() > 0)
    }
}

#[async_trait]
impl DirectoryStore for SqliteMetaStore {
    async fn create_user(&self, u: &UserRecord) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO users (name, uid, password_hash, enabled, created_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&u.name)
        .bind(&u.uid)
        .bind(&u.password_hash)
        .bind(u.enabled as i64)
        .bind(u.created_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        Ok(sqlx::query("SELECT * FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
            .map(user_record))
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        Ok(sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(user_record)
            .collect())
    }

    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.writer)
            .await?;
        Ok(n as u64)
    }

    async fn set_user_password(&self, name: &str, hash: &str) -> Result<bool> {
        self.write(
            "UPDATE users SET password_hash = ?, generation = generation + 1 WHERE name = ?",
            &[hash, name],
        )
        .await
    }

    async fn set_user_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET enabled = ?, generation = generation + 1 WHERE name = ?")
                .bind(enabled as i64)
                .bind(name)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM bindings WHERE principal = ?")
            .bind(format!("user:{name}"))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_totp(&self, name: &str, t: &TotpUpdate) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = ?, totp_confirmed = ?, recovery_codes = ?,
               generation = generation + (totp_confirmed != ?)
             WHERE name = ?",
        )
        .bind(&t.secret)
        .bind(t.confirmed as i64)
        .bind(t.recovery_codes.join(" "))
        .bind(t.confirmed as i64)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_totp_step(&self, name: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = ? WHERE name = ? AND totp_last_step < ?",
        )
        .bind(step)
        .bind(name)
        .bind(step)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_recovery_code(&self, name: &str, code_hash: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let codes: Option<String> =
            sqlx::query_scalar("SELECT recovery_codes FROM users WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(codes) = codes else {
            return Ok(false);
        };
        let before: Vec<&str> = codes.split_whitespace().collect();
        let after: Vec<&str> = before.iter().copied().filter(|c| *c != code_hash).collect();
        if after.len() == before.len() {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET recovery_codes = ? WHERE name = ?")
            .bind(after.join(" "))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_group(&self, name: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO groups (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_group(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM bindings WHERE principal = ?")
            .bind(format!("group:{name}"))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM groups WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn groups(&self) -> Result<Vec<GroupRecord>> {
        let rows = sqlx::query(
            "SELECT g.name AS name, m.user_name AS member FROM groups g
             LEFT JOIN group_members m ON m.group_name = g.name ORDER BY g.name, m.user_name",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut groups: Vec<GroupRecord> = Vec::new();
        for r in rows {
            let name: String = r.get("name");
            let member: Option<String> = r.get("member");
            if groups.last().map(|g| &g.name) != Some(&name) {
                groups.push(GroupRecord {
                    name,
                    members: Vec::new(),
                });
            }
            if let (Some(m), Some(g)) = (member, groups.last_mut()) {
                g.members.push(m);
            }
        }
        Ok(groups)
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO group_members (group_name, user_name)
             SELECT g.name, u.name FROM groups g, users u WHERE g.name = ? AND u.name = ?
             ON CONFLICT DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM group_members WHERE group_name = ? AND user_name = ?",
        )
        .bind(group)
        .bind(user)
        .fetch_one(&self.writer)
        .await?;
        Ok(exists == 1)
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<bool> {
        self.write(
            "DELETE FROM group_members WHERE group_name = ? AND user_name = ?",
            &[group, user],
        )
        .await
    }

    async fn create_role(&self, role: &RoleRecord) -> Result<bool> {
        self.write(
            "INSERT INTO roles (name, actions) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            &[&role.name, &role.actions],
        )
        .await
    }

    async fn delete_role(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM bindings WHERE role = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM roles WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn roles(&self) -> Result<Vec<RoleRecord>> {
        Ok(sqlx::query("SELECT name, actions FROM roles ORDER BY name")
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|r| RoleRecord {
                name: r.get("name"),
                actions: r.get("actions"),
            })
            .collect())
    }

    async fn add_binding(&self, b: &BindingRecord) -> Result<bool> {
        self.write(
            "INSERT INTO bindings (principal, pattern, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &[&b.principal, &b.pattern, &b.role],
        )
        .await
    }

    async fn remove_binding(&self, b: &BindingRecord) -> Result<bool> {
        self.write(
            "DELETE FROM bindings WHERE principal = ? AND pattern = ? AND role = ?",
            &[&b.principal, &b.pattern, &b.role],
        )
        .await
    }

    async fn bindings(&self) -> Result<Vec<BindingRecord>> {
        Ok(sqlx::query(
            "SELECT principal, pattern, role FROM bindings ORDER BY principal, pattern, role",
        )
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| BindingRecord {
            principal: r.get("principal"),
            pattern: r.get("pattern"),
            role: r.get("role"),
        })
        .collect())
    }

    async fn create_pat(&self, p: &PatRecord) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO personal_access_tokens (id, user_name, name, scopes, expires_at,
                password_hash, enabled, allowed_cidrs, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.user)
        .bind(&p.name)
        .bind(&p.scopes)
        .bind(p.expires_at)
        .bind(&p.password_hash)
        .bind(p.enabled as i64)
        .bind(&p.allowed_cidrs)
        .bind(p.created_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn pat(&self, id: &str) -> Result<Option<PatRecord>> {
        Ok(
            sqlx::query("SELECT * FROM personal_access_tokens WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?
                .map(pat_record),
        )
    }

    async fn pats(&self, user: &str) -> Result<Vec<PatRecord>> {
        Ok(
            sqlx::query("SELECT * FROM personal_access_tokens WHERE user_name = ? ORDER BY name")
                .bind(user)
                .fetch_all(&self.reader)
                .await?
                .into_iter()
                .map(pat_record)
                .collect(),
        )
    }

    async fn set_pat_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE personal_access_tokens SET enabled = ?, generation = generation + 1
             WHERE id = ?",
        )
        .bind(enabled as i64)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_pat_secret(&self, id: &str, slot: u8, hash: Option<&str>) -> Result<bool> {
        let column = match (slot, hash) {
            (1, Some(_)) => "password_hash",
            (2, _) => "password2_hash",
            _ => anyhow::bail!("secret slot 1 can be replaced, not cleared; slots are 1 and 2"),
        };
        let done = sqlx::query(&format!(
            "UPDATE personal_access_tokens SET {column} = ?, generation = generation + 1
             WHERE id = ?"
        ))
        .bind(hash)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_pat(&self, id: &str) -> Result<bool> {
        self.write("DELETE FROM personal_access_tokens WHERE id = ?", &[id])
            .await
    }

    async fn touch_pat(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE personal_access_tokens SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => {
                self.write(
                    "INSERT INTO settings (key, value) VALUES (?, ?)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[key, v],
                )
                .await?;
            }
            None => {
                self.write("DELETE FROM settings WHERE key = ?", &[key])
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (SqliteMetaStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteMetaStore::open(&dir.path().join("db")).await.unwrap();
        (s, dir)
    }

    fn user(name: &str) -> UserRecord {
        UserRecord {
            name: name.into(),
            uid: format!("uid-{name}"),
            generation: 0,
            password_hash: "h".into(),
            enabled: true,
            created_at: 1,
            totp_secret: None,
            totp_confirmed: false,
            totp_last_step: 0,
            recovery_codes: Vec::new(),
        }
    }

    #[tokio::test]
    async fn every_credential_change_bumps_the_generation() {
        let (s, _d) = store().await;
        s.create_user(&user("alice")).await.unwrap();
        async fn generation(s: &SqliteMetaStore) -> i64 {
            s.user("alice").await.unwrap().unwrap().generation
        }
        assert_eq!(generation(&s).await, 0);
        s.set_user_password("alice", "h2").await.unwrap();
        assert_eq!(generation(&s).await, 1);
        s.set_user_enabled("alice", false).await.unwrap();
        s.set_user_enabled("alice", true).await.unwrap();
        assert_eq!(generation(&s).await, 3);
        let totp = |confirmed| TotpUpdate {
            secret: Some("sealed".into()),
            confirmed,
            recovery_codes: Vec::new(),
        };
        s.set_totp("alice", &totp(false)).await.unwrap();
        assert_eq!(
            generation(&s).await,
            3,
            "starting an enrolment changes nothing"
        );
        s.set_totp("alice", &totp(true)).await.unwrap();
        assert_eq!(generation(&s).await, 4);
        s.set_totp("alice", &totp(false)).await.unwrap();
        assert_eq!(generation(&s).await, 5);
        assert_eq!(s.user("alice").await.unwrap().unwrap().uid, "uid-alice");
    }

    #[tokio::test]
    async fn totp_steps_and_recovery_codes_work_once() {
        let (s, _d) = store().await;
        assert!(s.create_user(&user("alice")).await.unwrap());
        assert!(!s.create_user(&user("alice")).await.unwrap());
        assert!(s.use_totp_step("alice", 100).await.unwrap());
        assert!(!s.use_totp_step("alice", 100).await.unwrap(), "replayed");
        assert!(!s.use_totp_step("alice", 99).await.unwrap(), "older");
        assert!(s.use_totp_step("alice", 101).await.unwrap());
        let t = TotpUpdate {
            secret: Some("sealed".into()),
            confirmed: true,
            recovery_codes: vec!["aa".into(), "bb".into()],
        };
        assert!(s.set_totp("alice", &t).await.unwrap());
        assert!(s.use_recovery_code("alice", "aa").await.unwrap());
        assert!(!s.use_recovery_code("alice", "aa").await.unwrap());
        let u = s.user("alice").await.unwrap().unwrap();
        assert_eq!(u.recovery_codes, vec!["bb".to_owned()]);
        assert!(u.totp_confirmed);
    }

    #[tokio::test]
    async fn deleting_a_user_removes_memberships_bindings_and_tokens() {
        let (s, _d) = store().await;
        s.create_user(&user("alice")).await.unwrap();
        s.create_group("devs", 1).await.unwrap();
        assert!(s.add_member("devs", "alice").await.unwrap());
        assert!(s.add_member("devs", "alice").await.unwrap(), "idempotent");
        assert!(!s.add_member("devs", "nobody").await.unwrap());
        assert!(!s.add_member("nogroup", "alice").await.unwrap());
        let b = BindingRecord {
            principal: "user:alice".into(),
            pattern: "team/*".into(),
            role: "reader".into(),
        };
        assert!(s.add_binding(&b).await.unwrap());
        assert!(!s.add_binding(&b).await.unwrap());
        let pat = PatRecord {
            id: "abc".into(),
            generation: 0,
            user: "alice".into(),
            name: "laptop".into(),
            scopes: "repository:team/*:pull".into(),
            expires_at: None,
            password_hash: "h".into(),
            password2_hash: None,
            enabled: true,
            allowed_cidrs: None,
            created_at: 1,
            last_used_at: None,
        };
        assert!(s.create_pat(&pat).await.unwrap());
        assert!(s.delete_user("alice").await.unwrap());
        assert!(s.bindings().await.unwrap().is_empty());
        assert!(s.pat("abc").await.unwrap().is_none());
        assert_eq!(s.groups().await.unwrap()[0].members, Vec::<String>::new());
    }
}
