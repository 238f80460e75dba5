//! `ffprobe` as a child process, its JSON turned into a typed [`MediaInfo`].

use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::process::run_captured;
use crate::source::SourceFile;
use crate::{Error, Result};

/// What a media file holds, as far as openvod cares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// ffprobe's container names, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    pub container: String,
    /// Seconds; 0 when the container does not say.
    pub duration: f64,
    /// Bits per second over the whole file, when known.
    pub bit_rate: Option<u64>,
    pub size: u64,
    pub streams: Vec<StreamInfo>,
}

/// One stream of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StreamInfo {
    Video(VideoStream),
    Audio(AudioStream),
    /// Subtitles or captions.
    Subtitle(SubtitleStream),
    /// Data, attachments: listed, not used.
    Other {
        index: u32,
        codec_type: String,
        codec: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    pub index: u32,
    pub codec: String,
    pub profile: Option<String>,
    pub level: Option<i64>,
    /// Coded size in pixels.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio as (num, den); (1, 1) for square pixels.
    pub sample_aspect_ratio: (u32, u32),
    /// Display aspect ratio as (num, den).
    pub display_aspect_ratio: (u32, u32),
    /// Rotation in degrees from the display matrix, normalized to 0, 90, 180 or 270
    /// (clockwise as displayed).
    pub rotation: u32,
    /// Frames per second (average).
    pub frame_rate: f64,
    /// The frame rate as a rational, as ffmpeg's filters take it.
    pub frame_rate_rational: (u32, u32),
    /// Whether the stream's timing is variable (the nominal and average rates differ).
    pub variable_frame_rate: bool,
    pub pixel_format: Option<String>,
    pub bit_depth: Option<u32>,
    /// Whether the frames are interlaced fields (field order other than progressive).
    pub interlaced: bool,
    pub bit_rate: Option<u64>,
    pub duration: Option<f64>,
}

impl VideoStream {
    /// Picture size as displayed: after rotation, with square pixels.
    pub fn display_size(&self) -> (f64, f64) {
        let (n, d) = self.sample_aspect_ratio;
        let w = f64::from(self.width) * f64::from(n.max(1)) / f64::from(d.max(1));
        let h = f64::from(self.height);
        if self.rotation % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub index: u32,
    pub codec: String,
    pub profile: Option<String>,
    pub channels: u16,
    pub channel_layout: Option<String>,
    pub sample_rate: u32,
    pub bit_rate: Option<u64>,
    pub duration: Option<f64>,
    /// ISO 639-2 terminology code of the stream's language, when its tags name one.
    pub language: Option<String>,
    /// The container's default stream of its type (disposition `default`).
    #[serde(default)]
    pub default: bool,
}

/// A subtitle stream of the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleStream {
    pub index: u32,
    pub codec: String,
    /// ISO 639-2 terminology code, as for audio.
    pub language: Option<String>,
    /// Disposition `forced`: shown even with subtitles off.
    #[serde(default)]
    pub forced: bool,
    /// Disposition `hearing_impaired`: captions (dialogue and sounds).
    #[serde(default)]
    pub hearing_impaired: bool,
}

impl SubtitleStream {
    /// Whether the stream is text that ffmpeg turns into WebVTT (MP4 timed text, SubRip,
    /// ASS/SSA, WebVTT); bitmap subtitles (DVD, Blu-ray PGS, DVB) are pictures, not text.
    pub fn is_text(&self) -> bool {
        matches!(
            self.codec.as_str(),
            "mov_text" | "subrip" | "srt" | "ass" | "ssa" | "webvtt" | "text"
        )
    }
}

impl MediaInfo {
    /// Every subtitle stream, in the source's order.
    pub fn subtitle_streams(&self) -> impl Iterator<Item = &SubtitleStream> {
        self.streams.iter().filter_map(|s| match s {
            StreamInfo::Subtitle(t) => Some(t),
            _ => None,
        })
    }

    pub fn first_video(&self) -> Option<&VideoStream> {
        self.streams.iter().find_map(|s| match s {
            StreamInfo::Video(v) => Some(v),
            _ => None,
        })
    }

    pub fn first_audio(&self) -> Option<&AudioStream> {
        self.audio_streams().next()
    }

    /// Every audio stream, in the source's order.
    pub fn audio_streams(&self) -> impl Iterator<Item = &AudioStream> {
        self.streams.iter().filter_map(|s| match s {
            StreamInfo::Audio(a) => Some(a),
            _ => None,
        })
    }
}

/// Runs ffprobe on `source` and reads its report.
///
/// The source must be media ffprobe can read in an accepted format; one that is not
/// gives [`Error::Probe`] or [`Error::UnacceptedFormat`] with a one-line reason.
pub fn probe(source: &SourceFile) -> Result<MediaInfo> {
    let shown = source.shown().to_string();
    let mut cmd = Command::new("ffprobe");
    cmd.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ])
    .args(source.input_args())
    .stdin(Stdio::null());
    let out = run_captured(cmd, "ffprobe", std::time::Duration::from_secs(120))?;
    if !out.status.success() {
        if let Some(refused) = source.refusal(&out.stderr) {
            return Err(refused);
        }
        let reason = last_line(&out.stderr).unwrap_or("ffprobe could not read it".into());
        let reason = source.strip_url(&reason).to_string();
        return Err(Error::Probe {
            input: shown,
            reason: format!("not a media file ffprobe can read ({reason})"),
        });
    }
    let report: ProbeReport = serde_json::from_slice(&out.stdout).map_err(|e| Error::Probe {
        input: shown.clone(),
        reason: format!("unreadable ffprobe report: {e}"),
    })?;
    let info = MediaInfo::from_report(report, source.size());
    if info.streams.is_empty() {
        return Err(Error::Probe {
            input: shown,
            reason: "no audio or video streams".into(),
        });
    }
    check_complete(source, &info)?;
    Ok(info)
}

/// The keyframes of stream `stream_index` where a seek to each of `times` (seconds) lands:
/// one ffprobe run that seeks to each time and reads one packet of the stream. A container
/// with an index (MP4, Matroska's cues) lands on the keyframe at or before the time; one
/// without (MPEG-TS) seeks by bytes and may land on any packet, and only keyframe packets
/// are returned, so the caller keeps its own times where none is found. Sorted.
pub(crate) fn keyframes_at(
    source: &SourceFile,
    stream_index: u32,
    times: &[f64],
) -> Result<Vec<f64>> {
    if times.is_empty() {
        return Ok(Vec::new());
    }
    let intervals = times
        .iter()
        .map(|t| format!("{:.3}%+#1", t.max(0.0)))
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams"])
        .arg(stream_index.to_string())
        .args(["-read_intervals", &intervals])
        .args(["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
        .args(source.input_args())
        .stdin(Stdio::null());
    let out = run_captured(cmd, "ffprobe", std::time::Duration::from_secs(60))?;
    if !out.status.success() {
        if let Some(refused) = source.refusal(&out.stderr) {
            return Err(refused);
        }
        return Err(Error::Probe {
            input: source.shown().to_string(),
            reason: format!(
                "finding keyframes: {}",
                source.strip_url(&last_line(&out.stderr).unwrap_or_default())
            ),
        });
    }
    Ok(keyframe_times(&String::from_utf8_lossy(&out.stdout)))
}

/// The times of the keyframe packets in ffprobe's `pts_time,flags` lines.
fn keyframe_times(csv: &str) -> Vec<f64> {
    let mut times: Vec<f64> = csv
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let time = fields.next()?.trim().parse::<f64>().ok()?;
            let flags = fields.next()?;
            (flags.starts_with('K') && time.is_finite() && time >= 0.0).then_some(time)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
}

/// An MP4 or QuickTime file whose sample data runs past the end of the file is refused:
/// ffprobe describes it happily and ffmpeg would encode the part that is there and
/// report success.
fn check_complete(source: &SourceFile, info: &MediaInfo) -> Result<()> {
    if !info.container.split(',').any(|c| c == "mp4" || c == "mov") {
        return Ok(());
    }
    match crate::package::read_mp4(source.path()) {
        Err(Error::Media {
            source: cause @ openvod_media::Error::Truncated(_),
            ..
        }) => Err(Error::Probe {
            input: source.shown().to_string(),
            reason: cause.to_string(),
        }),
        // Other codecs and layouts are ffmpeg's business: it reads far more than the
        // packager does.
        _ => Ok(()),
    }
}

/// The last non-empty line of ffmpeg's stderr, with the `[demuxer @ 0x...]` prefix cut.
pub(crate) fn last_line(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let line = match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, msg)| msg),
        None => line,
    };
    Some(line.chars().take(300).collect())
}

#[derive(Debug, Deserialize)]
struct ProbeReport {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Debug, Deserialize)]
struct ProbeFormat {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProbeStream {
    index: u32,
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    level: Option<i64>,
    width: Option<u32>,
    height: Option<u32>,
    sample_aspect_ratio: Option<String>,
    display_aspect_ratio: Option<String>,
    r_frame_rate: Option<String>,
    avg_frame_rate: Option<String>,
    pix_fmt: Option<String>,
    bits_per_raw_sample: Option<String>,
    field_order: Option<String>,
    channels: Option<u16>,
    channel_layout: Option<String>,
    sample_rate: Option<String>,
    bit_rate: Option<String>,
    duration: Option<String>,
    tags: Option<serde_json::Map<String, serde_json::Value>>,
    side_data_list: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    disposition: Option<serde_json::Map<String, serde_json::Value>>,
}

fn ratio(s: Option<&str>, sep: char) -> Option<(u32, u32)> {
    let (n, d) = s?.split_once(sep)?;
    let (n, d) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (n > 0 && d > 0).then_some((n, d))
}

fn num<T: std::str::FromStr>(s: &Option<String>) -> Option<T> {
    s.as_deref()?.trim().parse().ok()
}

impl MediaInfo {
    fn from_report(r: ProbeReport, size: u64) -> MediaInfo {
        let format = r.format.as_ref();
        let mut streams = Vec::new();
        for s in r.streams {
            let codec = s.codec_name.clone().unwrap_or_else(|| "unknown".into());
            match s.codec_type.as_deref() {
                Some("video") if !is_cover_art(&s) => {
                    streams.push(StreamInfo::Video(video(&s, codec)))
                }
                Some("audio") => streams.push(StreamInfo::Audio(AudioStream {
                    index: s.index,
                    codec,
                    profile: s.profile.clone(),
                    channels: s.channels.unwrap_or(0),
                    channel_layout: s.channel_layout.clone(),
                    sample_rate: num(&s.sample_rate).unwrap_or(0),
                    bit_rate: num(&s.bit_rate),
                    duration: stream_duration(&s),
                    language: language(&s),
                    default: disposition(&s, "default"),
                })),
                Some("subtitle") => streams.push(StreamInfo::Subtitle(SubtitleStream {
                    index: s.index,
                    codec,
                    language: language(&s),
                    forced: disposition(&s, "forced"),
                    hearing_impaired: disposition(&s, "hearing_impaired"),
                })),
                other => streams.push(StreamInfo::Other {
                    index: s.index,
                    codec_type: other.unwrap_or("unknown").to_string(),
                    codec,
                }),
            }
        }
        let duration = format
            .and_then(|f| num::<f64>(&f.duration))
            .filter(|d| d.is_finite() && *d >= 0.0)
            .unwrap_or(0.0);
        MediaInfo {
            container: format
                .and_then(|f| f.format_name.clone())
                .unwrap_or_else(|| "unknown".into()),
            duration,
            bit_rate: format.and_then(|f| num(&f.bit_rate)),
            size,
            streams,
        }
    }
}

/// The stream's language tag when it is a three-letter code other than "und".
/// The stream's language as an ISO 639-2 terminology code (what an MP4 `mdhd` holds),
/// from whichever form the container gave: `fre`, `fra`, `fr` or `fr-CA`. A code that
/// names no known language is kept only when it has the three lowercase letters of an
/// ISO 639-2 code (a private-use `qaa`, say).
fn language(s: &ProbeStream) -> Option<String> {
    let tag = s.tags.as_ref()?.get("language")?.as_str()?;
    match openvod_media::Language::from_code(tag) {
        Some(l) => Some(l.iso639_2().to_string()),
        None => openvod_media::language::unknown_code(tag),
    }
}

/// Whether the container marks the stream with disposition `flag` (`default`,
/// `forced`, ...).
fn disposition(s: &ProbeStream, flag: &str) -> bool {
    s.disposition
        .as_ref()
        .and_then(|d| d.get(flag))
        .and_then(|v| v.as_i64())
        == Some(1)
}

/// An attached picture (album art) is a "video" stream of one frame; it is not video.
fn is_cover_art(s: &ProbeStream) -> bool {
    s.disposition
        .as_ref()
        .and_then(|d| d.get("attached_pic"))
        .and_then(|v| v.as_i64())
        == Some(1)
}

fn video(s: &ProbeStream, codec: String) -> VideoStream {
    let width = s.width.unwrap_or(0);
    let height = s.height.unwrap_or(0);
    let sar = ratio(s.sample_aspect_ratio.as_deref(), ':').unwrap_or((1, 1));
    let dar = ratio(s.display_aspect_ratio.as_deref(), ':').unwrap_or_else(|| {
        let g = gcd(width * sar.0, height * sar.1);
        ((width * sar.0) / g.max(1), (height * sar.1) / g.max(1))
    });
    let avg = ratio(s.avg_frame_rate.as_deref(), '/');
    let nominal = ratio(s.r_frame_rate.as_deref(), '/');
    let fps_of = |r: (u32, u32)| f64::from(r.0) / f64::from(r.1);
    // The average rate is the honest one for variable-rate sources; a nominal rate far
    // above it is a container's timebase, not a frame rate.
    let chosen = avg
        .filter(|&r| (1.0..=1000.0).contains(&fps_of(r)))
        .or(nominal.filter(|&r| (1.0..=1000.0).contains(&fps_of(r))))
        .unwrap_or((30, 1));
    let variable = match (avg, nominal) {
        (Some(a), Some(n)) => (fps_of(a) - fps_of(n)).abs() > 0.01 * fps_of(n),
        _ => false,
    };
    let rotation = rotation(s);
    let bit_depth = num::<u32>(&s.bits_per_raw_sample).or_else(|| {
        let pf = s.pix_fmt.as_deref()?;
        Some(if pf.contains("p10") {
            10
        } else if pf.contains("p12") {
            12
        } else {
            8
        })
    });
    VideoStream {
        index: s.index,
        codec,
        profile: s.profile.clone(),
        level: s.level,
        width,
        height,
        sample_aspect_ratio: sar,
        display_aspect_ratio: dar,
        rotation,
        frame_rate: fps_of(chosen),
        frame_rate_rational: chosen,
        variable_frame_rate: variable,
        pixel_format: s.pix_fmt.clone(),
        bit_depth,
        interlaced: matches!(s.field_order.as_deref(), Some("tt" | "bb" | "tb" | "bt")),
        bit_rate: num(&s.bit_rate),
        duration: stream_duration(s),
    }
}

/// The stream's duration: ffprobe's, or Matroska's `DURATION` tag ("00:00:04.000000000",
/// written by ffmpeg and mkvmerge; Matroska has no per-track duration element).
fn stream_duration(s: &ProbeStream) -> Option<f64> {
    let from_tag = || {
        let tag = s.tags.as_ref()?.get("DURATION")?.as_str()?;
        let mut parts = tag.trim().splitn(3, ':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let sec: f64 = parts.next()?.parse().ok()?;
        Some(h * 3600.0 + m * 60.0 + sec)
    };
    num::<f64>(&s.duration)
        .or_else(from_tag)
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// Rotation from the display matrix side data (ffprobe reports it counter-clockwise as a
/// negative angle for phones held upright) or from the older `rotate` tag.
fn rotation(s: &ProbeStream) -> u32 {
    let from_side = s
        .side_data_list
        .iter()
        .flatten()
        .find_map(|d| d.get("rotation")?.as_f64());
    let from_tag = s
        .tags
        .as_ref()
        .and_then(|t| t.get("rotate")?.as_str()?.parse::<f64>().ok())
        .map(|r| -r);
    let deg = from_side.or(from_tag).unwrap_or(0.0);
    let deg = (-deg).rem_euclid(360.0);
    ((deg / 90.0).round() as u32 % 4) * 90
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ffprobe_report() {
        let json = r#"{"streams":[
          {"index":0,"codec_type":"video","codec_name":"h264","profile":"High","level":40,
           "width":1920,"height":1080,"sample_aspect_ratio":"1:1","display_aspect_ratio":"16:9",
           "r_frame_rate":"30000/1001","avg_frame_rate":"30000/1001","pix_fmt":"yuv420p10le",
           "field_order":"progressive",
           "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]},
          {"index":1,"codec_type":"audio","codec_name":"aac","channels":6,"sample_rate":"44100","tags":{"language":"fra"}},
          {"index":2,"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}}],
          "format":{"format_name":"mov,mp4","duration":"12.5","bit_rate":"900000"}}"#;
        let info = MediaInfo::from_report(serde_json::from_str(json).unwrap(), 10);
        let v = info.first_video().unwrap();
        assert_eq!(v.rotation, 90);
        assert_eq!(v.display_size(), (1080.0, 1920.0));
        assert_eq!(v.bit_depth, Some(10));
        assert!(!v.variable_frame_rate && !v.interlaced);
        assert!((v.frame_rate - 29.97).abs() < 0.01);
        assert_eq!(info.first_audio().unwrap().channels, 6);
        assert_eq!(info.first_audio().unwrap().language.as_deref(), Some("fra"));
        assert!(matches!(info.streams[2], StreamInfo::Other { .. }));
        assert_eq!(info.duration, 12.5);
    }

    #[test]
    fn matroska_duration_tags_are_stream_durations() {
        let json = r#"{"streams":[
          {"index":0,"codec_type":"video","codec_name":"h264","width":64,"height":64,
           "tags":{"DURATION":"00:01:04.500000000"}},
          {"index":1,"codec_type":"audio","codec_name":"opus","duration":"3.5",
           "tags":{"DURATION":"00:00:09.000000000"}}],
          "format":{"format_name":"matroska,webm","duration":"70.0"}}"#;
        let info = MediaInfo::from_report(serde_json::from_str(json).unwrap(), 10);
        assert_eq!(info.first_video().unwrap().duration, Some(64.5));
        assert_eq!(info.first_audio().unwrap().duration, Some(3.5));
    }

    #[test]
    fn keyframe_times_keeps_keyframe_packets_only() {
        let csv = "25.000000,K_\n0.000000,K_\n5.200000,__,\n\nN/A,K_\n41.667000,K_\n25.000000,K_\n";
        assert_eq!(keyframe_times(csv), [0.0, 25.0, 41.667]);
        assert!(keyframe_times("").is_empty());
    }

    #[test]
    fn last_line_drops_the_demuxer_prefix() {
        let err = b"[mov,mp4 @ 0x55d] moov atom not found\n\n";
        assert_eq!(last_line(err).as_deref(), Some("moov atom not found"));
    }
}
