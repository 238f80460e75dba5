//! The worker fleet: who is working, with what, on what.
//!
//! Each worker (one claim loop of an `openvod serve` or `openvod worker` process)
//! records itself at start and again at every heartbeat, with what its machine can do.
//! A worker not seen for a lease is `lost`: its task, if any, goes to another worker when
//! the lease expires. Codecs are a bit set that tasks carry too (see `claim_task`), so
//! that a task needing an encoder lands only on a worker that has it.

use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::db::{col, now_ms};
use crate::{Db, Result, Stage};

/// What a worker is and what its machine can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Cores of its machine (shared by the workers of one process).
    pub cores: u32,
    /// The first line of `ffmpeg -version`.
    pub ffmpeg: String,
    /// The video codecs its ffmpeg can encode, as the bit set tasks carry.
    pub codecs: i64,
    /// Where its process answers `/healthz`, `/readyz` and `/metrics`.
    pub listen: Option<String>,
}

/// What a worker is doing with its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Claiming and running tasks.
    Running,
    /// Asked to stop: finishing its task, claiming no other.
    Draining,
    /// Stopped cleanly.
    Stopped,
    /// Not seen for a lease: killed, hung or cut off.
    Lost,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Running => "running",
            WorkerState::Draining => "draining",
            WorkerState::Stopped => "stopped",
            WorkerState::Lost => "lost",
        }
    }

    fn parse(s: &str) -> WorkerState {
        match s {
            "running" => WorkerState::Running,
            "draining" => WorkerState::Draining,
            "stopped" => WorkerState::Stopped,
            _ => WorkerState::Lost,
        }
    }
}

/// The task a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentTask {
    pub asset_id: String,
    pub stage: Stage,
    /// Which part of its stage (the chunk of a chunked encode; 0 otherwise).
    pub part: i64,
    /// 1 on the first run.
    pub attempt: i64,
    /// When the lease runs out unless the worker renews it.
    pub lease_expires_at: i64,
}

/// A worker as the fleet view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetWorker {
    pub info: WorkerInfo,
    pub state: WorkerState,
    pub started_at: i64,
    pub seen_at: i64,
    pub task: Option<CurrentTask>,
}

/// Tasks waiting and running, per stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStage {
    pub stage: Stage,
    pub pending: i64,
    pub running: i64,
}

/// The queue as the fleet view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub stages: Vec<QueueStage>,
    /// Pending tasks that need a codec no live worker can encode: they wait until such a
    /// worker starts.
    pub waiting_for_codecs: i64,
}

/// How long a stopped or lost worker stays in the fleet view.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Db {
    /// Forgets the workers not seen for a day (a worker calls it when it starts).
    pub async fn forget_old_workers(&self) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE seen_at < $1")
            .bind(now_ms() - millis(FORGET_AFTER))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that `info`'s worker is alive in `state` (inserting it at its first call).
    pub async fn see_worker(&self, info: &WorkerInfo, state: WorkerState) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO workers (id, host, pid, cores, ffmpeg, codecs, listen, state, started_at, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (id) DO UPDATE SET state = $8, seen_at = $9, listen = $7, \
             ffmpeg = $5, codecs = $6",
        )
        .bind(&info.id)
        .bind(&info.host)
        .bind(i64::from(info.pid))
        .bind(i64::from(info.cores))
        .bind(&info.ffmpeg)
        .bind(info.codecs)
        .bind(info.listen.as_deref())
        .bind(state.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The fleet: every worker seen in the last day, with its task, newest first. A
    /// running or draining worker not seen for `lost_after` is shown as lost.
    pub async fn fleet(&self, lost_after: Duration) -> Result<Vec<FleetWorker>> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT w.id, w.host, w.pid, w.cores, w.ffmpeg, w.codecs, w.listen, w.state, \
             w.started_at, w.seen_at, t.asset_id, t.stage, t.part, t.attempts, t.lease_expires_at \
             FROM workers w LEFT JOIN tasks t ON t.lease_owner = w.id AND t.status = 'running' \
             WHERE w.seen_at >= $1 ORDER BY w.started_at DESC, w.id",
        )
        .bind(now - millis(FORGET_AFTER))
        .fetch_all(&self.pool)
        .await?;
        let lost_before = now - millis(lost_after);
        rows.iter().map(|r| fleet_worker(r, lost_before)).collect()
    }

    /// The union of the codecs of the workers alive now (seen within `lost_after` and not
    /// stopping).
    pub async fn live_codecs(&self, lost_after: Duration) -> Result<i64> {
        let rows = sqlx::query(
            "SELECT DISTINCT codecs FROM workers WHERE state = 'running' AND seen_at >= $1",
        )
        .bind(now_ms() - millis(lost_after))
        .fetch_all(&self.pool)
        .await?;
        let mut union = 0;
        for row in &rows {
            union |= col::<i64>(row, "codecs")?;
        }
        Ok(union)
    }

    /// Pending and running tasks per stage, and how many wait for a codec no live worker
    /// has.
    pub async fn queue(&self, lost_after: Duration) -> Result<Queue> {
        let rows = sqlx::query(
            "SELECT stage, status, COUNT(*) AS n FROM tasks WHERE status IN ('pending', 'running') \
             GROUP BY stage, status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stages: Vec<QueueStage> = Stage::ALL
            .iter()
            .map(|&stage| QueueStage {
                stage,
                pending: 0,
                running: 0,
            })
            .collect();
        for row in &rows {
            let stage: String = col(row, "stage")?;
            let status: String = col(row, "status")?;
            let n: i64 = col(row, "n")?;
            if let Some(s) = stages.iter_mut().find(|s| s.stage.as_str() == stage) {
                match status.as_str() {
                    "pending" => s.pending += n,
                    _ => s.running += n,
                }
            }
        }
        let live = self.live_codecs(lost_after).await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' AND (codecs | $1) <> $1",
        )
        .bind(live)
        .fetch_one(&self.pool)
        .await?;
        Ok(Queue {
            stages,
            waiting_for_codecs: col(&row, "n")?,
        })
    }
}

fn fleet_worker(row: &AnyRow, lost_before: i64) -> Result<FleetWorker> {
    let state: String = col(row, "state")?;
    let seen_at: i64 = col(row, "seen_at")?;
    let mut state = WorkerState::parse(&state);
    if matches!(state, WorkerState::Running | WorkerState::Draining) && seen_at < lost_before {
        state = WorkerState::Lost;
    }
    let asset_id: Option<String> = col(row, "asset_id")?;
    let stage: Option<String> = col(row, "stage")?;
    let task = match (asset_id, stage.as_deref().and_then(Stage::parse)) {
        (Some(asset_id), Some(stage)) => Some(CurrentTask {
            asset_id,
            stage,
            part: col(row, "part")?,
            attempt: col(row, "attempts")?,
            lease_expires_at: col::<Option<i64>>(row, "lease_expires_at")?.unwrap_or(0),
        }),
        _ => None,
    };
    Ok(FleetWorker {
        info: WorkerInfo {
            id: col(row, "id")?,
            host: col(row, "host")?,
            pid: col::<i64>(row, "pid")?.clamp(0, i64::from(u32::MAX)) as u32,
            cores: col::<i64>(row, "cores")?.clamp(0, i64::from(u32::MAX)) as u32,
            ffmpeg: col(row, "ffmpeg")?,
            codecs: col(row, "codecs")?,
            listen: col(row, "listen")?,
        },
        state,
        started_at: col(row, "started_at")?,
        seen_at,
        task,
    })
}
