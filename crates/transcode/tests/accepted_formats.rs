//! The demuxer allow-list against the installed ffmpeg: every name on it is a demuxer
//! ffmpeg has, a file of every accepted container (made by ffmpeg) is probed and
//! transcoded without a warning, and formats that open other inputs are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use openvod_transcode::job::{self, TranscodeJob};
use openvod_transcode::source::{SourceFile, ACCEPTED_DEMUXERS};
use openvod_transcode::{probe, Error, JobTemplate};

/// The demuxer names `ffmpeg -demuxers` lists ("mov,mp4,m4a,3gp,3g2,mj2" gives six).
fn ffmpeg_demuxers() -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-demuxers"])
        .output()
        .expect("ffmpeg is installed");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("--"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .flat_map(|names| names.split(',').map(str::to_string))
        .collect()
}

#[test]
fn every_accepted_demuxer_is_one_ffmpeg_has() {
    let installed = ffmpeg_demuxers();
    assert!(installed.contains(&"hls".to_string()), "{installed:?}");
    for d in ACCEPTED_DEMUXERS {
        assert!(
            installed.iter().any(|n| n == d.name),
            "{} is not a demuxer of this ffmpeg",
            d.name
        );
    }
}

/// One sample per accepted container: file name, ffmpeg output arguments, and the
/// container name ffprobe gives it.
const SAMPLES: &[(&str, &[&str], &str)] = &[
    (
        "a.mp4",
        &["-c:v", "libx264", "-c:a", "aac"],
        "mov,mp4,m4a,3gp,3g2,mj2",
    ),
    (
        "a.mov",
        &["-c:v", "libx264", "-c:a", "aac"],
        "mov,mp4,m4a,3gp,3g2,mj2",
    ),
    (
        "a.mkv",
        &["-c:v", "libx264", "-c:a", "aac"],
        "matroska,webm",
    ),
    (
        "a.webm",
        &["-c:v", "libvpx-vp9", "-c:a", "libopus"],
        "matroska,webm",
    ),
    ("a.ts", &["-c:v", "libx264", "-c:a", "aac"], "mpegts"),
    ("a.mpg", &["-c:v", "mpeg2video", "-c:a", "mp2"], "mpeg"),
    ("a.avi", &["-c:v", "mpeg4", "-c:a", "libmp3lame"], "avi"),
    ("a.flv", &["-c:v", "libx264", "-c:a", "aac"], "flv"),
    ("a.mxf", &["-c:v", "mpeg2video", "-an"], "mxf"),
    ("a.wmv", &["-c:v", "wmv2", "-c:a", "wmav2"], "asf"),
    ("a.ogv", &["-c:v", "libtheora", "-c:a", "libvorbis"], "ogg"),
    ("a.y4m", &["-an"], "yuv4mpegpipe"),
    ("a.ivf", &["-c:v", "libvpx", "-an"], "ivf"),
    ("a.h264", &["-c:v", "libx264", "-an", "-f", "h264"], "h264"),
    (
        "a.m2v",
        &["-c:v", "mpeg2video", "-an", "-f", "mpeg2video"],
        "mpegvideo",
    ),
    ("a.m4v", &["-c:v", "mpeg4", "-an", "-f", "m4v"], "m4v"),
];

fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-nostdin"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=128x96:rate=25:duration=2",
        ])
        .args(["-f", "lavfi", "-i", "sine=duration=2:sample_rate=48000"])
        .args(["-pix_fmt", "yuv420p"])
        .args(args)
        .arg(&path)
        .output()
        .expect("ffmpeg is installed");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn every_accepted_container_probes_and_transcodes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut template = JobTemplate::default_ladder();
    template.video.preset = openvod_transcode::template::Preset::Ultrafast;
    for (name, args, container) in SAMPLES {
        let src = make(dir.path(), name, args);
        let info = probe(&SourceFile::open(&src).unwrap())
            .unwrap_or_else(|e| panic!("{name} is refused: {e}"));
        assert_eq!(info.container, *container, "{name}");
        let job = TranscodeJob {
            input: src,
            output: dir.path().join(format!("{name}.out")),
            template: template.clone(),
            overwrite: false,
            deadline: None,
            integrity: Default::default(),
            measure_quality: false,
            subtitles: Vec::new(),
        };
        let summary = job::run(&job, &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.warnings, vec![], "{name}");
        assert!(
            (summary.package.duration - 2.0).abs() < 0.2,
            "{name}: {} s",
            summary.package.duration
        );
    }
}

#[test]
fn formats_that_open_other_inputs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (content, format) in [
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nother.ts\n#EXT-X-ENDLIST\n",
            "hls",
        ),
        ("ffconcat version 1.0\nfile other.mp4\n", "concat"),
        (
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\"></MPD>\n",
            "dash",
        ),
    ] {
        let src = dir.path().join("video.mp4");
        std::fs::write(&src, content).unwrap();
        match probe(&SourceFile::open(&src).unwrap()) {
            Err(Error::UnacceptedFormat { format: f, .. }) => assert_eq!(f, format),
            other => panic!("{format}: {other:?}"),
        }
    }
}
