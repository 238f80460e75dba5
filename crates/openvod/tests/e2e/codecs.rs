//! Ladders in several codecs: `openvod transcode --codecs h264,hevc,av1` encodes the
//! template's rungs in each codec in one ffmpeg run and packages them as one
//! presentation. Chromium here cannot decode HEVC, so ffmpeg is the player that checks it
//! (the browser suite plays the H.264 and AV1 sets).

use std::path::Path;

use crate::common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ffprobe` of the first video stream: codec name, codec tag, profile and level.
fn video_codec(file: &Path) -> (String, String, String, String) {
    let text = probe_video(
        file,
        "stream=codec_name,codec_tag_string,profile,level",
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
        field("level"),
    )
}

#[test]
fn a_ladder_per_codec_gives_hevc_and_av1_rungs_beside_h264_in_one_presentation() {
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
        "h264,hevc,av1",
        "--json",
    ]);
    assert_ok(&r, "transcode --codecs h264,hevc,av1");
    assert_eq!(
        entries(&out),
        vec![
            "180p",
            "180p-av1",
            "180p-hevc",
            "360p",
            "360p-av1",
            "360p-hevc",
            "audio",
            "images.json",
            "manifest.mpd",
            "master.m3u8",
            "poster.jpg",
            "storyboard.jpg",
            "storyboard.vtt"
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
            ("360p-av1".to_string(), "av1".to_string(), 34),
            ("180p-av1".to_string(), "av1".to_string(), 34),
        ]
    );
    // The template's `superfast` is SVT-AV1's preset 12.
    assert_eq!(summary["plan"]["av1_preset"], 12);

    // The HEVC renditions are HEVC Main in hvc1 sample entries, decode cleanly, and cut
    // at the same instants as the H.264 ones.
    let h264 = concat_rendition(&out, "360p", dir.path());
    let hevc = concat_rendition(&out, "360p-hevc", dir.path());
    let (codec, tag, profile, hevc_level) = video_codec(&hevc);
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
    // The AV1 renditions likewise: Main profile in av01 sample entries, closed GOPs on
    // the same instants.
    let av1 = concat_rendition(&out, "360p-av1", dir.path());
    let (codec, tag, profile, av1_level) = video_codec(&av1);
    assert_eq!((codec.as_str(), tag.as_str()), ("av1", "av01"));
    assert_eq!(profile, "Main");
    assert_eq!(decode_errors(&av1), "", "the AV1 rendition decodes cleanly");
    assert_eq!(keyframe_times(&av1), keyframe_times(&h264));

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
    assert_eq!(codecs.len(), 6, "{codecs:?}");
    for (uri, c) in &codecs {
        let (video, audio) = c.split_once(',').expect("video and audio codecs");
        assert_eq!(audio, "mp4a.40.2", "{uri}");
        if uri.contains("-hevc") {
            assert!(video.starts_with("hvc1.1.6.L"), "{uri}: {c}");
        } else if uri.contains("-av1") {
            assert!(video.starts_with("av01.0."), "{uri}: {c}");
        } else {
            assert!(video.starts_with("avc1."), "{uri}: {c}");
        }
    }
    // The codec strings say what ffprobe reads from the bitstreams: HEVC's general
    // level, and AV1's Main profile, seq_level_idx, Main tier and 8 bits.
    let of = |name: &str| {
        codecs
            .iter()
            .find(|(uri, _)| uri.starts_with(&format!("{name}/")))
            .map(|(_, c)| c.split(',').next().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(
        of("360p-hevc")
            .rsplit_once(".L")
            .unwrap()
            .1
            .split('.')
            .next(),
        Some(hevc_level.as_str())
    );
    let level: u32 = av1_level.parse().expect("ffprobe's AV1 level");
    assert_eq!(of("360p-av1"), format!("av01.0.{level:02}M.08"));
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
    assert_eq!(iframes.iter().filter(|c| c.starts_with("av01")).count(), 2);

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
    assert_eq!(sets.len(), 3, "{sets:?}");
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

#[test]
fn av1_pictures_under_64_pixels_are_refused_before_any_encode() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "96x48", 25, 1, false, &[]);
    let out = dir.path().join("out");
    let r = openvod(&["transcode", s(&src), "--out", s(&out), "--codecs", "av1"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("96x48") && err.contains("at least 64 pixels"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn an_encoder_missing_from_ffmpeg_is_named_before_any_encode() {
    // An ffmpeg that is this machine's, except that `-encoders` leaves libsvtav1 out, as
    // a build without SVT-AV1 would; it also notes every other run.
    let dir = tempfile::tempdir().unwrap();
    let (bin, runs) = ffmpeg_lacking(dir.path(), "libsvtav1");
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 1, false, &[]);
    let out = dir.path().join("out");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_openvod"))
        .args([
            "transcode",
            s(&src),
            "--out",
            s(&out),
            "--codecs",
            "h264,av1",
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("no libsvtav1 encoder") && err.contains("180p-av1"),
        "{err}"
    );
    assert!(!runs.exists(), "ffmpeg ran an encode");
    assert!(!out.exists());
}

#[test]
fn a_10_bit_source_gets_main10_hevc_rungs_when_the_template_allows_them() {
    let dir = tempfile::tempdir().unwrap();
    // A 10-bit source (H.264 High 10).
    let src = make_source(
        dir.path(),
        "src.mp4",
        "320x180",
        25,
        2,
        false,
        &["-pix_fmt", "yuv420p10le", "-profile:v", "high10"],
    );
    let template = dir.path().join("ten.toml");
    std::fs::write(
        &template,
        r#"
name = "ten"
[video]
preset = "superfast"
codecs = ["h264", "hevc"]
hevc_main10 = true
rungs = [{ name = "180p", height = 180, max_bitrate = 300_000 }]
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
    ]);
    assert_ok(&r, "transcode a 10-bit source");
    // HEVC is Main10 in 10-bit 4:2:0, H.264 stays 8-bit High, and both decode cleanly.
    let hevc = concat_rendition(&out, "180p-hevc", dir.path());
    let h264 = concat_rendition(&out, "180p", dir.path());
    assert_eq!(video_codec(&hevc).2, "Main 10");
    assert_eq!(video_codec(&h264).2, "High");
    let pix = |f: &Path| {
        probe_video(f, "stream=pix_fmt", "csv=p=0")
            .trim()
            .to_string()
    };
    assert_eq!(pix(&hevc), "yuv420p10le");
    assert_eq!(pix(&h264), "yuv420p");
    assert_eq!(decode_errors(&hevc), "");
    // The codec string names the Main10 profile (general_profile_idc 2).
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("CODECS=\"hvc1.2.4.L"), "{master}");
    // Without `hevc_main10` the same source gives 8-bit Main.
    let plain = dir.path().join("plain.toml");
    std::fs::write(
        &plain,
        std::fs::read_to_string(&template)
            .unwrap()
            .replace("hevc_main10 = true\n", ""),
    )
    .unwrap();
    let out8 = dir.path().join("out8");
    assert_ok(
        &openvod(&[
            "transcode",
            s(&src),
            "--out",
            s(&out8),
            "--template",
            s(&plain),
        ]),
        "transcode without Main10",
    );
    let cat8 = dir.path().join("cat8");
    std::fs::create_dir(&cat8).unwrap();
    let hevc8 = concat_rendition(&out8, "180p-hevc", &cat8);
    assert_eq!(video_codec(&hevc8).2, "Main");
}
