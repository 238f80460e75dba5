//! The preview stage: a fast single rendition (`openvod_transcode::preview`) encoded
//! beside the ladder and published segment by segment, so that the asset is `playable`
//! seconds after its upload and stays so until, and after, it is `ready`.
//!
//! Keys in the output location: `ASSET/out/preview/{master.m3u8, index.m3u8, init.mp4,
//! N.m4s}`. Each segment is stored before the playlist names it, and the playlist before
//! the database counts it, so a player never reads a name that is not there. `publish`
//! keeps the folder (players that started on the preview finish on it), the tier mover
//! moves it with the rest of `out`, and deleting the asset removes it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openvod_media::preview::{media_playlist, multivariant};
use openvod_store::{Asset, AssetStatus, ClaimedTask, StageOutcome};
use openvod_transcode::preview::{self, PreviewPlan, Written};
use serde_json::json;

use crate::stages::{blocking, fresh_dir, local_dir, media_info, source_name, Ctx, StageResult};
use crate::StageError;

/// How often the encode's folder is looked at for new segments.
const POLL: Duration = Duration::from_millis(100);

pub(crate) async fn preview(ctx: &Ctx<'_>, asset: &Asset, task: &ClaimedTask) -> StageResult {
    if matches!(
        asset.status,
        AssetStatus::Ready | AssetStatus::Failed | AssetStatus::Cancelled
    ) {
        // Claimed late (a busy fleet): the ladder is there, or nothing will be.
        return Ok(StageOutcome {
            output: json!({ "skipped": asset.status.as_str() }),
            ..StageOutcome::default()
        });
    }
    let plan = PreviewPlan::of(&media_info(asset)?).ok_or_else(|| {
        StageError::permanent("invalid_media", "no video stream to make a preview of")
    })?;
    // Beside the asset's folder, not in it: `publish` drops that folder while a preview
    // may still be running on this worker.
    let dir = ctx
        .config
        .work_dir
        .join(format!("{}.preview-{}", asset.id, task.owner));
    fresh_dir(&dir).await?;
    let result = run(ctx, asset, task, &plan, &dir).await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

async fn run(
    ctx: &Ctx<'_>,
    asset: &Asset,
    task: &ClaimedTask,
    plan: &PreviewPlan,
    dir: &Path,
) -> StageResult {
    // The worker's copy of the source when it has one (the probe's, or the ladder's);
    // else one of its own, which goes with the preview's folder: a worker that only
    // runs the preview keeps no copy after it.
    let source = dir.join("source");
    if tokio::fs::hard_link(local_dir(ctx, asset).join("source"), &source)
        .await
        .is_err()
    {
        ctx.objects
            .sources
            .download(&asset.source_key, &source)
            .await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut encode = {
        let (plan, dir, stop, name) = (
            plan.clone(),
            dir.to_path_buf(),
            stop.clone(),
            source_name(asset),
        );
        tokio::task::spawn_blocking(move || {
            let source = openvod_transcode::SourceFile::open(&source)?.named(&name);
            plan.encode(&source, &dir, &stop, &mut |_| {})
        })
    };
    let mut published = Published::new(ctx, asset, task, plan, dir);
    let encoded = loop {
        tokio::select! {
            done = &mut encode => {
                break done.map_err(|e| StageError::transient("worker", format!("worker thread failed: {e}")))??;
            }
            _ = tokio::time::sleep(POLL) => {
                if ctx.cancel.load(Ordering::Relaxed) {
                    stop.store(true, Ordering::Relaxed);
                }
                if let Err(e) = published.catch_up(false).await {
                    stop.store(true, Ordering::Relaxed);
                    let _ = encode.await;
                    return Err(e);
                }
            }
        }
    };
    published.catch_up(true).await?;
    Ok(StageOutcome {
        output: json!({
            "segments": published.segments.len(),
            "seconds": published.seconds(),
            "encode_seconds": encoded.cost.wall.as_secs_f64(),
            "cpu_seconds": encoded.cost.cpu.as_secs_f64(),
        }),
        ..StageOutcome::default()
    })
}

/// What of the preview is stored and counted.
struct Published<'a> {
    ctx: &'a Ctx<'a>,
    task: &'a ClaimedTask,
    plan: &'a PreviewPlan,
    dir: &'a Path,
    prefix: String,
    /// Durations of the segments stored and listed so far.
    segments: Vec<f64>,
    /// Seconds an earlier attempt published: players may be on its playlist, which an
    /// EVENT playlist only ever extends (RFC 8216bis, 6.2.1), so this run lists nothing
    /// until it has caught up. Its segments are cut at the same instants with the same
    /// settings, so a player may take either run's.
    earlier: f64,
}

impl<'a> Published<'a> {
    fn new(
        ctx: &'a Ctx<'a>,
        asset: &Asset,
        task: &'a ClaimedTask,
        plan: &'a PreviewPlan,
        dir: &'a Path,
    ) -> Published<'a> {
        Published {
            ctx,
            task,
            plan,
            dir,
            prefix: asset.preview_prefix(),
            segments: Vec::new(),
            earlier: asset.preview_seconds.unwrap_or(0.0),
        }
    }

    fn seconds(&self) -> f64 {
        self.segments.iter().sum()
    }

    /// Stores the segments ffmpeg finished since the last call, then the playlist that
    /// names them, then counts them on the asset. `last`: ffmpeg has exited, and its
    /// playlist must be closed.
    async fn catch_up(&mut self, last: bool) -> Result<(), StageError> {
        let dir = self.dir.to_path_buf();
        let written: Written = blocking(move || preview::written(&dir)).await??;
        if last && !written.ended {
            return Err(StageError::transient(
                "transcode_failed",
                "the preview's encode ended without closing its playlist",
            ));
        }
        if written.segments.len() < self.segments.len() {
            return Err(StageError::transient(
                "transcode_failed",
                "the preview's encode dropped segments it had listed",
            ));
        }
        let new = written.segments.len() > self.segments.len();
        if !new && !last {
            return Ok(());
        }
        let outputs = &self.ctx.objects.outputs;
        if self.segments.is_empty() && !written.segments.is_empty() {
            let init = self.dir.join("init.mp4");
            let header = tokio::fs::read(&init)
                .await
                .map_err(|e| StageError::transient("worker", format!("{}: {e}", init.display())))?;
            let first = Written::segment_path(self.dir, 1);
            let segment = tokio::fs::read(&first).await.map_err(|e| {
                StageError::transient("worker", format!("{}: {e}", first.display()))
            })?;
            let variant = preview::variant(self.plan, &header, &segment)?;
            outputs
                .put_bytes(&format!("{}/init.mp4", self.prefix), Bytes::from(header))
                .await?;
            outputs
                .put_bytes(
                    &format!("{}/master.m3u8", self.prefix),
                    Bytes::from(multivariant(&variant, "index.m3u8")),
                )
                .await?;
        }
        for n in self.segments.len() + 1..=written.segments.len() {
            let file: PathBuf = Written::segment_path(self.dir, n);
            outputs
                .put_file(&format!("{}/{n}.m4s", self.prefix), &file)
                .await?;
        }
        self.segments = written.segments;
        if self.segments.is_empty() {
            return Err(StageError::permanent(
                "transcode_failed",
                "the preview's encode wrote no segment",
            ));
        }
        let seconds = self.seconds();
        if !last && seconds + 0.001 < self.earlier {
            return Ok(());
        }
        outputs
            .put_bytes(
                &format!("{}/index.m3u8", self.prefix),
                Bytes::from(media_playlist(&self.segments, last)),
            )
            .await?;
        let duration = self.plan.duration();
        let percent = if last || duration <= 0.0 {
            100.0
        } else {
            seconds / duration * 100.0
        };
        if !self.ctx.db.set_preview(self.task, seconds, percent).await? {
            return Err(StageError::Abandoned);
        }
        Ok(())
    }
}
