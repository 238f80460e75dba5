//! Lip sync measured on the content: a white flash and a tone burst at the same instant
//! in the source must still coincide when ffmpeg plays the packaged output.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// First presentation time at which the picture turns bright, by `signalstats`.
fn flash_time(manifest: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(manifest)
        .args([
            "-map",
            "0:v:0",
            "-vf",
            "signalstats,metadata=print:key=lavfi.signalstats.YAVG",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let mut time = None;
    for line in log.lines() {
        if let Some(rest) = line.split("pts_time:").nth(1) {
            time = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok());
        }
        if let Some(v) = line.split("lavfi.signalstats.YAVG=").nth(1) {
            if v.trim().parse::<f64>().unwrap_or(0.0) > 128.0 {
                return time.expect("a frame time before its stats");
            }
        }
    }
    panic!("no flash found in {}:\n{log}", manifest.display());
}

/// First instant the audio rises above -30 dB, by `silencedetect`.
pub(crate) fn beep_time(manifest: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(manifest)
        .args([
            "-map",
            "0:a:0",
            "-af",
            "silencedetect=n=-30dB:d=0.05",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    log.lines()
        .find_map(|l| {
            l.split("silence_end: ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no tone found in {}:\n{log}", manifest.display()))
}

#[test]
fn flash_and_tone_stay_together() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("sync.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i",
        "color=black:size=640x360:rate=30:duration=7,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,3,3.2)'",
        "-f", "lavfi", "-i", "aevalsrc='if(between(t,3,3.2),0.5*sin(2*PI*1000*t),0)':s=48000:d=7",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        src.to_str().unwrap(),
    ]);
    let source_gap = flash_time(&src) - beep_time(&src);
    assert!(
        source_gap.abs() < 0.025,
        "the source itself is in sync: {source_gap}"
    );
    let template = fast_template(dir.path());
    let out = dir.path().join("out");
    let r = openvod(&[
        "transcode",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
    ]);
    assert_ok(&r, "transcode");
    let out = out.canonicalize().unwrap();
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let m = out.join(manifest);
        let (flash, beep) = (flash_time(&m), beep_time(&m));
        assert!(
            (flash - beep).abs() < 0.025,
            "{manifest}: flash at {flash} s, tone at {beep} s"
        );
        // And both where they were in the source, give or take the common start offset.
        assert!((flash - 3.0).abs() < 0.1, "{manifest}: flash at {flash} s");
    }
}
