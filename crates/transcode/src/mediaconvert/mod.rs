//! Import of AWS Elemental MediaConvert jobs, for `openvod transcode --mediaconvert-job`.
//!
//! A MediaConvert job is turned into a [`JobTemplate`] plus an input file and an output
//! folder, so that a team moving off MediaConvert can keep its job JSON. Three shapes of
//! document are accepted, as the AWS documentation writes them: a `CreateJob` request body
//! (`{"Settings": {...}, "Role": ..., "Queue": ...}`), a job-template document
//! (`{"Name": ..., "Settings": {...}}`), and a bare `Settings` object
//! (`{"Inputs": [...], "OutputGroups": [...]}`).
//!
//! openvod does a small part of what MediaConvert can do: one input, one CMAF output group
//! (`CMAF_GROUP_SETTINGS`) of QVBR video rungs and at most one AAC audio rendition. The
//! video rungs may be
//!
//! * `H_264` (`H264Settings`, profile `HIGH`, `MAIN` or `BASELINE`),
//! * `H_265` (`H265Settings`, profile `MAIN_MAIN` or `MAIN10_MAIN`, the template's
//!   `hevc_main10`: Main 10 from sources of 10 bits or more, and Main from 8-bit ones,
//!   with a warning; the High tier is warned; every H.265 output must name the same
//!   profile; tagged `hvc1`, so `WriteMp4PackagingType: HEV1` is warned),
//! * `AV1` (`Av1Settings`, 8-bit, without film grain synthesis, at least 64 pixels on
//!   each side; its `GopSize` counts frames and is refused, so AV1 rungs cut at the GOP
//!   the other outputs give in seconds, or every 2 s),
//!
//! each rung in its own output's codec: the template's codec is the first video output's,
//! and rungs in another codec name theirs (and are named `720p-h264` when the job gives
//! no `NameModifier`). A QVBR level means the same picture in every codec: it maps to
//! each encoder's own CRF scale ([`VideoCodec::crf`](crate::template::VideoCodec::crf)). Audio may be an output of its own or ride in the video outputs,
//! as many published jobs write it: it is then split into the one audio rendition with a
//! `split:` warning, and every output's audio must be the same (the copies are reported).
//!
//! An Automated ABR group (`AutomatedEncodingSettings.AbrSettings`) becomes a per-title
//! ladder (`[ladder] mode = "per-title"`): `MaxAbrBitrate`, `MinAbrBitrate` and
//! `MaxRenditions` bound it, `MaxQualityLevel` (a QVBR level) sets the top rung's quality
//! score, and the `ALLOWED_RENDITIONS` and `MIN_BOTTOM_RENDITION_SIZE` rules set the
//! heights it is chosen from (by default the built-in ladder's 1080, 720, 540 and 360);
//! rules that force a rendition in are refused (see `abr`). The group has one video
//! output, whose codec settings every rendition shares: it gives no `Width` or `Height`
//! (MediaConvert chooses the sizes, as the analysis does; a size there is refused), and
//! its quality is the group's `MaxQualityLevel`, so a `QvbrQualityLevel` there is
//! refused too; `MaxBitrate` may be left out, and when given it lowers the
//! ladder's ceiling (no rendition's cap goes above it).
//!
//! The importer walks **every key** of the document, and each key is one of:
//!
//! * **mapped**: read into the template (`Width`, `Height`, `Codec`, `MaxBitrate`,
//!   `QvbrQualityLevel`, `SegmentLength`, ...);
//! * **harmless**: it does not change the pictures or sounds openvod writes (queue and
//!   billing settings, encoder tuning such as `QualityTuningLevel`, manifest cosmetics).
//!   It is accepted, and reported in [`MediaConvertJob::warnings`] as
//!   `ignored: <json.path> = <value>` unless its value is the one openvod behaves like
//!   anyway (each table in `fields.rs` lists those values), so that nobody is surprised;
//! * **refused**: anything else, including every key this module does not know. Ignoring
//!   such a key (`Encryption`, `CaptionDescriptions`, `VideoPreprocessors`, a `CBR` rate
//!   control, ...) would give an output different from the one the job describes, so the
//!   import fails with a one-line [`Error::MediaConvert`] naming the JSON path.
//!
//! Values are type- and range-checked with the same bounds as [`JobTemplate::validate`]
//! (which also runs on the result), and the document is limited to [`MAX_JOB_BYTES`].
//! Nothing read from the JSON is unwrapped: odd documents give errors, never panics.
//!
//! S3 locations (`s3://bucket/key`) are mapped to local folders with [`LocationMap`]s
//! (`--map s3://bucket=DIR`); keys with `.` or `..` segments are refused so that a job
//! cannot point outside the mapped folder.
//!
//! The walk follows the document: this file reads the job level (the document's shape
//! and `Settings`); `input` the input and its selectors, `output_group` the CMAF group
//! and its outputs, `abr` its Automated ABR settings, `video` and `audio` the renditions
//! (`video_codecs` each video codec's own settings), `location` the S3 and local
//! locations. `fields` holds the tables of harmless keys, `cursor` the JSON object being
//! read, and `values` the typed values, JSON paths and messages they all share.

mod abr;
mod audio;
mod cursor;
mod fields;
mod input;
mod location;
mod output_group;
mod values;
mod video;
mod video_codecs;

use std::path::PathBuf;

use serde_json::Value;

use crate::template::JobTemplate;
use crate::{Error, Result};
use cursor::Obj;
use fields::{SETTINGS, TOP_LEVEL};
use values::{ignored, quoted};

pub use location::LocationMap;

/// Largest job document accepted. MediaConvert's own jobs are far smaller (tens of KiB);
/// the bound keeps a stray multi-gigabyte file from being read and parsed.
pub const MAX_JOB_BYTES: usize = 1 << 20;

/// Name given to imported templates (MediaConvert jobs have no name of their own).
pub const TEMPLATE_NAME: &str = "mediaconvert";

/// An imported MediaConvert job.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConvertJob {
    /// `Settings.Inputs[0].FileInput`, mapped to a local path.
    pub input: PathBuf,
    /// `CmafGroupSettings.Destination` mapped to a local folder; `None` when the job has no
    /// destination (the caller then needs `--out`).
    pub destination: Option<PathBuf>,
    /// The ladder, codec, audio and packaging settings the job describes, on top of the
    /// built-in default template (whose preset and frame-rate cap are kept); it passes
    /// [`JobTemplate::validate`].
    pub template: JobTemplate,
    /// One line per accepted-but-ignored field (`ignored: <json.path> = <value>`, or
    /// `ignored: <json.path>: <why>`), and one per audio split out of a video output
    /// (`split: <json.path>: ...`).
    pub warnings: Vec<String>,
}

/// Imports a MediaConvert job document (see the module documentation for what is
/// accepted). `maps` locate the S3 buckets it names.
pub fn import(json: &str, maps: &[LocationMap]) -> Result<MediaConvertJob> {
    if json.len() > MAX_JOB_BYTES {
        return Err(Error::MediaConvert(format!(
            "the document is {} bytes, more than the 1 MiB limit for a job",
            json.len()
        )));
    }
    for (i, m) in maps.iter().enumerate() {
        if maps[..i]
            .iter()
            .any(|o| o.bucket == m.bucket && o.dir != m.dir)
        {
            return Err(Error::MediaConvert(format!(
                "--map s3://{} is given twice with different folders",
                m.bucket
            )));
        }
    }
    let root: Value = serde_json::from_str(json)
        .map_err(|e| Error::MediaConvert(format!("not valid JSON: {e}")))?;
    let mut cx = Importer {
        maps,
        warnings: Vec::new(),
        abr: false,
    };
    let mut top = Obj::new(&root, String::new())?;
    let (input, destination, template) = if let Some((settings, path)) = top.take("Settings") {
        // A CreateJob body or a job template. `JobTemplate` in a CreateJob means "start from
        // this template and apply Settings on top"; openvod cannot fetch the template, so
        // the job's own Settings must be complete (a missing OutputGroups says so).
        let job_template = match top.take("JobTemplate") {
            Some((v, p)) => {
                cx.warnings.push(format!(
                    "{} (openvod cannot read MediaConvert \
                        templates: only this job's Settings are used)",
                    ignored(&p, v)
                ));
                Some(v.as_str().unwrap_or("?").to_string())
            }
            None => None,
        };
        top.finish(&mut cx.warnings, TOP_LEVEL)?;
        cx.settings(settings, path, job_template.as_deref())?
    } else if top.has("Inputs") || top.has("OutputGroups") {
        cx.settings(&root, String::new(), None)?
    } else {
        return Err(Error::MediaConvert(
            "expected a CreateJob request ({\"Settings\": ...}), a job template, or a Settings \
             object ({\"Inputs\": ..., \"OutputGroups\": ...})"
                .into(),
        ));
    };
    Ok(MediaConvertJob {
        input,
        destination,
        template,
        warnings: cx.warnings,
    })
}

struct Importer<'m> {
    maps: &'m [LocationMap],
    warnings: Vec<String>,
    /// Whether the outputs being read are an Automated ABR group's: their video output
    /// then gives no size and may leave `MaxBitrate` out (see `abr`).
    abr: bool,
}

impl Importer<'_> {
    fn settings(
        &mut self,
        v: &Value,
        path: String,
        job_template: Option<&str>,
    ) -> Result<(PathBuf, Option<PathBuf>, JobTemplate)> {
        let mut s = Obj::new(v, path)?;
        let why_template = match job_template {
            Some(name) => format!(
                " (this job starts from the MediaConvert template {}, which openvod cannot \
                 read: copy its Settings into the job)",
                quoted(name)
            ),
            None => String::new(),
        };
        let (inputs, inputs_path) = s.need(
            "Inputs",
            &format!("a job needs exactly one input with a FileInput{why_template}"),
        )?;
        let (input, selectors) = self.inputs(inputs, &inputs_path)?;
        let (groups, groups_path) = s.need(
            "OutputGroups",
            &format!("a job needs one CMAF_GROUP_SETTINGS output group{why_template}"),
        )?;
        let (destination, template) = self.output_groups(groups, &groups_path, &selectors)?;
        s.finish(&mut self.warnings, SETTINGS)?;
        Ok((input, destination, template))
    }
}
