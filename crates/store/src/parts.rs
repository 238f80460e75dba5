//! The parts of a stage that runs as several tasks: a chunked encode's ([`Stage::Encode`]),
//! queued by the transcode stage's fan-out ([`crate::StageOutcome::parts`]), each leased
//! on its own; the asset's progress is their mean, and the last to complete queues the
//! package stage (see `tasks`).

use crate::assets::new_id;
use crate::db::{col, now_ms};
use crate::{ClaimedTask, Db, Result, Stage};

/// One task of a fan-out: its part number and the codecs its worker must encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartTask {
    pub part: u32,
    pub codecs: i64,
}

pub(crate) async fn insert_part(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: &str,
    stage: Stage,
    part: PartTask,
    max_attempts: u32,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tasks (id, asset_id, stage, part, status, attempts, max_attempts, run_after, codecs, progress, created_at, updated_at) \
         VALUES ($1, $2, $3, $7, 'pending', 0, $4, $5, $6, 0, $5, $5) \
         ON CONFLICT (asset_id, stage, part) DO UPDATE SET status = 'pending', attempts = 0, run_after = $5, \
         lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, output = NULL, codecs = $6, progress = 0, updated_at = $5",
    )
    .bind(new_id())
    .bind(asset_id)
    .bind(stage.as_str())
    .bind(i64::from(max_attempts.max(1)))
    .bind(now)
    .bind(part.codecs)
    .bind(i64::from(part.part))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Cancels what may still run beside a stage that failed for good: the other parts of
/// an encode, and the preview.
pub(crate) async fn cancel_parts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE tasks SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
         WHERE asset_id = $2 AND stage IN ($3, $4) AND status IN ('pending', 'running')",
    )
    .bind(now)
    .bind(asset_id)
    .bind(Stage::Encode.as_str())
    .bind(Stage::Preview.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets the asset's progress to the mean of its encode parts' progress.
pub(crate) async fn sum_part_progress(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE assets SET progress = COALESCE((SELECT AVG(progress) FROM tasks WHERE asset_id = $1 AND stage = $2), 0), \
         updated_at = $3 WHERE id = $1",
    )
    .bind(asset_id)
    .bind(Stage::Encode.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Records a part's progress (0-100) and sets the asset's to the mean of its parts'.
    pub async fn set_part_progress(&self, task: &ClaimedTask, percent: f64) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE tasks SET progress = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(percent.clamp(0.0, 100.0))
        .bind(&task.id)
        .bind(&task.owner)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            sum_part_progress(&mut tx, &task.asset_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The outputs of the finished parts of a stage of an asset, by part.
    pub async fn part_outputs(
        &self,
        asset_id: &str,
        stage: Stage,
    ) -> Result<Vec<(u32, serde_json::Value)>> {
        let rows = sqlx::query(
            "SELECT part, output FROM tasks WHERE asset_id = $1 AND stage = $2 AND status = 'succeeded' ORDER BY part",
        )
        .bind(asset_id)
        .bind(stage.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let part: i64 = col(row, "part")?;
            let text: Option<String> = col(row, "output")?;
            if let Some(t) = text {
                out.push((
                    part.clamp(0, i64::from(u32::MAX)) as u32,
                    serde_json::from_str(&t)?,
                ));
            }
        }
        Ok(out)
    }

    /// How many parts of `stage` of an asset wait to be claimed (pending, or running
    /// with an expired lease).
    pub async fn unclaimed_parts(&self, asset_id: &str, stage: Stage) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM tasks WHERE asset_id = $1 AND stage = $2 \
             AND (status = 'pending' OR (status = 'running' AND lease_expires_at < $3))",
        )
        .bind(asset_id)
        .bind(stage.as_str())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        col(&row, "n")
    }
}
