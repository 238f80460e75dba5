//! CEA-608 captions in the picture: a source whose H.264 carries ATSC A/53 caption data
//! in its SEI keeps its captions through the encode, in every H.264 rung, and the
//! manifests say so (HLS `CLOSED-CAPTIONS` with `INSTREAM-ID="CC1"`, DASH
//! `Accessibility` in the `urn:scte:dash:cc:cea-608:2015` scheme), for packaging ahead of
//! time and on request alike; ffmpeg reads the caption text back from the output.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A CEA-608 byte with its odd parity bit (CEA-608, 3.2).
fn parity(b: u8) -> u8 {
    let b = b & 0x7F;
    if b.count_ones().is_multiple_of(2) {
        b | 0x80
    } else {
        b
    }
}

/// The field-1 byte pairs of a pop-on caption: erase, resume caption loading, a row 15
/// preamble, the text, then end of caption (which shows it). Control codes are sent
/// twice, as broadcasters do.
fn pop_on(text: &str) -> Vec<(u8, u8)> {
    let mut pairs = vec![(0x14, 0x2E), (0x14, 0x2E), (0x14, 0x20), (0x14, 0x20)];
    pairs.extend([(0x14, 0x70), (0x14, 0x70)]);
    let mut chars: Vec<u8> = text.bytes().collect();
    if !chars.len().is_multiple_of(2) {
        chars.push(0);
    }
    pairs.extend(chars.chunks(2).map(|c| (c[0], c[1])));
    pairs.extend([(0x14, 0x2F), (0x14, 0x2F)]);
    pairs
}

/// An H.264 SEI NAL unit (Annex B) carrying one A/53 `cc_data` triple (ATSC A/53 Part
/// 4, 6.2.3) of field 1: `pair`, or padding.
fn a53_sei(pair: Option<(u8, u8)>) -> Vec<u8> {
    let (a, b) = pair.unwrap_or((0, 0));
    let mut payload = vec![
        0xB5,
        0x00,
        0x31,
        b'G',
        b'A',
        b'9',
        b'4',
        0x03,
        0x40 | 1,
        0xFF,
    ];
    payload.extend([0xFC, parity(a), parity(b), 0xFF]);
    let mut nal = vec![0, 0, 0, 1, 0x06, 4, payload.len() as u8];
    nal.extend(payload);
    nal.push(0x80);
    nal
}

/// A 6 s 25 fps source whose picture carries the caption "HELLO WORLD" from frame 25
/// on: x264's Annex B stream (no B-frames, one slice a frame) with an A/53 SEI before
/// each frame, muxed with a tone.
fn captioned_source(dir: &Path) -> PathBuf {
    let plain = dir.join("plain.h264");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "h264",
        plain.to_str().unwrap(),
    ]);
    let data = std::fs::read(&plain).unwrap();
    let starts: Vec<usize> = data
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 1])
        .map(|(i, _)| i)
        .collect();
    let caption = pop_on("HELLO WORLD");
    let mut out = Vec::new();
    let mut frame = 0usize;
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).copied().unwrap_or(data.len());
        // A four-byte start code's leading zero belongs to the next unit.
        if k + 1 < starts.len() && data[end - 1] == 0 {
            end -= 1;
        }
        let unit = &data[s + 3..end];
        if matches!(unit[0] & 0x1F, 1 | 5) {
            out.extend(a53_sei(
                frame.checked_sub(25).and_then(|i| caption.get(i).copied()),
            ));
            frame += 1;
        }
        out.extend([0, 0, 0, 1]);
        out.extend_from_slice(unit);
    }
    assert_eq!(frame, 150);
    let captioned = dir.join("captioned.h264");
    std::fs::write(&captioned, out).unwrap();
    let src = dir.join("captioned.mp4");
    ffmpeg(&[
        "-r",
        "25",
        "-f",
        "h264",
        "-i",
        captioned.to_str().unwrap(),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=6",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-shortest",
        src.to_str().unwrap(),
    ]);
    src
}

/// The captions ffmpeg reads from `mp4`'s picture, as SubRip.
fn captions_of(mp4: &Path) -> String {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("movie={}[out+subcc]", mp4.display()))
        .args(["-map", "0:s", "-f", "srt", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn captions_in_the_picture_survive_the_encode_and_are_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let src = captioned_source(dir.path());
    let said = captions_of(&src);
    assert!(
        said.contains("00:00:01,480 --> ") && said.contains("HELLO WORLD"),
        "{said}"
    );
    let (result, out) = transcode_fast(dir.path(), &src, &[]);
    assert_ok(&result, "openvod transcode of a captioned source");

    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"Captions\",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"CC1\"\n"),
        "{master}"
    );
    let variants: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .collect();
    assert!(!variants.is_empty());
    assert!(
        variants
            .iter()
            .all(|v| v.contains("CLOSED-CAPTIONS=\"cc\"")),
        "{master}"
    );
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(
        mpd.matches("<Accessibility schemeIdUri=\"urn:scte:dash:cc:cea-608:2015\" value=\"CC1\"/>")
            .count(),
        1,
        "{mpd}"
    );

    // Every rung's picture still says it, at the same time.
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let rungs: Vec<String> = summary["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["width"].is_number())
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!rungs.is_empty());
    for rung in rungs {
        let joined = dir.path().join(format!("{rung}.mp4"));
        let mut bytes = std::fs::read(out.join(&rung).join("init.mp4")).unwrap();
        for n in 1.. {
            match std::fs::read(out.join(&rung).join(format!("{n}.m4s"))) {
                Ok(b) => bytes.extend(b),
                Err(_) => break,
            }
        }
        std::fs::write(&joined, bytes).unwrap();
        let text = captions_of(&joined);
        assert!(text.contains("HELLO WORLD"), "{rung}: {text}");
        assert!(text.contains("00:00:01,480 --> "), "{rung}: {text}");
    }

    // A source without captions says none.
    let plain = make_source(dir.path(), "plain.mp4", "320x180", 25, 3, true, &[]);
    let other = tempfile::tempdir().unwrap();
    let (result, out) = transcode_fast(other.path(), &plain, &[]);
    assert_ok(&result, "openvod transcode");
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(!master.contains("TYPE=CLOSED-CAPTIONS"), "{master}");
    assert!(master.contains("CLOSED-CAPTIONS=NONE"), "{master}");
}

#[test]
fn packaging_on_request_signals_the_captions_too() {
    let dir = tempfile::tempdir().unwrap();
    let src = captioned_source(dir.path());
    let s = crate::jit::serve_jit(dir.path(), "");
    let id = crate::jit::upload(&s, &src);
    let (status, _, master) = curl_get(&format!("{}/play/{id}/master.m3u8", s.base));
    let master = String::from_utf8(master).unwrap();
    assert_eq!(status, 200, "{master}");
    assert!(master.contains("INSTREAM-ID=\"CC1\""), "{master}");
    assert!(master.contains("CLOSED-CAPTIONS=\"cc\""), "{master}");
    let (status, _, mpd) = curl_get(&format!("{}/play/{id}/manifest.mpd", s.base));
    assert_eq!(status, 200);
    assert!(String::from_utf8(mpd)
        .unwrap()
        .contains("urn:scte:dash:cc:cea-608:2015"));
}

#[test]
fn renditions_whose_encoder_drops_the_captions_say_none_and_a_warning_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let src = captioned_source(dir.path());
    let (result, out) = transcode_fast(dir.path(), &src, &["--codecs", "h264,hevc"]);
    assert_ok(&result, "openvod transcode --codecs h264,hevc");
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let video: Vec<&serde_json::Value> = summary["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "video")
        .collect();
    // x264 passes the captions through; this ffmpeg's x265 does not.
    for r in &video {
        let hevc = r["codecs"].as_str().unwrap().starts_with("hvc1");
        assert_eq!(r["cea608"].as_bool().unwrap_or(false), !hevc, "{r}");
    }
    let warnings = summary["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["code"] == "stream_not_carried"
            && w["message"].as_str().unwrap().contains("CEA-608")
            && w["message"].as_str().unwrap().contains("-hevc")),
        "{warnings:?}"
    );
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    for v in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
    {
        let want = if v.contains("hvc1") {
            "CLOSED-CAPTIONS=NONE"
        } else {
            "CLOSED-CAPTIONS=\"cc\""
        };
        assert!(v.contains(want), "{v}");
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(
        mpd.matches("urn:scte:dash:cc:cea-608:2015").count(),
        1,
        "{mpd}"
    );
}
