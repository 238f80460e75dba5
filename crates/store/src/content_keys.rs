//! Content keys (DRM): rows of sealed key bytes, never clear keys.
//!
//! The key itself is sealed by the caller (openvod-drm) before it reaches this module; the
//! database only ever holds `sealed` bytes. A KID (32 lowercase hex digits) names at most
//! one key, bound to one content id for good.
//!
//! Keys whose KID openvod chose are unique per content id and track type (a partial
//! unique index), so two processes creating "the HD key of asset X" at once end up with
//! one: each inserts if absent, then both read the same row back. Keys whose KID a SPEKE
//! client chose are not: a client may use several KIDs for one track type.

use sqlx::any::AnyRow;

use crate::db::{col, now_ms};
use crate::{Db, Error, Result};

/// Who chose a key's KID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KidChosenBy {
    /// openvod chose it: one key per content id and track type.
    Openvod,
    /// A SPEKE client chose it and asked openvod for the key.
    Client,
}

impl KidChosenBy {
    pub fn as_str(self) -> &'static str {
        match self {
            KidChosenBy::Openvod => "openvod",
            KidChosenBy::Client => "client",
        }
    }

    fn parse(s: &str) -> Result<KidChosenBy> {
        match s {
            "openvod" => Ok(KidChosenBy::Openvod),
            "client" => Ok(KidChosenBy::Client),
            other => Err(Error::Conflict(format!(
                "content key row has an unknown chosen_by value {other:?}"
            ))),
        }
    }
}

/// One stored content key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredContentKey {
    /// 32 lowercase hex digits.
    pub kid: String,
    pub content_id: String,
    /// As the caller names it (openvod-drm: "AUDIO", "SD", "HD", "UHD").
    pub track_type: String,
    pub chosen_by: KidChosenBy,
    /// The sealed key: opaque here.
    pub sealed: Vec<u8>,
    pub created_at: i64,
}

/// The sealed bytes are left out: they are useless without the master key, but need not
/// reach logs either.
impl std::fmt::Debug for StoredContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredContentKey")
            .field("kid", &self.kid)
            .field("content_id", &self.content_id)
            .field("track_type", &self.track_type)
            .field("chosen_by", &self.chosen_by)
            .field("sealed_len", &self.sealed.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

const COLUMNS: &str = "kid, content_id, track_type, chosen_by, sealed, created_at";

fn content_key_from(row: &AnyRow) -> Result<StoredContentKey> {
    let chosen_by: String = col(row, "chosen_by")?;
    Ok(StoredContentKey {
        kid: col(row, "kid")?,
        content_id: col(row, "content_id")?,
        track_type: col(row, "track_type")?,
        chosen_by: KidChosenBy::parse(&chosen_by)?,
        sealed: col(row, "sealed")?,
        created_at: col(row, "created_at")?,
    })
}

/// Checks the one format every KID in the table has.
fn check_kid(kid: &str) -> Result<()> {
    if kid.len() == 32 && kid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "a KID is stored as 32 lowercase hex digits (got {} characters)",
            kid.len()
        )))
    }
}

impl Db {
    /// Inserts a content key unless its KID is taken or, for a KID openvod chose, its
    /// content id and track type already have one. Returns whether it was inserted;
    /// either way the caller reads back what is stored.
    pub async fn insert_content_key(
        &self,
        kid: &str,
        content_id: &str,
        track_type: &str,
        chosen_by: KidChosenBy,
        sealed: &[u8],
    ) -> Result<bool> {
        check_kid(kid)?;
        // No conflict target: DO NOTHING covers the primary key and the partial unique
        // index alike, in SQLite and PostgreSQL.
        let done = sqlx::query(
            "INSERT INTO content_keys (kid, content_id, track_type, chosen_by, sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(kid)
        .bind(content_id)
        .bind(track_type)
        .bind(chosen_by.as_str())
        .bind(sealed.to_vec())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The key openvod chose for a content id and track type, if any.
    pub async fn content_key_for_track(
        &self,
        content_id: &str,
        track_type: &str,
    ) -> Result<Option<StoredContentKey>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM content_keys \
             WHERE content_id = $1 AND track_type = $2 AND chosen_by = 'openvod'"
        ))
        .bind(content_id)
        .bind(track_type)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(content_key_from).transpose()
    }

    /// The key a KID names, whoever chose it.
    pub async fn content_key_by_kid(&self, kid: &str) -> Result<Option<StoredContentKey>> {
        check_kid(kid)?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM content_keys WHERE kid = $1"
        ))
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(content_key_from).transpose()
    }

    /// Every key of a content id, oldest first.
    pub async fn content_keys_of(&self, content_id: &str) -> Result<Vec<StoredContentKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM content_keys WHERE content_id = $1 ORDER BY created_at, kid"
        ))
        .bind(content_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(content_key_from).collect()
    }

    /// Deletes every key of a content id; returns how many there were.
    pub async fn delete_content_keys(&self, content_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM content_keys WHERE content_id = $1")
            .bind(content_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The same suite on SQLite and, when reachable, PostgreSQL (as in tests/db.rs:
/// `OPENVOD_TEST_POSTGRES_URL`, a schema per test, skipped loudly unless `CI=true`).
#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    static SCHEMA_SEQ: AtomicU32 = AtomicU32::new(0);

    async fn databases() -> (Vec<(&'static str, Db)>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
            .await
            .unwrap();
        let mut dbs = vec![("sqlite", sqlite)];
        if let Some(pg) = postgres().await {
            dbs.push(("postgres", pg));
        }
        (dbs, dir)
    }

    async fn postgres() -> Option<Db> {
        let base = std::env::var("OPENVOD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!(
            "t_{}_{}_ck{}",
            std::process::id(),
            now_ms(),
            SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let admin = match Db::connect_admin(&base).await {
            Ok(db) => db,
            Err(e) => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("PostgreSQL is required in CI and is not reachable at {base}: {e}");
                }
                eprintln!("\n*** SKIPPED: PostgreSQL half of this test: {base} is not reachable ({e}). Set OPENVOD_TEST_POSTGRES_URL. ***\n");
                return None;
            }
        };
        drop_old_schemas(&admin).await;
        admin
            .execute_raw(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(
            Db::connect(&format!("{base}{sep}options=-c%20search_path%3D{schema}"))
                .await
                .unwrap(),
        )
    }

    /// Drops the schemas of test runs more than an hour old.
    async fn drop_old_schemas(admin: &Db) {
        let hour_ago = now_ms() - 3_600_000;
        for schema in admin.schemas_like("t_%").await.unwrap() {
            let started: i64 = schema
                .split('_')
                .nth(2)
                .and_then(|t| t.parse().ok())
                .unwrap_or(i64::MAX);
            if started < hour_ago {
                let _ = admin
                    .execute_raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
            }
        }
    }

    const KID_A: &str = "00112233445566778899aabbccddeeff";
    const KID_B: &str = "ffeeddccbbaa99887766554433221100";
    const KID_C: &str = "0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn a_key_is_inserted_once_and_found_by_kid_and_by_track() {
        let (dbs, _dir) = databases().await;
        for (name, db) in dbs {
            let sealed = vec![7u8; 44];
            assert!(db
                .insert_content_key(KID_A, "asset1", "HD", KidChosenBy::Openvod, &sealed)
                .await
                .unwrap());
            let again = db
                .insert_content_key(KID_A, "asset1", "HD", KidChosenBy::Openvod, &[1, 2])
                .await
                .unwrap();
            assert!(!again, "{name}: the same KID is not inserted twice");
            let by_kid = db.content_key_by_kid(KID_A).await.unwrap().unwrap();
            assert_eq!(by_kid.sealed, sealed, "{name}: the first insert stays");
            assert_eq!(
                (
                    by_kid.content_id.as_str(),
                    by_kid.track_type.as_str(),
                    by_kid.chosen_by
                ),
                ("asset1", "HD", KidChosenBy::Openvod),
                "{name}"
            );
            let by_track = db
                .content_key_for_track("asset1", "HD")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(by_track, by_kid, "{name}");
            assert!(db
                .content_key_for_track("asset1", "SD")
                .await
                .unwrap()
                .is_none());
            assert!(db.content_key_by_kid(KID_B).await.unwrap().is_none());
            assert!(
                !format!("{by_kid:?}").contains("[7, 7"),
                "{name}: Debug hides the sealed bytes"
            );
        }
    }

    #[tokio::test]
    async fn openvod_keeps_one_kid_per_track_type_and_clients_may_use_several() {
        let (dbs, _dir) = databases().await;
        for (name, db) in dbs {
            assert!(db
                .insert_content_key(KID_A, "asset1", "HD", KidChosenBy::Openvod, &[1])
                .await
                .unwrap());
            let second = db
                .insert_content_key(KID_B, "asset1", "HD", KidChosenBy::Openvod, &[2])
                .await
                .unwrap();
            assert!(
                !second,
                "{name}: a second openvod KID for asset1/HD is refused"
            );
            assert!(db.content_key_by_kid(KID_B).await.unwrap().is_none());
            assert_eq!(
                db.content_key_for_track("asset1", "HD")
                    .await
                    .unwrap()
                    .unwrap()
                    .kid,
                KID_A,
                "{name}"
            );
            // A SPEKE client's KIDs for the same track type sit beside it.
            for kid in [KID_B, KID_C] {
                assert!(db
                    .insert_content_key(kid, "asset1", "HD", KidChosenBy::Client, &[3])
                    .await
                    .unwrap());
            }
            assert_eq!(
                db.content_keys_of("asset1").await.unwrap().len(),
                3,
                "{name}"
            );
            assert_eq!(
                db.content_key_for_track("asset1", "HD")
                    .await
                    .unwrap()
                    .unwrap()
                    .kid,
                KID_A,
                "{name}: the track's key is still the one openvod chose"
            );
        }
    }

    #[tokio::test]
    async fn concurrent_inserts_for_one_track_leave_one_key() {
        let (dbs, _dir) = databases().await;
        for (name, db) in dbs {
            let kids: Vec<String> = (0..8u8).map(|i| format!("{:02x}", i).repeat(16)).collect();
            let inserts = kids.iter().map(|kid| {
                let db = db.clone();
                let kid = kid.clone();
                tokio::spawn(async move {
                    db.insert_content_key(&kid, "race", "SD", KidChosenBy::Openvod, &[0])
                        .await
                        .unwrap()
                })
            });
            let mut inserted = 0;
            for task in inserts.collect::<Vec<_>>() {
                inserted += usize::from(task.await.unwrap());
            }
            assert_eq!(inserted, 1, "{name}: exactly one racer wins");
            assert_eq!(db.content_keys_of("race").await.unwrap().len(), 1, "{name}");
        }
    }

    #[tokio::test]
    async fn deleting_a_content_id_removes_its_keys_only() {
        let (dbs, _dir) = databases().await;
        for (name, db) in dbs {
            db.insert_content_key(KID_A, "gone", "AUDIO", KidChosenBy::Openvod, &[1])
                .await
                .unwrap();
            db.insert_content_key(KID_B, "gone", "HD", KidChosenBy::Client, &[2])
                .await
                .unwrap();
            db.insert_content_key(KID_C, "kept", "HD", KidChosenBy::Openvod, &[3])
                .await
                .unwrap();
            assert_eq!(db.delete_content_keys("gone").await.unwrap(), 2, "{name}");
            assert!(db.content_keys_of("gone").await.unwrap().is_empty());
            assert!(db.content_key_by_kid(KID_A).await.unwrap().is_none());
            assert!(db.content_key_by_kid(KID_C).await.unwrap().is_some());
            assert_eq!(db.delete_content_keys("gone").await.unwrap(), 0, "{name}");
        }
    }

    #[tokio::test]
    async fn malformed_kids_are_refused_before_the_database() {
        let (dbs, _dir) = databases().await;
        for (name, db) in dbs {
            for kid in [
                "",
                "00112233",
                "00112233445566778899AABBCCDDEEFF",
                "g0112233445566778899aabbccddeeff",
            ] {
                assert!(
                    db.insert_content_key(kid, "a", "HD", KidChosenBy::Openvod, &[1])
                        .await
                        .is_err(),
                    "{name}: {kid:?}"
                );
                assert!(db.content_key_by_kid(kid).await.is_err(), "{name}: {kid:?}");
            }
        }
    }
}
