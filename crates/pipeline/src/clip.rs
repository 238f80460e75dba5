//! The transcode stage of a clip: the parent's published renditions are fetched and cut
//! (`openvod_transcode::clip`) instead of a source being encoded; `package` and
//! `publish` then run as for any asset.
//!
//! Where the parent's renditions are read from:
//!
//! ```text
//! PARENT/out/presentation.json       packaged on request: media/NAME.mp4 and
//!                                    media/NAME.vtt, every rendition and text track
//!                                    (dubs and subtitles added since included)
//! PARENT/out/NAME/init.mp4, K.m4s    packaged ahead of time: the clear copy's segments,
//!                                    joined into one fragmented file; NAME/all.vtt
//! ```

use std::path::Path;

use openvod_media::stored::{StoredPresentation, STORED_PRESENTATION};
use openvod_store::{Asset, AssetStatus, StageOutcome};
use openvod_transcode::clip::{ClipRequest, ExtraText};
use openvod_transcode::ffmpeg;
use openvod_transcode::integrity::{SourceWarning, WarningCode};
use openvod_transcode::ladder::EncodePlan;
use tokio::io::AsyncWriteExt;

use crate::stages::{
    blocking, encoded_plan, fresh_dir, local_dir, put_encoded, to_value, transcode_output, Ctx,
    StageResult, TranscodeOutput,
};
use crate::StageError;

/// Largest `presentation.json` read.
const MAX_DESCRIPTION_BYTES: u64 = 1 << 20;

pub(crate) async fn transcode(
    ctx: &Ctx<'_>,
    asset: &Asset,
    clip: &serde_json::Value,
) -> StageResult {
    let request: ClipRequest = serde_json::from_value(clip.clone())
        .map_err(|e| StageError::permanent("invalid_range", format!("the clip's range: {e}")))?;
    let parent = ctx.db.asset(&request.of).await?.ok_or_else(|| {
        StageError::permanent(
            "parent_missing",
            format!(
                "the asset this clip is cut from, {}, was deleted",
                request.of
            ),
        )
    })?;
    if parent.status != AssetStatus::Ready || !parent.storage.is_served() {
        return Err(StageError::permanent(
            "parent_not_ready",
            format!(
                "the asset this clip is cut from, {}, is not ready and hot (it is {}, {}); \
                 retry the clip once it is",
                parent.id,
                parent.status.as_str(),
                parent.storage.as_str()
            ),
        ));
    }
    let prefix = parent.output_prefix.clone().ok_or_else(|| {
        StageError::permanent("parent_not_ready", "the parent has no published output")
    })?;
    let parent_output = transcode_output(ctx, &parent).await?;
    let mut plan = encoded_plan(ctx, &parent, parent_output.as_ref())?;
    let dir = local_dir(ctx, asset).join("parent");
    fresh_dir(&dir).await?;
    let (extra_audio, extra_text, warnings) = fetch(ctx, &prefix, &mut plan, &dir).await?;
    let encoded = local_dir(ctx, asset).join("encode");
    fresh_dir(&encoded).await?;
    let (p, d, e) = (plan.clone(), dir.clone(), encoded.clone());
    let cancel = ctx.cancel.clone();
    let started = std::time::Instant::now();
    let (cut, cpu) = blocking(move || {
        // The cut's own copying on this thread, and the encodes of a frame-exact clip.
        let before = ffmpeg::thread_cpu_time() + ffmpeg::children_cpu_time();
        let cut =
            openvod_transcode::clip::cut(&p, &extra_audio, &extra_text, &d, &request, &e, &cancel);
        let after = ffmpeg::thread_cpu_time() + ffmpeg::children_cpu_time();
        (cut, after.saturating_sub(before))
    })
    .await?;
    let cut = cut?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    if ctx.cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(StageError::Abandoned);
    }
    put_encoded(ctx, asset, &cut.plan, &encoded).await?;
    Ok(StageOutcome {
        output: to_value(&TranscodeOutput {
            renditions: cut.plan.rendition_names(),
            encode_seconds: started.elapsed().as_secs_f64(),
            cpu_seconds: cpu.as_secs_f64(),
            parts: 0,
            plan: Some(cut.plan.clone()),
            chunks: None,
        })?,
        warnings: Some(to_value(&warnings)?),
        probe: clip_probe(asset, cut.span.duration()),
        ..StageOutcome::default()
    })
}

type Fetched = (Vec<String>, Vec<ExtraText>, Vec<SourceWarning>);

/// Downloads the parent's renditions and text tracks into `dir` as `NAME.mp4` and
/// `NAME.vtt`; returns the audio and text tracks added since its encode, and a warning
/// for each text track that could not be carried.
async fn fetch(
    ctx: &Ctx<'_>,
    prefix: &str,
    plan: &mut EncodePlan,
    dir: &Path,
) -> Result<Fetched, StageError> {
    let outputs = &ctx.objects.outputs;
    let description = format!("{prefix}/{STORED_PRESENTATION}");
    let mut warnings = Vec::new();
    match outputs.head(&description).await? {
        Some(meta) if meta.size <= MAX_DESCRIPTION_BYTES => {
            let bytes = outputs.get_range(&description, 0..meta.size).await?;
            let stored = StoredPresentation::from_json(&bytes)
                .map_err(|e| StageError::permanent("parent_not_ready", e))?;
            for r in &stored.renditions {
                let file = ffmpeg::output_path(dir, r.name.as_str());
                outputs
                    .download(&format!("{prefix}/{}", r.media_key()), &file)
                    .await?;
            }
            for t in &stored.texts {
                let file = ffmpeg::text_path(dir, t.name.as_str());
                outputs
                    .download(&format!("{prefix}/{}", t.media_key()), &file)
                    .await?;
            }
            // The description is the truth: tracks removed since the encode are left
            // out, those added since come in.
            plan.text
                .retain(|t| stored.texts.iter().any(|s| s.name.as_str() == t.name));
            plan.audio
                .retain(|a| stored.renditions.iter().any(|r| r.name.as_str() == a.name));
            let planned = plan.rendition_names();
            let extra_audio = stored
                .renditions
                .iter()
                .map(|r| r.name.to_string())
                .filter(|n| !planned.contains(n))
                .collect();
            let extra_text = stored
                .texts
                .iter()
                .filter(|s| !plan.text.iter().any(|t| t.name == s.name.as_str()))
                .map(|s| ExtraText {
                    name: s.name.to_string(),
                    info: s.info.clone(),
                })
                .collect();
            Ok((extra_audio, extra_text, warnings))
        }
        Some(meta) => Err(StageError::permanent(
            "parent_not_ready",
            format!("{description} is {} bytes, over the limit", meta.size),
        )),
        None => {
            for name in plan.rendition_names() {
                join_segments(ctx, prefix, &name, &ffmpeg::output_path(dir, &name)).await?;
            }
            let mut kept = Vec::new();
            for t in std::mem::take(&mut plan.text) {
                let key = format!("{prefix}/{}/all.vtt", t.name);
                if outputs.head(&key).await?.is_some() {
                    outputs
                        .download(&key, &ffmpeg::text_path(dir, &t.name))
                        .await?;
                    kept.push(t);
                } else {
                    warnings.push(SourceWarning {
                        code: WarningCode::StreamNotCarried,
                        message: format!(
                            "text track {} is not in the clip: the title was packaged \
                             without a DASH manifest, so no whole WebVTT file of it is kept",
                            t.name
                        ),
                    });
                }
            }
            plan.text = kept;
            Ok((Vec::new(), Vec::new(), warnings))
        }
    }
}

/// Joins the clear copy's header and media segments of rendition `name` into one
/// fragmented MP4 at `file`.
async fn join_segments(
    ctx: &Ctx<'_>,
    prefix: &str,
    name: &str,
    file: &Path,
) -> Result<(), StageError> {
    let outputs = &ctx.objects.outputs;
    let folder = format!("{prefix}/{name}/");
    let init = format!("{folder}init.mp4");
    if outputs.head(&init).await?.is_none() {
        return Err(StageError::permanent(
            "clip_unavailable",
            format!(
                "{init} is missing: the title has no clear copy to cut from (its template \
                 packages protected copies only, ahead of time); clips need a clear copy \
                 or packaging on request"
            ),
        ));
    }
    let mut segments: Vec<(u64, String)> = outputs
        .list(&format!("{prefix}/{name}"))
        .await?
        .into_iter()
        .filter_map(|(key, _)| {
            let n = key
                .strip_prefix(&folder)?
                .strip_suffix(".m4s")?
                .parse()
                .ok()?;
            Some((n, key))
        })
        .collect();
    segments.sort();
    if segments
        .iter()
        .enumerate()
        .any(|(i, (n, _))| *n != i as u64 + 1)
    {
        return Err(StageError::permanent(
            "parent_not_ready",
            format!(
                "the segments under {folder} are not numbered 1 to {}",
                segments.len()
            ),
        ));
    }
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| StageError::transient("worker", e))?;
    for key in std::iter::once(init).chain(segments.into_iter().map(|(_, k)| k)) {
        let meta = outputs
            .head(&key)
            .await?
            .ok_or_else(|| StageError::transient("storage", format!("{key} is missing")))?;
        let bytes = outputs.get_range(&key, 0..meta.size).await?;
        out.write_all(&bytes)
            .await
            .map_err(|e| StageError::transient("worker", e))?;
    }
    out.flush()
        .await
        .map_err(|e| StageError::transient("worker", e))
}

/// The clip's probe: its parent's, at the clip's length (the title's and each stream's).
fn clip_probe(asset: &Asset, seconds: f64) -> Option<serde_json::Value> {
    let mut probe = asset.probe.clone()?;
    let seconds = (seconds * 1000.0).round() / 1000.0;
    probe["duration"] = serde_json::json!(seconds);
    if let Some(streams) = probe.get_mut("streams").and_then(|s| s.as_array_mut()) {
        for s in streams {
            if s.get("duration").is_some_and(|d| !d.is_null()) {
                s["duration"] = serde_json::json!(seconds);
            }
        }
    }
    Some(probe)
}
