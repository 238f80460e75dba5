//! A transcode job: probe, plan, encode the ladder, package, and put the folder in place.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use openvod_media::{CopyKeys, Rendition, RenditionName};
use serde::Serialize;

use crate::ffmpeg::{self, Deadline, Progress};
use crate::integrity::{self, IntegrityPolicy, SourceWarning};
use crate::ladder::{self, EncodePlan};
use crate::output::StagedDir;
use crate::package::{self, PackageSummary};
use crate::per_title::{self, LadderMode, PerTitleDecision};
use crate::probe::{self, MediaInfo};
use crate::quality::{self, Comparison, QualityScore, Reference};
use crate::source::SourceFile;
use crate::template::{JobTemplate, VideoCodec};
use crate::{Error, Result};

/// What to transcode, where, and how.
#[derive(Debug, Clone)]
pub struct TranscodeJob {
    pub input: PathBuf,
    pub output: PathBuf,
    pub template: JobTemplate,
    /// Replace a non-empty output folder.
    pub overwrite: bool,
    /// Overrides the deadline derived from the source's duration.
    pub deadline: Option<Deadline>,
    /// How much decode damage the source may have.
    pub integrity: IntegrityPolicy,
    /// Measure each video rung's quality against the source after the encode (every
    /// third frame, at the top rung's size; see `quality`).
    pub measure_quality: bool,
    /// Subtitle and caption files to carry beside the source's own text streams.
    pub subtitles: Vec<Sidecar>,
}

/// A subtitle or caption file given with a job (WebVTT or SubRip, by its extension).
#[derive(Debug, Clone, PartialEq)]
pub struct Sidecar {
    pub path: PathBuf,
    pub info: openvod_media::text::TextTrackInfo,
}

/// Reads a sidecar file, bounded before it is read: its cues, or an error that names the
/// file and the line.
pub fn read_sidecar(path: &Path) -> Result<Vec<openvod_media::text::Cue>> {
    use openvod_media::text::{TextError, TextFormat, MAX_TEXT_BYTES};
    let subtitles_error = |line, reason: String| Error::Subtitles {
        path: path.to_path_buf(),
        source: TextError { line, reason },
    };
    let format = TextFormat::from_extension(&path.to_string_lossy()).ok_or_else(|| {
        subtitles_error(
            0,
            "not a subtitle file: name it .vtt (WebVTT) or .srt (SubRip)".into(),
        )
    })?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    use std::io::Read;
    file.take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    openvod_media::text::parse(&bytes, format).map_err(|source| Error::Subtitles {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds the sidecars to `plan`'s text tracks and writes each, as WebVTT, where the encode
/// writes the source's text streams (`work/NAME.vtt`).
pub fn add_sidecars(plan: &mut EncodePlan, sidecars: &[Sidecar], work: &Path) -> Result<()> {
    for s in sidecars {
        if plan.text.len() >= ladder::MAX_TEXT_TRACKS {
            return Err(Error::Template(format!(
                "more than {} subtitle tracks",
                ladder::MAX_TEXT_TRACKS
            )));
        }
        let cues = read_sidecar(&s.path)?;
        let taken: Vec<String> = plan
            .rendition_names()
            .into_iter()
            .chain(plan.text.iter().map(|t| t.name.clone()))
            .collect();
        let name = s.info.track_name(&taken);
        let path = ffmpeg::text_path(work, &name);
        let vtt = openvod_media::text::write_segment(&cues, 0, u64::MAX, None);
        std::fs::write(&path, vtt).map_err(|e| Error::io(&path, e))?;
        plan.text.push(ladder::PlannedText {
            name,
            stream_index: None,
            info: s.info.clone(),
        });
    }
    Ok(())
}

/// The text tracks of `plan` from the WebVTT files in `encoded`, without the cues past
/// the end of the encoded video (`renditions`' first video track; a subtitle stream
/// can run past it and stretch the container's duration), with a warning for each
/// track that had some.
pub fn encoded_texts(
    plan: &EncodePlan,
    encoded: &Path,
    renditions: &[Rendition],
) -> Result<(
    Vec<openvod_media::presentation::TextRendition>,
    Vec<SourceWarning>,
)> {
    let mut texts = Vec::with_capacity(plan.text.len());
    let mut warnings = Vec::new();
    let video_end_ms = openvod_media::presentation::video_end_ms(renditions);
    for t in &plan.text {
        let path = ffmpeg::text_path(encoded, &t.name);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| {
                use std::io::Read;
                f.take(openvod_media::text::MAX_WRITTEN_TEXT_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| Error::io(&path, e))?;
        let not_carried = |why: String| SourceWarning {
            code: integrity::WarningCode::StreamNotCarried,
            message: format!("text track {} is not in the output: {why}", t.name),
        };
        let mut cues = match openvod_media::text::parse_written(&bytes) {
            Ok(cues) => cues,
            // A source's text stream that does not convert is left out, as bitmap
            // subtitles are; a sidecar was read before the encode and cannot fail here.
            Err(e) if t.stream_index.is_some() => {
                warnings.push(not_carried(e.to_string()));
                continue;
            }
            Err(source) => return Err(Error::Subtitles { path, source }),
        };
        if let Some(end_ms) = video_end_ms {
            let dropped = openvod_media::text::clip_to(&mut cues, end_ms);
            if dropped > 0 {
                warnings.push(SourceWarning {
                    code: integrity::WarningCode::CuesPastEnd,
                    message: format!(
                        "{dropped} cue(s) of {} start after the video ends ({:.3} s) and were dropped",
                        t.name,
                        end_ms as f64 / 1000.0
                    ),
                });
            }
        }
        if cues.is_empty() {
            // Nothing to show: a track a player would list and never fill.
            warnings.push(not_carried("it has no cue within the video".into()));
            continue;
        }
        texts.push(openvod_media::presentation::TextRendition {
            name: RenditionName::new(&t.name).map_err(|e| Error::Template(e.to_string()))?,
            info: t.info.clone(),
            cues,
        });
    }
    Ok((texts, warnings))
}

/// Steps of a one-shot job (`openvod transcode`), for progress reports; the durable
/// workflow's stages are `openvod_store::Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStep {
    Probe,
    /// The per-title analysis (sample encodes and their quality).
    Analyse,
    Encode,
    /// Comparing the encoded rungs with the source.
    Measure,
    Package,
}

/// A progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobEvent<'a> {
    Started(JobStep),
    Planned(&'a EncodePlan),
    Encoding(Progress),
}

/// What a finished job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscodeSummary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub source: MediaInfo,
    pub plan: EncodePlan,
    /// The per-title analysis and what it chose; absent for a fixed ladder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ladder: Option<PerTitleDecision>,
    #[serde(flatten)]
    pub package: PackageSummary,
    /// What is wrong with the source but did not stop the job.
    pub warnings: Vec<SourceWarning>,
    /// Wall time of the whole job, seconds.
    pub wall_seconds: f64,
    /// CPU time of the encode (ffmpeg), seconds.
    pub cpu_seconds: f64,
    /// Encode wall time, seconds.
    pub encode_seconds: f64,
    /// Media seconds encoded per wall second.
    pub speed: f64,
}

/// Runs a job to the end. On any error nothing is left at `job.output` (an existing
/// folder there is untouched).
pub fn run(job: &TranscodeJob, on_event: &mut dyn FnMut(JobEvent<'_>)) -> Result<TranscodeSummary> {
    let started = Instant::now();
    on_event(JobEvent::Started(JobStep::Probe));
    let source = SourceFile::open(&job.input)?;
    let shown = source.shown().to_string();
    let info = probe::probe(&source)?;
    let mut plan = ladder::plan(&info, &job.template, &shown)?;
    ffmpeg::check_encoders(&plan, &shown)?;
    // Rungs are scored at the fixed ladder's largest size, whatever the per-title ladder
    // keeps, so that fixed and per-title encodes of a title compare.
    let display = largest(&plan);
    let staged = StagedDir::new(&job.output, job.overwrite)?;
    let work = staged.path().join(".encode");
    std::fs::create_dir(&work).map_err(|e| Error::io(&work, e))?;
    add_sidecars(&mut plan, &job.subtitles, &work)?;
    let decision = match job.template.ladder.mode {
        LadderMode::Fixed => None,
        LadderMode::PerTitle => {
            on_event(JobEvent::Started(JobStep::Analyse));
            let decision = analyse_title(&source, &mut plan, &job.template, &work)?;
            ffmpeg::check_encoders(&plan, &shown)?;
            Some(decision)
        }
    };
    on_event(JobEvent::Planned(&plan));

    on_event(JobEvent::Started(JobStep::Encode));
    let deadline = job
        .deadline
        .unwrap_or_else(|| Deadline::for_duration(plan.duration));
    let never = std::sync::atomic::AtomicBool::new(false);
    let encoded = ffmpeg::encode(&source, &plan, &work, deadline, &never, &mut |p| {
        on_event(JobEvent::Encoding(p))
    })?;
    let mut warnings =
        integrity::check(&shown, &info, &plan, &work, &encoded.decode, &job.integrity)?;
    let cost = encoded.cost;
    let qualities = if job.measure_quality {
        on_event(JobEvent::Started(JobStep::Measure));
        Some(measure_rungs(&source, &plan, &work, display)?)
    } else {
        None
    };

    on_event(JobEvent::Started(JobStep::Package));
    let (mut summary, text_warnings) = package_encoded(&plan, &work, &job.template, staged.path())?;
    warnings.extend(text_warnings);
    let shares = cpu_shares(&plan);
    for r in &mut summary.renditions {
        if let Some(i) = plan.rungs.iter().position(|p| p.name == r.name) {
            r.cpu_seconds = Some(round3(cost.cpu.mul_f64(shares[i])));
            r.quality = qualities.as_ref().map(|q| q[i]);
        }
    }
    std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let output = staged.commit()?;
    let encode_seconds = cost.wall.as_secs_f64();
    Ok(TranscodeSummary {
        input: job.input.clone(),
        output,
        speed: if encode_seconds > 0.0 {
            summary.duration / encode_seconds
        } else {
            0.0
        },
        source: info,
        plan,
        ladder: decision,
        package: summary,
        warnings,
        wall_seconds: round3(started.elapsed()),
        cpu_seconds: round3(cost.cpu),
        encode_seconds: round3(cost.wall),
    })
}

/// Packages the rendition files ffmpeg wrote for `plan` in `encoded` into `out` (an
/// existing, empty folder), as the template's packaging settings say, clear; with the
/// warnings about its text tracks.
pub fn package_encoded(
    plan: &EncodePlan,
    encoded: &Path,
    template: &JobTemplate,
    out: &Path,
) -> Result<(PackageSummary, Vec<SourceWarning>)> {
    let (mut summaries, warnings) =
        package_encoded_copies(plan, encoded, template, &[CopyKeys::clear()], out)?;
    Ok((summaries.remove(0), warnings))
}

/// Stores the encoded renditions for packaging on request (see
/// [`package::store_renditions`]).
pub fn store_encoded(
    plan: &EncodePlan,
    encoded: &Path,
    template: &JobTemplate,
    out: &Path,
) -> Result<(PackageSummary, Vec<SourceWarning>)> {
    let (sources, renditions) = encoded_renditions(plan, encoded)?;
    let (texts, mut warnings) = encoded_texts(plan, encoded, &renditions)?;
    let images = encoded_images(plan, encoded, &mut warnings);
    let mut summary = package::store_renditions(
        &sources,
        renditions,
        texts,
        &images,
        &template.packaging(),
        template.protection.as_ref(),
        out,
    )?;
    if template.packaging.downloads {
        summary.downloads = crate::downloads::make(plan, encoded, out)?;
    }
    warnings.extend(captions_lost(&summary));
    Ok((summary, warnings))
}

/// A warning when the source's CEA-608 captions reached some video renditions but not
/// the others: an encoder that does not pass them through (this ffmpeg's x265 and
/// SVT-AV1) left them out, and players of those renditions show none.
fn captions_lost(summary: &PackageSummary) -> Option<SourceWarning> {
    let video: Vec<&crate::package::RenditionSummary> = summary
        .renditions
        .iter()
        .filter(|r| r.kind == "video")
        .collect();
    let (with, without): (Vec<_>, Vec<_>) = video.iter().partition(|r| r.cea608);
    if with.is_empty() || without.is_empty() {
        return None;
    }
    let names = |rs: &[&&crate::package::RenditionSummary]| {
        rs.iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(SourceWarning {
        code: crate::integrity::WarningCode::StreamNotCarried,
        message: format!(
            "the source's CEA-608 captions are in {} only: {} do not carry them (their encoder does not pass captions through)",
            names(&with),
            names(&without)
        ),
    })
}

/// The storyboard and poster of the encoded renditions. A picture that could not be made
/// does not hold back the video: the title is published without it, with an
/// `images_not_made` warning that says why.
fn encoded_images(
    plan: &EncodePlan,
    encoded: &Path,
    warnings: &mut Vec<SourceWarning>,
) -> crate::images::MadeImages {
    let work = encoded.join("images");
    let (made, failed) = crate::images::make(plan, encoded, &work);
    let _ = std::fs::remove_dir_all(&work);
    for e in failed {
        warnings.push(SourceWarning {
            code: crate::integrity::WarningCode::ImagesNotMade,
            message: format!("a picture was not made: {e}"),
        });
    }
    made
}

/// The encoded rendition files of a plan and their tracks.
fn encoded_renditions(plan: &EncodePlan, encoded: &Path) -> Result<(Vec<PathBuf>, Vec<Rendition>)> {
    let mut sources = Vec::new();
    let mut renditions = Vec::new();
    for name in plan.rendition_names() {
        let path = ffmpeg::output_path(encoded, &name);
        let tracks = package::read_mp4(&path)?;
        let track = tracks
            .into_iter()
            .next()
            .ok_or_else(|| Error::Output(format!("ffmpeg wrote no track for rendition {name}")))?;
        renditions.push(Rendition {
            name: RenditionName::new(&name).map_err(|e| Error::Template(e.to_string()))?,
            source: sources.len(),
            track,
        });
        sources.push(path);
    }
    Ok((sources, renditions))
}

/// Packages the encoded renditions once per copy (clear and protected), each with its
/// keys; returns a summary per copy.
pub fn package_encoded_copies(
    plan: &EncodePlan,
    encoded: &Path,
    template: &JobTemplate,
    copies: &[CopyKeys],
    out: &Path,
) -> Result<(Vec<PackageSummary>, Vec<SourceWarning>)> {
    let (sources, renditions) = encoded_renditions(plan, encoded)?;
    let (texts, mut warnings) = encoded_texts(plan, encoded, &renditions)?;
    let images = encoded_images(plan, encoded, &mut warnings);
    let mut summaries = package::package_copies(
        &sources,
        renditions,
        texts,
        &images,
        &template.packaging(),
        copies,
        out,
    )?;
    if template.packaging.downloads {
        let downloads = crate::downloads::make(plan, encoded, out)?;
        for s in &mut summaries {
            s.downloads = downloads.clone();
        }
    }
    warnings.extend(summaries.first().and_then(captions_lost));
    Ok((summaries, warnings))
}

/// Runs the per-title analysis in a folder of its own under `work` and puts its rungs
/// in `plan`.
pub fn analyse_title(
    source: &SourceFile,
    plan: &mut EncodePlan,
    template: &JobTemplate,
    work: &Path,
) -> Result<PerTitleDecision> {
    let dir = work.join("per-title");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let decision = per_title::analyse(source, plan, template, &dir)?;
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    plan.rungs = per_title::planned_rungs(&decision, template, plan);
    Ok(decision)
}

/// The largest picture of a plan's rungs.
fn largest(plan: &EncodePlan) -> (u32, u32) {
    plan.rungs
        .iter()
        .map(|r| (r.width, r.height))
        .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h))
        .unwrap_or((0, 0))
}

/// The quality of every video rung of `plan` encoded in `work`, against the whole
/// source, scaled to `display`, every third frame.
pub fn measure_rungs(
    source: &SourceFile,
    plan: &EncodePlan,
    work: &Path,
    display: (u32, u32),
) -> Result<Vec<QualityScore>> {
    if plan.rungs.is_empty() {
        return Ok(Vec::new());
    }
    let reference = Reference {
        source,
        stream_index: plan.video_stream_index,
        excerpts: Vec::new(),
        frame_rate: Some(plan.frame_rate),
        deinterlace: plan.deinterlace,
    };
    let files = plan
        .rungs
        .iter()
        .map(|r| SourceFile::open(&ffmpeg::output_path(work, &r.name)))
        .collect::<Result<Vec<_>>>()?;
    quality::compare(
        &reference,
        &files,
        Comparison {
            width: display.0,
            height: display.1,
            frame_step: 3,
            psnr: true,
        },
        Deadline::for_duration(plan.duration).total,
    )
}

/// Each rung's share of the encode's CPU time: ffmpeg runs every rung in one process
/// and does not account CPU time per output, so the time is apportioned by the pixels
/// each rung encodes, weighted by its encoder's cost per pixel relative to x264 (x265
/// about twice x264 at the same preset name, SVT-AV1 at its mapped preset about the
/// same; measured on 720p testsrc2). An estimate, reported as such.
pub(crate) fn cpu_shares(plan: &EncodePlan) -> Vec<f64> {
    let weight = |r: &crate::ladder::PlannedRung| {
        let per_pixel = match r.codec {
            VideoCodec::H264 => 1.0,
            VideoCodec::Hevc => 2.0,
            VideoCodec::Av1 => 1.1,
        };
        f64::from(r.width) * f64::from(r.height) * per_pixel
    };
    let total: f64 = plan.rungs.iter().map(weight).sum();
    plan.rungs
        .iter()
        .map(|r| if total > 0.0 { weight(r) / total } else { 0.0 })
        .collect()
}

fn round3(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
