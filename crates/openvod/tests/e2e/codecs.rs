//! Ladders in several codecs: `openvod transcode --codecs h264,hevc` encodes the
//! template's rungs in each codec in one ffmpeg run and packages them as one
//! presentation. Chromium here cannot decode HEVC, so ffmpeg is the player that checks it.

use std::path::Path;

use crate::common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ffprobe` of the first video stream: codec name, codec tag and profile.
fn video_codec(file: &Path) -> (String, String, String) {
    let text = probe_video(
        file,
        "stream=codec_name,codec_tag_string,profile",
        "default=noprint_wrappers=1",
    );
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    (
        field("codec_name"),
        field("codec_tag_string"),
        field("profile"),
    )
}

#[test]
fn a_ladder_per_codec_gives_hevc_rungs_beside_h264_in_one_presentation() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "640x360", 25, 4, true, &[]);
    let template = dir.path().join("small.toml");
    std::fs::write(
        &template,
        r#"
name = "small"
[video]
preset = "superfast"
rungs = [
  { name = "360p", height = 360, max_bitrate = 800_000 },
  { name = "180p", height = 180, max_bitrate = 300_000 },
]
[audio]
[packaging]
segment_seconds = 2.0
fragment_seconds = 2.0
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = openvod(&[
        "transcode",
        s(&src),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--codecs",
        "h264,hevc",
        "--json",
    ]);
    assert_ok(&r, "transcode --codecs h264,hevc");
    assert_eq!(
        entries(&out),
        vec![
            "180p",
            "180p-hevc",
            "360p",
            "360p-hevc",
            "audio",
            "manifest.mpd",
            "master.m3u8"
        ]
    );
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let planned: Vec<(String, String, u64)> = summary["plan"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["codec"].as_str().unwrap().to_string(),
                r["crf"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        vec![
            ("360p".to_string(), "h264".to_string(), 22),
            ("180p".to_string(), "h264".to_string(), 22),
            ("360p-hevc".to_string(), "hevc".to_string(), 27),
            ("180p-hevc".to_string(), "hevc".to_string(), 27),
        ]
    );

    // The HEVC renditions are HEVC Main in hvc1 sample entries, decode cleanly, and cut
    // at the same instants as the H.264 ones.
    let h264 = concat_rendition(&out, "360p", dir.path());
    let hevc = concat_rendition(&out, "360p-hevc", dir.path());
    let (codec, tag, profile) = video_codec(&hevc);
    assert_eq!((codec.as_str(), tag.as_str()), ("hevc", "hvc1"));
    assert_eq!(profile, "Main");
    assert_eq!(video_codec(&h264).0, "h264");
    assert_eq!(
        decode_errors(&hevc),
        "",
        "the HEVC rendition decodes cleanly"
    );
    assert_eq!(keyframe_times(&hevc), keyframe_times(&h264));
    assert_eq!(keyframe_times(&hevc).len(), 2, "2 s GOPs over 4 s");

    // HLS: a variant per rendition with its full CODECS, all sharing the audio group, and
    // an I-frame variant per video rendition of each codec.
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let m = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    let mut codecs: Vec<(String, String)> = m
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| (v.uri.clone(), v.codecs.clone().unwrap_or_default()))
        .collect();
    codecs.sort();
    assert_eq!(codecs.len(), 4, "{codecs:?}");
    for (uri, c) in &codecs {
        let (video, audio) = c.split_once(',').expect("video and audio codecs");
        assert_eq!(audio, "mp4a.40.2", "{uri}");
        if uri.contains("-hevc") {
            assert!(video.starts_with("hvc1.1.6.L"), "{uri}: {c}");
        } else {
            assert!(video.starts_with("avc1."), "{uri}: {c}");
        }
    }
    let groups: Vec<Option<String>> = m
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| v.audio.clone())
        .collect();
    assert!(groups.iter().all(|g| g.is_some() && *g == groups[0]));
    let iframes: Vec<&str> = m
        .variants
        .iter()
        .filter(|v| v.is_i_frame)
        .filter_map(|v| v.codecs.as_deref())
        .collect();
    assert_eq!(iframes.iter().filter(|c| c.starts_with("hvc1")).count(), 2);
    assert_eq!(iframes.iter().filter(|c| c.starts_with("avc1")).count(), 2);

    // DASH: one AdaptationSet per codec, not declared switchable with each other.
    let text = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    let mpd = dash_mpd_core::parse(&text).expect("the MPD parses");
    let sets: Vec<Vec<String>> = mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("video"))
        .map(|a| {
            a.representations
                .iter()
                .map(|r| r.codecs.clone().unwrap_or_default())
                .collect()
        })
        .collect();
    assert_eq!(sets.len(), 2, "{sets:?}");
    for set in &sets {
        let family = set[0].split('.').next().unwrap();
        assert!(set.iter().all(|c| c.starts_with(family)), "{sets:?}");
        assert_eq!(set.len(), 2);
    }
    assert!(
        !text.contains("adaptation-set-switching"),
        "sets of different codecs are not switchable"
    );
}

#[test]
fn an_unknown_codec_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 2, false, &[]);
    let r = openvod(&[
        "transcode",
        s(&src),
        "--out",
        s(&dir.path().join("out")),
        "--codecs",
        "h264,vp9",
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("vp9"), "{err}");
    assert!(!dir.path().join("out").exists());
}
