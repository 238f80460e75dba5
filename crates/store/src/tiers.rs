//! Storage tiers in the database: which class an asset's objects are kept in, and the
//! holds of the movers that copy them between classes.
//!
//! An asset is `hot` until a mover takes it (`archiving`: the objects are copied to the
//! cold class while the hot ones are still served), then `cold`. A viewer's request or
//! the API makes a cold asset `restoring`, and a mover copies it back and makes it `hot`.
//! A mover holds the asset it moves (owner and expiry) and renews the hold as it goes;
//! only the holder commits, and a hold past its expiry is free for another mover, so a
//! mover that stops midway loses nothing: an unfinished archive goes back to `hot`, an
//! unfinished restore is taken again.

use serde::Serialize;

use crate::db::{col, now_ms};
use crate::events::append_asset_event;
use crate::{Db, Result};

/// Where an asset's objects are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageState {
    /// In the store's own class: served.
    Hot,
    /// Being copied to the cold class; the hot copies are still served.
    Archiving,
    /// In the cold class: a request for it is answered 202 and restores it.
    Cold,
    /// Being copied back: answered 202 until it is hot.
    Restoring,
}

impl StorageState {
    pub const ALL: [StorageState; 4] = [
        StorageState::Hot,
        StorageState::Archiving,
        StorageState::Cold,
        StorageState::Restoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageState::Hot => "hot",
            StorageState::Archiving => "archiving",
            StorageState::Cold => "cold",
            StorageState::Restoring => "restoring",
        }
    }

    pub fn parse(s: &str) -> Option<StorageState> {
        StorageState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the hot copies are there to serve.
    pub fn is_served(self) -> bool {
        matches!(self, StorageState::Hot | StorageState::Archiving)
    }
}

impl Db {
    /// Ready, hot assets not served since `cutoff_ms` (nor published or restored since),
    /// least recently used first, at most `limit`.
    pub async fn assets_unused_since(&self, cutoff_ms: i64, limit: u32) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.id, COALESCE(u.updated_at, a.finished_at, a.updated_at) AS used_at \
             FROM assets a LEFT JOIN asset_usage u ON u.asset_id = a.id \
             WHERE a.status = 'ready' AND a.storage = 'hot' \
               AND COALESCE(u.updated_at, a.finished_at, a.updated_at) < $1 \
               AND (a.storage_changed_at IS NULL OR a.storage_changed_at < $1) \
             ORDER BY used_at, a.id LIMIT $2",
        )
        .bind(cutoff_ms)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Takes a ready, hot asset to archive it, held by `owner` until `until_ms`; `false`
    /// when it is not ready and hot, another move still holds it (a restore removing its
    /// cold copies), or its tracks are being changed.
    pub async fn begin_archive(&self, id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE assets SET storage = 'archiving', storage_owner = $1, storage_until = $2 \
             WHERE id = $3 AND status = 'ready' AND storage = 'hot' \
               AND (storage_until IS NULL OR storage_until < $4) \
               AND (tracks_edit_until_ms IS NULL OR tracks_edit_until_ms < $4)",
        )
        .bind(owner)
        .bind(until_ms)
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Renews `owner`'s hold on an asset it moves; `false` when the hold is lost.
    pub async fn renew_storage_hold(&self, id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE assets SET storage_until = $1 WHERE id = $2 AND storage_owner = $3",
        )
        .bind(until_ms)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Ends an archive that copied `copied` (objects, bytes): the asset becomes cold when
    /// nothing of it was served since `since_ms` (when the copy began), still held by
    /// `owner` until `hold_until_ms` (which removes the hot copies, then releases it), and
    /// goes back to hot otherwise (its viewers came back). Returns the state it is left
    /// in; `None` when the hold was lost.
    pub async fn finish_archive(
        &self,
        id: &str,
        owner: &str,
        since_ms: i64,
        copied: (u64, u64),
        hold_until_ms: i64,
    ) -> Result<Option<StorageState>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE assets SET storage = 'cold', storage_until = $7, \
             storage_changed_at = $1, cold_objects = $5, cold_bytes = $6 \
             WHERE id = $2 AND storage = 'archiving' AND storage_owner = $3 \
               AND NOT EXISTS (SELECT 1 FROM asset_usage WHERE asset_id = $2 AND updated_at >= $4)",
        )
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(since_ms)
        .bind(i64::try_from(copied.0).unwrap_or(i64::MAX))
        .bind(i64::try_from(copied.1).unwrap_or(i64::MAX))
        .bind(hold_until_ms)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            append_asset_event(&mut tx, id, "asset.archived", now).await?;
            tx.commit().await?;
            return Ok(Some(StorageState::Cold));
        }
        tx.commit().await?;
        Ok(self
            .abandon_archive(id, owner)
            .await?
            .then_some(StorageState::Hot))
    }

    /// Gives up an archive `owner` holds: the asset is hot again. `false` when the hold
    /// was lost.
    pub async fn abandon_archive(&self, id: &str, owner: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE assets SET storage = 'hot', storage_owner = NULL, storage_until = NULL \
             WHERE id = $1 AND storage = 'archiving' AND storage_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Takes over, for `owner` until `until_ms`, the archives whose mover stopped before
    /// finishing (the hold expired); returns their ids. The caller removes their cold
    /// copies, then gives them back hot ([`Db::abandon_archive`]).
    pub async fn take_stale_archives(&self, owner: &str, until_ms: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE assets SET storage_owner = $1, storage_until = $2 \
             WHERE storage = 'archiving' AND storage_until < $3 RETURNING id",
        )
        .bind(owner)
        .bind(until_ms)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Ends `owner`'s hold, whatever the state.
    pub async fn release_storage_hold(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE assets SET storage_owner = NULL, storage_until = NULL \
             WHERE id = $1 AND storage_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Asks for a cold asset back: it becomes `restoring` (with an `asset.restoring`
    /// event) for the next mover, once the archive's hold is released. Returns the
    /// asset's state after the request; `None` when there is no such asset.
    pub async fn request_restore(&self, id: &str) -> Result<Option<StorageState>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE assets SET storage = 'restoring' WHERE id = $1 AND storage = 'cold'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            append_asset_event(&mut tx, id, "asset.restoring", now).await?;
        }
        let row = sqlx::query("SELECT storage FROM assets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        match row {
            Some(row) => Ok(StorageState::parse(&col::<String>(&row, "storage")?)),
            None => Ok(None),
        }
    }

    /// Takes the next asset waiting to be restored (no hold, or a hold past its expiry),
    /// held by `owner` until `until_ms`.
    pub async fn claim_restore(&self, owner: &str, until_ms: i64) -> Result<Option<String>> {
        let now = now_ms();
        let candidates = sqlx::query(
            "SELECT id FROM assets WHERE storage = 'restoring' \
             AND (storage_until IS NULL OR storage_until < $1) ORDER BY id LIMIT 8",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        for row in &candidates {
            let id: String = col(row, "id")?;
            // Taken only if no other mover took it since it was read.
            let n = sqlx::query(
                "UPDATE assets SET storage_owner = $1, storage_until = $2 WHERE id = $3 \
                 AND storage = 'restoring' AND (storage_until IS NULL OR storage_until < $4)",
            )
            .bind(owner)
            .bind(until_ms)
            .bind(&id)
            .bind(now)
            .execute(&self.pool)
            .await?;
            if n.rows_affected() == 1 {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Ends a restore `owner` holds: the asset is hot (with an `asset.restored` event),
    /// still held until `hold_until_ms` while the cold copies are removed. `false` when
    /// the hold was lost.
    pub async fn finish_restore(&self, id: &str, owner: &str, hold_until_ms: i64) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE assets SET storage = 'hot', storage_until = $4, \
             storage_changed_at = $1 WHERE id = $2 AND storage = 'restoring' AND storage_owner = $3",
        )
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(hold_until_ms)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            append_asset_event(&mut tx, id, "asset.restored", now).await?;
        }
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// What the archive of a cold asset copied (objects, bytes); `None` when it records
    /// nothing.
    pub async fn cold_copied(&self, id: &str) -> Result<Option<(u64, u64)>> {
        let row = sqlx::query("SELECT cold_objects, cold_bytes FROM assets WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let objects: Option<i64> = col(&row, "cold_objects")?;
        let bytes: Option<i64> = col(&row, "cold_bytes")?;
        Ok(objects
            .zip(bytes)
            .map(|(o, b)| (o.max(0) as u64, b.max(0) as u64)))
    }

    /// Hands a restore back to be taken again at `retry_at_ms` (after a failed copy).
    pub async fn postpone_restore(&self, id: &str, owner: &str, retry_at_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE assets SET storage_owner = NULL, storage_until = $1 \
             WHERE id = $2 AND storage = 'restoring' AND storage_owner = $3",
        )
        .bind(retry_at_ms)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many other assets name `source_key` as their source: a shared source stays
    /// hot.
    pub async fn other_assets_of_source(&self, source_key: &str, id: &str) -> Result<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM assets WHERE source_key = $1 AND id <> $2")
                .bind(source_key)
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        col(&row, "n")
    }

    /// Counts of ready assets by storage state, for metrics.
    pub async fn count_assets_by_storage(&self) -> Result<Vec<(StorageState, i64)>> {
        let rows = sqlx::query(
            "SELECT storage, COUNT(*) AS n FROM assets WHERE status = 'ready' GROUP BY storage",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let state: String = col(row, "storage")?;
            if let Some(s) = StorageState::parse(&state) {
                out.push((s, col(row, "n")?));
            }
        }
        Ok(out)
    }
}
