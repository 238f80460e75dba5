//! A source file as ffprobe and ffmpeg see it: its own bytes and nothing else.
//!
//! ffmpeg picks a demuxer by looking at the bytes, whatever the file is called. Several
//! demuxers open further inputs named inside the file: HLS and DASH manifests, ffconcat
//! lists, image-sequence patterns, SDP descriptions (network sockets), IMF compositions.
//! An uploaded `holiday.mp4` holding an HLS playlist would make ffmpeg read any local file
//! the playlist names, and a `-protocol_whitelist` cannot stop that: the nested reads use
//! the `file` protocol the source itself needs. So every process that opens a source
//! gets it through [`SourceFile::input_args`]:
//!
//! - `-format_whitelist` with the container demuxers of [`ACCEPTED_DEMUXERS`], none of
//!   which opens another input. ffmpeg probes the bytes with every demuxer and then
//!   refuses a winner that is not on the list, before the demuxer reads its header
//!   (`avformat_open_input`), so a refused playlist never opens what it names. The `mov`
//!   demuxer's own external references (`enable_drefs`, `use_absolute_path`) are off by
//!   default in ffmpeg and openvod never turns them on.
//! - `-protocol_whitelist file`: no network, `pipe`, `data`, `concat` or `subfile` input.
//! - the file as `file:` + its absolute path, so a name such as `concat:a.mp4|b.mp4` or
//!   `subfile,,start,0,end,9,,:x` is the file of that name, never a protocol.
//!
//! Why not hand ffmpeg the bytes on a pipe, so that it needs no `file` protocol at all:
//! a pipe cannot seek, and an MP4 whose `moov` box comes after the media (what cameras
//! and phones write) cannot be decoded from one (ffmpeg 5.1: "stream 1, offset 0x30:
//! partial file"). ffmpeg 5.1 has no `fd:` protocol that would keep seeking.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One demuxer a source may be read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedDemuxer {
    /// ffmpeg's name, one of the comma-separated names `ffmpeg -demuxers` lists.
    pub name: &'static str,
    /// What people call it.
    pub description: &'static str,
}

const fn demuxer(name: &'static str, description: &'static str) -> AcceptedDemuxer {
    AcceptedDemuxer { name, description }
}

/// The demuxers a source may be read with (ffmpeg 5.1 names): the containers people
/// upload video in, and the raw video elementary streams encoders and cameras write.
/// None of them opens a file or URL other than the one it is given. Audio-only formats
/// are left out (openvod needs video), and so are image formats.
pub const ACCEPTED_DEMUXERS: &[AcceptedDemuxer] = &[
    // "mov,mp4,m4a,3gp,3g2,mj2": MP4, QuickTime, 3GPP, fragmented MP4.
    demuxer("mov", "MP4/MOV"),
    // "matroska,webm"
    demuxer("matroska", "Matroska/WebM"),
    demuxer("mpegts", "MPEG-TS"),
    demuxer("mpeg", "MPEG-PS"),
    demuxer("avi", "AVI"),
    demuxer("flv", "FLV"),
    // FLV recorded from a live RTMP stream.
    demuxer("live_flv", "FLV"),
    demuxer("mxf", "MXF"),
    demuxer("asf", "ASF/WMV"),
    demuxer("ogg", "Ogg"),
    demuxer("dv", "DV"),
    demuxer("yuv4mpegpipe", "Y4M"),
    demuxer("ivf", "IVF"),
    demuxer("h264", "raw H.264"),
    demuxer("hevc", "raw H.265"),
    demuxer("mpegvideo", "raw MPEG-1/2 video"),
    demuxer("m4v", "raw MPEG-4 Part 2 video"),
];

/// The `-format_whitelist` value.
pub fn format_whitelist() -> String {
    ACCEPTED_DEMUXERS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The accepted containers for people, e.g. in an error message.
pub fn accepted_description() -> String {
    let mut seen: Vec<&str> = Vec::new();
    for d in ACCEPTED_DEMUXERS {
        if !seen.contains(&d.description) {
            seen.push(d.description);
        }
    }
    seen.join(", ")
}

/// What a refused demuxer reads, for the error message; `None` for the many others.
fn refused_kind(format: &str) -> Option<&'static str> {
    Some(match format {
        "hls" => "an HLS playlist",
        "dash" | "webm_dash_manifest" => "a DASH manifest",
        "concat" => "an ffconcat list",
        "image2" => "an image sequence",
        "sdp" => "an SDP session description",
        "imf" => "an IMF composition",
        _ => return None,
    })
}

/// A source file that ffprobe and ffmpeg open through [`SourceFile::input_args`] and
/// only so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as the caller gave it, for messages.
    shown: String,
    /// Absolute, symbolic links resolved.
    path: PathBuf,
    size: u64,
    /// `(start, length)` in ms: only that part of the source is read (see
    /// [`SourceFile::excerpt`]).
    excerpt_ms: Option<(u64, u64)>,
}

impl SourceFile {
    /// Checks that `path` is a non-empty regular file (not a FIFO or a device, which
    /// ffmpeg would block on) and remembers its absolute path.
    pub fn open(path: &Path) -> Result<SourceFile> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::Probe {
                input: shown,
                reason: "not a regular file".into(),
            });
        }
        if meta.len() == 0 {
            return Err(Error::Probe {
                input: shown,
                reason: "the file is empty (0 bytes)".into(),
            });
        }
        let path = path.canonicalize().map_err(|e| Error::io(path, e))?;
        Ok(SourceFile {
            shown,
            path,
            size: meta.len(),
            excerpt_ms: None,
        })
    }

    /// Names the source `name` in messages instead of its path (e.g. the name it was
    /// uploaded under, rather than a scratch file).
    pub fn named(mut self, name: &str) -> SourceFile {
        self.shown = name.to_string();
        self
    }

    /// The same source read from `start_ms` for `length_ms` only (`-ss` and `-t` as input
    /// options: ffmpeg seeks to the keyframe before `start_ms` and decodes from there,
    /// and the excerpt's timestamps start at 0).
    pub fn excerpt(mut self, start_ms: u64, length_ms: u64) -> SourceFile {
        self.excerpt_ms = Some((start_ms, length_ms));
        self
    }

    /// The path as the caller gave it (or the name given by [`SourceFile::named`]).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The absolute path, for openvod's own readers.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The URL ffmpeg gets: `file:` and the absolute path.
    fn url(&self) -> OsString {
        let mut url = OsString::from("file:");
        url.push(self.path.as_os_str());
        url
    }

    /// The input options and `-i URL` that open this source in ffprobe or ffmpeg; they
    /// go before any other input.
    pub fn input_args(&self) -> Vec<OsString> {
        let seconds = |ms: u64| format!("{}.{:03}", ms / 1000, ms % 1000).into();
        let excerpt = self
            .excerpt_ms
            .map(|(start, length)| ["-ss".into(), seconds(start), "-t".into(), seconds(length)]);
        excerpt
            .into_iter()
            .flatten()
            .chain([
                "-protocol_whitelist".into(),
                "file".into(),
                "-format_whitelist".into(),
                format_whitelist().into(),
                "-i".into(),
                self.url(),
            ])
            .collect()
    }

    /// The error for a tool's failure output when the failure is the allow-list refusing
    /// the detected format; `None` for any other failure.
    pub(crate) fn refusal(&self, stderr: &[u8]) -> Option<Error> {
        refused_format(stderr).map(|format| self.refused(format))
    }

    /// The error for the allow-list refusing `format`, ffmpeg's name of what it detected.
    pub(crate) fn refused(&self, format: String) -> Error {
        let what = refused_kind(&format)
            .map(|k| format!(" ({k}, which opens other files or URLs)"))
            .unwrap_or_default();
        Error::UnacceptedFormat {
            input: self.shown.clone(),
            reason: format!(
                "format {format:?}{what} is not accepted: a source must be one video file ({})",
                accepted_description()
            ),
            format,
        }
    }

    /// `message` without the `URL: ` ffmpeg puts before messages about the input.
    pub(crate) fn strip_url<'a>(&self, message: &'a str) -> &'a str {
        let url = self.url();
        let prefix = format!("{}: ", url.to_string_lossy());
        message.strip_prefix(prefix.as_str()).unwrap_or(message)
    }
}

/// The message ffmpeg logs, in the input's context, when the detected format is not on
/// the allow-list.
pub(crate) const REFUSED_MESSAGE: &str = "Format not on whitelist";

/// The format ffmpeg detected and refused, from its `[NAME @ 0x...] Format not on
/// whitelist '...'` line (the log context of the input is named after the demuxer).
fn refused_format(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines().find_map(|line| {
        let (context, message) = line.trim().strip_prefix('[')?.split_once("] ")?;
        if !message.starts_with(REFUSED_MESSAGE) {
            return None;
        }
        let name = context.split(" @ ").next()?.trim();
        (!name.is_empty()).then(|| name.chars().take(64).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_refused_format() {
        let stderr = b"[hls @ 0x55d7d9762280] Format not on whitelist 'mov,matroska'\n\
                       file:/tmp/holiday.mp4: Invalid argument\n";
        assert_eq!(refused_format(stderr).as_deref(), Some("hls"));
        assert_eq!(refused_format(b"moov atom not found\n"), None);
    }

    #[test]
    fn the_ladder_benchmark_opens_the_source_the_same_way() {
        let bench = include_str!("../../../bench/ladder.sh");
        assert!(
            bench.contains(&format!("\nFORMATS={}\n", format_whitelist())),
            "bench/ladder.sh lists other formats than {}",
            format_whitelist()
        );
    }

    #[test]
    fn the_whitelist_names_every_demuxer_once() {
        let list = format_whitelist();
        let names: Vec<&str> = list.split(',').collect();
        assert_eq!(names.len(), ACCEPTED_DEMUXERS.len());
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{list}");
        for refused in ["hls", "concat", "image2", "sdp", "dash", "imf"] {
            assert!(!names.contains(&refused), "{refused} is on the list");
        }
    }
}
