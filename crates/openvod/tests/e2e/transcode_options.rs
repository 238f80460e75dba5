//! Templates, flags and source properties that change what `openvod transcode` does.

use std::path::Path;

use crate::common::*;

fn transcode(args: &[&str]) -> std::process::Output {
    let mut all = vec!["transcode"];
    all.extend(args);
    openvod(&all)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn template_file_sets_rungs_segments_and_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "1280x720", 25, 8, true, &[]);
    let template = dir.path().join("two.toml");
    std::fs::write(
        &template,
        r#"
name = "two-rungs"
[video]
preset = "superfast"
quality = 5
gop_seconds = 1.0
rungs = [
  { name = "sd", height = 480, max_bitrate = 1_000_000 },
  { name = "tiny", height = 144, max_bitrate = 200_000, quality = 3 },
]
[audio]
name = "stereo"
bitrate = 96_000
[packaging]
segment_seconds = 2.0
fragment_seconds = 1.0
dash = false
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = transcode(&[
        s(&src),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--json",
    ]);
    assert_ok(&r, "transcode with a template file");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let crf: Vec<u64> = summary["plan"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["crf"].as_u64().unwrap())
        .collect();
    assert_eq!(crf, vec![28, 32], "quality 5 and 3 as CRF");
    assert_eq!(
        entries(&out),
        vec![
            "images.json",
            "master.m3u8",
            "poster.jpg",
            "sd",
            "stereo",
            "storyboard.jpg",
            "storyboard.vtt",
            "tiny"
        ],
        "no MPD when dash = false"
    );
    let sizes: Vec<(u64, u64)> = summary["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "video")
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes, vec![(854, 480), (256, 144)]);
    let playlist = std::fs::read(out.join("sd/index.m3u8")).unwrap();
    let p = m3u8_rs::parse_media_playlist_res(&playlist).unwrap();
    assert_eq!(p.target_duration, 2);
    assert_eq!(p.segments.len(), 4);
    let kf = keyframe_times(&concat_rendition(&out, "sd", dir.path()));
    assert_eq!(kf.len(), 8, "1 s GOPs over 8 s: {kf:?}");
}

#[test]
fn bad_template_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x240", 25, 1, false, &[]);
    let template = dir.path().join("bad.toml");
    std::fs::write(
        &template,
        "name = \"x\"\n[video]\nrungs = [{ name = \"a\", height = 240, max_bitrate = 1 }]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = transcode(&[s(&src), "--out", s(&out), "--template", s(&template)]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("video.rungs[0].max_bitrate 1 is outside"),
        "{err}"
    );
    let r = transcode(&[s(&src), "--out", s(&out), "--template", "nosuch"]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("neither a built-in template"));
    assert!(!out.exists());
}

#[test]
fn quality_flag_changes_the_crf() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "640x360", 25, 2, false, &[]);
    let template = fast_template(dir.path());
    let out = dir.path().join("out");
    let r = transcode(&[
        s(&src),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--quality",
        "10",
        "--json",
    ]);
    assert_ok(&r, "transcode --quality 10");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(summary["plan"]["rungs"][0]["crf"], 18);
    let r = transcode(&[s(&src), "--out", s(&out), "--quality", "11"]);
    assert_eq!(r.status.code(), Some(2), "clap refuses it");
    // A per-title ladder chooses its own CRFs: the flag is refused, nothing is written.
    let other = dir.path().join("other");
    let r = transcode(&[
        s(&src),
        "--out",
        s(&other),
        "--ladder",
        "per-title",
        "--quality",
        "9",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("top_quality"));
    assert!(!other.exists());
    let r = transcode(&[s(&src), "--out", s(&other), "--ladder", "adaptive"]);
    assert_eq!(r.status.code(), Some(2), "clap refuses an unknown ladder");
    assert!(String::from_utf8_lossy(&r.stderr).contains("per-title"));
}

#[test]
fn audio_language_reaches_both_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        "src.mp4",
        "640x360",
        25,
        3,
        true,
        &["-metadata:s:a:0", "language=fra"],
    );
    let template = fast_template(dir.path());
    let out = dir.path().join("out");
    assert_ok(
        &transcode(&[s(&src), "--out", s(&out), "--template", s(&template)]),
        "transcode",
    );
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("LANGUAGE=\"fr\""), "{master}");
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(mpd.contains("lang=\"fr\""), "{mpd}");
}

#[test]
fn interlaced_source_is_deinterlaced() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tv.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=720x576:rate=50:duration=3",
        "-vf",
        "tinterlace=interleave_top,fieldorder=tff",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-flags",
        "+ildct+ilme",
        "-x264opts",
        "tff=1",
        s(&src),
    ]);
    let probe = openvod(&["probe", s(&src), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(info["streams"][0]["interlaced"], true, "{info}");
    let template = fast_template(dir.path());
    let out = dir.path().join("out");
    let r = transcode(&[
        s(&src),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--json",
    ]);
    assert_ok(&r, "transcode interlaced");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(summary["plan"]["deinterlace"], true);
    assert_eq!(
        decode_errors(&out.canonicalize().unwrap().join("master.m3u8")),
        ""
    );
}

#[test]
fn ffmpeg_is_killed_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "long.mp4", "1920x1080", 30, 20, false, &[]);
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    // The default (medium) preset on 20 s of 1080p takes far longer than 2 s here.
    let r = transcode(&[s(&src), "--out", s(&out), "--timeout", "2"]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("ffmpeg took longer than 2 s and was stopped"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "stopped promptly"
    );
    assert!(!out.exists());
    assert!(
        entries(dir.path()).iter().all(|e| !e.starts_with('.')),
        "{:?}",
        entries(dir.path())
    );
}
