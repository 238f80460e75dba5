//! `openvod transcode` end to end on a 1080p source: the ladder, the manifests, and what
//! independent readers make of them.

use std::path::Path;

use crate::common::*;
use mp4_atom::{Codec, Decode};

struct Transcoded {
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
    work: std::path::PathBuf,
}

/// Transcodes one 1080p source (shared by the tests of this file).
fn transcoded() -> &'static Transcoded {
    static ONCE: std::sync::OnceLock<Transcoded> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = make_source(dir.path(), "src.mp4", "1920x1080", 30, 9, true, &[]);
        let template = fast_template(dir.path());
        let out = dir.path().join("out");
        let result = openvod(&[
            "transcode",
            src.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
            "--json",
        ]);
        assert_ok(&result, "openvod transcode");
        let summary: serde_json::Value =
            serde_json::from_slice(&result.stdout).expect("--json prints JSON");
        assert_eq!(
            summary["renditions"].as_array().map(Vec::len),
            Some(5),
            "{summary}"
        );
        assert!(summary["cpu_seconds"].as_f64().unwrap() > 0.0);
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        Transcoded {
            out,
            work,
            _dir: dir,
        }
    })
}

#[test]
fn ffmpeg_decodes_both_manifests_without_error() {
    let t = transcoded();
    // ffmpeg's DASH demuxer resolves relative segment URLs wrongly from a relative MPD
    // path, so both are given absolute paths.
    let out = t.out.canonicalize().unwrap();
    assert_eq!(decode_errors(&out.join("master.m3u8")), "");
    assert_eq!(decode_errors(&out.join("manifest.mpd")), "");
}

#[test]
fn ladder_has_four_rungs_and_audio_in_both_manifests() {
    let t = transcoded();
    let master = std::fs::read(t.out.join("master.m3u8")).unwrap();
    let master = match m3u8_rs::parse_master_playlist_res(&master) {
        Ok(m) => m,
        Err(e) => panic!("master.m3u8: {e:?}"),
    };
    let (iframes, variants): (Vec<_>, Vec<_>) = master.variants.iter().partition(|v| v.is_i_frame);
    assert_eq!(iframes.len(), 4, "one I-frame playlist per rung");
    let sizes: Vec<(u64, u64)> = variants
        .iter()
        .map(|v| v.resolution.map(|r| (r.width, r.height)).unwrap())
        .collect();
    assert_eq!(
        sizes,
        vec![(1920, 1080), (1280, 720), (960, 540), (640, 360)]
    );
    for v in &variants {
        assert!(v.codecs.as_deref().unwrap().ends_with(",mp4a.40.2"));
        assert!(v.average_bandwidth.unwrap() <= v.bandwidth);
        assert_eq!(v.frame_rate, Some(30.0));
        assert_eq!(v.audio.as_deref(), Some("audio0"));
    }
    assert_eq!(master.alternatives.len(), 1);
    let text = String::from_utf8(std::fs::read(t.out.join("master.m3u8")).unwrap()).unwrap();
    assert!(text.contains("#EXT-X-VERSION:7") && text.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
    assert_eq!(text.matches("#EXT-X-I-FRAME-STREAM-INF").count(), 4);

    let mpd = std::fs::read_to_string(t.out.join("manifest.mpd")).unwrap();
    let mpd = dash_mpd_core::parse(&mpd).expect("manifest.mpd parses");
    let sets = &mpd.periods[0].adaptations;
    assert_eq!(
        sets.iter()
            .map(|a| a.contentType.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["video", "audio", "image"],
        "one AdaptationSet per media type, and the storyboard's"
    );
    assert_eq!(
        sets[0].segmentAlignment,
        Some(true),
        "renditions of one encode are aligned"
    );
    let video: Vec<(u64, u64)> = sets[0]
        .representations
        .iter()
        .map(|r| (r.width.unwrap(), r.height.unwrap()))
        .collect();
    assert_eq!(
        video,
        vec![(1920, 1080), (1280, 720), (960, 540), (640, 360)]
    );
    for r in sets
        .iter()
        .filter(|s| s.contentType.as_deref() != Some("image"))
        .flat_map(|s| &s.representations)
    {
        assert!(r.bandwidth.unwrap() > 0);
        assert!(r.codecs.is_some());
        let st = r
            .SegmentTemplate
            .as_ref()
            .expect("SegmentTemplate per Representation");
        assert!(st.SegmentTimeline.is_some());
    }
}

#[test]
fn keyframes_line_up_across_renditions() {
    let t = transcoded();
    let mut all = Vec::new();
    for name in ["1080p", "720p", "540p", "360p"] {
        let file = concat_rendition(&t.out, name, &t.work);
        all.push((name, keyframe_times(&file)));
    }
    let (_, first) = &all[0];
    assert!(first.len() >= 5, "9 s in 2 s GOPs: {first:?}");
    for (name, times) in &all[1..] {
        assert_eq!(times, first, "{name} keyframes differ from 1080p");
    }
    // 2 s GOPs: consecutive keyframes are 2 s apart.
    for w in first.windows(2) {
        assert!((w[1] - w[0] - 2.0).abs() < 0.04, "{first:?}");
    }
}

#[test]
fn segment_durations_match_the_target_within_one_gop() {
    let t = transcoded();
    for name in ["1080p", "360p", "audio"] {
        let bytes = std::fs::read(t.out.join(name).join("index.m3u8")).unwrap();
        let p = m3u8_rs::parse_media_playlist_res(&bytes).unwrap();
        assert_eq!(p.target_duration, 4);
        let n = p.segments.len();
        assert_eq!(n, 3, "9 s in 4 s segments");
        for (i, s) in p.segments.iter().enumerate() {
            let d = f64::from(s.duration);
            assert!(d <= 4.0 + 2.0, "{name} segment {i}: {d}");
            if i + 1 < n {
                assert!((d - 4.0).abs() <= 2.0, "{name} segment {i}: {d}");
            }
        }
        let total: f64 = p.segments.iter().map(|s| f64::from(s.duration)).sum();
        assert!((total - 9.0).abs() < 0.1, "{name}: {total}");
    }
}

/// The codec string an H.264 SPS calls for (RFC 6381, 3.3): profile_idc, the constraint
/// byte and level_idc in hex.
fn codecs_from_init(init: &Path) -> String {
    let bytes = std::fs::read(init).unwrap();
    let mut buf = &bytes[..];
    let _ftyp = mp4_atom::Ftyp::decode(&mut buf).unwrap();
    let moov = mp4_atom::Moov::decode(&mut buf).unwrap();
    match &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] {
        Codec::Avc1(avc1) => {
            let sps = &avc1.avcc.sequence_parameter_sets[0];
            assert_eq!(sps[0] & 0x1f, 7, "an SPS NAL unit");
            format!("avc1.{:02x}{:02x}{:02x}", sps[1], sps[2], sps[3])
        }
        other => panic!("unexpected sample entry {other:?}"),
    }
}

#[test]
fn codecs_strings_match_the_sps() {
    let t = transcoded();
    let master = std::fs::read(t.out.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    for v in master.variants.iter().filter(|v| !v.is_i_frame) {
        let name = v.uri.split('/').next().unwrap();
        let expected = codecs_from_init(&t.out.join(name).join("init.mp4"));
        let codecs = v.codecs.as_deref().unwrap();
        assert_eq!(codecs.split(',').next().unwrap(), expected, "{name}");
        assert!(expected.starts_with("avc1.64"), "High profile: {expected}");
    }
}

#[test]
fn iframe_byte_ranges_point_at_keyframes() {
    let t = transcoded();
    for name in ["1080p", "360p"] {
        let dir = t.out.join(name);
        let text = std::fs::read_to_string(dir.join("iframes.m3u8")).unwrap();
        assert!(text.contains("#EXT-X-I-FRAMES-ONLY"));
        let p = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert!(p.i_frames_only);
        assert!(p.segments.len() >= 5);
        for s in &p.segments {
            let range = s.byte_range.as_ref().expect("byte range");
            let offset = range.offset.expect("explicit offset") as usize;
            let bytes = std::fs::read(dir.join(&s.uri)).unwrap();
            let slice = &bytes[offset..offset + range.length as usize];
            // The range starts with a moof whose first sample is a sync sample, and ends
            // exactly where that sample's data ends in the mdat that follows.
            let mut buf = slice;
            let moof = mp4_atom::Moof::decode(&mut buf).expect("range starts with a moof");
            let traf = &moof.traf[0];
            let trun = &traf.trun[0];
            let first = trun.samples.iter().next().unwrap();
            let flags = first.flags.or(traf.tfhd.default_sample_flags).unwrap();
            assert_eq!(flags & 0x0001_0000, 0, "first sample is a sync sample");
            let size = first.size.unwrap() as usize;
            assert_eq!(&buf[4..8], b"mdat");
            assert_eq!(buf.len(), 8 + size, "range ends with the first sample");
            // And the sample holds an IDR slice (NAL type 5), 4-byte length prefixed.
            let mut pos = 8;
            let mut idr = false;
            while pos + 4 <= buf.len() {
                let n = u32::from_be_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
                idr |= buf.get(pos + 4).is_some_and(|h| h & 0x1f == 5);
                pos += 4 + n;
            }
            assert!(idr, "{name} {}@{offset}: no IDR slice", range.length);
        }
    }
}

#[test]
fn audio_and_video_start_together() {
    let t = transcoded();
    let video = start_time(&concat_rendition(&t.out, "720p", &t.work));
    let audio = start_time(&concat_rendition(&t.out, "audio", &t.work));
    assert!(
        (video - audio).abs() < 0.001,
        "video {video} s, audio {audio} s"
    );
}
