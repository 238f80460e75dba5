//! Decode integrity: a source whose video stops decoding part-way, or whose decoding
//! reports errors on many frames, fails with a clear reason instead of becoming a short
//! asset, unless damaged sources are allowed (then it carries a warning); a source whose
//! headers merely overstate its length gets a milder warning. Through `openvod transcode`
//! and `openvod serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;

/// Positions and sizes of the video packets of `file`, by ffprobe.
fn video_packets(file: &Path) -> Vec<(usize, usize)> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pos,size",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_str().unwrap().parse::<usize>().unwrap();
            (n("pos"), n("size"))
        })
        .collect()
}

/// How much of a damaged packet survives.
#[derive(Clone, Copy)]
enum Damage {
    /// Only the 4-byte NAL length: the decoder refuses the packet.
    All,
    /// The first quarter (the slice header): the decoder conceals the picture.
    Picture,
}

/// A 4 s MP4 (one keyframe, then predicted frames, and AAC audio) whose video packets
/// `damaged` get noise in place of their data (the NAL lengths are kept, so the
/// container stays intact and only the decoder suffers).
fn with_damaged_video(
    dir: &Path,
    name: &str,
    damaged: std::ops::Range<usize>,
    damage: Damage,
) -> PathBuf {
    let clean = make_source(
        dir,
        &format!("clean-{name}"),
        "160x120",
        25,
        4,
        true,
        &["-g", "100"],
    );
    let mut bytes = std::fs::read(&clean).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for (pos, size) in video_packets(&clean)[damaged].iter().copied() {
        let kept = match damage {
            Damage::All => 4,
            Damage::Picture => 4 + size / 4,
        };
        for b in &mut bytes[pos + kept..pos + size] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A 4 s Matroska file whose Segment Duration says 10 s.
fn overstated(dir: &Path) -> PathBuf {
    let real = make_source(dir, "real.mkv", "160x120", 25, 4, true, &[]);
    let mut bytes = std::fs::read(&real).unwrap();
    // Duration (ID 0x4489, an 8-byte float in milliseconds of TimestampScale 1 ms), as
    // ffmpeg writes it in the Segment Info.
    let at = bytes
        .windows(3)
        .position(|w| w == [0x44, 0x89, 0x88])
        .expect("a Duration element");
    bytes[at + 3..at + 11].copy_from_slice(&10_000.0f64.to_be_bytes());
    let path = dir.join("overstated.mkv");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn transcode(dir: &Path, src: &Path, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let template = fast_template(dir);
    let out = dir.join("out");
    let mut args = vec![
        "transcode",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    (openvod(&args), out)
}

#[test]
fn video_that_stops_decoding_fails_the_transcode() {
    let dir = tempfile::tempdir().unwrap();
    let src = with_damaged_video(dir.path(), "holiday.mp4", 1..100, Damage::All);
    let (out, dest) = transcode(dir.path(), &src, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("video decoding stopped at 0.0"),
        "{last}"
    );
    assert!(
        last.contains("of 4.00 s (1 frame decoded of 100 packets): "),
        "{last}"
    );
    assert!(!dest.exists(), "no output after a failure");

    // Allowed, the same words become a warning in the summary and on stderr.
    let (out, dest) = transcode(dir.path(), &src, &["--allow-damaged"]);
    assert_ok(&out, "transcode --allow-damaged");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{summary}");
    assert_eq!(warnings[0]["code"], "damaged_source");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("video decoding stopped at 0.0"),
        "{message}"
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("warning: {}: {message}", src.display())));
    assert!(dest.join("master.m3u8").exists());
}

#[test]
fn errors_on_many_frames_fail_the_transcode_even_at_full_length() {
    let dir = tempfile::tempdir().unwrap();
    // 30 frames in the middle damaged; the decoder conceals them and goes on.
    let src = with_damaged_video(dir.path(), "scratched.mp4", 40..70, Damage::Picture);
    let (out, _) = transcode(dir.path(), &src, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.contains("decoding reported "), "{last}");
    assert!(last.contains("more than the 10 allowed"), "{last}");

    // A higher tolerance lets it through, without a warning.
    let (out, _) = transcode(dir.path(), &src, &["--max-decode-errors", "100000"]);
    assert_ok(&out, "transcode --max-decode-errors");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
}

#[test]
fn overstated_headers_are_a_milder_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = overstated(dir.path());
    let probe = openvod(&["probe", src.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(info["duration"], 10.0, "the header claims 10 s: {info}");
    let (out, dest) = transcode(dir.path(), &src, &[]);
    assert_ok(&out, "transcode of an overstated source");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = summary["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{summary}");
    assert_eq!(warnings[0]["code"], "overstated_duration");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("say it lasts 10.00 s"), "{message}");
    assert!(message.contains("ends at 4.0"), "{message}");
    assert!(dest.join("master.m3u8").exists());
    // A per-title analysis of it samples media that is there: the header puts its
    // excerpt 4 s into a 4 s file; the seek for a keyframe there finds the only one, at
    // the start (and where none is found, the analysis samples the start).
    let (out, dest) = transcode(dir.path(), &src, &["--ladder", "per-title", "--overwrite"]);
    assert_ok(&out, "per-title transcode of an overstated source");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let excerpt = &summary["ladder"]["excerpts"][0];
    let end = excerpt["start"].as_f64().unwrap() + excerpt["duration"].as_f64().unwrap();
    assert!(end <= 4.1, "{summary}");
    assert_eq!(summary["warnings"][0]["code"], "overstated_duration");
    assert!(dest.join("master.m3u8").exists());
}

#[test]
fn a_clean_source_has_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "clean.mp4", "160x120", 25, 3, true, &[]);
    let (out, _) = transcode(dir.path(), &src, &[]);
    assert_ok(&out, "transcode");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");
}

#[test]
fn the_service_fails_damaged_uploads_or_publishes_them_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let stops = with_damaged_video(dir.path(), "holiday.mp4", 1..100, Damage::All);
    let overstated = overstated(dir.path());

    let strict = tempfile::tempdir().unwrap();
    let server = start_service("serve", &serve_config(strict.path(), ""), &[]);
    let id = upload_as(&server.base, &stops, "holiday.mp4");
    let asset = wait_finished(&server.base, &id, Duration::from_secs(120));
    assert_eq!(asset["status"], "failed", "{asset}");
    assert_eq!(asset["error"]["code"], "damaged_source", "{asset}");
    let message = asset["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("holiday.mp4: video decoding stopped at 0.0"),
        "{message}"
    );
    let (_, played) = curl_json(&[&format!("{}/play/{id}/master.m3u8", server.base)]);
    assert_eq!(
        played["error"]["code"], "not_found",
        "nothing is served: {played}"
    );

    let id = upload_as(&server.base, &overstated, "overstated.mkv");
    let asset = wait_finished(&server.base, &id, Duration::from_secs(120));
    assert_eq!(asset["status"], "ready", "{asset}");
    assert_eq!(
        asset["warnings"][0]["code"], "overstated_duration",
        "{asset}"
    );
    drop(server);

    let lenient = tempfile::tempdir().unwrap();
    let allow = [(
        "OPENVOD_POLICY_ALLOW_DAMAGED_SOURCES".to_string(),
        "true".to_string(),
    )];
    let server = start_service("serve", &serve_config(lenient.path(), ""), &allow);
    let id = upload_as(&server.base, &stops, "holiday.mp4");
    let asset = wait_finished(&server.base, &id, Duration::from_secs(120));
    assert_eq!(asset["status"], "ready", "{asset}");
    let warnings = asset["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{asset}");
    assert_eq!(warnings[0]["code"], "damaged_source");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("video decoding stopped at 0.0"),
        "{asset}"
    );
    // The list shows it too.
    let (_, list) = curl_json(&[&format!("{}/v1/assets?status=ready", server.base)]);
    assert_eq!(list["assets"][0]["warnings"], asset["warnings"], "{list}");
}
