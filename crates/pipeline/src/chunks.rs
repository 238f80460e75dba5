//! A chunked encode across workers (see `openvod_transcode::chunks`).
//!
//! The transcode stage plans the title (the per-title analysis included, once) and, when
//! the template asks for chunks and the title is at least two chunks long, fans out into
//! the parts of the encode stage instead of encoding: part 0 encodes the audio and the
//! text of the whole title, part K the video of chunk K-1 in every rung. Any worker
//! whose ffmpeg has the rungs' encoders takes any part; each part is retried alone. The
//! package stage then joins the chunks of each rung into one track and checks the whole
//! against the source, as it would a single encode.
//!
//! Keys in the output location, besides those of `stages`:
//!
//! ```text
//! ASSET/work/chunks/K/NAME.mp4   rung NAME's frames of chunk K (encode part K+1 -> package)
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use openvod_store::{Asset, ClaimedTask, PartTask, StageOutcome};
use openvod_transcode::chunks::{self, ChunkGrid};
use openvod_transcode::decode_log::DecodeLog;
use openvod_transcode::ffmpeg::{self, Deadline, EncodePart};
use openvod_transcode::integrity::SourceWarning;
use openvod_transcode::ladder::EncodePlan;
use openvod_transcode::template::VideoCodec;
use serde::{Deserialize, Serialize};

use crate::stages::{
    blocking, fresh_dir, linked_source, local_dir, media_info, source_name, to_value, Ctx,
    StageResult, TranscodeOutput,
};
use crate::StageError;

/// What one part of the encode stage records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartOutput {
    /// The files it stored, relative to `ASSET/work/`.
    pub files: Vec<String>,
    pub encode_seconds: f64,
    pub cpu_seconds: f64,
    /// What ffmpeg said about decoding its part of the source.
    pub decode: DecodeLog,
}

/// The parts a chunked encode of `plan` on `grid` fans out into.
pub(crate) fn parts(plan: &EncodePlan, grid: &ChunkGrid) -> Vec<PartTask> {
    let codecs = VideoCodec::set_of(plan.rungs.iter().map(|r| r.codec));
    let audio_text = (!plan.audio.is_empty() || !plan.text.is_empty())
        .then_some(PartTask { part: 0, codecs: 0 });
    audio_text
        .into_iter()
        .chain((1..=grid.count).map(|part| PartTask { part, codecs }))
        .collect()
}

/// The key of rung `name`'s file of chunk `index`.
fn chunk_key(asset_id: &str, index: u32, name: &str) -> String {
    format!("{asset_id}/work/chunks/{index}/{name}.mp4")
}

/// Runs one part of a chunked encode.
pub(crate) async fn encode(ctx: &Ctx<'_>, asset: &Asset, task: &ClaimedTask) -> StageResult {
    let transcode = crate::stages::transcode_output(ctx, asset)
        .await?
        .ok_or_else(|| StageError::transient("worker", "the transcode result is missing"))?;
    let (Some(plan), Some(grid)) = (transcode.plan, transcode.chunks) else {
        return Err(StageError::permanent(
            "transcode_failed",
            "the transcode recorded no chunk grid for this encode part",
        ));
    };
    let part = match task.part {
        0 => EncodePart::AudioAndText,
        k => EncodePart::Video(grid.range(k - 1).ok_or_else(|| {
            StageError::permanent(
                "transcode_failed",
                format!(
                    "encode part {k} is outside the grid of {} chunks",
                    grid.count
                ),
            )
        })?),
    };
    let name = source_name(asset);
    if matches!(part, EncodePart::Video(_)) {
        ffmpeg::check_encoders(&plan, &name)?;
    }
    // One folder per part and worker: two workers of one machine may share the asset's
    // folder, and a part taken over after a lost lease must not meet the old run's files.
    let dir = local_dir(ctx, asset).join(format!("part-{}-{}", task.part, task.owner));
    fresh_dir(&dir).await?;
    let source = dir.join("source");
    linked_source(ctx, asset, &source).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let reporter = {
        let (db, task) = (ctx.db.clone(), task.clone());
        tokio::spawn(async move {
            let mut last = Instant::now() - Duration::from_secs(10);
            while let Some(percent) = rx.recv().await {
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    let _ = db.set_part_progress(&task, percent).await;
                }
            }
        })
    };
    let (cancel, p, d) = (ctx.cancel.clone(), plan.clone(), dir.clone());
    let done = blocking(move || {
        let source = openvod_transcode::SourceFile::open(&source)?.named(&name);
        ffmpeg::encode_part(
            &source,
            &p,
            part,
            &d,
            Deadline::for_duration(part.seconds(&p)),
            &cancel,
            &mut |progress| {
                if let Some(f) = progress.fraction() {
                    let _ = tx.send(f * 100.0);
                }
            },
        )
    })
    .await;
    let _ = reporter.await;
    let done = done??;
    let mut files = Vec::new();
    match part {
        EncodePart::Video(range) => {
            for rung in &plan.rungs {
                let local = ffmpeg::output_path(&dir, &rung.name);
                // Past the media's end ffmpeg writes nothing: the join sees an empty chunk.
                if tokio::fs::metadata(&local).await.is_err() {
                    continue;
                }
                let key = chunk_key(&asset.id, range.index, &rung.name);
                ctx.objects.outputs.put_file(&key, &local).await?;
                files.push(format!("chunks/{}/{}.mp4", range.index, rung.name));
            }
        }
        EncodePart::AudioAndText | EncodePart::Whole => {
            let mut audio_text = plan.clone();
            audio_text.rungs.clear();
            for file in ffmpeg::output_files(&audio_text) {
                ctx.objects
                    .outputs
                    .put_file(
                        &format!("{}/work/encode/{file}", asset.id),
                        &dir.join(&file),
                    )
                    .await?;
                files.push(format!("encode/{file}"));
            }
        }
    }
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(StageOutcome {
        output: to_value(&PartOutput {
            files,
            encode_seconds: done.cost.wall.as_secs_f64(),
            cpu_seconds: done.cost.cpu.as_secs_f64(),
            decode: done.decode,
        })?,
        ..StageOutcome::default()
    })
}

/// What the package stage needs of a chunked encode's parts.
pub(crate) struct Parts {
    outputs: Vec<(u32, PartOutput)>,
}

impl Parts {
    pub(crate) async fn of(ctx: &Ctx<'_>, asset: &Asset) -> Result<Parts, StageError> {
        let outputs = ctx
            .db
            .part_outputs(&asset.id, openvod_store::Stage::Encode)
            .await?
            .into_iter()
            .map(|(part, value)| {
                serde_json::from_value(value)
                    .map(|o| (part, o))
                    .map_err(|e| {
                        StageError::transient("worker", format!("an encode part's result: {e}"))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Parts { outputs })
    }

    /// The CPU time of every part's ffmpeg.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        self.outputs.iter().map(|(_, o)| o.cpu_seconds).sum()
    }
}

/// Fetches the audio, the text and every chunk of a chunked encode and joins the chunks
/// of each rung into `encoded/NAME.mp4`; returns the warnings of the integrity check of
/// the whole, as a single encode's would be.
pub(crate) async fn fetch_and_join(
    ctx: &Ctx<'_>,
    asset: &Asset,
    transcode: &TranscodeOutput,
    plan: &EncodePlan,
    encoded: &std::path::Path,
) -> Result<Vec<SourceWarning>, StageError> {
    let grid = transcode
        .chunks
        .ok_or_else(|| StageError::transient("worker", "the encode is not chunked"))?;
    let finished = Parts::of(ctx, asset).await?;
    let expected = parts(plan, &grid).len();
    if finished.outputs.len() != expected {
        return Err(StageError::transient(
            "worker",
            format!(
                "{} of the {expected} encode parts have a result; the missing ones must run again",
                finished.outputs.len()
            ),
        ));
    }
    let local = local_dir(ctx, asset);
    let chunk_root = local.join("chunks");
    fresh_dir(&chunk_root).await?;
    for (_, output) in &finished.outputs {
        for file in &output.files {
            let key = format!("{}/work/{file}", asset.id);
            let (dest, parent) = match file.strip_prefix("chunks/") {
                Some(rest) => (chunk_root.join(rest), true),
                None => (local.join(file), false),
            };
            if parent {
                if let Some(p) = dest.parent() {
                    tokio::fs::create_dir_all(p)
                        .await
                        .map_err(|e| StageError::transient("worker", e))?;
                }
            }
            ctx.objects
                .outputs
                .download(&key, &dest)
                .await
                .map_err(|e| {
                    StageError::transient(
                        "storage",
                        format!("{key}: {e}; the encode part must run again"),
                    )
                })?;
        }
    }
    let mut decode = DecodeLog::default();
    for (_, output) in finished.outputs {
        decode.merge(output.decode);
    }
    let chunk_dirs: Vec<PathBuf> = (0..grid.count)
        .map(|k| chunk_root.join(k.to_string()))
        .collect();
    let (p, out, root) = (plan.clone(), encoded.to_path_buf(), chunk_root.clone());
    let (info, integrity, name) = (
        media_info(asset)?,
        ctx.config.policy.integrity(),
        source_name(asset),
    );
    let warnings = blocking(move || {
        chunks::stitch(&p, &grid, &chunk_dirs, &out).map_err(|e| {
            // A join that does not line up will not line up on a second try.
            StageError::permanent("transcode_failed", format!("joining the chunks: {e}"))
        })?;
        let _ = std::fs::remove_dir_all(&root);
        openvod_transcode::integrity::check(&name, &info, &p, &out, &decode, &integrity)
            .map_err(StageError::from)
    })
    .await??;
    Ok(warnings)
}
