//! `openvod package` on renditions made by other encoders: fragmented (ffmpeg's
//! `empty_moov`, with composition offsets and no edit list) and progressive.

use std::path::Path;

use crate::common::*;

fn package(dir: &Path, inputs: &[&Path], extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join("out");
    let mut args = vec!["package"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    assert_ok(&openvod(&args), "openvod package");
    out.canonicalize().unwrap()
}

/// Two renditions with B-frames and aligned GOPs, each with the same audio.
fn renditions(dir: &Path, movflags: &str) -> Vec<std::path::PathBuf> {
    [("hi", "960x540"), ("lo", "480x270")]
        .iter()
        .map(|(name, size)| {
            let path = dir.join(format!("{name}.mp4"));
            let video = format!("testsrc2=size={size}:rate=25:duration=9");
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &video,
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=1000:sample_rate=48000:duration=9",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "50",
                "-keyint_min",
                "50",
                "-sc_threshold",
                "0",
                "-c:a",
                "aac",
                "-movflags",
                movflags,
                path.to_str().unwrap(),
            ]);
            path
        })
        .collect()
}

#[test]
fn fragmented_empty_moov_input_starts_audio_and_video_together() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = renditions(dir.path(), "+frag_keyframe+empty_moov+default_base_moof");
    // The input itself is out of sync as ffmpeg reads it: that is the point of the test.
    let v = start_time(&inputs[0]);
    assert!(
        v > 0.0,
        "ffmpeg's empty_moov file starts its video late: {v}"
    );
    let refs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
    let out = package(dir.path(), &refs, &[]);
    assert_eq!(
        entries(&out),
        vec!["hi", "hi_audio", "lo", "manifest.mpd", "master.m3u8"]
    );
    let video = start_time(&concat_rendition(&out, "hi", dir.path()));
    let audio = start_time(&concat_rendition(&out, "hi_audio", dir.path()));
    assert!(
        (video - audio).abs() < 0.001,
        "video {video} s, audio {audio} s"
    );
    assert_eq!(decode_errors(&out.join("master.m3u8")), "");
    assert_eq!(decode_errors(&out.join("manifest.mpd")), "");
    // presentationTimeOffset maps that common start to period time 0 in DASH.
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("presentationTimeOffset").count(), 3, "{mpd}");
}

#[test]
fn progressive_input_with_other_segment_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = renditions(dir.path(), "+faststart");
    let refs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
    let out = package(dir.path(), &refs, &["--segment", "6", "--fragment", "2"]);
    let playlist = std::fs::read(out.join("lo/index.m3u8")).unwrap();
    let p = m3u8_rs::parse_media_playlist_res(&playlist).unwrap();
    let durations: Vec<f32> = p.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, vec![6.0, 3.0]);
    let kf_hi = keyframe_times(&concat_rendition(&out, "hi", dir.path()));
    let kf_lo = keyframe_times(&concat_rendition(&out, "lo", dir.path()));
    assert_eq!(kf_hi, kf_lo);
    assert_eq!(decode_errors(&out.join("manifest.mpd")), "");
}

#[test]
fn bad_segment_settings_and_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = renditions(dir.path(), "+faststart");
    let out = dir.path().join("out");
    let r = openvod(&[
        "package",
        inputs[0].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--segment",
        "5",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a whole number of 2 s fragments"));
    let text = dir.path().join("text.mp4");
    std::fs::write(&text, "hello").unwrap();
    let r = openvod(&[
        "package",
        text.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("not an MP4 file"), "{err}");
    assert!(!out.exists());
}
