//! Tasks: one row per stage of an asset's pipeline, leased by workers.
//!
//! A worker claims a runnable task (pending and due, or running with an expired lease)
//! and holds it with a lease it renews by heartbeat. Everything a stage decides is
//! committed in one transaction together with the task's completion, and only by the
//! worker that still holds the lease: a worker that lost its lease cannot overwrite the
//! work of the one that took over.
//!
//! A stage runs as one task (part 0), except a chunked encode: the transcode stage fans
//! out into the parts of [`Stage::Encode`] ([`StageOutcome::parts`]), any worker takes any
//! part, and the part that completes last (the asset's row serialises the completions)
//! queues the package stage. A part that fails for good cancels the others.

use std::time::Duration;

use serde::Serialize;

use crate::db::{col, now_ms};
use crate::events::{append_asset_event, append_event};
use crate::parts::{cancel_parts, insert_part, sum_part_progress, PartTask};
use crate::{Backend, Db, Error, Result};

/// The stages of the pipeline, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Probe,
    Validate,
    /// The preview, queued beside the transcode by the validate stage: a fast single
    /// rendition published segment by segment, so that the asset plays while its ladder
    /// encodes. It is off the main line: it neither queues a stage nor fails the asset.
    Preview,
    Transcode,
    /// The parts of a chunked encode, which the transcode stage fans out into.
    Encode,
    Package,
    Publish,
}

impl Stage {
    pub const FIRST: Stage = Stage::Probe;
    pub const ALL: [Stage; 7] = [
        Stage::Probe,
        Stage::Validate,
        Stage::Preview,
        Stage::Transcode,
        Stage::Encode,
        Stage::Package,
        Stage::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Probe => "probe",
            Stage::Validate => "validate",
            Stage::Preview => "preview",
            Stage::Transcode => "transcode",
            Stage::Encode => "encode",
            Stage::Package => "package",
            Stage::Publish => "publish",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stage after this one; `None` after the last (and after the preview, which is
    /// off the main line). A transcode is followed by the package stage unless it fans
    /// out into [`Stage::Encode`]'s parts.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Preview => None,
            Stage::Probe => Some(Stage::Validate),
            Stage::Validate => Some(Stage::Transcode),
            Stage::Transcode | Stage::Encode => Some(Stage::Package),
            Stage::Package => Some(Stage::Publish),
            Stage::Publish => None,
        }
    }
}

/// How a worker takes previews ([`Stage::Preview`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Previews {
    /// Before any other task: they are short and make an asset playable.
    #[default]
    First,
    /// After every other task: a worker beside preview workers keeps to the ladders
    /// while those take the previews, and takes a preview only when it has nothing else.
    Last,
    /// Nothing else: a preview worker, which a ladder encode never keeps busy.
    Only,
}

/// The state of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskStatus {
    /// Every status, in the order a task goes through them.
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// A task a worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask {
    pub id: String,
    pub asset_id: String,
    pub stage: Stage,
    /// Which part of its stage (0 for a stage that runs as one task).
    pub part: u32,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    pub owner: String,
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// A stable code for the API, e.g. "invalid_media".
    pub code: String,
    /// One line for a person.
    pub message: String,
    /// Whether running it again might succeed (a store outage, a killed process).
    pub retryable: bool,
}

/// Inserts (or resets, when the stage ran before) the task of `stage` for an asset;
/// `codecs` is the bit set of video codecs its worker must encode (0: any worker).
pub(crate) async fn insert_task(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: &str,
    stage: Stage,
    max_attempts: u32,
    codecs: i64,
    now: i64,
) -> Result<()> {
    insert_part(
        tx,
        asset_id,
        stage,
        PartTask { part: 0, codecs },
        max_attempts,
        now,
    )
    .await
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Db {
    /// Claims the next runnable task for `owner`, holding it for `lease`, among those
    /// whose codecs are all in `codecs` (the bit set of what the worker's ffmpeg
    /// encodes), taking previews as `previews` says. Tasks whose lease expired after
    /// their last attempt are failed first, so that a task that kills its worker every
    /// time cannot loop forever.
    pub async fn claim_task(
        &self,
        owner: &str,
        lease: Duration,
        codecs: i64,
        previews: Previews,
    ) -> Result<Option<ClaimedTask>> {
        let now = now_ms();
        self.fail_exhausted_leases(now).await?;
        // PostgreSQL: concurrent workers skip rows another transaction has locked.
        // SQLite: the UPDATE runs under the database's single write lock.
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE tasks SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM tasks \
                         WHERE ((status = 'pending' AND run_after <= $3) \
                            OR (status = 'running' AND lease_expires_at < $3 AND attempts < max_attempts)) \
                           AND (codecs | $4) = $4 AND ($5 = 0 OR stage = 'preview') \
                         ORDER BY CASE WHEN stage = 'preview' THEN $6 ELSE 1 END, run_after, part, id \
                         LIMIT 1 {lock}) \
             RETURNING id, asset_id, stage, part, attempts, max_attempts"
        ))
        .bind(owner)
        .bind(now + millis(lease))
        .bind(now)
        .bind(codecs)
        .bind(i64::from(previews == Previews::Only))
        .bind(if previews == Previews::Last { 2i64 } else { 0 })
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let stage: String = col(&row, "stage")?;
        let task = ClaimedTask {
            id: col(&row, "id")?,
            asset_id: col(&row, "asset_id")?,
            stage: Stage::parse(&stage)
                .ok_or_else(|| Error::Conflict(format!("unknown stage {stage:?}")))?,
            part: col::<i64>(&row, "part")?.clamp(0, i64::from(u32::MAX)) as u32,
            attempt: col::<i64>(&row, "attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
            max_attempts: col::<i64>(&row, "max_attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
            owner: owner.to_string(),
        };
        if task.stage == Stage::Preview {
            // Off the main line: the asset's stage and progress are the ladder's.
            tx.commit().await?;
            return Ok(Some(task));
        }
        // The parts of an encode share the asset's progress: a part starting does not
        // reset it. A playable asset stays playable.
        sqlx::query(
            "UPDATE assets SET status = CASE WHEN status = 'playable' THEN status ELSE 'processing' END, stage = $1, \
             progress = CASE WHEN $1 = 'encode' THEN progress ELSE 0 END, \
             started_at = COALESCE(started_at, $2), updated_at = $2 WHERE id = $3",
        )
        .bind(task.stage.as_str())
        .bind(now)
        .bind(&task.asset_id)
        .execute(&mut *tx)
        .await?;
        let payload = match task.stage {
            Stage::Encode => {
                serde_json::json!({ "id": task.asset_id, "stage": task.stage, "part": task.part, "attempt": task.attempt })
            }
            _ => {
                serde_json::json!({ "id": task.asset_id, "stage": task.stage, "attempt": task.attempt, "progress": 0.0 })
            }
        };
        append_event(
            &mut tx,
            Some(&task.asset_id),
            "asset.progress",
            &payload,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(task))
    }

    async fn fail_exhausted_leases(&self, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE tasks SET status = 'failed', lease_owner = NULL, updated_at = $1, \
             last_error = 'the worker running it stopped before finishing, on every attempt' \
             WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts \
             RETURNING asset_id, stage",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let asset: String = col(row, "asset_id")?;
            if col::<String>(row, "stage")? == Stage::Preview.as_str() {
                // A lost preview leaves the asset to its ladder.
                continue;
            }
            let failure = TaskFailure {
                code: "worker_lost".into(),
                message: "the worker running it stopped before finishing, on every attempt".into(),
                retryable: false,
            };
            fail_asset(&mut tx, &asset, &failure, now).await?;
            cancel_parts(&mut tx, &asset, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Renews the lease. `false` means the lease is gone (expired and taken, or the asset
    /// was cancelled): the worker must stop the work and not commit it.
    pub async fn heartbeat(&self, task: &ClaimedTask, lease: Duration) -> Result<bool> {
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE tasks SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now + millis(lease))
        .bind(now)
        .bind(&task.id)
        .bind(&task.owner)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Commits a finished stage: the task's output, the asset fields the stage set, and
    /// the next stage's task (or the asset becoming ready), in one transaction. Fails
    /// with [`Error::Conflict`] when the lease was lost, leaving everything as it was.
    pub async fn complete_task(&self, task: &ClaimedTask, outcome: StageOutcome) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE tasks SET status = 'succeeded', output = $1, progress = 100, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(outcome.output.to_string())
        .bind(now)
        .bind(&task.id)
        .bind(&task.owner)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() != 1 {
            return Err(Error::Conflict(format!(
                "the lease on the {} task of asset {} was lost",
                task.stage.as_str(),
                task.asset_id
            )));
        }
        if task.stage == Stage::Preview {
            // The preview recorded what it published as it went (`set_preview`).
            tx.commit().await?;
            return Ok(());
        }
        let to_text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        // This UPDATE also locks the asset's row until the commit, so that of two parts
        // finishing together, the second sees the first's success below.
        sqlx::query(
            "UPDATE assets SET probe = COALESCE($1, probe), renditions = COALESCE($2, renditions), \
             output_prefix = COALESCE($3, output_prefix), warnings = COALESCE($4, warnings), \
             ladder = COALESCE($7, ladder), updated_at = $5 WHERE id = $6",
        )
        .bind(to_text(&outcome.probe))
        .bind(to_text(&outcome.renditions))
        .bind(outcome.output_prefix.clone())
        .bind(to_text(&outcome.warnings))
        .bind(now)
        .bind(&task.asset_id)
        .bind(to_text(&outcome.ladder))
        .execute(&mut *tx)
        .await?;
        if task.stage == Stage::Encode {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM tasks WHERE asset_id = $1 AND stage = $2 AND status <> 'succeeded'",
            )
            .bind(&task.asset_id)
            .bind(Stage::Encode.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if col::<i64>(&row, "n")? > 0 {
                sum_part_progress(&mut tx, &task.asset_id, now).await?;
                tx.commit().await?;
                return Ok(());
            }
        }
        if !outcome.parts.is_empty() {
            // A fan-out: the parts replace whatever an earlier run left.
            sqlx::query("DELETE FROM tasks WHERE asset_id = $1 AND stage = $2")
                .bind(&task.asset_id)
                .bind(Stage::Encode.as_str())
                .execute(&mut *tx)
                .await?;
            for part in &outcome.parts {
                insert_part(
                    &mut tx,
                    &task.asset_id,
                    Stage::Encode,
                    *part,
                    task.max_attempts,
                    now,
                )
                .await?;
            }
            sqlx::query(
                "UPDATE assets SET stage = $1, progress = 0, updated_at = $2 WHERE id = $3",
            )
            .bind(Stage::Encode.as_str())
            .bind(now)
            .bind(&task.asset_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        if let Some(codecs) = outcome.preview_codecs {
            insert_task(
                &mut tx,
                &task.asset_id,
                Stage::Preview,
                task.max_attempts,
                codecs,
                now,
            )
            .await?;
        }
        match task.stage.next() {
            Some(next) => {
                insert_task(
                    &mut tx,
                    &task.asset_id,
                    next,
                    task.max_attempts,
                    outcome.next_codecs,
                    now,
                )
                .await?;
                sqlx::query(
                    "UPDATE assets SET stage = $1, progress = 0, updated_at = $2 WHERE id = $3",
                )
                .bind(next.as_str())
                .bind(now)
                .bind(&task.asset_id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE assets SET status = 'ready', stage = NULL, progress = 100, finished_at = $1, updated_at = $1, \
                     error_code = NULL, error_message = NULL WHERE id = $2",
                )
                .bind(now)
                .bind(&task.asset_id)
                .execute(&mut *tx)
                .await?;
                append_asset_event(&mut tx, &task.asset_id, "asset.ready", now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: the task runs again after `retry_delay` while attempts
    /// remain and the failure is retryable; otherwise the task and its asset fail.
    pub async fn fail_task(
        &self,
        task: &ClaimedTask,
        failure: &TaskFailure,
        retry_delay: Duration,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let retry = failure.retryable && task.attempt < task.max_attempts;
        let n = sqlx::query(
            "UPDATE tasks SET status = $1, run_after = $2, last_error = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4 \
             WHERE id = $5 AND lease_owner = $6 AND status = 'running'",
        )
        .bind(if retry { "pending" } else { "failed" })
        .bind(now + millis(retry_delay))
        .bind(&failure.message)
        .bind(now)
        .bind(&task.id)
        .bind(&task.owner)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() != 1 {
            // Lost the lease (or cancelled): the failure is not ours to record.
            return Ok(());
        }
        if retry {
            let payload = serde_json::json!({
                "id": task.asset_id, "stage": task.stage, "part": task.part, "attempt": task.attempt,
                "retry_in_ms": millis(retry_delay), "error": failure.message,
            });
            append_event(
                &mut tx,
                Some(&task.asset_id),
                "asset.retrying",
                &payload,
                now,
            )
            .await?;
        } else if task.stage != Stage::Preview {
            // A preview that fails leaves the asset to its ladder: the task says why.
            fail_asset(&mut tx, &task.asset_id, failure, now).await?;
            cancel_parts(&mut tx, &task.asset_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs again only what failed (or was cancelled) of an asset, its preview with it. A
    /// failed preview alone is not a failed asset: it is not retried on its own.
    pub async fn retry_asset(&self, asset_id: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let retry = "UPDATE tasks SET status = 'pending', attempts = 0, run_after = $1, last_error = NULL, updated_at = $1 \
             WHERE asset_id = $2 AND status IN ('failed', 'cancelled') AND (stage = $3) = $4 RETURNING stage";
        let rows = sqlx::query(retry)
            .bind(now)
            .bind(asset_id)
            .bind(Stage::Preview.as_str())
            .bind(false)
            .fetch_all(&mut *tx)
            .await?;
        let Some(row) = rows.first() else {
            return Err(Error::Conflict(format!(
                "asset {asset_id} has no failed or cancelled task to retry"
            )));
        };
        sqlx::query(retry)
            .bind(now)
            .bind(asset_id)
            .bind(Stage::Preview.as_str())
            .bind(true)
            .execute(&mut *tx)
            .await?;
        let stage: String = col(row, "stage")?;
        sqlx::query(
            "UPDATE assets SET status = 'queued', stage = $1, progress = 0, error_code = NULL, error_message = NULL, \
             finished_at = NULL, updated_at = $2 WHERE id = $3",
        )
        .bind(&stage)
        .bind(now)
        .bind(asset_id)
        .execute(&mut *tx)
        .await?;
        append_event(
            &mut tx,
            Some(asset_id),
            "asset.retried",
            &serde_json::json!({ "id": asset_id, "stage": stage }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cancels the asset's pending and running work. A worker holding the running task
    /// learns it at its next heartbeat and stops.
    pub async fn cancel_asset(&self, asset_id: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE tasks SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE asset_id = $2 AND status IN ('pending', 'running')",
        )
        .bind(now)
        .bind(asset_id)
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "UPDATE assets SET status = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2 AND status IN ('queued', 'processing', 'playable')",
        )
        .bind(now)
        .bind(asset_id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            append_asset_event(&mut tx, asset_id, "asset.cancelled", now).await?;
        }
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// The output a finished stage of an asset recorded.
    pub async fn task_output(
        &self,
        asset_id: &str,
        stage: Stage,
    ) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query(
            "SELECT output FROM tasks WHERE asset_id = $1 AND stage = $2 AND part = 0 AND status = 'succeeded'",
        )
        .bind(asset_id)
        .bind(stage.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let text: Option<String> = col(&row, "output")?;
                Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
            }
            None => Ok(None),
        }
    }

    /// Tasks waiting to run (due now or later), for the queue-depth metric.
    pub async fn pending_tasks(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        col(&row, "n")
    }

    /// The state of each task of an asset, in stage order, parts in order.
    pub async fn asset_tasks(&self, asset_id: &str) -> Result<Vec<TaskState>> {
        let rows = sqlx::query(
            "SELECT stage, part, status, attempts, progress, last_error FROM tasks WHERE asset_id = $1",
        )
        .bind(asset_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let stage: String = col(row, "stage")?;
            let status: String = col(row, "status")?;
            let (Some(stage), Some(status)) = (Stage::parse(&stage), parse_status(&status)) else {
                continue;
            };
            let attempts: i64 = col(row, "attempts")?;
            let part: i64 = col(row, "part")?;
            out.push(TaskState {
                stage,
                part: part.clamp(0, i64::from(u32::MAX)) as u32,
                status,
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                progress: col(row, "progress")?,
                last_error: col(row, "last_error")?,
            });
        }
        out.sort_by_key(|t| (Stage::ALL.iter().position(|&s| s == t.stage), t.part));
        Ok(out)
    }
}

fn parse_status(s: &str) -> Option<TaskStatus> {
    Some(match s {
        "pending" => TaskStatus::Pending,
        "running" => TaskStatus::Running,
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "cancelled" => TaskStatus::Cancelled,
        _ => return None,
    })
}

async fn fail_asset(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: &str,
    failure: &TaskFailure,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE assets SET status = 'failed', error_code = $1, error_message = $2, finished_at = $3, updated_at = $3 \
         WHERE id = $4 AND status IN ('queued', 'processing', 'playable')",
    )
    .bind(&failure.code)
    .bind(&failure.message)
    .bind(now)
    .bind(asset_id)
    .execute(&mut **tx)
    .await?;
    let payload =
        serde_json::json!({ "id": asset_id, "code": failure.code, "error": failure.message });
    append_event(tx, Some(asset_id), "asset.failed", &payload, now).await
}

/// The state of one task of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub stage: Stage,
    pub part: u32,
    pub status: TaskStatus,
    pub attempts: u32,
    /// 0-100, as the part last reported it (encode parts only).
    pub progress: f64,
    pub last_error: Option<String>,
}

/// What a finished stage commits with its task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageOutcome {
    /// Kept on the task for inspection and for the next stages.
    pub output: serde_json::Value,
    pub probe: Option<serde_json::Value>,
    pub renditions: Option<serde_json::Value>,
    pub output_prefix: Option<String>,
    /// The asset's warnings (a JSON array), replacing any it had.
    pub warnings: Option<serde_json::Value>,
    /// The per-title analysis of the asset (see `Asset::ladder`).
    pub ladder: Option<serde_json::Value>,
    /// The video codecs the next stage's worker must encode, as the bit set of
    /// `workers.codecs` (0: any worker).
    pub next_codecs: i64,
    /// A transcode that fans out: the parts of [`Stage::Encode`] to queue instead of the
    /// next stage.
    pub parts: Vec<PartTask>,
    /// Queues [`Stage::Preview`] beside the next stage, for a worker encoding this codec
    /// set (the validate stage sets it).
    pub preview_codecs: Option<i64>,
}
