//! Picture quality of an encode against its source: ffmpeg's SSIM and PSNR, both pictures
//! scaled to one display size, and a 0-100 score mapped from luma SSIM.
//!
//! VMAF would be the industry's measure, but Debian's ffmpeg is built without libvmaf, and
//! bringing libvmaf in means a C library with its models built from source: no crate on
//! the registries packages it under a licence that fits this project's Apache-2.0 without
//! linking GPL code. SSIM is in every ffmpeg build, is computed in the same pass as PSNR,
//! and tracks perceived quality far better than PSNR on the blur and blocking that a rate
//! cap causes. The score maps luma SSIM in decibels (`-10 log10(1 - SSIM)`) onto a 0-100
//! scale through fixed anchors (see [`score_from_ssim_db`]), chosen so that its steps read
//! like VMAF's: about 94 where an encode is hard to tell from its source on a living-room
//! screen, about 6 points for a step a viewer notices. It is a mapping, not VMAF; the
//! benchmarks report the SSIM figures beside it.
//!
//! Comparing at one display size is what makes rungs of different sizes comparable: a
//! 540p rung is judged as it looks scaled up to the screen the 1080p rung fills, so its
//! lost detail counts. Every `frame_step`-th frame is compared: neighbouring frames of one
//! encode differ little in quality, and the analysis of a per-title ladder compares many
//! encodes.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::source::SourceFile;
use crate::{Error, Result};

/// A part of a source: `duration` seconds from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Excerpt {
    pub start: f64,
    pub duration: f64,
}

/// What the encodes are compared with: one video stream of a source, whole or as
/// excerpts joined end to end, converted as the encode converted it.
#[derive(Debug, Clone)]
pub struct Reference<'a> {
    pub source: &'a SourceFile,
    /// ffprobe index of the video stream.
    pub stream_index: u32,
    /// Empty: the whole source.
    pub excerpts: Vec<Excerpt>,
    /// The encode's frame rate, when it resampled the source.
    pub frame_rate: Option<(u32, u32)>,
    pub deinterlace: bool,
}

impl Reference<'_> {
    /// The input options and inputs of the reference, first on ffmpeg's command line.
    pub(crate) fn inputs(&self) -> Vec<OsString> {
        let mut a = Vec::new();
        if self.excerpts.is_empty() {
            a.extend(self.source.input_args());
        }
        for e in &self.excerpts {
            // Input options before `-i`: seek (frame-accurate when decoding) and stop.
            a.extend(["-ss".into(), format!("{:.3}", e.start).into()]);
            a.extend(["-t".into(), format!("{:.3}", e.duration).into()]);
            a.extend(self.source.input_args());
        }
        a
    }

    /// The error of an ffmpeg run on this reference that failed, `doing` what: the
    /// allow-list's refusal of the source, or ffmpeg's last line.
    pub(crate) fn failure(&self, out: &crate::process::Captured, doing: &str) -> Error {
        if let Some(e) = self.source.refusal(&out.stderr) {
            return e;
        }
        let log = String::from_utf8_lossy(&out.stderr);
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Error::Ffmpeg {
            status: out.status.to_string(),
            message: format!("{doing}: {}", self.source.strip_url(last)),
        }
    }

    /// Inputs on the command line before the distorted ones.
    pub(crate) fn input_count(&self) -> usize {
        self.excerpts.len().max(1)
    }

    /// The filter graph that makes the reference picture, ending unlabelled (the caller
    /// appends the rest of the chain).
    pub(crate) fn chain(&self) -> String {
        let s = self.stream_index;
        let mut g = String::new();
        match self.excerpts.len() {
            0 | 1 => g.push_str(&format!("[0:{s}]")),
            n => {
                for i in 0..n {
                    g.push_str(&format!("[{i}:{s}]"));
                }
                g.push_str(&format!("concat=n={n}:v=1:a=0,"));
            }
        }
        if self.deinterlace {
            g.push_str("bwdif=mode=send_frame,");
        }
        if let Some((n, d)) = self.frame_rate {
            g.push_str(&format!("fps={n}/{d},"));
        }
        g.push_str("setpts=PTS-STARTPTS");
        g
    }
}

/// The quality of one encode against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityScore {
    /// 0-100, from luma SSIM (see [`score_from_ssim_db`]).
    pub score: f64,
    /// Mean luma SSIM, 0-1.
    pub ssim: f64,
    /// The same in decibels, `-10 log10(1 - SSIM)`, at most 60.
    pub ssim_db: f64,
    /// Mean PSNR over Y, U and V in decibels, at most 100 (identical pictures), when
    /// asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr: Option<f64>,
}

/// How the pictures are compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The display size both pictures are scaled to.
    pub width: u32,
    pub height: u32,
    /// Compare every n-th frame (1: every frame).
    pub frame_step: u32,
    /// Also measure PSNR (the score needs SSIM only).
    pub psnr: bool,
}

/// The reference's compared pictures, already picked (every `frame_step`-th frame) and
/// scaled to the display size, as raw video in a NUT file. The process that decodes the
/// source for other work (the sample encodes of a per-title analysis) writes them on the
/// side, so that comparing needs no second decode of the source: on a source with long
/// GOPs or a costly codec, that decode was most of the comparison's cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceFrames {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub frame_step: u32,
}

impl ReferenceFrames {
    /// The filters that make them from the reference chain's output.
    pub(crate) fn filter(&self) -> String {
        format!("{}{}", pick(self.frame_step), fit(self.width, self.height))
    }

    /// The output options that write them. NUT keeps each frame's own timestamp, so a
    /// distorted frame meets the reference frame of the same instant; raw video, so
    /// reading them back costs no decode.
    pub(crate) fn output_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = ["-fps_mode", "passthrough", "-c:v", "rawvideo", "-f", "nut"]
            .iter()
            .map(OsString::from)
            .collect();
        a.push(self.path.clone().into_os_string());
        a
    }

    /// The bytes of `frames` source frames' worth (4:2:0, 8-bit).
    pub fn bytes_for(&self, frames: u64) -> u64 {
        let kept = frames.div_ceil(u64::from(self.frame_step.max(1)));
        kept * u64::from(self.width) * u64::from(self.height) * 3 / 2
    }
}

/// Decodes `reference` and writes `frames` from it, alone (the per-title analysis writes
/// them in its sample process instead).
pub fn write_frames(
    reference: &Reference<'_>,
    frames: &ReferenceFrames,
    deadline: Duration,
) -> Result<()> {
    let mut a = crate::ffmpeg::quiet_args();
    a.extend(reference.inputs());
    a.extend([
        "-filter_complex".into(),
        format!("{},{}[frames]", reference.chain(), frames.filter()).into(),
        "-map".into(),
        "[frames]".into(),
    ]);
    a.extend(frames.output_args());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(a).stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !out.status.success() {
        return Err(reference.failure(&out, "writing reference frames"));
    }
    Ok(())
}

/// The pictures the distorted ones are compared with.
#[derive(Clone, Copy)]
enum Pictures<'r> {
    /// Decoded from the source.
    Source(&'r Reference<'r>),
    /// Written before by [`ReferenceFrames`].
    Frames(&'r ReferenceFrames),
}

impl Pictures<'_> {
    fn inputs(&self) -> Vec<OsString> {
        match self {
            Pictures::Source(r) => r.inputs(),
            Pictures::Frames(f) => {
                let mut url = OsString::from("file:");
                url.push(f.path.as_os_str());
                // The file is this program's own; the demuxer is named, never probed.
                ["-protocol_whitelist", "file", "-f", "nut", "-i"]
                    .iter()
                    .map(OsString::from)
                    .chain([url])
                    .collect()
            }
        }
    }

    fn input_count(&self) -> usize {
        match self {
            Pictures::Source(r) => r.input_count(),
            Pictures::Frames(_) => 1,
        }
    }

    /// The graph up to the reference pictures at the display size, picked, ready to split.
    fn chain(&self, how: Comparison) -> String {
        match self {
            Pictures::Source(r) => format!(
                "{},{}{},",
                r.chain(),
                pick(how.frame_step),
                fit(how.width, how.height)
            ),
            Pictures::Frames(_) => "[0:v:0]".into(),
        }
    }

    fn failure(&self, out: &crate::process::Captured, doing: &str) -> Error {
        match self {
            Pictures::Source(r) => r.failure(out, doing),
            Pictures::Frames(_) => Error::Ffmpeg {
                status: out.status.to_string(),
                message: format!(
                    "{doing}: {}",
                    crate::probe::last_line(&out.stderr).unwrap_or_default()
                ),
            },
        }
    }
}

/// `select` of every `step`-th frame (nothing for 1); the comma is escaped for the graph
/// parser.
fn pick(step: u32) -> String {
    match step.max(1) {
        1 => String::new(),
        step => format!("select=not(mod(n\\,{step})),"),
    }
}

fn fit(width: u32, height: u32) -> String {
    format!("scale={width}:{height}:flags=bicubic,format=yuv420p")
}

/// Compares each of `distorted` with `reference`, in one ffmpeg process that decodes the
/// reference once.
pub fn compare(
    reference: &Reference<'_>,
    distorted: &[SourceFile],
    how: Comparison,
    deadline: Duration,
) -> Result<Vec<QualityScore>> {
    compare_pictures(Pictures::Source(reference), distorted, how, deadline)
}

/// Compares each of `distorted` with reference frames written before, SSIM alone, at
/// their size and frame step.
pub fn compare_with_frames(
    frames: &ReferenceFrames,
    distorted: &[SourceFile],
    deadline: Duration,
) -> Result<Vec<QualityScore>> {
    let how = Comparison {
        width: frames.width,
        height: frames.height,
        frame_step: frames.frame_step,
        psnr: false,
    };
    compare_pictures(Pictures::Frames(frames), distorted, how, deadline)
}

fn compare_pictures(
    reference: Pictures<'_>,
    distorted: &[SourceFile],
    how: Comparison,
    deadline: Duration,
) -> Result<Vec<QualityScore>> {
    if distorted.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.env("SVT_LOG", "1")
        .args(arguments(reference, distorted, how))
        .stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !out.status.success() {
        for d in distorted {
            if let Some(e) = d.refusal(&out.stderr) {
                return Err(e);
            }
        }
        return Err(reference.failure(&out, "comparing pictures"));
    }
    let log = String::from_utf8_lossy(&out.stderr);
    (0..distorted.len())
        .map(|i| {
            let ssim = summary(&log, &format!("ssim@s{i}"), "Y:");
            let psnr = summary(&log, &format!("psnr@p{i}"), "average:");
            match (ssim, psnr) {
                (Some(ssim), psnr) if psnr.is_some() || !how.psnr => {
                    Ok(QualityScore::from_ssim_psnr(ssim, psnr))
                }
                _ => Err(Error::Output(format!(
                    "{}: no frames were compared with the reference (is it a video of \
                     the same length?)",
                    distorted[i].shown()
                ))),
            }
        })
        .collect()
}

/// The ffmpeg command line of [`compare`].
fn arguments(reference: Pictures<'_>, distorted: &[SourceFile], how: Comparison) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
        .iter()
        .map(OsString::from)
        .collect();
    a.extend(reference.inputs());
    for d in distorted {
        a.extend(d.input_args());
    }
    let n = distorted.len();
    // `not(mod(n,K))` keeps every K-th frame, counted from the first of each picture's
    // timeline.
    let pick = pick(how.frame_step);
    let fit = fit(how.width, how.height);
    // Each distorted picture is compared once for SSIM and, when asked, once for PSNR.
    let per = if how.psnr { 2 } else { 1 };
    let mut g = reference.chain(how);
    g.push_str(&format!("split={}", per * n));
    for i in 0..per * n {
        g.push_str(&format!("[r{i}]"));
    }
    let first = reference.input_count();
    let mut outputs = Vec::new();
    for i in 0..n {
        // The distorted picture: the encode's first video stream, its timeline from 0.
        g.push_str(&format!(
            ";[{}:v:0]setpts=PTS-STARTPTS,{pick}{fit}",
            first + i
        ));
        if how.psnr {
            g.push_str(&format!(
                ",split=2[d{i}a][d{i}b];[d{i}a][r{}]ssim@s{i}[os{i}];[d{i}b][r{}]psnr@p{i}[op{i}]",
                2 * i,
                2 * i + 1
            ));
            outputs.extend([format!("[os{i}]"), format!("[op{i}]")]);
        } else {
            g.push_str(&format!("[d{i}];[d{i}][r{i}]ssim@s{i}[os{i}]"));
            outputs.push(format!("[os{i}]"));
        }
    }
    a.extend(["-filter_complex".into(), g.into()]);
    for o in outputs {
        a.extend([
            "-map".into(),
            o.into(),
            "-f".into(),
            "null".into(),
            "-".into(),
        ]);
    }
    a
}

/// The value after `key` on the summary line ffmpeg logs for the filter instance `name`,
/// such as `[ssim@s0 @ 0x55..] SSIM Y:0.987 (18.9) ... All:0.98 (17.2)`.
fn summary(log: &str, name: &str, key: &str) -> Option<f64> {
    let context = format!("[{name} @ ");
    let line = log.lines().rev().find(|l| l.starts_with(&context))?;
    let rest = &line[line.find(key)? + key.len()..];
    let value = rest.split_whitespace().next()?;
    match value {
        "inf" => Some(f64::INFINITY),
        v => v.parse().ok().filter(|x: &f64| !x.is_nan()),
    }
}

impl QualityScore {
    /// From mean luma SSIM and mean PSNR.
    pub fn from_ssim_psnr(ssim: f64, psnr: Option<f64>) -> QualityScore {
        let ssim = ssim.clamp(0.0, 1.0);
        let ssim_db = ssim_db(ssim);
        QualityScore {
            score: round2(score_from_ssim_db(ssim_db)),
            ssim: (ssim * 1e6).round() / 1e6,
            ssim_db: round2(ssim_db),
            psnr: psnr.map(|p| round2(p.min(100.0))),
        }
    }
}

/// `-10 log10(1 - SSIM)`, at most 60 dB (identical pictures).
pub fn ssim_db(ssim: f64) -> f64 {
    if ssim >= 1.0 {
        60.0
    } else {
        (-10.0 * (1.0 - ssim).log10()).min(60.0)
    }
}

/// Anchors of the score: (luma SSIM in dB, score). 10 dB (SSIM 0.90) is a picture whose
/// blocking anyone sees, 13 dB (0.95) a soft one, 17 dB (0.98) a good streaming rung,
/// 20 dB (0.99) hard to tell from the source at its size, 30 dB (0.999) identical to the
/// eye.
const ANCHORS: [(f64, f64); 6] = [
    (0.0, 0.0),
    (10.0, 50.0),
    (13.0, 72.0),
    (17.0, 88.0),
    (20.0, 94.0),
    (30.0, 100.0),
];

/// The 0-100 score of a luma SSIM in dB: linear between the [`ANCHORS`], 100 above the
/// last. It rises with SSIM and never falls, so a higher SSIM never scores lower.
pub fn score_from_ssim_db(db: f64) -> f64 {
    if db.is_nan() || db <= 0.0 {
        return 0.0;
    }
    for w in ANCHORS.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if db <= x1 {
            return y0 + (y1 - y0) * (db - x0) / (x1 - x0);
        }
    }
    100.0
}

/// The luma SSIM in dB whose score is `score` (the inverse of [`score_from_ssim_db`]).
pub fn ssim_db_for_score(score: f64) -> f64 {
    let score = score.clamp(0.0, 100.0);
    for w in ANCHORS.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if score <= y1 {
            return x0 + (x1 - x0) * (score - y0) / (y1 - y0);
        }
    }
    ANCHORS[ANCHORS.len() - 1].0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_rises_with_ssim_through_its_anchors() {
        assert_eq!(score_from_ssim_db(10.0), 50.0);
        assert_eq!(score_from_ssim_db(20.0), 94.0);
        assert_eq!(score_from_ssim_db(45.0), 100.0);
        assert_eq!(score_from_ssim_db(-1.0), 0.0);
        assert_eq!(score_from_ssim_db(f64::NAN), 0.0);
        let mut last = -1.0;
        for i in 0..400 {
            let s = score_from_ssim_db(f64::from(i) / 10.0);
            assert!(s >= last, "falls at {i}");
            last = s;
            let back = ssim_db_for_score(s);
            if s < 100.0 {
                assert!((back - f64::from(i) / 10.0).abs() < 1e-9, "{i}: {back}");
            }
        }
        let q = QualityScore::from_ssim_psnr(0.99, Some(f64::INFINITY));
        assert!(
            (q.ssim_db - 20.0).abs() < 0.01 && (q.score - 94.0).abs() < 0.01,
            "{q:?}"
        );
        assert_eq!(q.psnr, Some(100.0));
        assert_eq!(QualityScore::from_ssim_psnr(1.0, None).ssim_db, 60.0);
    }

    #[test]
    fn reads_the_summary_line_of_each_instance() {
        let log = "[ssim@s1 @ 0x55] SSIM Y:0.512 (3.1) U:0.6 (4.0) V:0.6 (4.0) All:0.55 (3.5)\n\
                   [ssim@s0 @ 0x56] SSIM Y:0.990000 (20.0) U:1 (inf) V:1 (inf) All:0.993 (21.5)\n\
                   [psnr@p0 @ 0x57] PSNR y:41.2 u:inf v:inf average:inf min:30 max:inf\n";
        assert_eq!(summary(log, "ssim@s0", "Y:"), Some(0.99));
        assert_eq!(summary(log, "ssim@s1", "Y:"), Some(0.512));
        assert_eq!(summary(log, "psnr@p0", "average:"), Some(f64::INFINITY));
        assert_eq!(summary(log, "psnr@p1", "average:"), None);
        assert_eq!(summary(log, "ssim@s2", "Y:"), None);
    }
}
