//! The tracks API end to end through `openvod serve`: a WebVTT and a SubRip file added to
//! a ready asset packaged on request show in the HLS multivariant playlist and the MPD
//! with their languages, cut on the segments with the cues at their times; bad files,
//! bad languages and oversized bodies are refused and change nothing; a track is
//! removed; an asset packaged ahead of time says why it takes no track.

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
    let (status, body) = curl_json(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", src.display()),
        &format!("{base}/v1/assets?name=src.mp4&template=jit"),
    ]);
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
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
    assert_eq!(status, 404, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("stays"),
        "{err}"
    );

    // Packaged ahead of time: a clear 409, and its playlist as it was.
    let asset = wait_finished(&base, &ahead, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    let ahead_master = get_text(&format!("{base}/play/{ahead}/master.m3u8"));
    let (status, err) = post_track(&base, &ahead, "language=es", "text/vtt", spanish);
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "packaged_ahead_of_time");
    assert_eq!(
        get_text(&format!("{base}/play/{ahead}/master.m3u8")),
        ahead_master
    );
}
