//! Clips end to end through `openvod serve`: a range of a ready asset becomes an asset
//! of its own, keyframe-exact from one packaged ahead of time and frame-exact from one
//! packaged on request. Each lasts what its mode promises (the GOPs around the range,
//! or the range to the frame), decodes without an error, and keeps a flash and a tone
//! that coincide in the source together. Ranges the title does not hold are refused
//! with a 400 and change nothing; deleting a clip keeps its parent's source. Frame-exact
//! clips of H.264, HEVC and AV1 rungs join their re-encoded frames into one track each.

use std::process::Command;

use crate::common::*;

/// A 12 s source, 30 fps, 960x540 (two rungs), black with a white flash and a 1 kHz tone
/// burst together from 7.0 to 7.2 s.
fn flash_source(dir: &std::path::Path) -> std::path::PathBuf {
    made_source(
        dir,
        "flash.mp4",
        &[
            "-f", "lavfi", "-i",
            "color=black:size=960x540:rate=30:duration=12,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,7,7.2)'",
            "-f", "lavfi", "-i",
            "aevalsrc='if(between(t,7,7.2),0.5*sin(2*PI*1000*t),0)':s=48000:d=12",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ],
    )
}

/// Decodes the first stream of `kind` ("v" or "a") of a URL with `filter`; ffmpeg's log.
fn decode_log(url: &str, kind: &str, filter: &str) -> String {
    let flag = if kind == "v" { "-vf" } else { "-af" };
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i", url])
        .args([
            "-map",
            &format!("0:{kind}:0"),
            flag,
            filter,
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Frames of the video, and the time the picture turns white from its first frame.
pub(crate) fn frames_and_flash(url: &str) -> (usize, f64) {
    let log = decode_log(
        url,
        "v",
        "signalstats,metadata=print:key=lavfi.signalstats.YAVG",
    );
    let (mut frames, mut time, mut flash, mut first) = (0, None, None, None);
    for line in log.lines() {
        if let Some(rest) = line.split("pts_time:").nth(1) {
            frames += 1;
            time = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok());
            first = first.or(time);
        }
        if let Some(v) = line.split("lavfi.signalstats.YAVG=").nth(1) {
            if flash.is_none() && v.trim().parse::<f64>().unwrap_or(0.0) > 128.0 {
                flash = time;
            }
        }
    }
    let flash = flash.unwrap_or_else(|| panic!("no flash in {url}"));
    (frames, flash - first.unwrap_or(0.0))
}

/// The audio's length in seconds, to within 0.1 s.
fn audio_length(url: &str) -> f64 {
    // ebur128 prints t: every 100 ms of audio; the last one is within 0.1 s of the end.
    decode_log(url, "a", "ebur128")
        .lines()
        .filter_map(|l| {
            l.split(" t: ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .fold(0.0, f64::max)
}

fn post_clip(base: &str, id: &str, body: &str) -> (u16, serde_json::Value) {
    curl_json(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        body,
        &format!("{base}/v1/assets/{id}/clips"),
    ])
}

#[test]
fn clips_are_cut_on_keyframes_or_to_the_frame_and_stay_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let src = flash_source(dir.path());
    let cfg = serve_config_with_jit(dir.path());
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[upload]\ndelete_sources = true\n")).unwrap();
    let s = start_service("serve", &cfg, &[]);
    let base = s.base.clone();
    let ahead = upload_as(&base, &src, "ahead.mp4");
    let jit = upload_with(&base, &src, "jit.mp4", "jit");
    for id in [&ahead, &jit] {
        let a = wait_finished(&base, id, std::time::Duration::from_secs(300));
        assert_eq!(a["status"], "ready", "{a}");
    }
    let master = |id: &str| format!("{base}/play/{id}/master.m3u8");
    let (_, _, parent_master) = curl_get(&master(&ahead));

    // Keyframe-exact, from the asset packaged ahead of time: 3.3 s to 8.5 s widens to
    // the GOPs around it, 2 s to 10 s.
    let (status, clip) = post_clip(&base, &ahead, r#"{"start": 3.3, "end": 8.5}"#);
    assert_eq!(status, 201, "{clip}");
    assert_eq!(clip["clip"]["of"], ahead.as_str());
    assert_eq!(clip["clip"]["mode"], "keyframe");
    assert_eq!(clip["source"]["name"], "ahead.mp4 (3.300-8.500 s)");
    let keyframe = clip["id"].as_str().unwrap().to_string();
    // Frame-exact, from the asset packaged on request.
    let (status, clip) = post_clip(
        &base,
        &jit,
        r#"{"start": 3.3, "end": 8.5, "mode": "frame", "name": "the flash"}"#,
    );
    assert_eq!(status, 201, "{clip}");
    let frame = clip["id"].as_str().unwrap().to_string();
    // Frame-exact from the one packaged ahead of time too: its segments are read.
    let (status, clip) = post_clip(
        &base,
        &ahead,
        r#"{"start": 6.1, "end": 9.9, "mode": "frame"}"#,
    );
    assert_eq!(status, 201, "{clip}");
    let frame_ahead = clip["id"].as_str().unwrap().to_string();
    for id in [&keyframe, &frame, &frame_ahead] {
        let a = wait_finished(&base, id, std::time::Duration::from_secs(300));
        assert_eq!(a["status"], "ready", "{a}");
        assert!(a["warnings"].as_array().unwrap().is_empty(), "{a}");
    }

    for (id, seconds, flash_at) in [
        (&keyframe, 8.0, 5.0),
        (&frame, 5.2, 3.7),
        (&frame_ahead, 3.8, 0.9),
    ] {
        let url = master(id);
        let errors = decode_errors(std::path::Path::new(&url));
        assert!(errors.trim().is_empty(), "{id}: {errors}");
        // Every rung: the frames of the range, the flash where it was.
        let (_, a) = curl_json(&[&format!("{base}/v1/assets/{id}")]);
        let rungs: Vec<&str> = a["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "video")
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(rungs, ["540p", "360p"], "{a}");
        for rung in rungs {
            let (frames, flash) = frames_and_flash(&format!("{base}/play/{id}/{rung}/index.m3u8"));
            assert_eq!(
                frames,
                (seconds * 30.0_f64).round() as usize,
                "{id} {rung}: frames"
            );
            assert!(
                (flash - flash_at).abs() < 0.02,
                "{id} {rung}: flash at {flash}"
            );
        }
        // Lip sync, as a player plays the whole: the tone starts with the flash.
        let (_, flash) = frames_and_flash(&url);
        let tone = crate::av_sync::beep_time(std::path::Path::new(&url));
        let length = audio_length(&url);
        assert!(
            (tone - flash).abs() < 1.0 / 30.0,
            "{id}: tone {tone}, flash {flash}"
        );
        assert!(
            (length - seconds).abs() <= 0.15,
            "{id}: audio lasts {length} s"
        );
    }

    // Ranges the title does not hold, a bad mode, a body that is not a range.
    for (body, code) in [
        (r#"{"start": 3, "end": 13}"#, "invalid_range"),
        (r#"{"start": 5, "end": 5}"#, "invalid_range"),
        (r#"{"start": -1, "end": 5}"#, "invalid_range"),
        (r#"{"start": 1, "end": 5, "mode": "scene"}"#, "invalid_json"),
        (r#"[1, 5]"#, "invalid_json"),
    ] {
        let (status, e) = post_clip(&base, &ahead, body);
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {e}"
        );
    }
    let (status, e) = post_clip(&base, &ahead, r#"{"start": 3, "end": 13}"#);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after the title's end at 12.0"),
        "{status} {e}"
    );
    let (status, _) = post_clip(&base, &"0".repeat(32), r#"{"start": 1, "end": 2}"#);
    assert_eq!(status, 404);
    // A clip is a title of its own length: a clip of it is checked against that.
    let (_, k) = curl_json(&[&format!("{base}/v1/assets/{keyframe}")]);
    assert_eq!(k["probe"]["duration"], 8.0, "{k}");
    let (status, e) = post_clip(&base, &keyframe, r#"{"start": 1, "end": 9}"#);
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_range")),
        "{e}"
    );

    // Deleting a clip keeps the parent and the source they share (sources are deleted
    // with their asset here), and the parent plays as before.
    let (_, parent) = curl_json(&[&format!("{base}/v1/assets/{ahead}")]);
    let source = dir
        .path()
        .join("data/objects/sources")
        .join(parent["source"]["key"].as_str().unwrap());
    assert!(source.is_file(), "{}", source.display());
    let (status, _) = curl_json(&["-X", "DELETE", &format!("{base}/v1/assets/{keyframe}")]);
    assert_eq!(status, 204);
    assert!(
        source.is_file(),
        "the parent's source was deleted with its clip"
    );
    let (status, _, after) = curl_get(&master(&ahead));
    assert_eq!((status, after), (200, parent_master));
    let errors = decode_errors(std::path::Path::new(&master(&ahead)));
    assert!(errors.trim().is_empty(), "{errors}");
}

#[test]
fn frame_exact_clips_join_re_encoded_frames_in_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 30, 6, true, &[]);
    let cfg = serve_config_with_jit(dir.path());
    // The jit template with a ladder in H.264, HEVC and AV1.
    let jit = dir.path().join("jit.toml");
    let text = std::fs::read_to_string(&jit).unwrap().replace(
        "codec = \"h264\"\n",
        "codec = \"h264\"\ncodecs = [\"h264\", \"hevc\", \"av1\"]\n",
    );
    std::fs::write(&jit, text).unwrap();
    let s = start_service("serve", &cfg, &[]);
    let base = s.base.clone();
    let id = upload_with(&base, &src, "src.mp4", "jit");
    let a = wait_finished(&base, &id, std::time::Duration::from_secs(300));
    assert_eq!(a["status"], "ready", "{a}");
    let (status, clip) = post_clip(&base, &id, r#"{"start": 0.5, "end": 4.5, "mode": "frame"}"#);
    assert_eq!(status, 201, "{clip}");
    let clip = wait_finished(
        &base,
        clip["id"].as_str().unwrap(),
        std::time::Duration::from_secs(300),
    );
    assert_eq!(clip["status"], "ready", "{clip}");
    let rungs: Vec<(String, String)> = clip["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "video")
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["codecs"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let codecs: Vec<&str> = rungs.iter().map(|(_, c)| &c[..4]).collect();
    assert_eq!(codecs, ["avc1", "hvc1", "av01"], "{clip}");
    for (rung, _) in &rungs {
        let url = format!(
            "{base}/play/{}/{rung}/index.m3u8",
            clip["id"].as_str().unwrap()
        );
        let errors = decode_errors(std::path::Path::new(&url));
        assert!(errors.trim().is_empty(), "{rung}: {errors}");
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
                &url,
            ])
            .output()
            .unwrap();
        // One line per program the playlist is read as, and the stream's.
        let counts = String::from_utf8_lossy(&out.stdout).into_owned();
        let frames = counts.split_whitespace().next().unwrap_or("");
        assert_eq!(frames, "120", "{rung}: 4 s at 30 fps ({counts})");
    }
}
