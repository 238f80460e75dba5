//! Damaged MP4 files never make the packager panic or allocate without bound: every
//! truncation point and thousands of byte flips of real files give either a clean result
//! or a typed error.

use std::process::Command;

use openvod_media::crypt::subsample_counts;
use openvod_media::{
    read_tracks, Copy, CopyKeys, Kid, Limits, Made, Packaging, Presentation, Rendition,
    RenditionKeys, RenditionName, SegmentLength, TrackKind,
};

fn make(dir: &std::path::Path, name: &str, movflags: &str) -> Vec<u8> {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x90:rate=25:duration=3",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "25",
        ])
        .args(["-c:a", "aac", "-movflags", movflags])
        .arg(&path)
        .output()
        .expect("ffmpeg is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}

/// Reads and packages `bytes` entirely in memory, every object of every copy; any
/// outcome but a panic is fine.
fn exercise(bytes: &[u8]) -> bool {
    let limits = Limits {
        max_samples: 100_000,
        ..Limits::default()
    };
    let Ok(tracks) = read_tracks(bytes, &limits) else {
        return false;
    };
    let renditions: Vec<Rendition> = tracks
        .into_iter()
        .enumerate()
        .map(|(i, mut track)| {
            if track.kind == TrackKind::Video {
                track.subsamples = subsample_counts(&track, bytes).ok();
            }
            Rendition {
                name: RenditionName::new(&format!("r{i}")).unwrap(),
                source: 0,
                track,
            }
        })
        .collect();
    let count = renditions.len();
    let Ok(p) = Presentation::new(
        renditions,
        Packaging {
            copies: Copy::ALL.to_vec(),
            clear_lead_seconds: 1.0,
            ..Packaging::default()
        },
        SegmentLength::Template,
    ) else {
        return false;
    };
    let key = openvod_media::ContentKey {
        kid: Kid([7; 16]),
        key: [9; 16],
    };
    for copy in p.copies().collect::<Vec<_>>() {
        let keys = CopyKeys {
            copy,
            renditions: (0..count)
                .map(|_| RenditionKeys {
                    key: key.clone(),
                    iv: [3; 16],
                    systems: Vec::new(),
                })
                .collect(),
            aes128_key_uri: None,
        };
        for path in p.objects(copy) {
            if let Ok(Made::Segment(segment)) = p.make(&keys, &path) {
                let mut out = Vec::new();
                if segment.write(bytes, &mut out).is_ok() {
                    assert_eq!(out.len() as u64, segment.len(), "{path}");
                }
            }
        }
    }
    true
}

/// xorshift64: deterministic mutations without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn truncations_and_byte_flips_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for (name, flags) in [
        ("frag.mp4", "+frag_keyframe+empty_moov+default_base_moof"),
        ("prog.mp4", "+faststart"),
    ] {
        let original = make(dir.path(), name, flags);
        assert!(exercise(&original), "{name}: the intact file packages");
        // Every truncation point within the boxes, and a spread through the data.
        let step = (original.len() / 2000).max(1);
        for len in (0..original.len())
            .step_by(step)
            .chain(0..600.min(original.len()))
        {
            exercise(&original[..len]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..6000 {
            let mut bytes = original.clone();
            // Damage the first 4 KiB (the boxes) most of the time.
            for _ in 0..1 + next(&mut state) % 4 {
                let span = if next(&mut state).is_multiple_of(4) {
                    bytes.len()
                } else {
                    4096.min(bytes.len())
                };
                let at = (next(&mut state) % span as u64) as usize;
                bytes[at] = next(&mut state) as u8;
            }
            exercise(&bytes);
        }
    }
}
