//! `openvod probe`: the report of a good file, and one clear line for a bad one.

use crate::common::*;

#[test]
fn reports_streams_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "640x360", 25, 2, true, &[]);
    let out = openvod(&["probe", src.to_str().unwrap(), "--json"]);
    assert_ok(&out, "probe --json");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(info["container"].as_str().unwrap().contains("mp4"));
    assert!(
        (info["duration"].as_f64().unwrap() - 2.0).abs() < 0.1,
        "{info}"
    );
    let v = &info["streams"][0];
    assert_eq!(v["type"], "video");
    assert_eq!(v["codec"], "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(v["display_aspect_ratio"], serde_json::json!([16, 9]));
    assert_eq!(v["frame_rate"], 25.0);
    assert_eq!(v["variable_frame_rate"], false);
    assert_eq!(v["pixel_format"], "yuv420p");
    assert_eq!(v["bit_depth"], 8);
    assert_eq!(v["rotation"], 0);
    assert!(v["level"].as_i64().is_some() && v["profile"].is_string());
    let a = &info["streams"][1];
    assert_eq!(
        (
            a["type"].as_str(),
            a["channels"].as_u64(),
            a["sample_rate"].as_u64()
        ),
        (Some("audio"), Some(1), Some(48000))
    );

    let text = openvod(&["probe", src.to_str().unwrap()]);
    assert_ok(&text, "probe");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("video h264") && text.contains("640x360") && text.contains("25.000 fps"),
        "{text}"
    );
}

fn assert_one_line_error(path: &std::path::Path, expected: &str) {
    let out = openvod(&["probe", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(expected),
        "expected {expected:?}: {err}"
    );
}

#[test]
fn bad_files_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mov");
    std::fs::write(&empty, b"").unwrap();
    assert_one_line_error(&empty, "the file is empty (0 bytes)");

    let text = dir.path().join("text.mp4");
    std::fs::write(&text, "not a video").unwrap();
    assert_one_line_error(&text, "not a media file ffprobe can read");

    let full = make_source(
        dir.path(),
        "full.mp4",
        "320x240",
        25,
        3,
        true,
        &["-movflags", "+faststart"],
    );
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() - 5000]).unwrap();
    assert_one_line_error(&cut, "the file is truncated");

    let tone = dir.path().join("tone.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:a",
        "aac",
        tone.to_str().unwrap(),
    ]);
    assert_one_line_error(&tone, "no video stream");
}
