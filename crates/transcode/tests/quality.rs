//! Comparing with reference frames written once gives the scores that comparing with the
//! decoded source gives: the per-title analysis relies on it to decode its excerpts once.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use openvod_transcode::quality::{self, Comparison, Excerpt, Reference, ReferenceFrames};
use openvod_transcode::SourceFile;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn reference_frames_score_as_the_source_does() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=6,noise=alls=12:allf=t",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-g",
        "25",
        s(&source),
    ]);
    let source = SourceFile::open(&source).unwrap();
    let reference = Reference {
        source: &source,
        stream_index: 0,
        excerpts: vec![
            Excerpt {
                start: 1.0,
                duration: 1.0,
            },
            Excerpt {
                start: 4.0,
                duration: 1.0,
            },
        ],
        frame_rate: Some((25, 1)),
        deinterlace: false,
    };
    // Two encodes of the excerpts: one at the display size, one smaller, each with its
    // own losses.
    let mut distorted = Vec::new();
    for (name, size, crf) in [("big", "320x180", "30"), ("small", "160x90", "24")] {
        let path = dir.path().join(format!("{name}.mp4"));
        ffmpeg(&[
            "-ss",
            "1",
            "-t",
            "1",
            "-i",
            s(source.path()),
            "-ss",
            "4",
            "-t",
            "1",
            "-i",
            s(source.path()),
            "-filter_complex",
            &format!("[0:0][1:0]concat=n=2:v=1:a=0,scale={size}[v]"),
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-crf",
            crf,
            s(&path),
        ]);
        distorted.push(SourceFile::open(&path).unwrap());
    }
    let frames = ReferenceFrames {
        path: dir.path().join("reference.nut"),
        width: 320,
        height: 180,
        frame_step: 7,
    };
    let deadline = Duration::from_secs(120);
    quality::write_frames(&reference, &frames, deadline).unwrap();
    // 50 frames, every 7th: 8 of them, raw 4:2:0.
    let bytes = std::fs::metadata(&frames.path).unwrap().len();
    assert!(
        bytes >= frames.bytes_for(50) && bytes < frames.bytes_for(50) + 4096,
        "{bytes} bytes of reference frames"
    );
    let from_frames = quality::compare_with_frames(&frames, &distorted, deadline).unwrap();
    let how = Comparison {
        width: 320,
        height: 180,
        frame_step: 7,
        psnr: false,
    };
    let from_source = quality::compare(&reference, &distorted, how, deadline).unwrap();
    assert_eq!(from_frames, from_source);
    for q in &from_frames {
        assert!(q.score > 0.0 && q.score < 100.0, "{q:?}");
    }
    // Every frame compared gives another figure: the step is applied.
    let every = Comparison {
        frame_step: 1,
        ..how
    };
    let all = quality::compare(&reference, &distorted, every, deadline).unwrap();
    assert_ne!(all, from_source);
}
