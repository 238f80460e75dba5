//! Per-title ladders: a ladder chosen for each title from sample encodes of it, instead
//! of the template's fixed rungs.
//!
//! The analysis encodes excerpts spread over the title (one GOP each, about a tenth of a
//! short title and at most 24 s of a long one, each starting on a keyframe of the source
//! where one is near) at every resolution of the template's ladder and three CRFs, with
//! a fast preset. The top size comes first, in one ffmpeg process that also makes the
//! calibration encode (see `calibrate`) and writes the reference frames the comparisons
//! read (see `quality::ReferenceFrames`). The smaller sizes follow in a second process,
//! unless the top size already shows the ladder is one rung; where the ladder's preset
//! would spend more than the ceiling at the top size's lowest CRF, that process also
//! encodes the top size under the ceiling (see `samples::CeilingEncode`: it is what the
//! top rung looks like there). A third process compares every encode with the reference
//! frames at the display size. The curves are then calibrated to the ladder's preset.
//! [`hull`] turns the points into a ladder: the upper convex hull of quality against bit
//! rate across resolutions, the top rung at the quality target, and rungs below it only
//! where they step down visibly.
//!
//! Cost: the source is decoded once or twice over the sampled length, from a keyframe,
//! so nothing is decoded and thrown away (on a source with 8 s GOPs, excerpts placed
//! between keyframes decoded about four times their length). The samples are 3 encodes
//! of each size at a preset about three times faster than `medium`, capped at four
//! times the ladder's ceiling so that no time goes on points that can never be rungs,
//! and, on hard titles, one of the top size under the ceiling; then one more encode of
//! the top size with the ladder's preset, and the comparisons, every 7th frame or so.
//! Measured on 2 cores for 60 s 1080p titles, that is about a fifth of the fixed
//! ladder's encode: 20 to 23 % on the four sources of `bench/per_title.sh`, 18 to 27 %
//! across all runs. Past a minute the sampled length grows with the square root
//! of the title's (see [`excerpts`]), so the share halves at 4 minutes and falls to
//! about 7 % at 10; from 16 minutes it stays at 24 s, about 1 % of a ninety-minute
//! title's encode. The reference frames take at most 1 GiB of disk (24 s of 1080p take
//! about 320 MB); past that (long 4K samples) the comparisons decode the source once
//! more instead.
//!
//! The analysis runs in one codec (`[ladder] codec`, by default the ladder's first); the
//! other codecs of the ladder get the same resolutions and caps, and the CRF that their
//! scale gives the same quality level (see `VideoCodec::crf`).

pub mod calibrate;
pub mod hull;
mod samples;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ladder::{EncodePlan, PlannedRung};
use crate::quality::{self, Comparison, Excerpt, Reference, ReferenceFrames};
use crate::source::SourceFile;
use crate::template::{JobTemplate, VideoCodec};
use crate::{Error, Result};
use calibrate::Calibration;
use hull::{ChosenRung, CurvePoint, HullBounds};
use samples::{
    encode_samples, encoded_media, sample_preset, CalibrationEncode, CeilingEncode, EncodedMedia,
    SampleJob,
};

/// How a template's ladder is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LadderMode {
    /// The template's rungs, as written.
    #[default]
    Fixed,
    /// A ladder chosen for each title (this module).
    PerTitle,
}

impl std::str::FromStr for LadderMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<LadderMode, String> {
        match s {
            "fixed" => Ok(LadderMode::Fixed),
            "per-title" => Ok(LadderMode::PerTitle),
            other => Err(format!("unknown ladder {other:?} (use fixed or per-title)")),
        }
    }
}

/// The `[ladder]` table of a template: the mode and the bounds of a per-title ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderSettings {
    #[serde(default)]
    pub mode: LadderMode,
    /// No rung below this bit rate, bits per second.
    #[serde(default = "default_min_bitrate")]
    pub min_bitrate: u64,
    /// No rung's cap above this bit rate.
    #[serde(default = "default_max_bitrate")]
    pub max_bitrate: u64,
    #[serde(default = "default_max_rungs")]
    pub max_rungs: u8,
    /// The quality score (0-100, see `quality`) the top rung stops at.
    #[serde(default = "default_top_quality")]
    pub top_quality: f64,
    /// The least quality step between neighbouring rungs.
    #[serde(default = "default_quality_step")]
    pub quality_step: f64,
    /// The codec the analysis encodes in; by default the ladder's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
}

impl Default for LadderSettings {
    fn default() -> LadderSettings {
        LadderSettings {
            mode: LadderMode::Fixed,
            min_bitrate: default_min_bitrate(),
            max_bitrate: default_max_bitrate(),
            max_rungs: default_max_rungs(),
            top_quality: default_top_quality(),
            quality_step: default_quality_step(),
            codec: None,
        }
    }
}

fn default_min_bitrate() -> u64 {
    150_000
}
fn default_max_bitrate() -> u64 {
    5_000_000
}
fn default_max_rungs() -> u8 {
    6
}
fn default_top_quality() -> f64 {
    98.0
}
fn default_quality_step() -> f64 {
    6.0
}

impl LadderSettings {
    /// No `[ladder]` table: left out when a template is written back.
    pub fn is_default(&self) -> bool {
        *self == LadderSettings::default()
    }

    /// Checks every value; the message names the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v) in [
            ("ladder.min_bitrate", self.min_bitrate),
            ("ladder.max_bitrate", self.max_bitrate),
        ] {
            if !(50_000..=200_000_000).contains(&v) {
                return Err(format!("{name} {v} is outside 50 kb/s..200 Mb/s"));
            }
        }
        if self.min_bitrate >= self.max_bitrate {
            return Err(format!(
                "ladder.min_bitrate {} is not below ladder.max_bitrate {}",
                self.min_bitrate, self.max_bitrate
            ));
        }
        if !(1..=16).contains(&self.max_rungs) {
            return Err(format!(
                "ladder.max_rungs {} is outside 1..16",
                self.max_rungs
            ));
        }
        if !(30.0..=100.0).contains(&self.top_quality) {
            return Err(format!(
                "ladder.top_quality {} is outside 30..100",
                self.top_quality
            ));
        }
        if !(1.0..=30.0).contains(&self.quality_step) {
            return Err(format!(
                "ladder.quality_step {} is outside 1..30",
                self.quality_step
            ));
        }
        Ok(())
    }

    fn bounds(&self) -> HullBounds {
        HullBounds {
            min_bitrate: self.min_bitrate,
            max_bitrate: self.max_bitrate,
            max_rungs: usize::from(self.max_rungs),
            top_score: self.top_quality,
            min_step: self.quality_step,
        }
    }
}

/// What the analysis found and chose, recorded on the asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerTitleDecision {
    /// The codec the samples were encoded in.
    pub codec: VideoCodec,
    pub top_quality: f64,
    /// The parts of the title sampled.
    pub excerpts: Vec<Excerpt>,
    /// The display size the samples were compared at.
    pub display: (u32, u32),
    /// Every sample encode, as measured.
    pub samples: Vec<CurvePoint>,
    /// The upper convex hull of the measured and interpolated points, as the ladder's
    /// preset makes them (see `calibrate`), under the bit-rate ceiling (of every point
    /// when none is under it), cheapest first.
    pub hull: Vec<CurvePoint>,
    /// The ladder, best first, in the analysed codec, its CRFs and rates the ladder's
    /// preset's.
    pub rungs: Vec<ChosenRung>,
    /// The calibration encode of the top rung with the ladder's preset (absent when the
    /// samples already use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// What the analysis cost: CPU seconds of its ffmpeg and ffprobe processes (of which
    /// the sample process, with the calibration encode and the reference frames, took
    /// `sample_cpu_seconds`, the comparisons the rest), and wall seconds.
    pub cpu_seconds: f64,
    #[serde(default)]
    pub sample_cpu_seconds: f64,
    pub wall_seconds: f64,
}

/// The CRFs sampled, in x264's scale (each codec's own scale is offset from it as its
/// quality levels are): from near-transparent to a low rung's.
const SAMPLE_CRFS_X264: [u8; 3] = [19, 26, 33];

/// The share of a title of up to a minute that is sampled, and the least and most
/// seconds sampled of any title.
const SAMPLED_SHARE: f64 = 0.1;
const MIN_SAMPLED: f64 = 2.0;
const MAX_SAMPLED: f64 = 24.0;

/// The seconds sampled of a title of `duration` seconds: a tenth up to a minute, then
/// growing with the square root of the length (a 4-minute title 12 s, 5 %), so that the
/// analysis costs a smaller share of the encode the longer the title, up to 24 s (from
/// 16 minutes on).
fn sampled_seconds(duration: f64) -> f64 {
    let share = if duration <= 60.0 {
        duration * SAMPLED_SHARE
    } else {
        60.0 * SAMPLED_SHARE * (duration / 60.0).sqrt()
    };
    share.clamp(MIN_SAMPLED, MAX_SAMPLED).min(duration)
}

/// The least frame step of the comparisons (see [`frame_step`]).
const MIN_FRAME_STEP: u32 = 5;

/// The CRF of the calibration encode, in x264's scale: where top rungs fall.
const CALIBRATION_CRF_X264: u8 = 23;

/// The most disk the reference frames may take (see `ReferenceFrames`): 24 s of 1080p
/// at 30 fps, every 7th frame, take about 320 MB.
const REFERENCE_FRAMES_BUDGET: u64 = 1 << 30;

/// Excerpts of a title of `duration` seconds: one GOP each, spread evenly, starting on
/// the GOP grid, [`sampled_seconds`] in all. A title whose length is unknown is sampled
/// from its start.
pub fn excerpts(duration: f64, gop_seconds: f64) -> Vec<Excerpt> {
    let len = gop_seconds.max(0.5);
    if !(duration.is_finite() && duration > 0.0) {
        return vec![Excerpt {
            start: 0.0,
            duration: MIN_SAMPLED.max(len),
        }];
    }
    if duration <= len {
        return vec![Excerpt {
            start: 0.0,
            duration,
        }];
    }
    let total = sampled_seconds(duration);
    let count = ((total / len).round() as usize).max(1);
    (0..count)
        .map(|k| {
            let centre = duration * (k as f64 + 0.5) / count as f64;
            let start = (((centre - len / 2.0) / len).floor() * len).clamp(0.0, duration - len);
            Excerpt {
                start,
                duration: len,
            }
        })
        .collect()
}

/// The analysis of one title: sample encodes, their quality, the hull and the ladder.
/// `plan` is the template's fixed plan for the source (its resolutions are the ones
/// sampled); `work` an empty folder for the samples, left to the caller to remove.
pub fn analyse(
    source: &SourceFile,
    plan: &EncodePlan,
    template: &JobTemplate,
    work: &Path,
) -> Result<PerTitleDecision> {
    let started = Instant::now();
    let cpu_before = crate::ffmpeg::children_cpu_time();
    let settings = &template.ladder;
    let codec = settings
        .codec
        .unwrap_or_else(|| template.video.ladder_codecs()[0]);
    let mut sizes: Vec<(u32, u32)> = plan.rungs.iter().map(|r| (r.width, r.height)).collect();
    sizes.sort_unstable_by_key(|s| std::cmp::Reverse(u64::from(s.0) * u64::from(s.1)));
    sizes.dedup();
    let display = *sizes.first().ok_or_else(|| {
        Error::Output("the plan has no video rung to build a per-title ladder from".into())
    })?;
    let grid = excerpts(plan.duration, plan.gop_seconds);
    let centres: Vec<f64> = grid.iter().map(|e| e.start + e.duration / 2.0).collect();
    // Only a saving: where the seeks find nothing, the excerpts stay on the grid.
    let keyframes =
        crate::probe::keyframes_at(source, plan.video_stream_index, &centres).unwrap_or_default();
    let mut reference = Reference {
        source,
        stream_index: plan.video_stream_index,
        excerpts: on_keyframes(&grid, &keyframes, plan.duration),
        frame_rate: Some(plan.frame_rate),
        deinterlace: plan.deinterlace,
    };
    let crfs: Vec<u8> = SAMPLE_CRFS_X264
        .iter()
        .map(|&c| crf_in(codec, VideoCodec::H264, c))
        .collect();
    let sampled: f64 = reference.excerpts.iter().map(|e| e.duration).sum();
    // Generous for a few seconds of media; a hung decoder still ends.
    let deadline = Duration::from_secs(300 + (sampled * 60.0) as u64);
    let fast = sample_preset(codec);
    let preset = final_preset(plan, codec);
    let calibration = (preset != fast).then(|| CalibrationEncode {
        preset: preset.clone(),
        size: display,
        crf: crf_in(codec, VideoCodec::H264, CALIBRATION_CRF_X264),
    });
    // The comparisons read the reference frames the sample process writes, unless they
    // would fill more disk than the budget (a long 4K sample): then they decode the
    // source once more.
    let step = frame_step(plan.gop_frames);
    let frames = ReferenceFrames {
        path: work.join("reference.nut"),
        width: display.0,
        height: display.1,
        frame_step: step,
    };
    let (num, den) = plan.frame_rate;
    let source_frames = (sampled * f64::from(num) / f64::from(den.max(1))).ceil() as u64;
    let frames = (frames.bytes_for(source_frames) <= REFERENCE_FRAMES_BUDGET).then_some(frames);
    // Points far above the ceiling are never rungs: the cap keeps the encoder from
    // spending time on them (grain at CRF 19 ran to 90 Mb/s). At four times the ceiling
    // it holds neither the points near the ceiling nor the calibration encode of
    // ordinary content (at twice, it held moderate motion's, whose CRFs then went
    // uncalibrated).
    let cap = settings.max_bitrate.saturating_mul(4);
    // First the top size, with the calibration encode and the reference frames.
    let top = SampleJob {
        codec,
        preset: &fast,
        sizes: &sizes[..1],
        crfs: &crfs,
        max_bitrate: cap,
        calibration: calibration.as_ref(),
        ceiling: None,
        frames: frames.as_ref(),
    };
    let mut outputs = encode_samples(&reference, plan, &top, work, deadline)?;
    let mut media = outputs
        .samples
        .iter()
        .map(|o| encoded_media(&o.path))
        .collect::<Vec<_>>();
    if media.iter().all(|m| m.seconds <= 0.0) && reference.excerpts.iter().any(|e| e.start > 0.0) {
        // A header that overstates the length puts every excerpt past the real end
        // (the encode's integrity check reports it): sample the start instead.
        reference.excerpts = vec![Excerpt {
            start: 0.0,
            duration: plan.gop_seconds.max(0.5),
        }];
        outputs = encode_samples(&reference, plan, &top, work, deadline)?;
        media = outputs
            .samples
            .iter()
            .map(|o| encoded_media(&o.path))
            .collect();
    }
    // Then the smaller sizes, unless the top size's best picture costs so little that no
    // rung could be both 1.5x cheaper than it and above `min_bitrate`: the ladder is one
    // rung, and a smaller size could only make that rung a little cheaper still. That is
    // a still or nearly still picture, the title whose encode costs least and whose
    // samples would cost most against it (a third of its encode, measured on slides).
    let best_rate = media.iter().map(EncodedMedia::bitrate).fold(0.0, f64::max);
    // With them, where the top size's best picture would cost the ladder's preset more
    // than the ceiling, the top size once more under the ceiling (see `CeilingEncode`).
    let top_curve: Vec<CurvePoint> = outputs
        .samples
        .iter()
        .zip(&media)
        .map(|(o, m)| CurvePoint {
            width: o.size.0,
            height: o.size.1,
            crf: o.crf,
            bitrate: m.bitrate().round() as u64,
            score: 0.0,
            capped: false,
        })
        .collect();
    // The calibration encode's rate, read once: it decides this and calibrates the curves.
    let calibration_rate = outputs
        .calibration
        .as_ref()
        .map(|c| (c.crf, encoded_media(&c.path).bitrate().round() as u64));
    let final_rate = calibration_rate.map_or(Some(best_rate), |(crf, rate)| {
        calibrate::final_rate(&top_curve, crf, rate, cap, crfs[0])
    });
    let ceiling = final_rate
        .is_none_or(|r| r > settings.max_bitrate as f64)
        .then_some(CeilingEncode {
            size: display,
            crf: crfs[0],
            max_bitrate: steady_cap(settings.max_bitrate, sampled),
        });
    let smaller =
        sizes.len() > 1 && best_rate >= hull::MIN_RATE_RATIO * settings.min_bitrate as f64;
    if smaller || ceiling.is_some() {
        let rest = SampleJob {
            sizes: if smaller { &sizes[1..] } else { &[] },
            calibration: None,
            ceiling: ceiling.as_ref(),
            frames: None,
            ..top
        };
        let more = encode_samples(&reference, plan, &rest, work, deadline)?;
        media.extend(more.samples.iter().map(|o| encoded_media(&o.path)));
        outputs.samples.extend(more.samples);
    }
    if media.iter().any(|m| m.seconds <= 0.0) {
        return Err(Error::Unsupported {
            input: source.shown().to_string(),
            reason: "no video frame of the sampled excerpts decodes, so no per-title ladder \
                     can be chosen"
                .into(),
        });
    }
    let sample_cpu = crate::ffmpeg::children_cpu_time().saturating_sub(cpu_before);
    // Every encode of the analysis is scored the same way, in one process: against the
    // excerpts, at the display size, every `frame_step`-th frame, SSIM alone.
    let scored: Vec<&samples::SampleEncode> =
        outputs.samples.iter().chain(&outputs.calibration).collect();
    let files = scored
        .iter()
        .map(|o| SourceFile::open(&o.path))
        .collect::<Result<Vec<_>>>()?;
    let scores = match &frames {
        Some(frames) => quality::compare_with_frames(frames, &files, deadline)?,
        None => {
            let how = Comparison {
                width: display.0,
                height: display.1,
                frame_step: step,
                psnr: false,
            };
            quality::compare(&reference, &files, how, deadline)?
        }
    };
    let samples: Vec<CurvePoint> = outputs
        .samples
        .iter()
        .zip(&media)
        .zip(&scores)
        .filter_map(|((o, m), q)| {
            let bitrate = m.bitrate();
            // The ceiling encode counts only where the ceiling held it; under it, it is
            // the uncapped encode at its CRF once more.
            let capped = match o.ceiling {
                Some(c) => calibrate::held(bitrate, c),
                None => false,
            };
            (o.ceiling.is_none() || capped).then_some(CurvePoint {
                width: o.size.0,
                height: o.size.1,
                crf: o.crf,
                bitrate: bitrate.round() as u64,
                score: q.score,
                capped,
            })
        })
        .collect();
    // The curves as the ladder's preset makes them, then the hull of what the ceiling
    // admits: its top is then the best picture under the ceiling, not the last hull point
    // below a costly one above it.
    let points = hull::interpolate(&samples);
    let calibration = match (
        &outputs.calibration,
        calibration_rate,
        scores.get(outputs.samples.len()),
    ) {
        (Some(encode), Some((_, bitrate)), Some(q)) => calibrate::measure(
            &points,
            &calibrate::Measured {
                preset: &preset,
                size: encode.size,
                crf: encode.crf,
                score: q.score,
                bitrate,
                cap,
            },
        ),
        _ => None,
    };
    let points = match &calibration {
        Some(c) => calibrate::apply(&points, c, codec.max_crf()),
        None => points,
    };
    let admitted: Vec<CurvePoint> = points
        .iter()
        .filter(|p| match p.capped {
            true => calibrate::ceiling_binds(&points, p, settings.max_bitrate),
            false => p.bitrate <= settings.max_bitrate,
        })
        .copied()
        .collect();
    let candidates = if admitted.is_empty() {
        &points
    } else {
        &admitted
    };
    let hull_points = hull::upper_hull(candidates);
    let rungs = hull::choose(candidates, &settings.bounds());
    Ok(PerTitleDecision {
        codec,
        top_quality: settings.top_quality,
        excerpts: reference.excerpts.clone(),
        display,
        samples,
        hull: hull_points,
        rungs,
        calibration,
        cpu_seconds: round3(crate::ffmpeg::children_cpu_time().saturating_sub(cpu_before)),
        sample_cpu_seconds: round3(sample_cpu),
        wall_seconds: round3(started.elapsed()),
    })
}

/// The VBV cap under which a sample `seconds` long averages `ceiling`. x264 and x265
/// start with the buffer (twice the cap) 90 % full, and a short sample spends that on
/// top of the cap (a 2 s sample under 4 Mb/s averaged 6.7 Mb/s, and scored as 6.7 Mb/s
/// does), where a title's encode, its buffer long drained on hard content, averages the
/// cap.
fn steady_cap(ceiling: u64, seconds: f64) -> u64 {
    const BURST_SECONDS_OF_CAP: f64 = 2.0 * 0.9;
    let seconds = seconds.max(0.5);
    (ceiling as f64 * seconds / (seconds + BURST_SECONDS_OF_CAP)).round() as u64
}

/// The excerpts moved onto the source's own keyframes where one lies near: a decode that
/// starts on a keyframe decodes nothing it throws away, while one that starts between
/// keyframes decodes from the keyframe before (8 s of a 10 s GOP, for each excerpt). A
/// keyframe is taken when it lies in the excerpt's half of the gap to its neighbours, the
/// excerpt then fits in the title, and it does not overlap the one before; otherwise the
/// excerpt stays where the grid put it. The start is rounded up to the millisecond, so
/// that the seek lands on the keyframe and not on the one before.
pub fn on_keyframes(grid: &[Excerpt], keyframes: &[f64], duration: f64) -> Vec<Excerpt> {
    let spacing = if !grid.is_empty() && duration.is_finite() {
        duration / grid.len() as f64
    } else {
        0.0
    };
    let mut out: Vec<Excerpt> = Vec::with_capacity(grid.len());
    for e in grid {
        let centre = e.start + e.duration / 2.0;
        let earliest = out
            .last()
            .map_or(0.0, |p: &Excerpt| p.start + p.duration)
            .max(centre - spacing / 2.0);
        let start = keyframes
            .iter()
            .rev()
            .map(|k| (k * 1000.0 - 1e-6).ceil() / 1000.0 + 0.0)
            .find(|&k| {
                k <= centre
                    && k >= earliest
                    && (!duration.is_finite() || k + e.duration <= duration)
            })
            .unwrap_or(e.start);
        out.push(Excerpt {
            start,
            duration: e.duration,
        });
    }
    out
}

/// Compare every `frame_step`-th frame: neighbouring frames of one encode score alike. The
/// step shares no factor with the GOP's length, so the compared frames fall on every
/// position in the GOP in turn (a step that divides it would compare every keyframe, the
/// best pictures of a GOP, and overstate the score).
pub fn frame_step(gop_frames: u32) -> u32 {
    (MIN_FRAME_STEP..MIN_FRAME_STEP + 64)
        .find(|&s| gcd(s, gop_frames.max(1)) == 1)
        .unwrap_or(MIN_FRAME_STEP)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The ladder's rungs from a decision: its rungs in the analysed codec, and the same
/// sizes and caps in each other codec of the template's ladder at the CRF of the same
/// quality level; names follow the fixed ladder's rule (`NAME-CODEC` after the first
/// codec). Whether a codec's rungs are 10-bit is taken from `plan`.
pub fn planned_rungs(
    decision: &PerTitleDecision,
    template: &JobTemplate,
    plan: &EncodePlan,
) -> Vec<PlannedRung> {
    let mut codecs = template.video.ladder_codecs();
    if !codecs.contains(&decision.codec) {
        codecs.insert(0, decision.codec);
    }
    let ten_bit = |c: VideoCodec| plan.rungs.iter().any(|r| r.codec == c && r.ten_bit);
    let mut out = Vec::new();
    for (k, codec) in codecs.into_iter().enumerate() {
        for r in &decision.rungs {
            out.push(PlannedRung {
                name: if k == 0 {
                    r.name.clone()
                } else {
                    format!("{}-{codec}", r.name)
                },
                codec,
                width: r.width,
                height: r.height,
                max_bitrate: r.max_bitrate,
                crf: crf_in(codec, decision.codec, r.crf),
                ten_bit: ten_bit(codec),
            });
        }
    }
    out
}

/// The preset of the ladder's own encode of `codec`, as ffmpeg's `-preset` takes it.
fn final_preset(plan: &EncodePlan, codec: VideoCodec) -> String {
    match codec {
        VideoCodec::H264 | VideoCodec::Hevc => plan.preset.name().to_string(),
        VideoCodec::Av1 => plan.av1_preset.to_string(),
    }
}

/// The CRF in `to`'s scale that matches `crf` in `from`'s (the offset between their
/// quality-level scales), within the encoder's range.
fn crf_in(to: VideoCodec, from: VideoCodec, crf: u8) -> u8 {
    let offset = i16::from(to.crf(8)) - i16::from(from.crf(8));
    (i16::from(crf) + offset).clamp(1, i16::from(to.max_crf())) as u8
}

fn round3(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_a_tenth_of_a_title_on_the_gop_grid_up_to_24_s() {
        let e = excerpts(60.0, 2.0);
        assert_eq!(e.len(), 3);
        for x in &e {
            assert_eq!(x.duration, 2.0);
            assert_eq!(x.start % 2.0, 0.0);
            assert!(x.start + x.duration <= 60.0);
        }
        assert_eq!(
            e.iter().map(|x| x.start).collect::<Vec<_>>(),
            [8.0, 28.0, 48.0]
        );
        // Longer titles: a smaller share, 24 s at most.
        assert_eq!(sampled_seconds(240.0), 12.0);
        assert_eq!(excerpts(240.0, 2.0).len(), 6);
        assert!((sampled_seconds(600.0) - 6.0 * 10f64.sqrt()).abs() < 1e-9);
        assert_eq!(sampled_seconds(960.0), 24.0);
        let mut last = 0.0;
        for d in (1..200).map(|m| f64::from(m) * 30.0) {
            let share = sampled_seconds(d) / d;
            assert!(d <= 60.0 || share < last, "{d} s: {share}");
            last = share;
        }
        let long = excerpts(5400.0, 2.0);
        assert_eq!(long.len(), 12);
        assert!(long.windows(2).all(|w| w[0].start < w[1].start));
        // Short titles: at least 2 s; shorter than a GOP: the whole title.
        assert_eq!(excerpts(10.0, 2.0).len(), 1);
        assert_eq!(
            excerpts(1.5, 2.0),
            [Excerpt {
                start: 0.0,
                duration: 1.5
            }]
        );
        assert_eq!(excerpts(f64::NAN, 2.0)[0].start, 0.0);
    }

    #[test]
    fn excerpts_move_onto_the_keyframes_a_seek_finds() {
        let grid = excerpts(60.0, 2.0);
        // x264's default GOP at 30 fps: a keyframe every 8.33 s. The seeks to the
        // excerpts' centres (9, 29, 49 s) land on these.
        let keyframes = [0.0, 8.333333, 25.0, 41.666667];
        let starts = |e: Vec<Excerpt>| e.iter().map(|x| x.start).collect::<Vec<_>>();
        assert_eq!(
            starts(on_keyframes(&grid, &keyframes, 60.0)),
            [8.334, 25.0, 41.667]
        );
        // Milliseconds as Matroska writes them stay as they are.
        assert_eq!(starts(on_keyframes(&grid, &[8.333], 60.0))[0], 8.333);
        // Too far back (more than half the gap between excerpts), past the title's end,
        // or overlapping the excerpt before: the grid's start.
        assert_eq!(
            starts(on_keyframes(&grid, &[17.0], 60.0)),
            [8.0, 28.0, 48.0]
        );
        assert_eq!(starts(on_keyframes(&grid, &[0.0], 60.0)), [0.0, 28.0, 48.0]);
        assert_eq!(starts(on_keyframes(&grid, &[], 60.0)), [8.0, 28.0, 48.0]);
        let short = excerpts(6.0, 2.0);
        assert_eq!(starts(on_keyframes(&short, &[0.5, 4.5], 6.0)), [0.5]);
        assert_eq!(starts(on_keyframes(&short, &[4.5], 6.0)), [short[0].start]);
        let close = [
            Excerpt {
                start: 10.0,
                duration: 2.0,
            },
            Excerpt {
                start: 12.0,
                duration: 2.0,
            },
        ];
        assert_eq!(
            starts(on_keyframes(&close, &[10.5, 11.0], 30.0)),
            [11.0, 12.0]
        );
        for e in on_keyframes(&grid, &keyframes, 60.0) {
            assert_eq!(e.duration, 2.0);
        }
    }

    #[test]
    fn the_ceiling_sample_is_capped_for_its_mean_to_be_the_ceiling() {
        // 2 s under 2.1 Mb/s plus a 90 % full buffer of 4.2 Mb: 4 Mb/s on average.
        assert_eq!(steady_cap(4_000_000, 2.0), 2_105_263);
        assert_eq!(steady_cap(5_000_000, 24.0), 4_651_163);
        assert!(steady_cap(5_000_000, 0.0) > 0);
    }

    #[test]
    fn the_frame_step_shares_no_factor_with_the_gop() {
        assert_eq!(frame_step(60), 7);
        assert_eq!(frame_step(48), 5);
        assert_eq!(frame_step(50), 7);
        assert_eq!(frame_step(35), 6);
        assert_eq!(frame_step(1), 5);
        assert_eq!(frame_step(0), 5);
    }

    #[test]
    fn crfs_move_between_codec_scales_within_range() {
        assert_eq!(crf_in(VideoCodec::Hevc, VideoCodec::H264, 22), 27);
        assert_eq!(crf_in(VideoCodec::Av1, VideoCodec::H264, 22), 34);
        assert_eq!(crf_in(VideoCodec::H264, VideoCodec::Av1, 34), 22);
        assert_eq!(crf_in(VideoCodec::H264, VideoCodec::Av1, 3), 1);
        assert_eq!(crf_in(VideoCodec::Hevc, VideoCodec::H264, 50), 51);
    }

    #[test]
    fn settings_are_checked_by_field() {
        assert!(LadderSettings::default().validate().is_ok());
        let bad = LadderSettings {
            min_bitrate: 9_000_000,
            ..LadderSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("ladder.min_bitrate"));
        let bad = LadderSettings {
            max_rungs: 0,
            ..LadderSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("ladder.max_rungs"));
        let bad = LadderSettings {
            top_quality: 120.0,
            ..LadderSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("ladder.top_quality"));
        assert_eq!("per-title".parse(), Ok(LadderMode::PerTitle));
        assert!("adaptive".parse::<LadderMode>().is_err());
    }
}
