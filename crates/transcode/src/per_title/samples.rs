//! The sample encodes of the analysis: excerpts of the title decoded, scaled to each size
//! and encoded at each CRF in one ffmpeg process, which may also make the calibration
//! encode, the encode under the ladder's ceiling, and write the reference frames the
//! comparisons need.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ladder::EncodePlan;
use crate::quality::{Reference, ReferenceFrames};
use crate::template::{Preset, VideoCodec};
use crate::Result;

/// The fast preset of the sample encodes: about three times faster than `medium`; the
/// CRF, not the preset, sets the picture quality, so the curve keeps its shape.
pub(super) fn sample_preset(codec: VideoCodec) -> String {
    match codec {
        VideoCodec::H264 | VideoCodec::Hevc => Preset::Superfast.name().to_string(),
        VideoCodec::Av1 => "12".into(),
    }
}

/// The media of a sample encode: the bytes of its samples (the container's own boxes
/// left out: they would weigh on the tiny encodes of a still picture) and its length.
pub(super) struct EncodedMedia {
    pub(super) bytes: u64,
    pub(super) seconds: f64,
}

impl EncodedMedia {
    /// Bits per second; 0 for an encode without media.
    pub(super) fn bitrate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes as f64 * 8.0 / self.seconds
        } else {
            0.0
        }
    }
}

/// What a sample encode holds; nothing when ffmpeg wrote no frame (or no file).
pub(super) fn encoded_media(path: &Path) -> EncodedMedia {
    let track = crate::package::read_mp4(path)
        .ok()
        .and_then(|t| t.into_iter().next());
    match track {
        Some(t) if !t.samples.is_empty() => EncodedMedia {
            bytes: t.samples.iter().map(|s| u64::from(s.size)).sum(),
            seconds: t.duration_seconds(),
        },
        _ => EncodedMedia {
            bytes: 0,
            seconds: 0.0,
        },
    }
}

/// One sample encode: its size, CRF and file.
pub(super) struct SampleEncode {
    pub(super) size: (u32, u32),
    pub(super) crf: u8,
    pub(super) path: PathBuf,
    /// The encode under the ladder's ceiling (see [`CeilingEncode`]): its cap.
    pub(super) ceiling: Option<u64>,
}

/// One more encode of one size at the lowest sampled CRF, under the ladder's ceiling
/// instead of the samples' far higher cap. Where that size's CRF curve runs past the
/// ceiling (grain, or hard motion, at the top size), no point of the curve is under it,
/// yet the ladder's top rung is encoded under it: this encode is what that rung looks
/// like, and so what the top rung is weighed by against the smaller sizes. It may be of a
/// size the job samples at no CRF.
pub(super) struct CeilingEncode {
    pub(super) size: (u32, u32),
    pub(super) crf: u8,
    pub(super) max_bitrate: u64,
}

/// The encode of the calibration (see `calibrate`): one size at one CRF, with the
/// ladder's own preset.
pub(super) struct CalibrationEncode {
    pub(super) preset: String,
    pub(super) size: (u32, u32),
    pub(super) crf: u8,
}

/// What one decode of the excerpts feeds.
pub(super) struct SampleJob<'a> {
    pub(super) codec: VideoCodec,
    /// The preset of the sample encodes.
    pub(super) preset: &'a str,
    pub(super) sizes: &'a [(u32, u32)],
    pub(super) crfs: &'a [u8],
    /// The VBV cap of every encode, bits per second (buffer twice that).
    pub(super) max_bitrate: u64,
    pub(super) calibration: Option<&'a CalibrationEncode>,
    pub(super) ceiling: Option<&'a CeilingEncode>,
    /// The reference's compared frames, written on the side.
    pub(super) frames: Option<&'a ReferenceFrames>,
}

/// What [`encode_samples`] wrote.
pub(super) struct SampleOutputs {
    pub(super) samples: Vec<SampleEncode>,
    pub(super) calibration: Option<SampleEncode>,
}

/// One ffmpeg process: the excerpts decoded once, scaled to each size, encoded at each
/// CRF, into files named `sample-WxH-crfC.mp4` in `work`; the calibration encode beside
/// them, and the reference frames for the comparisons.
pub(super) fn encode_samples(
    reference: &Reference<'_>,
    plan: &EncodePlan,
    job: &SampleJob<'_>,
    work: &Path,
    deadline: Duration,
) -> Result<SampleOutputs> {
    let mut a = crate::ffmpeg::quiet_args();
    a.extend(reference.inputs());
    // The sizes sampled at every CRF, then the ceiling encode's size when it is none of
    // them (the top size, beside the smaller sizes' samples).
    let mut sizes: Vec<((u32, u32), bool)> = job.sizes.iter().map(|&s| (s, true)).collect();
    if let Some(c) = job.ceiling.filter(|c| !job.sizes.contains(&c.size)) {
        sizes.push((c.size, false));
    }
    let branches = sizes.len() + usize::from(job.frames.is_some());
    let mut g = reference.chain();
    g.push_str(&format!(",format=yuv420p,split={branches}"));
    for i in 0..sizes.len() {
        g.push_str(&format!("[b{i}]"));
    }
    if let Some(frames) = job.frames {
        g.push_str(&format!("[ref];[ref]{}[frames]", frames.filter()));
    }
    // The calibration and ceiling encodes are one more branch of their size each.
    let calibrated = job
        .calibration
        .and_then(|c| sizes.iter().position(|&(s, _)| s == c.size));
    let ceiling = job
        .ceiling
        .and_then(|c| sizes.iter().position(|&(s, _)| s == c.size));
    let crfs = |sampled: bool| if sampled { job.crfs } else { &[][..] };
    for (i, ((w, h), sampled)) in sizes.iter().enumerate() {
        let n = crfs(*sampled).len()
            + usize::from(calibrated == Some(i))
            + usize::from(ceiling == Some(i));
        g.push_str(&format!(
            ";[b{i}]scale={w}:{h}:flags=bicubic,setsar=1,split={n}"
        ));
        for j in 0..n {
            g.push_str(&format!("[e{i}_{j}]"));
        }
    }
    a.extend(["-filter_complex".into(), g.into()]);
    if let Some(frames) = job.frames {
        a.extend(["-map".into(), "[frames]".into()]);
        a.extend(frames.output_args());
    }
    let encode = |a: &mut Vec<OsString>,
                  label: String,
                  preset: &str,
                  (crf, max_bitrate): (u8, u64),
                  path: &Path| {
        a.extend(["-map".into(), label.into()]);
        a.extend(
            crate::ffmpeg::encoder_args(job.codec, false, plan.profile)
                .into_iter()
                .map(OsString::from),
        );
        a.extend(["-preset".into(), preset.into()]);
        a.extend(
            crate::ffmpeg::capped_crf_args(crf, max_bitrate, plan.gop_frames)
                .into_iter()
                .map(OsString::from),
        );
        a.extend(["-an", "-f", "mp4"].map(OsString::from));
        a.push(path.as_os_str().to_owned());
    };
    let mut samples = Vec::new();
    let mut calibration = None;
    for (i, (size, sampled)) in sizes.iter().enumerate() {
        let mut branch = 0..;
        let mut label = || format!("[e{i}_{}]", branch.next().unwrap_or_default());
        for crf in crfs(*sampled) {
            let path = work.join(format!("sample-{}x{}-crf{crf}.mp4", size.0, size.1));
            encode(&mut a, label(), job.preset, (*crf, job.max_bitrate), &path);
            samples.push(SampleEncode {
                size: *size,
                crf: *crf,
                path,
                ceiling: None,
            });
        }
        if let (Some(c), true) = (job.ceiling, ceiling == Some(i)) {
            let path = work.join(format!("ceiling-{}x{}-crf{}.mp4", size.0, size.1, c.crf));
            encode(&mut a, label(), job.preset, (c.crf, c.max_bitrate), &path);
            samples.push(SampleEncode {
                size: *size,
                crf: c.crf,
                path,
                ceiling: Some(c.max_bitrate),
            });
        }
        if let (Some(c), true) = (job.calibration, calibrated == Some(i)) {
            let path = work.join(format!(
                "calibration-{}x{}-crf{}.mp4",
                size.0, size.1, c.crf
            ));
            encode(&mut a, label(), &c.preset, (c.crf, job.max_bitrate), &path);
            calibration = Some(SampleEncode {
                size: *size,
                crf: c.crf,
                path,
                ceiling: None,
            });
        }
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.env("SVT_LOG", "1").args(a).stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !out.status.success() {
        return Err(reference.failure(&out, "per-title sample encodes"));
    }
    Ok(SampleOutputs {
        samples,
        calibration,
    })
}
