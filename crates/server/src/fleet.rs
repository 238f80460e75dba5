//! The worker fleet and the queue: `GET /v1/workers`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use openvod_store::{FleetWorker, Queue, Stage, WorkerState};
use openvod_transcode::template::VideoCodec;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{openapi, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/workers", get(fleet))
}

/// Every worker seen in the last day, and the queue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FleetView {
    /// Newest first.
    workers: Vec<WorkerView>,
    queue: QueueView,
}

/// One worker: one claim loop of an `openvod serve` or `openvod worker` process.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkerView {
    id: String,
    host: String,
    pid: u32,
    /// Cores of its machine, shared by the workers of one process.
    cores: u32,
    /// The first line of its `ffmpeg -version`.
    ffmpeg: String,
    /// The video codecs its ffmpeg encodes; it claims only tasks that need no other.
    #[schema(schema_with = openapi::video_codecs)]
    codecs: Vec<String>,
    /// Where its process answers /healthz, /readyz and /metrics.
    listen: Option<String>,
    /// running, draining (finishing its task, claiming no other), stopped, or lost (not
    /// seen for a lease: its task goes to another worker when the lease expires).
    #[schema(schema_with = openapi::worker_state)]
    state: WorkerState,
    /// Milliseconds since the Unix epoch.
    started_at: i64,
    /// Its last heartbeat, milliseconds since the Unix epoch.
    seen_at: i64,
    /// The task it holds, if any.
    task: Option<WorkerTaskView>,
}

/// The task a worker holds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkerTaskView {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    asset_id: String,
    #[schema(schema_with = openapi::task_stage)]
    stage: Stage,
    /// The chunk of a chunked encode (see the asset's tasks); 0 for other stages.
    part: i64,
    attempt: i64,
    /// When its lease runs out unless renewed, milliseconds since the Unix epoch.
    lease_expires_at: i64,
}

/// Tasks per stage, in pipeline order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueView {
    stages: Vec<QueueStageView>,
    /// Pending tasks that need a codec no live worker encodes: they wait for a worker
    /// that does.
    waiting_for_codecs: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStageView {
    #[schema(schema_with = openapi::task_stage)]
    stage: Stage,
    pending: i64,
    running: i64,
}

impl From<FleetWorker> for WorkerView {
    fn from(w: FleetWorker) -> WorkerView {
        WorkerView {
            id: w.info.id,
            host: w.info.host,
            pid: w.info.pid,
            cores: w.info.cores,
            ffmpeg: w.info.ffmpeg,
            codecs: VideoCodec::in_set(w.info.codecs)
                .into_iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            listen: w.info.listen,
            state: w.state,
            started_at: w.started_at,
            seen_at: w.seen_at,
            task: w.task.map(|t| WorkerTaskView {
                asset_id: t.asset_id,
                stage: t.stage,
                part: t.part,
                attempt: t.attempt,
                lease_expires_at: t.lease_expires_at,
            }),
        }
    }
}

impl From<Queue> for QueueView {
    fn from(q: Queue) -> QueueView {
        QueueView {
            stages: q
                .stages
                .into_iter()
                .map(|s| QueueStageView {
                    stage: s.stage,
                    pending: s.pending,
                    running: s.running,
                })
                .collect(),
            waiting_for_codecs: q.waiting_for_codecs,
        }
    }
}

/// `GET /v1/workers`: the fleet and the queue.
#[utoipa::path(
    get,
    path = "/v1/workers",
    operation_id = "listWorkers",
    tag = "workers",
    summary = "The worker fleet (each worker's machine, codecs, state and task) and the queue",
    responses(
        (status = 200, description = "The fleet", body = FleetView),
        (status = 401, response = openapi::Unauthorized),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn fleet(State(state): State<AppState>) -> Result<Json<FleetView>, ApiError> {
    let lease = state.config.worker_lease;
    let workers = state.db.fleet(lease).await?;
    let queue = state.db.queue(lease).await?;
    Ok(Json(FleetView {
        workers: workers.into_iter().map(WorkerView::from).collect(),
        queue: queue.into(),
    }))
}
