//! The preview's record on its asset: how much of it is published, and the asset
//! becoming `playable` when its first segment is.

use crate::db::now_ms;
use crate::events::append_asset_event;
use crate::{ClaimedTask, Db, Result, Stage};

impl Db {
    /// Records that `seconds` of the preview are published (its playlist names them),
    /// under the preview task's lease. The first time, a processing asset becomes
    /// `playable` (with an `asset.playable` event); a ready asset keeps its version
    /// (`updated_at`), since the preview is not part of what the origin caches. `false`
    /// means the lease is gone (cancelled, or taken by another worker): stop.
    pub async fn set_preview(
        &self,
        task: &ClaimedTask,
        seconds: f64,
        percent: f64,
    ) -> Result<bool> {
        debug_assert_eq!(task.stage, Stage::Preview);
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE tasks SET progress = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(percent.clamp(0.0, 100.0))
        .bind(now)
        .bind(&task.id)
        .bind(&task.owner)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        sqlx::query(
            "UPDATE assets SET preview_seconds = $1, \
             updated_at = CASE WHEN status = 'ready' THEN updated_at ELSE $2 END WHERE id = $3",
        )
        .bind(seconds)
        .bind(now)
        .bind(&task.asset_id)
        .execute(&mut *tx)
        .await?;
        let playable = sqlx::query(
            "UPDATE assets SET status = 'playable' WHERE id = $1 AND status = 'processing'",
        )
        .bind(&task.asset_id)
        .execute(&mut *tx)
        .await?;
        if playable.rows_affected() == 1 {
            append_asset_event(&mut tx, &task.asset_id, "asset.playable", now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
