//! Awkward and broken inputs: each gives correct output or a clear one-line error, never
//! a panic, a hang or a half-written output folder.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

/// Runs `openvod transcode` on `src` into `dir/out`.
fn transcode(dir: &Path, src: &Path) -> (Output, PathBuf) {
    let template = fast_template(dir);
    let out = dir.join("out");
    let result = openvod(&[
        "transcode",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
        "--timeout",
        "300",
    ]);
    (result, out)
}

/// The run failed cleanly: exit code 1 (not a panic's 101), one line on stderr that
/// mentions `expected`, and nothing left in the folder but the inputs.
fn assert_clear_error(dir: &Path, src: &Path, expected: &str) {
    let (out, dest) = transcode(dir, src);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains(expected), "expected {expected:?} in: {last}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dest.exists(), "no output folder after a failure");
    assert!(
        entries(dir).iter().all(|e| !e.starts_with('.')),
        "no staging folder left: {:?}",
        entries(dir)
    );
}

/// The run succeeded and ffmpeg decodes what it wrote; returns the variant sizes.
fn assert_plays(dir: &Path, src: &Path) -> Vec<(u64, u64)> {
    let (out, dest) = transcode(dir, src);
    assert_ok(&out, "openvod transcode");
    let dest = dest.canonicalize().unwrap();
    assert_eq!(decode_errors(&dest.join("master.m3u8")), "");
    assert_eq!(decode_errors(&dest.join("manifest.mpd")), "");
    let master = std::fs::read(dest.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    master
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| v.resolution.map(|r| (r.width, r.height)).unwrap())
        .collect()
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("empty.mp4");
    std::fs::write(&src, b"").unwrap();
    assert_clear_error(dir.path(), &src, "empty");
}

#[test]
fn plain_text_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("notes.mp4");
    std::fs::write(&src, "these are my notes, not a video\n".repeat(100)).unwrap();
    assert_clear_error(dir.path(), &src, "not a media file");
}

#[test]
fn truncated_mp4_with_moov_first() {
    let dir = tempfile::tempdir().unwrap();
    let full = make_source(
        dir.path(),
        "full.mp4",
        "640x360",
        25,
        6,
        true,
        &["-movflags", "+faststart"],
    );
    let bytes = std::fs::read(&full).unwrap();
    let src = dir.path().join("cut.mp4");
    std::fs::write(&src, &bytes[..bytes.len() * 2 / 3]).unwrap();
    std::fs::remove_file(full).unwrap();
    assert_clear_error(dir.path(), &src, "truncated");
}

#[test]
fn truncated_mp4_with_moov_at_end() {
    let dir = tempfile::tempdir().unwrap();
    let full = make_source(dir.path(), "full.mp4", "640x360", 25, 6, true, &[]);
    let bytes = std::fs::read(&full).unwrap();
    let src = dir.path().join("cut.mp4");
    std::fs::write(&src, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(full).unwrap();
    assert_clear_error(
        dir.path(),
        &src,
        "not a media file ffprobe can read (Invalid data",
    );
}

#[test]
fn moov_at_end_plays() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "late.mp4", "640x360", 25, 5, true, &[]);
    assert_eq!(assert_plays(dir.path(), &src), vec![(640, 360)]);
}

#[test]
fn audio_only_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tone.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    assert_clear_error(dir.path(), &src, "no video stream");
}

#[test]
fn video_only_has_no_audio_group() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "silent.mp4", "640x360", 25, 5, false, &[]);
    assert_eq!(assert_plays(dir.path(), &src), vec![(640, 360)]);
    let master = std::fs::read_to_string(dir.path().join("out/master.m3u8")).unwrap();
    assert!(!master.contains("EXT-X-MEDIA"), "{master}");
    assert!(master.contains("CODECS=\"avc1.64001e\""), "{master}");
}

#[test]
fn odd_dimensions_become_even() {
    let dir = tempfile::tempdir().unwrap();
    // x264 needs even sizes, so the odd source is made with another encoder.
    let src = dir.path().join("odd.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=853x479:rate=25:duration=5",
        "-c:v",
        "ffv1",
        src.to_str().unwrap(),
    ]);
    assert_eq!(assert_plays(dir.path(), &src), vec![(642, 360)]);
}

#[test]
fn rotated_phone_video_is_upright() {
    let dir = tempfile::tempdir().unwrap();
    let plain = make_source(dir.path(), "plain.mp4", "640x360", 30, 5, true, &[]);
    // A phone stores the picture as shot and a display matrix saying how to turn it.
    let src = dir.path().join("phone.mp4");
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        src.to_str().unwrap(),
    ]);
    std::fs::remove_file(plain).unwrap();
    let probe = openvod(&["probe", src.to_str().unwrap(), "--json"]);
    assert_ok(&probe, "openvod probe");
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    // ffmpeg 5.1 writes the `rotate` tag as a quarter turn whose direction varies by
    // version; either way the picture is shown portrait.
    let rotation = info["streams"][0]["rotation"].as_u64().unwrap();
    assert!(rotation == 90 || rotation == 270, "{info}");
    assert_eq!(assert_plays(dir.path(), &src), vec![(360, 640)]);
}

#[test]
fn variable_frame_rate() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        "vfr.mp4",
        "640x360",
        30,
        6,
        true,
        &["-vf", "select='not(between(n,40,70))'", "-fps_mode", "vfr"],
    );
    let probe = openvod(&["probe", src.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(info["streams"][0]["variable_frame_rate"], true, "{info}");
    assert_eq!(assert_plays(dir.path(), &src), vec![(640, 360)]);
}

#[test]
fn ten_bit_source_is_encoded_8_bit() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        "deep.mp4",
        "640x360",
        25,
        4,
        true,
        &["-pix_fmt", "yuv420p10le"],
    );
    let probe = openvod(&["probe", src.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(info["streams"][0]["bit_depth"], 10, "{info}");
    assert_plays(dir.path(), &src);
    let master = std::fs::read_to_string(dir.path().join("out/master.m3u8")).unwrap();
    assert!(master.contains("avc1.64"), "High profile, 8-bit: {master}");
}

#[test]
fn mono_and_surround_audio_become_stereo() {
    for layout in ["mono", "5.1"] {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.mp4");
        let tone = format!("sine=duration=4,aformat=channel_layouts={layout}");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            &tone,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            src.to_str().unwrap(),
        ]);
        assert_plays(dir.path(), &src);
        let master = std::fs::read_to_string(dir.path().join("out/master.m3u8")).unwrap();
        assert!(master.contains("CHANNELS=\"2\""), "{layout}: {master}");
    }
}

#[test]
fn existing_output_is_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x240", 25, 2, true, &[]);
    let (result, _) = transcode(dir.path(), &src);
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("--overwrite"));
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn probe_reports_a_clear_error_for_missing_files() {
    let out = openvod(&["probe", "/nonexistent/file.mov"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: /nonexistent/file.mov: No such file"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}
