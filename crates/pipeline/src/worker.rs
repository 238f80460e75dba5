//! The worker loop: claim a task, run its stage under a heartbeat, record the outcome.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use openvod_store::{ClaimedTask, Db, Objects, TaskFailure, WorkerInfo, WorkerState};
use openvod_transcode::ffmpeg;
use openvod_transcode::template::VideoCodec;

use crate::stages;
use crate::{PipelineConfig, StageError};

/// One worker; run as many as the machine has room for, in one process or many.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    objects: Objects,
    config: Arc<PipelineConfig>,
}

impl Worker {
    pub fn new(db: Db, objects: Objects, config: PipelineConfig) -> Worker {
        Worker {
            db,
            objects,
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Works until `drain` resolves, then finishes the task under way (never abandoned
    /// to its lease) and returns without claiming another. The worker records itself in
    /// the fleet (see [`Db::see_worker`]) at start, at every heartbeat, when it starts
    /// draining and when it stops.
    pub async fn run(&self, drain: impl Future<Output = ()>) {
        tokio::pin!(drain);
        let info = self.info().await;
        if let Err(e) = self.db.forget_old_workers().await {
            tracing::warn!(worker = %info.id, error = %e, "fleet record");
        }
        let state = Arc::new(std::sync::Mutex::new(WorkerState::Running));
        let beat = tokio::spawn(fleet_heartbeat(
            self.db.clone(),
            info.clone(),
            state.clone(),
            self.config.heartbeat,
        ));
        let mut draining = false;
        loop {
            let run = self.run_once();
            tokio::pin!(run);
            let result = loop {
                tokio::select! {
                    r = &mut run => break r,
                    _ = &mut drain, if !draining => {
                        draining = true;
                        self.set_state(&info, &state, WorkerState::Draining).await;
                    }
                }
            };
            let idle = match result {
                Ok(ran) => !ran,
                Err(e) => {
                    tracing::warn!(worker = %self.config.worker_id, error = %e, "worker");
                    true
                }
            };
            if draining {
                break;
            }
            if idle {
                tokio::select! {
                    _ = &mut drain => {
                        self.set_state(&info, &state, WorkerState::Draining).await;
                        break;
                    }
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
        // The heartbeat stops before the last record, so that no beat of an earlier
        // state lands after it.
        beat.abort();
        let _ = beat.await;
        self.set_state(&info, &state, WorkerState::Stopped).await;
    }

    /// What this worker is and what its machine can do, for the fleet.
    async fn info(&self) -> WorkerInfo {
        let (version, codecs) = tokio::task::spawn_blocking(|| {
            (
                ffmpeg::version().map(str::to_string),
                ffmpeg::available_codecs(),
            )
        })
        .await
        .unwrap_or_else(|_| (Ok(String::new()), Ok(Vec::new())));
        let codecs = codecs.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the encoders of this machine's ffmpeg are unknown");
            Vec::new()
        });
        WorkerInfo {
            id: self.config.worker_id.clone(),
            host: self.config.host.clone(),
            pid: std::process::id(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            ffmpeg: version.unwrap_or_else(|e| format!("unknown ({e})")),
            codecs: VideoCodec::set_of(codecs),
            listen: self.config.listen.clone(),
        }
    }

    async fn set_state(
        &self,
        info: &WorkerInfo,
        state: &std::sync::Mutex<WorkerState>,
        to: WorkerState,
    ) {
        if let Ok(mut s) = state.lock() {
            *s = to;
        }
        match to {
            WorkerState::Draining => tracing::info!(
                worker = %info.id,
                "draining: finishing the task under way, claiming no other"
            ),
            WorkerState::Stopped => tracing::info!(worker = %info.id, "stopped"),
            _ => {}
        }
        if let Err(e) = self.db.see_worker(info, to).await {
            tracing::warn!(worker = %info.id, error = %e, "fleet record");
        }
    }

    /// The codec set this worker's ffmpeg encodes (asked once per process).
    fn codecs(&self) -> i64 {
        ffmpeg::available_codecs()
            .map(VideoCodec::set_of)
            .unwrap_or(0)
    }

    /// Claims one task and runs it to an outcome; `false` when there was nothing to do.
    pub async fn run_once(&self) -> Result<bool, openvod_store::Error> {
        let Some(task) = self
            .db
            .claim_task(
                &self.config.worker_id,
                self.config.lease,
                self.codecs(),
                self.config.previews,
            )
            .await?
        else {
            return Ok(false);
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let beat = tokio::spawn(heartbeat(
            self.db.clone(),
            task.clone(),
            self.config.clone(),
            cancel.clone(),
        ));
        let ctx = stages::Ctx {
            db: &self.db,
            objects: &self.objects,
            config: &self.config,
            cancel: cancel.clone(),
        };
        let started = std::time::Instant::now();
        let span = tracing::info_span!("task", asset = %task.asset_id, stage = task.stage.as_str(), attempt = task.attempt);
        let result = {
            use tracing::Instrument;
            stages::run(&ctx, &task).instrument(span.clone()).await
        };
        beat.abort();
        let outcome = match &result {
            Ok(_) if cancel.load(Ordering::Relaxed) => "abandoned",
            Ok(_) => "succeeded",
            Err(StageError::Abandoned) => "abandoned",
            Err(StageError::Permanent { .. }) => "failed",
            Err(StageError::Transient { .. }) => "retried",
        };
        let seconds = started.elapsed().as_secs_f64();
        metrics::histogram!("openvod_task_seconds", "stage" => task.stage.as_str(), "outcome" => outcome).record(seconds);
        span.in_scope(|| match &result {
            Err(StageError::Permanent { message, .. } | StageError::Transient { message, .. }) => {
                tracing::warn!(outcome, seconds, error = %message, "stage ended")
            }
            _ => tracing::info!(outcome, seconds, "stage ended"),
        });
        let lost = cancel.load(Ordering::Relaxed);
        match result {
            Ok(outcome) if !lost => match self.db.complete_task(&task, outcome).await {
                Ok(()) => stages::after_commit(&ctx, &task).await,
                Err(openvod_store::Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            },
            Ok(_) | Err(StageError::Abandoned) => {}
            Err(StageError::Permanent { code, message }) => {
                self.fail(&task, code, message, false).await?
            }
            Err(StageError::Transient { code, message }) => {
                self.fail(&task, code, message, true).await?
            }
        }
        Ok(true)
    }
}

impl Worker {
    async fn fail(
        &self,
        task: &ClaimedTask,
        code: &str,
        message: String,
        retryable: bool,
    ) -> Result<(), openvod_store::Error> {
        let failure = TaskFailure {
            code: code.to_string(),
            message,
            retryable,
        };
        self.db
            .fail_task(task, &failure, self.config.retry_delay(task.attempt))
            .await?;
        if !retryable {
            stages::forget_local(&self.config, &task.asset_id).await;
        }
        Ok(())
    }
}

/// Renews the lease until aborted; sets `cancel` when the lease is gone.
async fn heartbeat(
    db: Db,
    task: ClaimedTask,
    config: Arc<PipelineConfig>,
    cancel: Arc<AtomicBool>,
) {
    let mut misses = 0;
    loop {
        tokio::time::sleep(config.heartbeat).await;
        match db.heartbeat(&task, config.lease).await {
            Ok(true) => misses = 0,
            Ok(false) => {
                cancel.store(true, Ordering::Relaxed);
                return;
            }
            // A database hiccup: keep working while the lease may still hold.
            Err(_) => {
                misses += 1;
                if config.heartbeat * (misses + 1) >= config.lease {
                    cancel.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// Records the worker in the fleet every `every`, in its current state, until aborted.
async fn fleet_heartbeat(
    db: Db,
    info: WorkerInfo,
    state: Arc<std::sync::Mutex<WorkerState>>,
    every: std::time::Duration,
) {
    loop {
        let now = state.lock().map_or(WorkerState::Running, |s| *s);
        if let Err(e) = db.see_worker(&info, now).await {
            tracing::warn!(worker = %info.id, error = %e, "fleet record");
        }
        tokio::time::sleep(every).await;
    }
}
