//! The tracks API end to end through `openvod serve`: a WebVTT and a SubRip file added to
//! a ready asset packaged on request show in the HLS multivariant playlist and the MPD
//! with their languages, cut on the segments with the cues at their times; bad files,
//! bad languages and oversized bodies are refused and change nothing; a track is
//! removed; an asset packaged ahead of time says why it takes no track. A dub becomes
//! one more audio language that decodes to its own tone, at the video's length, padded
//! or trimmed only when asked.

use crate::common::*;
use crate::subtitles::cues;

const SECONDS: u32 = 6;

fn post_track(
    base: &str,
    id: &str,
    query: &str,
    content_type: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("track");
    std::fs::write(&file, body).unwrap();
    curl_json(&[
        "-X",
        "POST",
        "-H",
        &format!("Content-Type: {content_type}"),
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/v1/assets/{id}/tracks?{query}"),
    ])
}

fn get_text(url: &str) -> String {
    let (status, _, body) = curl_get(url);
    assert_eq!(status, 200, "GET {url}");
    String::from_utf8(body).unwrap()
}

/// The `EXT-X-MEDIA:TYPE=SUBTITLES` lines of a multivariant playlist.
fn subtitle_lines(master: &str) -> Vec<String> {
    master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES"))
        .map(str::to_string)
        .collect()
}

/// Every cue of the HLS text track whose `EXT-X-MEDIA` line is `line`, read segment by
/// segment from its media playlist.
fn hls_cues(play: &dyn Fn(&str) -> String, line: &str) -> Vec<(u64, u64, String)> {
    let uri = line
        .split("URI=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a URI");
    let playlist = get_text(&play(uri));
    let folder = uri.rsplit_once('/').map_or("", |(f, _)| f);
    let mut all = Vec::new();
    for seg in playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let text = get_text(&play(&format!("{folder}/{seg}")));
        assert!(
            text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:"),
            "{text}"
        );
        all.extend(cues(&text));
    }
    all.dedup();
    all
}

#[test]
fn text_tracks_are_added_to_and_removed_from_a_ready_asset() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, SECONDS, true, &[]);
    let cfg = serve_config_with_jit(dir.path());
    let s = start_service("serve", &cfg, &[]);
    let base = s.base.clone();

    let ahead = upload_as(&base, &src, "ahead.mp4");
    let id = upload_with(&base, &src, "src.mp4", "jit");
    let before = wait_finished(&base, &id, std::time::Duration::from_secs(300));
    assert_eq!(before["status"], "ready", "{before}");
    let play = |p: &str| format!("{base}/play/{id}/{p}");
    let master_before = get_text(&play("master.m3u8"));
    assert!(subtitle_lines(&master_before).is_empty(), "{master_before}");

    // A Spanish WebVTT file, its type named by the Content-Type.
    let spanish = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHola\n\n00:00:04.000 --> 00:00:05.000\nAdiós & <i>hasta luego</i>\n";
    let (status, added) = post_track(&base, &id, "language=es", "text/vtt", spanish);
    assert_eq!(status, 201, "{added}");
    let track = added["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "subs-es")
        .unwrap_or_else(|| panic!("subs-es in {added}"));
    assert_eq!(track["kind"], "subtitles");
    assert_eq!(track["language"], "es");
    assert!(added["warnings"].as_array().unwrap().is_empty(), "{added}");

    // English captions as SubRip (found by their first line), one cue after the end.
    let english = "1\n00:00:00,500 --> 00:00:01,500\n[door slams]\n\n2\n00:00:30,000 --> 00:00:31,000\nafter the end\n";
    let (status, added) = post_track(
        &base,
        &id,
        "language=en&kind=captions",
        "application/octet-stream",
        english,
    );
    assert_eq!(status, 201, "{added}");
    assert!(
        added["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "cues_past_end"
                && w["message"].as_str().unwrap().contains("1 cue(s) of cc-en")),
        "{added}"
    );

    // HLS: one EXT-X-MEDIA per track, every variant in their group, the cues at their
    // times (on the media timeline through X-TIMESTAMP-MAP) and nothing after the end.
    let master = get_text(&play("master.m3u8"));
    m3u8_rs::parse_master_playlist_res(master.as_bytes()).expect("master.m3u8 parses");
    let lines = subtitle_lines(&master);
    assert_eq!(lines.len(), 2, "{master}");
    let es_line = lines
        .iter()
        .find(|l| l.contains("LANGUAGE=\"es\""))
        .expect("es");
    let en_line = lines
        .iter()
        .find(|l| l.contains("LANGUAGE=\"en\""))
        .expect("en");
    assert!(
        en_line.contains("CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog"),
        "{en_line}"
    );
    assert!(
        master
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .all(|l| l.contains("SUBTITLES=")),
        "{master}"
    );
    assert_eq!(
        hls_cues(&play, es_line),
        vec![
            (1000, 2500, "Hola".to_string()),
            (4000, 5000, "Adiós & <i>hasta luego</i>".to_string())
        ]
    );
    assert_eq!(
        hls_cues(&play, en_line),
        vec![(500, 1500, "[door slams]".to_string())]
    );
    // DASH: a text AdaptationSet per language, its file whole.
    let mpd = get_text(&play("manifest.mpd"));
    for (lang, file) in [("es", "subs-es/all.vtt"), ("en", "cc-en/all.vtt")] {
        assert!(mpd.contains(&format!("lang=\"{lang}\"")), "{mpd}");
        assert!(mpd.contains(file), "{mpd}");
    }
    assert_eq!(
        cues(&get_text(&play("subs-es/all.vtt"))),
        vec![
            (1000, 2500, "Hola".to_string()),
            (4000, 5000, "Adiós & <i>hasta luego</i>".to_string())
        ]
    );

    // Refused, and nothing published changes: a malformed file (its line named), an
    // unknown language, a body over the limit.
    let (status, err) = post_track(
        &base,
        &id,
        "language=fr",
        "text/vtt",
        "WEBVTT\n\n00:00:01.000 --> nonsense\nSalut\n",
    );
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "invalid_subtitles");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("line 3"),
        "{err}"
    );
    let (status, err) = post_track(&base, &id, "language=xx-nonsense-tag", "text/vtt", spanish);
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "bad_language");
    let huge = format!("WEBVTT\n\n{}", "x".repeat(5 << 20));
    let (status, err) = post_track(&base, &id, "language=fr", "text/vtt", &huge);
    assert_eq!(status, 413, "{err}");
    assert_eq!(
        get_text(&play("master.m3u8")),
        master,
        "a refused track changes nothing"
    );

    // A track is removed; audio and video are not; a missing one is a 404.
    let (status, removed) = curl_json(&[
        "-X",
        "DELETE",
        &format!("{base}/v1/assets/{id}/tracks/subs-es"),
    ]);
    assert_eq!(status, 200, "{removed}");
    assert!(
        !removed["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "subs-es"),
        "{removed}"
    );
    let master = get_text(&play("master.m3u8"));
    assert_eq!(subtitle_lines(&master).len(), 1, "{master}");
    assert!(!master.contains("LANGUAGE=\"es\""), "{master}");
    let (status, _, _) = curl_get(&play("subs-es/all.vtt"));
    assert_eq!(status, 404, "a removed track is not served");
    let (status, err) = curl_json(&[
        "-X",
        "DELETE",
        &format!("{base}/v1/assets/{id}/tracks/subs-es"),
    ]);
    assert_eq!(status, 404, "{err}");
    let video = before["renditions"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, err) = curl_json(&[
        "-X",
        "DELETE",
        &format!("{base}/v1/assets/{id}/tracks/{video}"),
    ]);
    assert_eq!(status, 409, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is video, which stays"),
        "{err}"
    );
    let audio = before["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "audio")
        .and_then(|r| r["name"].as_str())
        .unwrap()
        .to_string();
    let (status, err) = curl_json(&[
        "-X",
        "DELETE",
        &format!("{base}/v1/assets/{id}/tracks/{audio}"),
    ]);
    assert_eq!(status, 409, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its only audio"),
        "{err}"
    );

    // Packaged ahead of time: a clear 409, and its playlist as it was.
    let asset = wait_finished(&base, &ahead, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    let ahead_master = get_text(&format!("{base}/play/{ahead}/master.m3u8"));
    let (status, err) = post_track(&base, &ahead, "language=es", "text/vtt", spanish);
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "packaged_ahead_of_time");
    let dub = tone(dir.path(), "dub.m4a", 880, 6.0);
    let (status, err) = post_file(&base, &ahead, "kind=audio&language=es", &dub);
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "packaged_ahead_of_time");
    assert_eq!(
        get_text(&format!("{base}/play/{ahead}/master.m3u8")),
        ahead_master
    );
}

/// A tone of `hz` for `seconds`, as AAC in an `.m4a`.
fn tone(dir: &std::path::Path, name: &str, hz: u32, seconds: f64) -> std::path::PathBuf {
    let sine = format!("sine=frequency={hz}:sample_rate=44100:duration={seconds}");
    made_source(dir, name, &["-f", "lavfi", "-i", &sine, "-c:a", "aac"])
}

/// The audio an HLS media playlist plays, decoded by ffmpeg to mono 48 kHz samples.
fn decoded(url: &str) -> Vec<i16> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i", url])
        .args(["-af", "pan=mono|c0=c0", "-f", "s16le", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Zero crossings per second over two: the frequency of a pure tone.
fn hz(samples: &[i16]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}

fn post_file(
    base: &str,
    id: &str,
    query: &str,
    file: &std::path::Path,
) -> (u16, serde_json::Value) {
    curl_json(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/v1/assets/{id}/tracks?{query}"),
    ])
}

/// The URI of the `EXT-X-MEDIA:TYPE=AUDIO` entry in `language`.
fn audio_uri(master: &str, language: &str) -> String {
    let line = master
        .lines()
        .find(|l| {
            l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO")
                && l.contains(&format!("LANGUAGE=\"{language}\""))
        })
        .unwrap_or_else(|| panic!("{language} audio in {master}"));
    line.split("URI=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string()
}

#[test]
fn a_dub_becomes_another_audio_language_at_the_videos_length() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        "talk.mp4",
        "320x180",
        25,
        6,
        true,
        &["-metadata:s:a:0", "language=eng"],
    );
    let cfg = serve_config_with_jit(dir.path());
    let s = start_service("serve", &cfg, &[]);
    let base = s.base.clone();
    let id = upload_with(&base, &src, "talk.mp4", "jit");
    let asset = wait_finished(&base, &id, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    let play = |p: &str| format!("{base}/play/{id}/{p}");
    let before = get_text(&play("master.m3u8"));

    // Refused, nothing changed: too long without fit=trim, too short without fit=pad,
    // a file without audio.
    let long = tone(dir.path(), "long.m4a", 880, 9.0);
    let (status, err) = post_file(&base, &id, "kind=audio&language=es", &long);
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "length_mismatch");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fit=trim"),
        "{err}"
    );
    let short = tone(dir.path(), "short.m4a", 660, 3.0);
    let (status, err) = post_file(&base, &id, "kind=audio&language=fr", &short);
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fit=pad"),
        "{err}"
    );
    let text = dir.path().join("not-audio.vtt");
    std::fs::write(&text, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n").unwrap();
    let (status, err) = post_file(&base, &id, "kind=audio&language=de", &text);
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "invalid_media");
    assert_eq!(
        get_text(&play("master.m3u8")),
        before,
        "refused dubs change nothing"
    );

    // A Spanish dub a little longer than the video: within the tolerance, cut to it.
    let spanish = tone(dir.path(), "spanish.m4a", 880, 6.2);
    let (status, added) = post_file(&base, &id, "kind=audio&language=es", &spanish);
    assert_eq!(status, 201, "{added}");
    let dub = added["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "audio-es")
        .unwrap_or_else(|| panic!("audio-es in {added}"));
    assert_eq!(dub["kind"], "audio");
    assert_eq!(dub["language"], "es");
    assert_eq!(dub["channels"], 2);
    // Too long, cut when asked; too short, ended in silence when asked.
    let (status, trimmed) = post_file(&base, &id, "kind=audio&language=it&fit=trim", &long);
    assert_eq!(status, 201, "{trimmed}");
    let (status, padded) = post_file(&base, &id, "kind=audio&language=fr&fit=pad", &short);
    assert_eq!(status, 201, "{padded}");

    // HLS: the title's own audio stays the default; each dub is one more language that
    // decodes to its own tone, as long as the video.
    let master = get_text(&play("master.m3u8"));
    m3u8_rs::parse_master_playlist_res(master.as_bytes()).expect("master.m3u8 parses");
    let audio: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
        .collect();
    assert_eq!(audio.len(), 4, "{master}");
    assert!(
        audio[0].contains("LANGUAGE=\"en\"") && audio[0].contains("DEFAULT=YES"),
        "{master}"
    );
    assert!(
        audio[1..].iter().all(|l| !l.contains("DEFAULT=YES")),
        "{master}"
    );
    for (language, tone_hz) in [("en", 440.0), ("es", 880.0), ("it", 880.0), ("fr", 660.0)] {
        let samples = decoded(&play(&audio_uri(&master, language)));
        let seconds = samples.len() as f64 / 48_000.0;
        assert!((seconds - 6.0).abs() < 0.1, "{language}: {seconds} s");
        let first = &samples[samples.len() / 8..samples.len() / 3];
        assert!(
            (hz(first) - tone_hz).abs() < 5.0,
            "{language}: {} Hz",
            hz(first)
        );
    }
    // The padded dub is silent after its 3 s.
    let padded = decoded(&play(&audio_uri(&master, "fr")));
    let tail = &padded[padded.len() * 3 / 4..];
    assert!(
        tail.iter().all(|s| s.unsigned_abs() < 50),
        "silence after the dub ends"
    );
    // A dub removed: three languages left, its files gone.
    let (status, removed) = curl_json(&[
        "-X",
        "DELETE",
        &format!("{base}/v1/assets/{id}/tracks/audio-it"),
    ]);
    assert_eq!(status, 200, "{removed}");
    let master = get_text(&play("master.m3u8"));
    assert_eq!(
        master
            .lines()
            .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
            .count(),
        3,
        "{master}"
    );
    assert!(!master.contains("LANGUAGE=\"it\""), "{master}");
    let (status, _, _) = curl_get(&play("audio-it/init.mp4"));
    assert_eq!(status, 404);
    // DASH: an AdaptationSet per language.
    let mpd = get_text(&play("manifest.mpd"));
    for language in ["en", "es", "fr"] {
        assert!(
            mpd.split("<AdaptationSet")
                .any(|set| set.contains("contentType=\"audio\"")
                    && set.contains(&format!("lang=\"{language}\""))),
            "{language} in {mpd}"
        );
    }
}
