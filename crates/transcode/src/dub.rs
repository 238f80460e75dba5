//! A dub: the first audio stream of a file a user gives, encoded as one more audio
//! rendition of a title already encoded, without touching its video.
//!
//! The encode matches the title's own stereo audio (AAC-LC at its sample rate, channel
//! count and bit rate), so that every audio rendition of the HLS group has the codec the
//! variants declare, and ends exactly at the title's length, so that it lines up with the
//! video on the presentation's one timeline: a dub within [`LENGTH_TOLERANCE_SECONDS`]
//! is padded with silence or cut to the length; a longer or shorter one is refused
//! unless the caller asks for [`Fit::Trim`] or [`Fit::Pad`]. The file is opened only
//! through [`SourceFile`], as any source.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use openvod_media::Language;

use crate::probe::{self, StreamInfo};
use crate::source::SourceFile;
use crate::{Error, Result};

/// The largest difference between a dub's length and the title's that is evened out
/// without being asked: a few AAC frames and a container's rounding.
pub const LENGTH_TOLERANCE_SECONDS: f64 = 0.5;

/// What to do with a dub whose length differs from the title's by more than
/// [`LENGTH_TOLERANCE_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Refuse it.
    Exact,
    /// End a shorter dub in silence.
    Pad,
    /// Cut a longer dub at the title's end.
    Trim,
}

/// The rendition a dub becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct DubTarget {
    /// The title's length, seconds.
    pub seconds: f64,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bits per second.
    pub bitrate: u64,
    pub language: Option<Language>,
}

/// Encodes the first audio stream of `input` as `target` into `out` (an MP4 with one
/// AAC track). Returns the dub's own length, seconds.
pub fn encode(input: &Path, name: &str, target: &DubTarget, fit: Fit, out: &Path) -> Result<f64> {
    let source = SourceFile::open(input)?.named(name);
    let info = probe::probe(&source)?;
    let stream = info
        .streams
        .iter()
        .find_map(|s| match s {
            StreamInfo::Audio(a) => Some(a),
            _ => None,
        })
        .ok_or_else(|| Error::Unsupported {
            input: name.to_string(),
            reason: "the file has no audio stream".into(),
        })?;
    let length = stream
        .duration
        .filter(|d| *d > 0.0)
        .unwrap_or(info.duration);
    if !(length.is_finite() && length > 0.0) {
        return Err(Error::Unsupported {
            input: name.to_string(),
            reason: "the audio stream's length is unknown".into(),
        });
    }
    let over = length - target.seconds;
    let mismatch = |how: &str, ask: &str| Error::LengthMismatch {
        input: name.to_string(),
        reason: format!(
            "the dub lasts {length:.3} s, {:.3} s {how} than the video ({:.3} s); send \
             fit={ask} to {} it",
            over.abs(),
            target.seconds,
            if ask == "trim" {
                "cut the end of"
            } else {
                "end in silence"
            }
        ),
    };
    if over > LENGTH_TOLERANCE_SECONDS && fit != Fit::Trim {
        return Err(mismatch("longer", "trim"));
    }
    if -over > LENGTH_TOLERANCE_SECONDS && fit != Fit::Pad {
        return Err(mismatch("shorter", "pad"));
    }
    let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        .map(OsString::from)
        .to_vec();
    args.extend(source.input_args());
    let language = target.language.map_or("und", |l| l.iso639_2());
    let owned = [
        "-map".to_string(),
        format!("0:{}", stream.index),
        "-vn".into(),
        "-sn".into(),
        "-dn".into(),
        "-c:a".into(),
        "aac".into(),
        "-b:a".into(),
        target.bitrate.to_string(),
        "-ac".into(),
        target.channels.to_string(),
        "-ar".into(),
        target.sample_rate.to_string(),
        // Silence after the end, then the title's length exactly: short dubs are padded,
        // long ones cut, both to the sample.
        "-af".into(),
        "apad".into(),
        "-t".into(),
        format!("{:.6}", target.seconds),
        "-metadata:s:a:0".into(),
        format!("language={language}"),
        "-movflags".into(),
        "+faststart".into(),
        "-f".into(),
        "mp4".into(),
        "-y".into(),
    ];
    args.extend(owned.into_iter().map(OsString::from));
    args.push(out.as_os_str().to_owned());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(args).stdin(Stdio::null());
    // AAC encodes at well over 20x real time on one core.
    let deadline = Duration::from_secs(60 + (target.seconds / 5.0) as u64);
    let done = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !done.status.success() {
        if let Some(e) = source.refusal(&done.stderr) {
            return Err(e);
        }
        return Err(Error::Ffmpeg {
            status: done.status.to_string(),
            message: format!(
                "encoding the dub {name}: {}",
                probe::last_line(&done.stderr).unwrap_or_default()
            ),
        });
    }
    Ok(length)
}
