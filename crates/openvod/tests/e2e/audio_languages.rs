//! Every audio stream of a source comes out: a Matroska source with English stereo at
//! 440 Hz and Spanish 5.1 at 660 Hz (the default stream) gives Spanish stereo, Spanish
//! 5.1 and English stereo renditions, listed by language in both manifests with Spanish
//! first, and each rendition decodes to its own stream's tone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const SECONDS: u32 = 6;

/// The two-language source, made once.
fn two_languages(dir: &Path) -> PathBuf {
    let video = format!("testsrc2=size=320x180:rate=25:duration={SECONDS}");
    let english = format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}");
    let spanish = format!(
        "sine=frequency=660:sample_rate=48000:duration={SECONDS},pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"
    );
    let args = vec![
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &english,
        "-f",
        "lavfi",
        "-i",
        &spanish,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=spa",
        "-disposition:a:0",
        "0",
        "-disposition:a:1",
        "default",
    ];
    made_source(dir, "languages.mkv", &args)
}

/// The tone of an audio file: its zero crossings per second over two, from the decoded
/// first channel.
fn tone_hz(file: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:a:0",
            "-af",
            "pan=mono|c0=c0",
            "-f",
            "s16le",
            "-ar",
            "48000",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // The middle of the track: away from the encoder's priming and the fade at the end.
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (middle.len() as f64 / 48_000.0)
}

fn channels(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["stream=channels", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_audio_language_becomes_a_rendition_that_decodes_to_its_own_stream() {
    let dir = tempfile::tempdir().unwrap();
    let src = two_languages(dir.path());
    let (result, out) = transcode_fast(dir.path(), &src, &[]);
    assert_ok(&result, "openvod transcode");

    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let media: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
        .collect();
    let expect = [
        ("Spanish", "es", "YES", "YES", "2", "audio-es"),
        ("Spanish 5.1", "es", "NO", "NO", "6", "audio-es-51"),
        ("English", "en", "NO", "YES", "2", "audio-en"),
    ];
    assert_eq!(media.len(), expect.len(), "{master}");
    for (line, (name, lang, default, auto, ch, folder)) in media.iter().zip(expect) {
        for want in [
            format!("NAME=\"{name}\""),
            format!("LANGUAGE=\"{lang}\""),
            format!("DEFAULT={default},AUTOSELECT={auto}"),
            format!("CHANNELS=\"{ch}\""),
            format!("URI=\"{folder}/index.m3u8\""),
        ] {
            assert!(line.contains(&want), "{want} in {line}");
        }
    }

    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    let parsed = dash_mpd_core::parse(&mpd).expect("manifest.mpd parses");
    let langs: Vec<Option<String>> = parsed.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .map(|a| a.lang.clone())
        .collect();
    assert_eq!(
        langs,
        [Some("es".into()), Some("es".into()), Some("en".into())]
    );
    assert!(mpd.contains("<Label>Spanish</Label>\n      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>"), "{mpd}");

    // Each rendition is its own stream: the tone and the channels tell them apart.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for (folder, hz, ch) in [
        ("audio-es", 660.0, "2"),
        ("audio-es-51", 660.0, "6"),
        ("audio-en", 440.0, "2"),
    ] {
        let file = concat_rendition(&out, folder, &work);
        assert_eq!(decode_errors(&file), "", "{folder}");
        let got = tone_hz(&file);
        assert!(
            (got - hz).abs() < hz * 0.02,
            "{folder}: {got:.1} Hz, not {hz} Hz"
        );
        assert_eq!(channels(&file), ch, "{folder}");
    }
    let out = out.canonicalize().unwrap();
    assert_eq!(decode_errors(&out.join("master.m3u8")), "");
    assert_eq!(decode_errors(&out.join("manifest.mpd")), "");
}
