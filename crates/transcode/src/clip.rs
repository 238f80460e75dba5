//! Clips of a ready title: its rendition files cut on the video's keyframes (see
//! `openvod_media::clip`) and, for a frame-exact clip, the frames before the first and
//! after the last whole GOP encoded again with each rung's own settings and joined in.
//! The files written are a new encode's (`NAME.mp4`, `NAME.vtt`), with the plan that
//! describes them, for the packager to take as it takes any encode.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openvod_media::clip::{self, ClipPart, ClipPiece, ClipSpan};
use openvod_media::text::{self, Cue};
use openvod_media::{Track, TrackKind};
use serde::{Deserialize, Serialize};

use crate::ffmpeg::{self, capped_crf_args, encoder_args, quiet_args};
use crate::ladder::{EncodePlan, PlannedAudio, PlannedRung, PlannedText};
use crate::source::SourceFile;
use crate::template::VideoCodec;
use crate::{Error, Result};

/// How far past the video's end a clip's range may end and still be taken to end with
/// it, in seconds.
const MAX_END_OVERRUN: f64 = 0.5;

/// How exactly a clip follows the range asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipMode {
    /// Cut on the keyframes around the range: nothing is encoded, the clip is at most a
    /// GOP longer at each end.
    #[default]
    Keyframe,
    /// The frames asked for exactly: the partial GOPs at each end are encoded again.
    Frame,
}

/// A clip as asked for: `start..end` seconds of the asset `of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRequest {
    pub of: String,
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub mode: ClipMode,
}

/// A text track of the title that is not in its plan (added after it was published),
/// to be carried into the clip.
#[derive(Debug, Clone)]
pub struct ExtraText {
    pub name: String,
    pub info: text::TextTrackInfo,
}

/// What a clip's cut made.
#[derive(Debug, Clone)]
pub struct ClipCut {
    /// The clip's plan: the title's rungs, audio and text tracks, at the clip's length.
    pub plan: EncodePlan,
    /// Where it was cut, in seconds of the title.
    pub span: ClipSpan,
    /// Frames encoded again (frame-exact clips), over every rung.
    pub frames_encoded: u64,
}

/// Cuts the title whose files (`NAME.mp4` per rendition of `plan`, and of `extra_audio`;
/// `NAME.vtt` per text track) are in `parent` into `out`, as `request` asks.
pub fn cut(
    plan: &EncodePlan,
    extra_audio: &[String],
    extra_text: &[ExtraText],
    parent: &Path,
    request: &ClipRequest,
    out: &Path,
    cancel: &AtomicBool,
) -> Result<ClipCut> {
    let cancelled = || -> Result<()> {
        if cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    };
    let read = |name: &str| -> Result<(PathBuf, Track)> {
        let path = ffmpeg::output_path(parent, name);
        let track = crate::package::read_mp4(&path)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Unsupported {
                input: path.display().to_string(),
                reason: format!("rendition {name} has no track"),
            })?;
        Ok((path, track))
    };
    let reference = plan
        .rungs
        .first()
        .ok_or_else(|| Error::Template("the title has no video rung to clip".into()))?;
    let (_, video) = read(&reference.name)?;
    // The range was checked against the source's probed duration, which can pass the
    // encoded video's end by a fraction of a second (an audio stream that runs on):
    // such an end is the video's end.
    let video_end = video.end_time() as f64 / f64::from(video.timescale.max(1));
    let end = if request.end > video_end && request.end <= video_end + MAX_END_OVERRUN {
        video_end
    } else {
        request.end
    };
    let (span, exact) = match request.mode {
        ClipMode::Keyframe => (clip::keyframe_span(&video, request.start, end)?, None),
        ClipMode::Frame => {
            let f = clip::frame_span(&video, request.start, end)?;
            (f.clip, Some(f))
        }
    };
    let mut frames_encoded = 0u64;
    for rung in &plan.rungs {
        cancelled()?;
        let (path, track) = read(&rung.name)?;
        let mut sources = vec![path.clone()];
        let mut pieces = Vec::new();
        match exact {
            None => pieces.push(ClipPiece {
                track: clip::cut_track(&track, span).map_err(|e| media(&path, e))?,
                source: 0,
            }),
            Some(f) => {
                let mut encode = |s: ClipSpan, what: &str| -> Result<ClipPiece> {
                    cancelled()?;
                    let file = out.join(format!("{}.{what}.mp4", rung.name));
                    let piece = encode_span(plan, rung, &path, &track, s, &file)?;
                    frames_encoded += piece.samples.len() as u64;
                    sources.push(file);
                    Ok(ClipPiece {
                        track: piece,
                        source: sources.len() - 1,
                    })
                };
                if let Some(s) = f.head {
                    pieces.push(encode(s, "head")?);
                }
                if let Some(s) = f.copied {
                    pieces.push(ClipPiece {
                        track: clip::cut_track(&track, s).map_err(|e| media(&path, e))?,
                        source: 0,
                    });
                }
                if let Some(s) = f.tail {
                    pieces.push(encode(s, "tail")?);
                }
            }
        }
        write_joined(
            &track,
            &pieces,
            &sources,
            &ffmpeg::output_path(out, &rung.name),
        )?;
        for s in &sources[1..] {
            let _ = std::fs::remove_file(s);
        }
    }
    let mut clip_plan = plan.clone();
    for name in extra_audio {
        let (_, track) = read(name)?;
        clip_plan.audio.push(audio_of(name, &track));
    }
    for audio in &clip_plan.audio {
        let (path, track) = read(&audio.name)?;
        let cut = clip::cut_track(&track, span).map_err(|e| media(&path, e))?;
        write_joined(
            &track,
            &[ClipPiece {
                track: cut,
                source: 0,
            }],
            &[path],
            &ffmpeg::output_path(out, &audio.name),
        )?;
    }
    clip_plan
        .text
        .extend(extra_text.iter().map(|t| PlannedText {
            name: t.name.clone(),
            stream_index: None,
            info: t.info.clone(),
        }));
    for t in &clip_plan.text {
        cut_text(
            &ffmpeg::text_path(parent, &t.name),
            span,
            &ffmpeg::text_path(out, &t.name),
        )?;
    }
    clip_plan.duration = span.duration();
    Ok(ClipCut {
        plan: clip_plan,
        span,
        frames_encoded,
    })
}

fn media(path: &Path, source: openvod_media::Error) -> Error {
    Error::Media {
        path: path.to_path_buf(),
        source,
    }
}

/// The plan entry of an audio rendition added to the title after its encode (a dub):
/// its settings are read from its track.
fn audio_of(name: &str, track: &Track) -> PlannedAudio {
    let (sample_rate, channels) = match track.codec {
        openvod_media::codec::CodecInfo::Mp4Audio {
            sample_rate,
            channels,
            ..
        } => (sample_rate, channels),
        _ => (48_000, 2),
    };
    let seconds = track.duration_seconds().max(0.001);
    PlannedAudio {
        name: name.to_string(),
        stream_index: 0,
        bitrate: (track.media_bytes() as f64 * 8.0 / seconds) as u64,
        sample_rate,
        channels,
        language: (track.language != "und").then(|| track.language.clone()),
    }
}

/// Writes a joined rendition file (a clip's, or a chunked encode's) from its pieces, the ranges read from `sources`, with
/// the header of `rendition`, the track it is cut from.
pub(crate) fn write_joined(
    rendition: &Track,
    pieces: &[ClipPiece],
    sources: &[PathBuf],
    path: &Path,
) -> Result<()> {
    let parts = clip::clip_layout(rendition, pieces).map_err(|e| media(path, e))?;
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::with_capacity(256 << 10, file);
    let mut inputs: Vec<Option<File>> = sources.iter().map(|_| None).collect();
    for part in parts {
        match part {
            ClipPart::Bytes(b) => out.write_all(&b).map_err(|e| Error::io(path, e))?,
            ClipPart::Source {
                source,
                offset,
                len,
            } => {
                let src = &sources[source];
                let input = match &mut inputs[source] {
                    Some(f) => f,
                    slot => slot.insert(File::open(src).map_err(|e| Error::io(src, e))?),
                };
                input
                    .seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io(src, e))?;
                let copied = std::io::copy(&mut input.take(len), &mut out)
                    .map_err(|e| Error::io(path, e))?;
                if copied != len {
                    return Err(Error::Output(format!(
                        "{}: the file ended before the clip's samples ({copied} of {len} bytes at {offset})",
                        src.display()
                    )));
                }
            }
        }
    }
    out.flush().map_err(|e| Error::io(path, e))
}

/// Encodes the frames of `rendition` (the file of `rung`) presented in `span` again, with
/// the rung's settings, into `file`; returns its track, checked to hold those frames at
/// the rendition's timescale.
fn encode_span(
    plan: &EncodePlan,
    rung: &PlannedRung,
    rendition: &Path,
    track: &Track,
    span: ClipSpan,
    file: &Path,
) -> Result<Track> {
    let scale = f64::from(track.timescale.max(1));
    let frame = track.samples.first().map_or(0, |s| s.duration);
    let half = f64::from(frame) / scale / 2.0;
    let frames = track
        .samples
        .iter()
        .map(|s| s.pts() as f64 / scale)
        .filter(|&t| t >= span.start - half && t < span.end - half)
        .count();
    if frames == 0 {
        return Err(Error::Range(format!(
            "rung {}: no frame between {:.3} s and {:.3} s",
            rung.name, span.start, span.end
        )));
    }
    // ffmpeg seeks from the file's first presented instant, which is the track's start.
    let seek = span.start - track.start_time() as f64 / scale;
    // The rendition is this program's own output, opened like any source: its bytes
    // and nothing else.
    let source = SourceFile::open(rendition)?;
    let mut args: Vec<OsString> = quiet_args();
    // Before the input: ffmpeg decodes from the keyframe before and drops the frames
    // before `start`, so the first frame out is the one at `start`.
    args.extend(["-ss".into(), format!("{:.6}", seek.max(0.0)).into()]);
    args.extend(source.input_args());
    let pixels = if rung.ten_bit {
        "yuv420p10le"
    } else {
        "yuv420p"
    };
    let frames_arg = frames.to_string();
    let timescale = track.timescale.to_string();
    let preset = match rung.codec {
        VideoCodec::Av1 => plan.av1_preset.to_string(),
        VideoCodec::H264 | VideoCodec::Hevc => plan.preset.name().to_string(),
    };
    let mut owned: Vec<String> = ["-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    owned.push(frames_arg);
    owned.extend(["-pix_fmt".into(), pixels.into()]);
    owned.extend(
        encoder_args(rung.codec, rung.ten_bit, plan.profile)
            .into_iter()
            .map(String::from),
    );
    owned.extend(["-preset".into(), preset]);
    owned.extend(capped_crf_args(rung.crf, rung.max_bitrate, plan.gop_frames));
    owned.extend(
        [
            "-flags",
            "+cgop",
            "-fps_mode",
            "passthrough",
            "-map_metadata",
            "-1",
            "-video_track_timescale",
            &timescale,
            "-f",
            "mp4",
        ]
        .map(String::from),
    );
    args.extend(owned.into_iter().map(OsString::from));
    args.push(file.as_os_str().to_owned());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(args).stdin(Stdio::null());
    // A few seconds of video at the rung's size: a minute is far more than enough,
    // however slow the preset.
    let deadline = Duration::from_secs(60 + (span.duration() * 20.0) as u64);
    let done = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !done.status.success() {
        return Err(Error::Ffmpeg {
            status: done.status.to_string(),
            message: format!(
                "encoding rung {} from {:.3} s to {:.3} s of the clip: {}",
                rung.name,
                span.start,
                span.end,
                crate::probe::last_line(&done.stderr).unwrap_or_default()
            ),
        });
    }
    let encoded = crate::package::read_mp4(file)?
        .into_iter()
        .find(|t| t.kind == TrackKind::Video)
        .ok_or_else(|| Error::Output(format!("the re-encoded rung {} has no video", rung.name)))?;
    // The same frames at the same rate: decode times continue across the joins.
    if encoded.samples.len() != frames
        || encoded.timescale != track.timescale
        || encoded.samples.iter().any(|s| s.duration != frame)
    {
        return Err(Error::Unsupported {
            input: rendition.display().to_string(),
            reason: format!(
            "re-encoding rung {} from {:.3} s gave {} frames at timescale {} (expected {frames} at {})",
            rung.name,
            span.start,
            encoded.samples.len(),
            encoded.timescale,
            track.timescale
        ),
        });
    }
    Ok(encoded)
}

/// Writes the cues of the WebVTT file `from` that show during `span`, on the clip's
/// timeline, to `to`.
fn cut_text(from: &Path, span: ClipSpan, to: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(from)
        .and_then(|f| {
            f.take(text::MAX_WRITTEN_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Error::io(from, e))?;
    let cues = text::parse_written(&bytes).map_err(|source| Error::Subtitles {
        path: from.to_path_buf(),
        source,
    })?;
    let cut = cues_within(&cues, span);
    std::fs::write(to, text::write_segment(&cut, 0, u64::MAX, None)).map_err(|e| Error::io(to, e))
}

/// The cues showing during `span`, cut to it and moved to start with it.
fn cues_within(cues: &[Cue], span: ClipSpan) -> Vec<Cue> {
    let (start, end) = (
        (span.start * 1000.0).round() as u64,
        (span.end * 1000.0).round() as u64,
    );
    cues.iter()
        .filter(|c| c.end_ms > start && c.start_ms < end)
        .map(|c| Cue {
            start_ms: c.start_ms.max(start) - start,
            end_ms: c.end_ms.min(end) - start,
            ..c.clone()
        })
        .collect()
}

impl From<clip::ClipError> for Error {
    fn from(e: clip::ClipError) -> Error {
        Error::Range(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(a: u64, b: u64, t: &str) -> Cue {
        Cue {
            start_ms: a,
            end_ms: b,
            settings: String::new(),
            text: t.into(),
        }
    }

    #[test]
    fn cues_are_cut_to_the_clip_and_moved_to_its_start() {
        let cues = [
            cue(0, 1000, "a"),
            cue(1500, 2500, "b"),
            cue(3000, 9000, "c"),
            cue(9000, 9500, "d"),
        ];
        let got = cues_within(
            &cues,
            ClipSpan {
                start: 2.0,
                end: 4.0,
            },
        );
        let got: Vec<(u64, u64, &str)> = got
            .iter()
            .map(|c| (c.start_ms, c.end_ms, c.text.as_str()))
            .collect();
        assert_eq!(got, [(0, 500, "b"), (1000, 2000, "c")]);
    }
}
