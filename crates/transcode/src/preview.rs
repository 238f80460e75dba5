//! The preview's encode: one small H.264 rendition with the title's main audio muxed in,
//! cut by ffmpeg's HLS muxer into 2 s CMAF segments as it goes, so that the pipeline can
//! publish each segment the moment it is written (see `openvod_media::preview`).
//!
//! It is made to be fast rather than good: at most 360 lines and 30 frames a second,
//! x264 `veryfast`, a low cap. It decodes the source once, at the pace of the decoder,
//! which keeps it well ahead of a viewer on any machine that can run the ladder.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use openvod_media::preview::{PreviewVariant, MAX_PREVIEW_SEGMENTS};
use openvod_media::reader::{read_tracks, Limits};
use openvod_media::track::TrackKind;

use crate::ffmpeg::{self, Deadline, Encoded, Progress};
use crate::probe::MediaInfo;
use crate::{Error, Result, SourceFile};

/// Longest segment, seconds: the keyframe interval.
pub const SEGMENT_SECONDS: u32 = 2;
/// Tallest picture of the preview, lines.
const MAX_HEIGHT: u32 = 360;
/// Highest frame rate of the preview.
const MAX_FPS: f64 = 30.0;
/// The video's VBV cap (and buffer), bits per second.
const VIDEO_MAX_BITRATE: u64 = 800_000;
const AUDIO_BITRATE: u64 = 128_000;
/// Largest playlist of ffmpeg's that is read.
const MAX_PLAYLIST_BYTES: u64 = 8 << 20;
/// ffmpeg's own playlist, which the pipeline reads and never publishes.
pub const FFMPEG_PLAYLIST: &str = "ffmpeg.m3u8";

/// How a source's preview is made.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewPlan {
    /// Output frame rate, when the source's is above [`MAX_FPS`].
    fps: Option<f64>,
    /// The source stream of the audio (the default one, else the first); `None`: silent.
    audio: Option<u32>,
    duration: f64,
}

impl PreviewPlan {
    /// The preview of a source; `None` for one without video.
    pub fn of(info: &MediaInfo) -> Option<PreviewPlan> {
        let video = info.first_video()?;
        let fps = (video.frame_rate > MAX_FPS + 0.5).then(|| {
            // Half of 50 or 60 fps keeps every other frame evenly; anything else is
            // brought to 30.
            let half = video.frame_rate / 2.0;
            if (23.0..=MAX_FPS + 0.5).contains(&half) {
                half
            } else {
                MAX_FPS
            }
        });
        let audio = info
            .audio_streams()
            .find(|a| a.default)
            .or_else(|| info.first_audio())
            .map(|a| a.index);
        Some(PreviewPlan {
            fps,
            audio,
            duration: info.duration,
        })
    }

    pub fn duration(&self) -> f64 {
        self.duration
    }

    /// `BANDWIDTH` of the variant: over any 2 s segment the VBV lets the video reach its
    /// cap plus one buffer (1 s of the cap), so 1.5 times the cap, plus the audio.
    pub fn bandwidth(&self) -> u64 {
        VIDEO_MAX_BITRATE * 3 / 2
            + if self.audio.is_some() {
                AUDIO_BITRATE
            } else {
                0
            }
    }

    /// The ffmpeg arguments: segments `1.m4s`, `2.m4s`, ..., `init.mp4` and ffmpeg's
    /// playlist in `dir`, each segment renamed into place whole (`temp_file`) before the
    /// playlist names it.
    pub fn arguments(&self, source: &SourceFile, dir: &Path) -> Vec<OsString> {
        let mut a = ffmpeg::logged_args();
        a.extend(source.input_args());
        let mut filter = format!(
            "scale=w=trunc(oh*dar/2)*2:h=trunc(min({MAX_HEIGHT}\\,ih)/2)*2,setsar=1,format=yuv420p"
        );
        if let Some(fps) = self.fps {
            filter = format!("fps={fps},{filter}");
        }
        let gop = SEGMENT_SECONDS.to_string();
        let cap = VIDEO_MAX_BITRATE.to_string();
        let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
        push(&["-map", "0:v:0", "-vf", &filter]);
        push(&[
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-crf",
            "23",
            "-maxrate",
            &cap,
            "-bufsize",
            &cap,
            // A keyframe every 2 s of output time and nowhere else, so that every
            // segment starts with one (closed GOPs: x264's default without open-gop).
            "-force_key_frames",
            &format!("expr:gte(t,n_forced*{gop})"),
            "-sc_threshold",
            "0",
        ]);
        if let Some(index) = self.audio {
            push(&[
                "-map",
                &format!("0:{index}"),
                "-c:a",
                "aac",
                "-b:a",
                &AUDIO_BITRATE.to_string(),
                "-ac",
                "2",
                "-ar",
                "48000",
            ]);
        }
        let segments = dir.join("%d.m4s");
        push(&[
            "-sn",
            "-dn",
            "-map_metadata",
            "-1",
            "-f",
            "hls",
            "-hls_time",
            &gop,
            "-hls_list_size",
            "0",
            "-hls_playlist_type",
            "event",
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-hls_flags",
            "independent_segments+temp_file",
            "-start_number",
            "1",
            "-hls_segment_filename",
        ]);
        a.push(segments.into_os_string());
        a.push(dir.join(FFMPEG_PLAYLIST).into_os_string());
        a
    }

    /// Runs the encode into `dir`, killed on a stall, on its deadline or when `cancel` is
    /// set. The pipeline reads [`written`] while it runs.
    pub fn encode(
        &self,
        source: &SourceFile,
        dir: &Path,
        cancel: &AtomicBool,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Encoded> {
        ffmpeg::run_logged(
            self.arguments(source, dir),
            source,
            self.duration,
            Deadline::for_duration(self.duration),
            cancel,
            on_progress,
        )
    }
}

/// What ffmpeg has written of a preview in `dir` so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// Durations of the finished segments, seconds; segment N is `segments[N - 1]`.
    pub segments: Vec<f64>,
    /// ffmpeg closed its playlist (the encode is whole).
    pub ended: bool,
}

impl Written {
    /// The file of segment `n` (from 1) in `dir`.
    pub fn segment_path(dir: &Path, n: usize) -> PathBuf {
        dir.join(format!("{n}.m4s"))
    }
}

/// Reads ffmpeg's playlist in `dir`: nothing yet when it is not written. Only entries
/// that name the next segment in order are taken, so a segment is published only under
/// the number its file has.
pub fn written(dir: &Path) -> Result<Written> {
    let path = dir.join(FFMPEG_PLAYLIST);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let text = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Written::default()),
        Err(e) => return Err(io(e)),
        Ok(m) if m.len() > MAX_PLAYLIST_BYTES => {
            return Err(Error::Ffmpeg {
                status: "preview".into(),
                message: format!("its playlist is over {MAX_PLAYLIST_BYTES} bytes"),
            })
        }
        Ok(_) => std::fs::read_to_string(&path).map_err(io)?,
    };
    Ok(read_playlist(&text))
}

/// The segments an HLS playlist of ffmpeg's lists, in order from `1.m4s`.
pub fn read_playlist(text: &str) -> Written {
    let mut out = Written::default();
    let mut duration: Option<f64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d > 0.0 && *d <= 60.0);
        } else if line == "#EXT-X-ENDLIST" {
            out.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            let expected = format!("{}.m4s", out.segments.len() + 1);
            match duration.take() {
                Some(d)
                    if line == expected && out.segments.len() < MAX_PREVIEW_SEGMENTS as usize =>
                {
                    out.segments.push(d)
                }
                _ => break,
            }
        }
    }
    out
}

/// The variant's description from the preview's CMAF header and first segment (a
/// track is read from its samples, which the header alone has none of): its codecs and
/// picture size.
pub fn variant(plan: &PreviewPlan, init: &[u8], first: &[u8]) -> Result<PreviewVariant> {
    let whole = [init, first].concat();
    let tracks = read_tracks(&whole[..], &Limits::default()).map_err(|source| Error::Media {
        path: PathBuf::from("preview/init.mp4"),
        source,
    })?;
    let video = tracks
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .ok_or_else(|| Error::Ffmpeg {
            status: "preview".into(),
            message: "its header has no video track".into(),
        })?;
    // Video first, as players expect of CODECS.
    let mut codecs = vec![video.codec.codec_string()];
    codecs.extend(
        tracks
            .iter()
            .filter(|t| t.kind == TrackKind::Audio)
            .map(|t| t.codec.codec_string()),
    );
    Ok(PreviewVariant {
        bandwidth: plan.bandwidth(),
        codecs,
        width: video.width,
        height: video.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segments_in_order_are_read() {
        let text =
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:2.000000,\n1.m4s\n#EXTINF:2.000000,\n2.m4s\n#EXTINF:1.4,\n3.m4s\n";
        let w = read_playlist(text);
        assert_eq!(w.segments, vec![2.0, 2.0, 1.4]);
        assert!(!w.ended);
        assert!(read_playlist(&format!("{text}#EXT-X-ENDLIST\n")).ended);
        // A gap, a foreign name, a path or a duration out of bounds ends the list there.
        for bad in ["5.m4s", "../1.m4s", "/etc/passwd", "http://x/3.m4s"] {
            let t = text.replace("3.m4s", bad);
            assert_eq!(read_playlist(&t).segments, vec![2.0, 2.0], "{bad}");
        }
        for bad in ["NaN", "-1", "0", "61", "inf"] {
            let t = text.replace("#EXTINF:1.4,", &format!("#EXTINF:{bad},"));
            assert_eq!(read_playlist(&t).segments, vec![2.0, 2.0], "{bad}");
        }
    }

    #[test]
    fn the_arguments_write_only_into_the_folder_and_cap_the_picture() {
        let info: MediaInfo = serde_json::from_value(serde_json::json!({
            "container": "mov,mp4,m4a,3gp,3g2,mj2", "duration": 60.0, "bit_rate": null, "size": 1,
            "streams": [
                {"type": "video", "index": 0, "codec": "h264", "profile": null, "level": null,
                 "width": 1920, "height": 1080, "sample_aspect_ratio": [1, 1],
                 "display_aspect_ratio": [16, 9], "rotation": 0, "frame_rate": 59.94,
                 "frame_rate_rational": [60000, 1001], "variable_frame_rate": false,
                 "pixel_format": "yuv420p", "bit_depth": 8, "interlaced": false,
                 "bit_rate": null, "duration": null},
                {"type": "audio", "index": 1, "codec": "aac", "profile": null, "channels": 2,
                 "channel_layout": null, "sample_rate": 48000, "bit_rate": null,
                 "duration": null, "language": null, "default": false},
                {"type": "audio", "index": 2, "codec": "aac", "profile": null, "channels": 2,
                 "channel_layout": null, "sample_rate": 48000, "bit_rate": null,
                 "duration": null, "language": null, "default": true}
            ]
        }))
        .expect("media info");
        let plan = PreviewPlan::of(&info).expect("a video source has a preview");
        assert_eq!(plan.fps, Some(29.97));
        assert_eq!(plan.audio, Some(2), "the default audio stream");
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), b"x").expect("write");
        let source = SourceFile::open(file.path()).expect("source");
        let dir = Path::new("/work/p");
        let args: Vec<String> = plan
            .arguments(&source, dir)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("-map 0:2 "), "{joined}");
        assert!(joined.contains("min(360\\,ih)"), "{joined}");
        assert!(joined.contains("fps=29.97,"), "{joined}");
        assert!(joined.ends_with("-hls_segment_filename /work/p/%d.m4s /work/p/ffmpeg.m3u8"));
        // Every output is in the folder: no other path than the source's and these.
        for a in &args {
            if a.starts_with('/') {
                assert!(a.starts_with("/work/p/"), "{a}");
            }
        }
    }
}
