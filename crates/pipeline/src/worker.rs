//! The worker loop: claim a task, run its stage under a heartbeat, record the outcome.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use openvod_store::{ClaimedTask, Db, Objects, TaskFailure};

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

    /// Works until `shutdown` resolves. A task under way when it does is left to its
    /// lease: another worker takes it over when the lease expires.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let idle = tokio::select! {
                _ = &mut shutdown => return,
                r = self.run_once() => match r {
                    Ok(ran) => !ran,
                    Err(e) => {
                        tracing::warn!(worker = %self.config.worker_id, error = %e, "worker");
                        true
                    }
                },
            };
            if idle {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    /// Claims one task and runs it to an outcome; `false` when there was nothing to do.
    pub async fn run_once(&self) -> Result<bool, openvod_store::Error> {
        let Some(task) = self
            .db
            .claim_task(&self.config.worker_id, self.config.lease)
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
