//! Decode integrity: did the encode cover the whole source?
//!
//! ffmpeg reports success when a decoder gives up on a stream part-way: a 4 s source
//! whose video stops decoding after the first frame gives 0.03 s of video beside 4 s of
//! audio, with exit code 0. So after every encode the encoded renditions are read back
//! and compared with what the source declares:
//!
//! - each encoded stream must cover at least `min_decoded_share` of the duration its
//!   source stream declares (its own duration, or Matroska's `DURATION` tag), and the
//!   longest of them that share of the container's duration;
//! - the source's decoders and demuxer may report at most `max_decode_errors` error
//!   messages (see [`DecodeLog`]).
//!
//! A source that falls short with no decode error at all, its streams ending together,
//! is not damaged: its headers overstate its length. That is a milder warning and the
//! encode stands. Anything else short or erroneous is damaged: the job fails, naming the
//! stream, how far it decoded and ffmpeg's first complaint, unless the policy allows
//! damaged sources, in which case the result carries the same words as a warning.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::decode_log::DecodeLog;
use crate::ffmpeg::output_path;
use crate::ladder::EncodePlan;
use crate::probe::MediaInfo;
use crate::{Error, Result};

/// How much damage a source may have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntegrityPolicy {
    /// Publish a damaged source (with a warning) instead of failing.
    pub allow_damaged: bool,
    /// Share of its declared duration each stream must decode, 0 < share <= 1.
    pub min_decoded_share: f64,
    /// Error messages from the source's decoders and demuxer tolerated (ffmpeg prints
    /// one to a few per damaged frame).
    pub max_decode_errors: u64,
}

impl Default for IntegrityPolicy {
    fn default() -> Self {
        IntegrityPolicy {
            allow_damaged: false,
            min_decoded_share: 0.98,
            max_decode_errors: 10,
        }
    }
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Decoding stopped early or reported errors; published because the policy allows it.
    DamagedSource,
    /// The container claims more media than there is; everything there decoded cleanly.
    OverstatedDuration,
    /// A stream of the source is not in the output (bitmap subtitles, which are
    /// pictures, not text).
    StreamNotCarried,
    /// Subtitle cues after the end of the video were dropped.
    CuesPastEnd,
    /// The poster and storyboard could not be made; the video is published without.
    ImagesNotMade,
}

/// A warning about the source, carried by the transcode's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceWarning {
    pub code: WarningCode,
    pub message: String,
}

/// Time an encode may fall short of a declared duration without counting as short:
/// resampling to a constant frame rate and AAC framing move an end by up to a frame or
/// two (40 ms at 25 fps, 21 ms per AAC frame at 48 kHz).
const SLACK_SECONDS: f64 = 0.1;

/// One encoded stream measured against its source stream.
#[derive(Debug, Clone)]
struct Coverage {
    kind: &'static str,
    source_index: u32,
    /// Seconds the encode covers, and its frames (samples).
    encoded: f64,
    frames: usize,
    /// The source stream's own declared duration, when it has one.
    declared: Option<f64>,
}

impl Coverage {
    fn short_of(&self, declared: f64, share: f64) -> bool {
        declared > 0.0 && self.encoded + SLACK_SECONDS < share * declared
    }
}

/// Seconds with two decimals, as messages show them.
fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

/// Checks the encode in `encoded` (the files ffmpeg wrote for `plan`) against the source
/// `info` and what ffmpeg logged; returns the warnings to carry, or
/// [`Error::DamagedSource`] when the source is damaged and `policy` does not allow it.
/// A source stream the output does not carry is a warning too.
pub fn check(
    input: &str,
    info: &MediaInfo,
    plan: &EncodePlan,
    encoded: &Path,
    decode: &DecodeLog,
    policy: &IntegrityPolicy,
) -> Result<Vec<SourceWarning>> {
    let mut warnings = check_coverage(input, info, plan, encoded, decode, policy)?;
    warnings.extend(uncarried(info));
    Ok(warnings)
}

/// The source's streams that no output carries: bitmap subtitles.
fn uncarried(info: &MediaInfo) -> Vec<SourceWarning> {
    info.subtitle_streams()
        .filter(|t| !t.is_text())
        .map(|t| SourceWarning {
            code: WarningCode::StreamNotCarried,
            message: format!(
                "subtitle stream #{} ({}{}) is pictures, not text, and is not in the output",
                t.index,
                t.codec,
                t.language
                    .as_deref()
                    .map(|l| format!(", {l}"))
                    .unwrap_or_default()
            ),
        })
        .collect()
}

fn check_coverage(
    input: &str,
    info: &MediaInfo,
    plan: &EncodePlan,
    encoded: &Path,
    decode: &DecodeLog,
    policy: &IntegrityPolicy,
) -> Result<Vec<SourceWarning>> {
    let share = policy.min_decoded_share;
    let mut streams = Vec::new();
    if let Some(rung) = plan.rungs.first() {
        let declared = info
            .first_video()
            .filter(|v| v.index == plan.video_stream_index)
            .and_then(|v| v.duration);
        streams.push(measure(
            encoded,
            &rung.name,
            "video",
            plan.video_stream_index,
            declared,
        )?);
    }
    for audio in &plan.audio {
        let declared = info.streams.iter().find_map(|s| match s {
            crate::probe::StreamInfo::Audio(a) if a.index == audio.stream_index => a.duration,
            _ => None,
        });
        streams.push(measure(
            encoded,
            &audio.name,
            "audio",
            audio.stream_index,
            declared,
        )?);
    }
    let longest = streams.iter().map(|c| c.encoded).fold(0.0, f64::max);
    let shortest = streams.iter().map(|c| c.encoded).fold(longest, f64::min);
    let errors = decode.source_errors();

    // The stream that fell shortest of its own declared duration, then the whole.
    let short_stream = streams
        .iter()
        .filter(|c| c.declared.is_some_and(|d| c.short_of(d, share)))
        .min_by(|a, b| {
            let ratio = |c: &Coverage| c.encoded / c.declared.unwrap_or(1.0);
            ratio(a).total_cmp(&ratio(b))
        });
    let short_overall = info.duration > 0.0 && longest + SLACK_SECONDS < share * info.duration;

    let damage = if short_stream.is_some() || short_overall {
        let together = longest - shortest <= (1.0 - share) * longest + SLACK_SECONDS;
        if errors == 0 && together {
            let claimed = short_stream
                .and_then(|c| c.declared)
                .unwrap_or(info.duration)
                .max(info.duration);
            return Ok(vec![SourceWarning {
                code: WarningCode::OverstatedDuration,
                message: format!(
                    "the source's headers say it lasts {}, but its media ends at {} (every stream ends there and decoded without errors)",
                    secs(claimed),
                    secs(longest)
                ),
            }]);
        }
        match short_stream {
            Some(c) => stopped_early(c, c.declared.unwrap_or(info.duration), decode),
            // Short of the container's duration, the longest stream included: name the
            // stream that decoded least.
            None => match streams
                .iter()
                .min_by(|a, b| a.encoded.total_cmp(&b.encoded))
            {
                Some(c) => stopped_early(c, info.duration, decode),
                None => return Ok(Vec::new()),
            },
        }
    } else if errors > policy.max_decode_errors {
        // A stream without a declared duration of its own that stopped short of the
        // container's is the likely victim; otherwise the damage is spread.
        let victim = streams
            .iter()
            .filter(|c| c.declared.is_none() && c.short_of(info.duration, share))
            .min_by(|a, b| a.encoded.total_cmp(&b.encoded));
        match victim {
            Some(c) => stopped_early(c, info.duration, decode),
            None => {
                let per_stream: Vec<String> = streams
                    .iter()
                    .filter_map(|c| {
                        let n = decode.stream(c.source_index)?.errors.count;
                        (n > 0).then(|| format!("{} {n}", c.kind))
                    })
                    .collect();
                let per_stream = if per_stream.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", per_stream.join(", "))
                };
                format!(
                    "decoding reported {errors} errors{per_stream}, more than the {} allowed: {}",
                    policy.max_decode_errors,
                    decode.first_source_error().unwrap_or("no message")
                )
            }
        }
    } else {
        return Ok(Vec::new());
    };
    if policy.allow_damaged {
        Ok(vec![SourceWarning {
            code: WarningCode::DamagedSource,
            message: damage,
        }])
    } else {
        Err(Error::DamagedSource {
            input: input.to_string(),
            reason: damage,
        })
    }
}

/// "video decoding stopped at 0.03 s of 4.00 s (1 frame decoded of 120 packets): reason"
fn stopped_early(c: &Coverage, declared: f64, decode: &DecodeLog) -> String {
    let counts = decode
        .stream(c.source_index)
        .and_then(|s| Some((s.frames_decoded?, s.packets_read?)))
        .map(|(frames, packets)| {
            format!(
                " ({frames} frame{} decoded of {packets} packets)",
                if frames == 1 { "" } else { "s" }
            )
        })
        .unwrap_or_else(|| format!(" ({} frames encoded)", c.frames));
    let reason = decode
        .first_error_of(c.source_index)
        .unwrap_or("ffmpeg reported no error");
    format!(
        "{} decoding stopped at {} of {}{counts}: {reason}",
        c.kind,
        secs(c.encoded),
        secs(declared)
    )
}

fn measure(
    dir: &Path,
    name: &str,
    kind: &'static str,
    source_index: u32,
    declared: Option<f64>,
) -> Result<Coverage> {
    let path = output_path(dir, name);
    let track = crate::package::read_mp4(&path)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Output(format!("ffmpeg wrote no track for rendition {name}")))?;
    Ok(Coverage {
        kind,
        source_index,
        encoded: track.duration_seconds(),
        frames: track.samples.len(),
        declared: declared.filter(|d| d.is_finite() && *d > 0.0),
    })
}
