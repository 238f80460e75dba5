//! Subtitles and captions end to end: a source with an MP4 timed-text stream, a WebVTT
//! sidecar and a SubRip caption sidecar come out as WebVTT, cut on the segments for HLS
//! and whole for DASH, with their languages, kinds and cue times; a malformed file is
//! refused with its line, and cues after the video's end are dropped with a warning.

use std::path::{Path, PathBuf};

use crate::common::*;

const SECONDS: u32 = 10;

/// A 10 s source whose MP4 timed-text stream (French) says "Bonjour" at 1-2 s and
/// "Au revoir" at 6.5-7.5 s, and whose second one (German) shows only after the end.
fn with_timed_text(dir: &Path) -> PathBuf {
    let srt = dir.join("embedded.srt");
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:02,000\nBonjour\n\n2\n00:00:06,500 --> 00:00:07,500\nAu revoir\n",
    )
    .unwrap();
    // A German stream whose only cue is after the video's end.
    let late = dir.join("late.srt");
    std::fs::write(&late, "1\n00:00:15,000 --> 00:00:16,000\nzu spät\n").unwrap();
    let late_arg = late.to_str().unwrap().to_string();
    let video = format!("testsrc2=size=320x180:rate=25:duration={SECONDS}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}");
    let srt_arg = srt.to_str().unwrap().to_string();
    let args = vec![
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &tone,
        "-i",
        &srt_arg,
        "-i",
        &late_arg,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-map",
        "3:s",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-c:s",
        "mov_text",
        "-metadata:s:s:0",
        "language=fra",
        "-metadata:s:s:1",
        "language=deu",
    ];
    made_source(dir, "timed-text.mp4", &args)
}

/// The cues of a WebVTT file as (start, end, text), times in ms.
pub(crate) fn cues(vtt: &str) -> Vec<(u64, u64, String)> {
    let ms = |t: &str| -> u64 {
        let (clock, frac) = t.split_once('.').unwrap();
        let parts: Vec<u64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
        (parts[0] * 3600 + parts[1] * 60 + parts[2]) * 1000 + frac.parse::<u64>().unwrap()
    };
    vtt.split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines();
            let timing = lines.next()?;
            let (a, b) = timing.split_once(" --> ")?;
            let b = b.split(' ').next()?;
            Some((ms(a), ms(b), lines.collect::<Vec<_>>().join("\n")))
        })
        .collect()
}

#[test]
fn embedded_and_sidecar_text_become_webvtt_tracks_in_both_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let src = with_timed_text(dir.path());
    let vtt = dir.path().join("spanish.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\n00:00:03.000 --> 00:00:05.000 line:10%\nHola & <i>adiós</i>\n\n00:00:09.500 --> 00:00:12.000\nruns past the end\n\n00:00:11.000 --> 00:00:12.000\nafter the end\n",
    )
    .unwrap();
    let srt = dir.path().join("english.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\n[door slams]\n").unwrap();
    let es = format!("es={}", vtt.display());
    let en = format!("en={}", srt.display());
    let (result, out) = transcode_fast(dir.path(), &src, &["--subtitles", &es, "--captions", &en]);
    assert_ok(&result, "openvod transcode with subtitles");
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let warnings = summary["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["code"] == "cues_past_end"
            && w["message"]
                .as_str()
                .unwrap()
                .contains("1 cue(s) of subs-es")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w["code"] == "stream_not_carried"
            && w["message"]
                .as_str()
                .unwrap()
                .contains("subs-de is not in the output: it has no cue within the video")),
        "{warnings:?}"
    );

    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let subs: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES"))
        .collect();
    assert_eq!(subs.len(), 3, "{master}");
    for (line, want) in subs.iter().zip([
        (
            "NAME=\"French\"",
            "LANGUAGE=\"fr\"",
            "URI=\"subs-fr/index.m3u8\"",
        ),
        (
            "NAME=\"Spanish\"",
            "LANGUAGE=\"es\"",
            "URI=\"subs-es/index.m3u8\"",
        ),
        (
            "NAME=\"English (CC)\"",
            "LANGUAGE=\"en\"",
            "URI=\"cc-en/index.m3u8\"",
        ),
    ]) {
        for w in [want.0, want.1, want.2, "FORCED=NO"] {
            assert!(line.contains(w), "{w} in {line}");
        }
    }
    assert!(subs[2].contains("CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog"));
    assert!(master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .all(|l| l.contains("SUBTITLES=\"subs\"")));
    m3u8_rs::parse_master_playlist_res(master.as_bytes()).expect("master.m3u8 parses");

    // HLS: every segment is WebVTT with the timestamp map; the cues land in the
    // segments they show in, at their times.
    let playlist = std::fs::read(out.join("subs-fr/index.m3u8")).unwrap();
    let playlist = m3u8_rs::parse_media_playlist_res(&playlist).expect("a media playlist");
    let first_variant = master
        .lines()
        .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF"))
        .nth(1)
        .unwrap();
    let video = m3u8_rs::parse_media_playlist_res(&std::fs::read(out.join(first_variant)).unwrap())
        .expect("the video playlist");
    assert_eq!(playlist.segments.len(), video.segments.len());
    let mut all = Vec::new();
    for seg in &playlist.segments {
        let text = std::fs::read_to_string(out.join("subs-fr").join(&seg.uri)).unwrap();
        assert!(
            text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:"),
            "{text}"
        );
        all.extend(cues(&text));
    }
    all.dedup();
    assert_eq!(
        all,
        [
            (1000, 2000, "Bonjour".to_string()),
            (6500, 7500, "Au revoir".to_string())
        ]
    );

    // DASH: a text AdaptationSet per track, its file whole.
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    dash_mpd_core::parse(&mpd).expect("manifest.mpd parses");
    for (lang, role, file) in [
        ("fr", "subtitle", "subs-fr/all.vtt"),
        ("es", "subtitle", "subs-es/all.vtt"),
        ("en", "caption", "cc-en/all.vtt"),
    ] {
        let at = mpd
            .find(&format!("contentType=\"text\" mimeType=\"text/vtt\" segmentAlignment=\"true\" startWithSAP=\"1\" lang=\"{lang}\""))
            .unwrap_or_else(|| panic!("a {lang} text set in {mpd}"));
        let set = &mpd[at..at + mpd[at..].find("</AdaptationSet>").unwrap()];
        assert!(set.contains(&format!("value=\"{role}\"")), "{set}");
        assert!(set.contains(&format!("<BaseURL>{file}</BaseURL>")), "{set}");
    }
    let spanish = std::fs::read_to_string(out.join("subs-es/all.vtt")).unwrap();
    assert_eq!(
        cues(&spanish),
        [
            (3000, 5000, "Hola & <i>adiós</i>".to_string()),
            (9500, 10_000, "runs past the end".to_string())
        ],
        "the cue past the end is dropped and the one across it cut: {spanish}"
    );
    assert!(spanish.contains("00:00:03.000 --> 00:00:05.000 line:10%"));
    let english = std::fs::read_to_string(out.join("cc-en/all.vtt")).unwrap();
    assert_eq!(cues(&english), [(500, 1500, "[door slams]".to_string())]);
}

#[test]
fn a_malformed_subtitle_file_is_refused_with_its_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 4, true, &[]);
    let srt = dir.path().join("broken.srt");
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 --> 00:00:0x,000\nbroken\n",
    )
    .unwrap();
    let arg = format!("de={}", srt.display());
    let (result, out) = transcode_fast(dir.path(), &src, &["--subtitles", &arg]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("broken.srt: line 6:") && stderr.contains("not a time"),
        "{stderr}"
    );
    assert!(!out.exists(), "no output folder after a refused job");
    // A file that is not a subtitle format, and a language that is none.
    let png = dir.path().join("subs.png");
    std::fs::write(&png, b"x").unwrap();
    let arg = format!("de={}", png.display());
    let (result, _) = transcode_fast(dir.path(), &src, &["--subtitles", &arg]);
    assert!(String::from_utf8_lossy(&result.stderr).contains(".vtt (WebVTT) or .srt (SubRip)"));
    let arg = format!("klingon={}", srt.display());
    let (result, _) = transcode_fast(dir.path(), &src, &["--subtitles", &arg]);
    assert!(String::from_utf8_lossy(&result.stderr).contains("not an ISO 639 language code"));
}
