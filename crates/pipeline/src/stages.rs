//! What each stage does.
//!
//! Keys in the output location, per asset:
//!
//! ```text
//! ASSET/work/encode/NAME.mp4   renditions as ffmpeg wrote them (transcode -> package)
//! ASSET/work/encode/TEXT.vtt   text tracks as WebVTT (transcode -> package)
//! ASSET/out/...                the packaged presentation (master.m3u8, manifest.mpd, ...)
//! ASSET/out/preview/...        the preview, published while the ladder encodes (`preview`)
//! ```
//!
//! Both are overwritten by a re-run, never duplicated; `publish` removes the work files
//! and anything under `out` that the package does not list, then commits `ASSET/out` as
//! the asset's output. The removal comes first so that a worker dying at any point leaves
//! either a publish task to run again (which removes them again) or a clean store.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashSet;

use openvod_cost::{OutputRung, ProcessingUsage};
use openvod_store::{Asset, ClaimedTask, Db, Objects, Stage, StageOutcome};
use openvod_transcode::chunks::ChunkGrid;
use openvod_transcode::ffmpeg::{self, Deadline};
use openvod_transcode::ladder::{self, EncodePlan};
use openvod_transcode::package::PackageSummary;
use openvod_transcode::per_title::LadderMode;
use openvod_transcode::probe::MediaInfo;
use openvod_transcode::template::{PackagingMode, VideoCodec};
use openvod_transcode::JobTemplate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::protect;
use crate::{PipelineConfig, StageError};

pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub objects: &'a Objects,
    pub config: &'a PipelineConfig,
    /// Set when the lease is lost or the asset cancelled.
    pub cancel: Arc<AtomicBool>,
}

pub(crate) type StageResult = Result<StageOutcome, StageError>;

pub(crate) async fn run(ctx: &Ctx<'_>, task: &ClaimedTask) -> StageResult {
    let asset = ctx.db.asset(&task.asset_id).await?.ok_or_else(|| {
        StageError::permanent("not_found", format!("asset {} is gone", task.asset_id))
    })?;
    match task.stage {
        Stage::Probe => probe(ctx, &asset).await,
        Stage::Validate => validate(ctx, &asset).await,
        Stage::Preview => crate::preview::preview(ctx, &asset, task).await,
        Stage::Transcode => transcode(ctx, &asset).await,
        Stage::Encode => crate::chunks::encode(ctx, &asset, task).await,
        Stage::Package => package(ctx, &asset).await,
        Stage::Publish => publish(ctx, &asset).await,
    }
}

/// What `package` hands to `publish`: the summary, and every file it put under the
/// output prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PackageOutput {
    summary: PackageSummary,
    prefix: String,
    files: Vec<String>,
    /// CPU time of the packaging and encryption (in process, on one thread).
    #[serde(default)]
    cpu_seconds: f64,
}

impl PackageOutput {
    async fn of(ctx: &Ctx<'_>, asset_id: &str) -> Result<PackageOutput, StageError> {
        let value = ctx
            .db
            .task_output(asset_id, Stage::Package)
            .await?
            .ok_or_else(|| StageError::transient("worker", "the package result is missing"))?;
        serde_json::from_value(value)
            .map_err(|e| StageError::transient("worker", format!("the package result: {e}")))
    }
}

/// What `transcode` hands to `package`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TranscodeOutput {
    pub renditions: Vec<String>,
    pub encode_seconds: f64,
    pub cpu_seconds: f64,
    /// How many encode parts a chunked encode fanned out into; 0 otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts: u32,
    /// The plan the encode ran (a per-title ladder's rungs come from its analysis, the
    /// text tracks from the source), so the later stages take it from here rather than
    /// planning again; absent from results recorded by earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<EncodePlan>,
    /// A chunked encode: the grid its encode parts ran on (see `chunks`); the
    /// renditions are then joined by the package stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunkGrid>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the transcode stage recorded; `None` before it ran.
pub(crate) async fn transcode_output(
    ctx: &Ctx<'_>,
    asset: &Asset,
) -> Result<Option<TranscodeOutput>, StageError> {
    let stored = ctx.db.task_output(&asset.id, Stage::Transcode).await?;
    stored
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StageError::transient("worker", format!("the transcode result: {e}")))
}

/// The plan the transcode stage encoded (per-title, as it recorded it, or fixed), for
/// the stages after it. They encode nothing, so this worker's encoders are not asked
/// about: a worker without SVT-AV1 packages the AV1 rungs another worker encoded.
pub(crate) fn encoded_plan(
    ctx: &Ctx<'_>,
    asset: &Asset,
    transcode: Option<&TranscodeOutput>,
) -> Result<EncodePlan, StageError> {
    if let Some(plan) = transcode.and_then(|o| o.plan.clone()) {
        return Ok(plan);
    }
    let mut plan = ladder::plan(
        &media_info(asset)?,
        template(ctx, asset)?,
        &source_name(asset),
    )?;
    // A transcode recorded before every plan was kept encoded what it lists, and no
    // text; a rendition it lists that this plan lacks cannot be packaged from here.
    if let Some(o) = transcode {
        plan.audio.retain(|a| o.renditions.contains(&a.name));
        plan.text.clear();
        let planned = plan.rendition_names();
        if let Some(missing) = o.renditions.iter().find(|r| !planned.contains(r)) {
            return Err(StageError::permanent(
                "transcode_failed",
                format!(
                    "rendition {missing} was encoded by an earlier openvod whose plan this one                      does not make again; upload the source again"
                ),
            ));
        }
    }
    Ok(plan)
}

/// What `publish` records: the output, and what the asset's processing used (the API
/// prices it; see `openvod_cost::asset`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PublishOutput {
    prefix: String,
    files: usize,
    usage: ProcessingUsage,
}

pub(crate) fn to_value<T: Serialize>(output: &T) -> Result<serde_json::Value, StageError> {
    serde_json::to_value(output).map_err(|e| StageError::transient("worker", e))
}

/// Work done after a stage's result is committed: dropping the local scratch folder
/// after `publish`, and the local copy of the source after the last encode part this
/// worker could take (the workers that ran a chunked encode's parts are seldom the one
/// that publishes). Nothing in the store is left to this step, since a worker may die
/// before it runs.
pub(crate) async fn after_commit(ctx: &Ctx<'_>, task: &ClaimedTask) {
    match task.stage {
        Stage::Publish => forget_local(ctx.config, &task.asset_id).await,
        Stage::Encode => {
            if let Ok(0) = ctx.db.unclaimed_parts(&task.asset_id, Stage::Encode).await {
                // A part still running here holds the file open: removing the name
                // does not take it from that ffmpeg.
                let source = ctx.config.work_dir.join(&task.asset_id).join("source");
                let _ = tokio::fs::remove_file(source).await;
            }
        }
        _ => {}
    }
}

/// Removes an asset's local scratch folder.
pub(crate) async fn forget_local(config: &PipelineConfig, asset_id: &str) {
    let _ = tokio::fs::remove_dir_all(config.work_dir.join(asset_id)).await;
}

pub(crate) fn local_dir(ctx: &Ctx<'_>, asset: &Asset) -> PathBuf {
    ctx.config.work_dir.join(&asset.id)
}

/// The source on local disk, fetched from the store unless this worker already has it.
pub(crate) async fn local_source(ctx: &Ctx<'_>, asset: &Asset) -> Result<PathBuf, StageError> {
    let dir = local_dir(ctx, asset);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| StageError::transient("worker", e))?;
    let path = dir.join("source");
    let meta = ctx
        .objects
        .sources
        .head(&asset.source_key)
        .await?
        .ok_or_else(|| {
            StageError::permanent(
                "source_missing",
                format!("source object {} is missing", asset.source_key),
            )
        })?;
    if tokio::fs::metadata(&path).await.map(|m| m.len()).ok() != Some(meta.size) {
        // Named after the worker: the parts of a chunked encode may fetch the same
        // source at once into a folder they share; each renames its own whole copy.
        let partial = dir.join(format!("source.partial.{}", ctx.config.worker_id));
        ctx.objects
            .sources
            .download(&asset.source_key, &partial)
            .await?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| StageError::transient("worker", e))?;
    }
    Ok(path)
}

/// Links the source to `link`, fetched first unless this worker has it: a stage that
/// reads it through a link of its own keeps it while the shared copy goes (once no
/// encode part is left to claim, see [`after_commit`]).
pub(crate) async fn linked_source(
    ctx: &Ctx<'_>,
    asset: &Asset,
    link: &Path,
) -> Result<(), StageError> {
    let shared = local_source(ctx, asset).await?;
    if tokio::fs::hard_link(&shared, link).await.is_err() {
        // Removed by a part that finished in between: fetch it again.
        let shared = local_source(ctx, asset).await?;
        tokio::fs::hard_link(&shared, link)
            .await
            .map_err(|e| StageError::transient("worker", e))?;
    }
    Ok(())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StageError::transient("worker", format!("worker thread failed: {e}")))
}

async fn probe(ctx: &Ctx<'_>, asset: &Asset) -> StageResult {
    let source = local_source(ctx, asset).await?;
    let name = source_name(asset);
    let info = blocking(move || {
        let source = openvod_transcode::SourceFile::open(&source)?.named(&name);
        openvod_transcode::probe(&source)
    })
    .await??;
    Ok(StageOutcome {
        output: json!({ "size": info.size }),
        probe: Some(serde_json::to_value(&info).map_err(|e| StageError::transient("worker", e))?),
        ..StageOutcome::default()
    })
}

fn template<'a>(ctx: &'a Ctx<'_>, asset: &Asset) -> Result<&'a JobTemplate, StageError> {
    ctx.config.templates.get(&asset.template).ok_or_else(|| {
        StageError::permanent(
            "unknown_template",
            format!("no template named {:?}", asset.template),
        )
    })
}

pub(crate) fn media_info(asset: &Asset) -> Result<MediaInfo, StageError> {
    let value = asset
        .probe
        .clone()
        .ok_or_else(|| StageError::transient("worker", "the probe result is missing"))?;
    serde_json::from_value(value)
        .map_err(|e| StageError::transient("worker", format!("stored probe result: {e}")))
}

/// The source as messages name it: its upload name, or the asset id.
pub(crate) fn source_name(asset: &Asset) -> String {
    asset
        .source_name
        .clone()
        .unwrap_or_else(|| asset.id.clone())
}

/// The encode plan, refused when this worker's ffmpeg lacks one of its encoders.
fn plan(ctx: &Ctx<'_>, asset: &Asset) -> Result<EncodePlan, StageError> {
    let name = source_name(asset);
    let plan = ladder::plan(&media_info(asset)?, template(ctx, asset)?, &name)?;
    ffmpeg::check_encoders(&plan, &name)?;
    Ok(plan)
}

/// The validation policy: fails fast, with the reason, before any encoding. The
/// transcode task that follows carries the plan's codecs, so that only a worker whose
/// ffmpeg encodes them all claims it; the plan is refused here when neither this worker
/// nor any live one can.
async fn validate(ctx: &Ctx<'_>, asset: &Asset) -> StageResult {
    let info = media_info(asset)?;
    let policy = &ctx.config.policy;
    let video = info.first_video().ok_or_else(|| {
        StageError::permanent(
            "invalid_media",
            "no video stream (audio-only files are not transcoded)",
        )
    })?;
    if policy.max_duration_seconds > 0.0 && info.duration > policy.max_duration_seconds {
        return Err(StageError::permanent(
            "policy",
            format!(
                "the source lasts {:.0} s, over the limit of {:.0} s",
                info.duration, policy.max_duration_seconds
            ),
        ));
    }
    if (policy.max_width > 0 && video.width > policy.max_width)
        || (policy.max_height > 0 && video.height > policy.max_height)
    {
        return Err(StageError::permanent(
            "policy",
            format!(
                "the picture is {}x{}, over the limit of {}x{}",
                video.width, video.height, policy.max_width, policy.max_height
            ),
        ));
    }
    if !policy.video_codecs.is_empty() && !policy.video_codecs.iter().any(|c| c == &video.codec) {
        return Err(StageError::permanent(
            "policy",
            format!(
                "video codec {} is not accepted (accepted: {})",
                video.codec,
                policy.video_codecs.join(", ")
            ),
        ));
    }
    let name = source_name(asset);
    let plan = ladder::plan(&info, template(ctx, asset)?, &name)?;
    let codecs = VideoCodec::set_of(plan.rungs.iter().map(|r| r.codec));
    if let Err(here) = ffmpeg::check_encoders(&plan, &name) {
        let live = ctx.db.live_codecs(ctx.config.lease).await?;
        if codecs | live != live {
            return Err(StageError::permanent(
                "invalid_media",
                format!(
                    "{here}; no live worker's ffmpeg has it either (GET /v1/workers lists \
                     each worker's codecs)"
                ),
            ));
        }
    }
    // The preview is H.264 (`openvod_transcode::preview`): any worker that encodes it.
    let preview = template(ctx, asset)?
        .video
        .preview
        .then(|| VideoCodec::set_of([VideoCodec::H264]));
    Ok(StageOutcome {
        output: serde_json::to_value(&plan).map_err(|e| StageError::transient("worker", e))?,
        next_codecs: codecs,
        preview_codecs: preview,
        ..StageOutcome::default()
    })
}

pub(crate) async fn fresh_dir(path: &Path) -> Result<(), StageError> {
    let _ = tokio::fs::remove_dir_all(path).await;
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| StageError::transient("worker", e))
}

async fn transcode(ctx: &Ctx<'_>, asset: &Asset) -> StageResult {
    if let Some(clip) = &asset.clip {
        return crate::clip::transcode(ctx, asset, clip).await;
    }
    let mut plan = plan(ctx, asset)?;
    let template = template(ctx, asset)?.clone();
    let source = local_source(ctx, asset).await?;
    let encoded = local_dir(ctx, asset).join("encode");
    fresh_dir(&encoded).await?;
    // Progress goes from the encoding thread to the database, at most once a second.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let reporter = {
        let db = ctx.db.clone();
        let id = asset.id.clone();
        tokio::spawn(async move {
            let mut last = Instant::now() - Duration::from_secs(10);
            while let Some(percent) = rx.recv().await {
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    let _ = db.set_progress(&id, percent).await;
                    let payload = json!({ "id": id, "stage": "transcode", "progress": (percent * 10.0).round() / 10.0 });
                    let _ = db.append_event(Some(&id), "asset.progress", &payload).await;
                }
            }
        })
    };
    let cancel = ctx.cancel.clone();
    let (mut p, dir) = (plan.clone(), encoded.clone());
    let (info, integrity) = (media_info(asset)?, ctx.config.policy.integrity());
    let name = source_name(asset);
    let chunk_seconds = template.video.chunk_seconds;
    let result = blocking(move || {
        let source = openvod_transcode::SourceFile::open(&source)?.named(&name);
        // A per-title ladder: the analysis runs here, once per title, and its plan is
        // handed on with the encode (to every chunk of a chunked one).
        let decision = match template.ladder.mode {
            LadderMode::Fixed => None,
            LadderMode::PerTitle => {
                let d = openvod_transcode::job::analyse_title(&source, &mut p, &template, &dir)?;
                ffmpeg::check_encoders(&p, &name)?;
                Some(d)
            }
        };
        if let Some(grid) = chunk_seconds.and_then(|c| ChunkGrid::of(&p, c)) {
            return Ok(Planned::Chunked(grid, p, decision));
        }
        let done = ffmpeg::encode(
            &source,
            &p,
            &dir,
            Deadline::for_duration(p.duration),
            &cancel,
            &mut |progress| {
                if let Some(f) = progress.fraction() {
                    let _ = tx.send(f * 100.0);
                }
            },
        )?;
        let warnings =
            openvod_transcode::integrity::check(&name, &info, &p, &dir, &done.decode, &integrity)?;
        Ok::<_, openvod_transcode::Error>(Planned::Encoded(done.cost, warnings, p, decision))
    })
    .await?;
    let result = match result {
        Ok(Planned::Chunked(grid, plan, decision)) => {
            let _ = reporter.await;
            let parts = crate::chunks::parts(&plan, &grid);
            return Ok(StageOutcome {
                output: to_value(&TranscodeOutput {
                    renditions: plan.rendition_names(),
                    encode_seconds: 0.0,
                    cpu_seconds: 0.0,
                    parts: parts.len() as u32,
                    plan: Some(plan.clone()),
                    chunks: Some(grid),
                })?,
                ladder: decision.as_ref().map(to_value).transpose()?,
                parts,
                ..StageOutcome::default()
            });
        }
        Ok(Planned::Encoded(cost, warnings, plan, decision)) => {
            Ok((cost, warnings, plan, decision))
        }
        Err(e) => Err(e),
    };
    let _ = reporter.await;
    let (cost, warnings, encoded_plan, decision) = result?;
    plan = encoded_plan;
    if plan.duration > 0.0 && cost.wall.as_secs_f64() > 0.0 {
        // Media seconds per wall second: the "x real time" of the encode.
        metrics::histogram!("openvod_encode_speed").record(plan.duration / cost.wall.as_secs_f64());
    }
    put_encoded(ctx, asset, &plan, &encoded).await?;
    Ok(StageOutcome {
        output: to_value(&TranscodeOutput {
            renditions: plan.rendition_names(),
            encode_seconds: cost.wall.as_secs_f64(),
            cpu_seconds: cost.cpu.as_secs_f64(),
            parts: 0,
            plan: Some(plan.clone()),
            chunks: None,
        })?,
        warnings: Some(to_value(&warnings)?),
        ladder: decision.as_ref().map(to_value).transpose()?,
        ..StageOutcome::default()
    })
}

/// What the transcode stage's encoding thread ends with: a whole encode, or the grid of
/// a chunked one for the encode stage's parts.
enum Planned {
    Encoded(
        ffmpeg::EncodeCost,
        Vec<openvod_transcode::integrity::SourceWarning>,
        EncodePlan,
        Option<openvod_transcode::per_title::PerTitleDecision>,
    ),
    Chunked(
        ChunkGrid,
        EncodePlan,
        Option<openvod_transcode::per_title::PerTitleDecision>,
    ),
}

/// Stores the files of `plan` in `encoded` as the asset's work files, for `package`.
pub(crate) async fn put_encoded(
    ctx: &Ctx<'_>,
    asset: &Asset,
    plan: &EncodePlan,
    encoded: &Path,
) -> Result<(), StageError> {
    for file in ffmpeg::output_files(plan) {
        ctx.objects
            .outputs
            .put_file(
                &format!("{}/work/encode/{file}", asset.id),
                &encoded.join(&file),
            )
            .await?;
    }
    Ok(())
}

async fn package(ctx: &Ctx<'_>, asset: &Asset) -> StageResult {
    let transcode = transcode_output(ctx, asset).await?;
    let plan = encoded_plan(ctx, asset, transcode.as_ref())?;
    let template = template(ctx, asset)?.clone();
    let encoded = local_dir(ctx, asset).join("encode");
    tokio::fs::create_dir_all(&encoded)
        .await
        .map_err(|e| StageError::transient("worker", e))?;
    let joined = match transcode.as_ref().filter(|t| t.chunks.is_some()) {
        Some(t) => crate::chunks::fetch_and_join(ctx, asset, t, &plan, &encoded).await?,
        None => Vec::new(),
    };
    let chunked = transcode.as_ref().is_some_and(|t| t.chunks.is_some());
    // Another worker may have run the transcode: fetch what is not here.
    for file in ffmpeg::output_files(&plan).into_iter().filter(|_| !chunked) {
        let key = format!("{}/work/encode/{file}", asset.id);
        let local = encoded.join(&file);
        let remote = ctx.objects.outputs.head(&key).await?.ok_or_else(|| {
            StageError::transient(
                "worker",
                format!("{key} is missing; the transcode must run again"),
            )
        })?;
        if tokio::fs::metadata(&local).await.map(|m| m.len()).ok() != Some(remote.size) {
            ctx.objects.outputs.download(&key, &local).await?;
        }
    }
    // The keys exist (and a SPEKE provider has answered) before anything is stored.
    let copies = protect::copy_keys(ctx.config, &template, &asset.id, &plan).await?;
    let out = local_dir(ctx, asset).join("package");
    fresh_dir(&out).await?;
    let (o, e) = (out.clone(), encoded.clone());
    let (summary, cpu) = blocking(move || {
        let before = ffmpeg::thread_cpu_time();
        let summary = match template.packaging.mode {
            PackagingMode::Jit => openvod_transcode::job::store_encoded(&plan, &e, &template, &o),
            PackagingMode::Static => {
                openvod_transcode::job::package_encoded_copies(&plan, &e, &template, &copies, &o)
                    .and_then(|(copies, warnings)| {
                        let first = copies.into_iter().next().ok_or_else(|| {
                            openvod_transcode::Error::Template("no copy to package".into())
                        })?;
                        Ok((first, warnings))
                    })
            }
        };
        (summary, ffmpeg::thread_cpu_time().saturating_sub(before))
    })
    .await?;
    let (summary, text_warnings) = summary?;
    if ctx.cancel.load(Ordering::Relaxed) {
        return Err(StageError::Abandoned);
    }
    let prefix = format!("{}/out", asset.id);
    ctx.objects.outputs.put_dir(&prefix, &out).await?;
    let output = PackageOutput {
        summary,
        prefix,
        files: list_files(&out).await?,
        cpu_seconds: cpu.as_secs_f64(),
    };
    // The transcode's warnings, and those of the text tracks once (a run again finds
    // its own already there).
    let mut warnings = asset.warnings.clone();
    let added: Vec<serde_json::Value> = joined
        .iter()
        .map(to_value)
        .chain(text_warnings.iter().map(to_value))
        .collect::<Result<_, _>>()?;
    for w in &added {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    Ok(StageOutcome {
        output: to_value(&output)?,
        warnings: (!added.is_empty()).then_some(serde_json::Value::Array(warnings)),
        ..StageOutcome::default()
    })
}

/// Paths of the files below `dir`, relative, with `/` separators, sorted.
async fn list_files(dir: &Path) -> Result<Vec<String>, StageError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries = tokio::fs::read_dir(&d)
            .await
            .map_err(|e| StageError::transient("worker", e))?;
        while let Some(e) = entries
            .next_entry()
            .await
            .map_err(|e| StageError::transient("worker", e))?
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Commits the packaged output: checks it is all in the store, removes the work files
/// and whatever an earlier run left under the output prefix that the package does not
/// list, then records it. Every step can run again, so a run interrupted anywhere before
/// the commit is simply repeated by the next worker.
async fn publish(ctx: &Ctx<'_>, asset: &Asset) -> StageResult {
    let out = PackageOutput::of(ctx, &asset.id).await?;
    let stored = ctx.objects.outputs.list(&out.prefix).await?;
    let present: HashSet<String> = stored.iter().map(|(k, _)| k.clone()).collect();
    let listed: HashSet<String> = out
        .files
        .iter()
        .map(|f| format!("{}/{f}", out.prefix))
        .collect();
    let output_bytes = stored
        .iter()
        .filter(|(k, _)| listed.contains(k))
        .map(|(_, meta)| meta.size)
        .sum();
    if let Some(key) = listed.iter().find(|k| !present.contains(*k)) {
        return Err(StageError::transient(
            "storage",
            format!("{key} is missing from the store"),
        ));
    }
    ctx.objects
        .outputs
        .delete_prefix(&format!("{}/work", asset.id))
        .await?;
    // The preview stays: players that started on it finish on it.
    let preview = format!("{}/", asset.preview_prefix());
    for key in present.difference(&listed) {
        if !key.starts_with(&preview) {
            ctx.objects.outputs.delete(key).await?;
        }
    }
    let usage = processing_usage(ctx, asset, out.cpu_seconds, output_bytes).await?;
    Ok(StageOutcome {
        output: to_value(&PublishOutput {
            prefix: out.prefix.clone(),
            files: out.files.len(),
            usage,
        })?,
        renditions: Some(to_value(&out.summary.renditions)?),
        output_prefix: Some(out.prefix),
        ..StageOutcome::default()
    })
}

/// What the asset's processing used: the CPU time each stage recorded, and the bytes
/// of the source and of the published output.
async fn processing_usage(
    ctx: &Ctx<'_>,
    asset: &Asset,
    package_cpu_seconds: f64,
    output_bytes: u64,
) -> Result<ProcessingUsage, StageError> {
    let transcode = transcode_output(ctx, asset).await?;
    let plan = encoded_plan(ctx, asset, transcode.as_ref())?;
    let parts_cpu = match transcode.as_ref().and_then(|t| t.chunks) {
        Some(_) => crate::chunks::Parts::of(ctx, asset).await?.cpu_seconds(),
        None => 0.0,
    };
    let analysis_cpu_seconds = asset
        .ladder
        .as_ref()
        .and_then(|l| l.get("cpu_seconds"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    Ok(ProcessingUsage {
        analysis_cpu_seconds,
        encode_cpu_seconds: transcode.map_or(0.0, |t| t.cpu_seconds) + parts_cpu,
        package_cpu_seconds,
        source_bytes: asset.source_size.map_or(0, |s| s.max(0) as u64),
        output_bytes,
        minutes: plan.duration / 60.0,
        rungs: OutputRung::of_plan(&plan)
            .iter()
            .map(OutputRung::to_string)
            .collect(),
    })
}
