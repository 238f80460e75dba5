//! Progressive downloads end to end: a template with `[packaging] downloads = true`
//! gives the top rung with its audio as an MP4 whose `moov` comes first, and the audio
//! alone as `.m4a`, remuxed without re-encoding: each decodes with the rendition's frame
//! count. `openvod serve` lists them on the asset and serves them with ranges and a
//! file name; anything it does not list is a 404.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const SECONDS: u32 = 8;

fn downloads_template(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fast_template(dir))
        .unwrap()
        .replace("downloads = false", "downloads = true");
    assert!(text.contains("downloads = true"));
    let path = dir.join("downloads.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// ffprobe's count of `stream` (`v:0`, `a:0`) packets in `file`, or `None` without one.
fn packets(file: &Path, stream: &str) -> Option<u64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Checks a downloaded MP4: `moov` before `mdat`, decodes cleanly, the frames of the
/// source (8 s at 25 fps) and the audio when `video` is set; the audio alone otherwise.
fn check_file(bytes: &[u8], video: bool) {
    let at = |name: &[u8]| bytes.windows(4).position(|w| w == name).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "moov first");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("download.mp4");
    std::fs::write(&file, bytes).unwrap();
    assert_eq!(decode_errors(&file), "", "the download decodes");
    if video {
        assert_eq!(packets(&file, "v:0"), Some(u64::from(SECONDS) * 25));
    } else {
        assert_eq!(packets(&file, "v:0"), None, "audio only");
    }
    let audio = packets(&file, "a:0").expect("an audio stream");
    // AAC at 48 kHz: 1024 samples a frame, and the encoder's priming frame.
    assert!((374..=378).contains(&audio), "{audio} AAC frames in 8 s");
}

#[test]
fn downloads_are_made_listed_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "clip.mp4", "640x360", 25, SECONDS, true, &[]);
    let template = downloads_template(dir.path());

    // openvod transcode: the files and their list beside the streams.
    let out = dir.path().join("out");
    let r = openvod(&[
        "transcode",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&r, "transcode with downloads");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let files: Vec<&str> = summary["downloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["360p.mp4", "audio.m4a"], "{summary}");
    check_file(
        &std::fs::read(out.join("downloads/360p.mp4")).unwrap(),
        true,
    );
    check_file(
        &std::fs::read(out.join("downloads/audio.m4a")).unwrap(),
        false,
    );

    // openvod serve: listed on the asset, served with a file name and ranges.
    let cfg = serve_config(dir.path(), "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &fast_template(dir.path()).display().to_string(),
        &template.display().to_string(),
    );
    std::fs::write(&cfg, text).unwrap();
    let s = start_service("serve", &cfg, &[]);
    let id = upload_as(&s.base, &src, "Holiday%20clip.mp4");
    let asset = wait_finished(&s.base, &id, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    let listed = asset["downloads"].as_array().expect("downloads listed");
    assert_eq!(listed.len(), 2, "{asset}");
    for d in listed {
        let url = format!("{}{}", s.base, d["url"].as_str().unwrap());
        let (status, headers, body) = curl_get(&url);
        assert_eq!(status, 200, "{url}");
        assert_eq!(body.len() as u64, d["bytes"].as_u64().unwrap());
        let video = d["kind"] == "video";
        let (kind, name) = if video {
            ("video/mp4", "Holiday_clip-360p.mp4")
        } else {
            ("audio/mp4", "Holiday_clip-audio.m4a")
        };
        assert!(
            headers.contains(&format!("content-type: {kind}")),
            "{headers}"
        );
        assert!(
            headers.contains(
                &format!("content-disposition: attachment; filename=\"{name}\"")
                    .to_ascii_lowercase()
            ),
            "{headers}"
        );
        check_file(&body, video);
        let range = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                "-r",
                "0-99",
            ])
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&range.stdout), "206 100");
    }
    for bad in [
        "nope.mp4",
        "..%2Fimages.json",
        "downloads.json",
        "360p.mov",
        "presentation.json",
    ] {
        let (status, _, _) = curl_get(&format!("{}/download/{id}/{bad}", s.base));
        assert_eq!(status, 404, "{bad}");
    }
}
