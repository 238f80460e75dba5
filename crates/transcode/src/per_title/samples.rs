//! The sample encodes of the analysis: excerpts of the title decoded once, scaled to each
//! size and encoded at each CRF, in one ffmpeg process.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ladder::EncodePlan;
use crate::quality::Reference;
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
}

/// One ffmpeg process: the excerpts decoded once, scaled to each size, encoded at each
/// CRF with `preset`, into files named `NAME-WxH-crfC.mp4` in `work`. Returns each
/// output's size, CRF and path.
#[allow(clippy::too_many_arguments)]
pub(super) fn encode_samples(
    reference: &Reference<'_>,
    plan: &EncodePlan,
    codec: VideoCodec,
    preset: &str,
    sizes: &[(u32, u32)],
    crfs: &[u8],
    name: &str,
    work: &Path,
    deadline: Duration,
) -> Result<Vec<SampleEncode>> {
    let mut a: Vec<OsString> = [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-nostats",
        "-loglevel",
        "error",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    a.extend(reference.inputs());
    let mut g = reference.chain();
    g.push_str(&format!(",format=yuv420p,split={}", sizes.len()));
    for i in 0..sizes.len() {
        g.push_str(&format!("[b{i}]"));
    }
    for (i, (w, h)) in sizes.iter().enumerate() {
        g.push_str(&format!(
            ";[b{i}]scale={w}:{h}:flags=bicubic,setsar=1,split={}",
            crfs.len()
        ));
        for j in 0..crfs.len() {
            g.push_str(&format!("[e{i}_{j}]"));
        }
    }
    a.extend(["-filter_complex".into(), g.into()]);
    let gop = plan.gop_frames.to_string();
    let mut outputs = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        for (j, crf) in crfs.iter().enumerate() {
            let path = work.join(format!("{name}-{}x{}-crf{crf}.mp4", size.0, size.1));
            a.extend(["-map".into(), format!("[e{i}_{j}]").into()]);
            a.extend(
                crate::ffmpeg::encoder_args(codec, false, plan.profile)
                    .into_iter()
                    .map(OsString::from),
            );
            for s in [
                "-preset",
                preset,
                "-crf",
                &crf.to_string(),
                "-g",
                &gop,
                "-keyint_min",
                &gop,
                "-sc_threshold",
                "0",
                "-an",
                "-f",
                "mp4",
            ] {
                a.push(s.into());
            }
            a.push(path.clone().into_os_string());
            outputs.push(SampleEncode {
                size: *size,
                crf: *crf,
                path,
            });
        }
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.env("SVT_LOG", "1").args(a).stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !out.status.success() {
        return Err(reference.failure(&out, "per-title sample encodes"));
    }
    Ok(outputs)
}
