//! Pictures end to end: the poster and the storyboard made with the encode (static
//! folder and the stored form), and thumbnails, posters and animated previews made on
//! request by `openvod serve`, checked by what they show. The source is red for 4 s,
//! green for 4 s and blue for 4 s, so a picture's colour says which time it was taken at.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// 12 s at 640x360: red, then green, then blue, 4 s each, with a tone.
fn colours(dir: &Path) -> PathBuf {
    let args = [
        "-f",
        "lavfi",
        "-i",
        "color=red:s=640x360:r=25:d=4",
        "-f",
        "lavfi",
        "-i",
        "color=green:s=640x360:r=25:d=4",
        "-f",
        "lavfi",
        "-i",
        "color=blue:s=640x360:r=25:d=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=12",
        "-filter_complex",
        "[0][1][2]concat=n=3:v=1:a=0[v]",
        "-map",
        "[v]",
        "-map",
        "3:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
    ];
    made_source(dir, "colours.mp4", &args)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Red,
    Green,
    Blue,
}

/// Decodes a picture (any format ffmpeg reads): its size and its main colour, from the
/// rectangle `crop` (`w:h:x:y`) or the whole picture.
fn look(bytes: &[u8], crop: Option<&str>) -> ((u32, u32), Colour) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("picture");
    std::fs::write(&file, bytes).unwrap();
    let size = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height", "-of", "csv=p=0"])
        .arg(&file)
        .output()
        .unwrap();
    let size = String::from_utf8_lossy(&size.stdout);
    let (w, h) = size
        .trim()
        .split_once(',')
        .unwrap_or_else(|| panic!("not a picture: {size:?}"));
    let filter = match crop {
        Some(c) => format!("crop={c},scale=1:1:flags=area"),
        None => "scale=1:1:flags=area".into(),
    };
    let px = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &filter,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        px.status.success(),
        "{}",
        String::from_utf8_lossy(&px.stderr)
    );
    let (r, g, b) = (px.stdout[0], px.stdout[1], px.stdout[2]);
    let colour = if r > 150 && g < 90 && b < 90 {
        Colour::Red
    } else if g > 90 && r < 90 && b < 90 {
        Colour::Green
    } else if b > 150 && r < 90 && g < 90 {
        Colour::Blue
    } else {
        panic!("no clear colour: rgb({r}, {g}, {b})")
    };
    ((w.parse().unwrap(), h.parse().unwrap()), colour)
}

/// The colour at `ms` of the source.
fn colour_at(ms: u64) -> Colour {
    match ms {
        0..4000 => Colour::Red,
        4000..8000 => Colour::Green,
        _ => Colour::Blue,
    }
}

/// Checks a storyboard: every cue names a tile inside the sprite, the cues cover the
/// title, and each tile shows the colour of its time.
fn check_storyboard(vtt: &str, sprite: &[u8], sprite_name: &str) {
    let ((sw, sh), _) = look(sprite, Some("16:16:0:0"));
    let cues: Vec<&str> = vtt
        .split("\n\n")
        .skip(1)
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(cues.len(), 6, "a thumbnail every 2 s of 12 s: {vtt}");
    for (k, cue) in cues.iter().enumerate() {
        let mut lines = cue.lines();
        let timing = lines.next().unwrap();
        let target = lines.next().unwrap();
        let (file, xywh) = target.split_once("#xywh=").unwrap();
        assert_eq!(file, sprite_name);
        let v: Vec<u32> = xywh.split(',').map(|n| n.parse().unwrap()).collect();
        assert!(
            v[0] + v[2] <= sw && v[1] + v[3] <= sh,
            "{xywh} outside {sw}x{sh}"
        );
        let start = timing.split(" --> ").next().unwrap();
        let secs: f64 = start.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(secs, (k * 2) as f64, "{timing}");
        // The middle of the tile, away from JPEG's edges.
        let crop = format!(
            "{}:{}:{}:{}",
            v[2] / 2,
            v[3] / 2,
            v[0] + v[2] / 4,
            v[1] + v[3] / 4
        );
        let (_, c) = look(sprite, Some(&crop));
        assert_eq!(c, colour_at(k as u64 * 2000), "tile {k} ({timing})");
    }
}

#[test]
fn the_encode_makes_a_poster_and_a_storyboard_signalled_in_dash() {
    let dir = tempfile::tempdir().unwrap();
    let src = colours(dir.path());
    let (result, out) = transcode_fast(dir.path(), &src, &[]);
    assert_ok(&result, "openvod transcode");
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(summary["warnings"], serde_json::json!([]), "{summary}");

    let poster = std::fs::read(out.join("poster.jpg")).unwrap();
    let ((w, h), _) = look(&poster, None);
    assert_eq!((w, h), (640, 360));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("images.json")).unwrap()).unwrap();
    let poster_ms = index["poster"]["time_ms"].as_u64().unwrap();
    assert!(poster_ms < 12_000, "{index}");
    assert_eq!(look(&poster, None).1, colour_at(poster_ms), "{index}");
    assert_eq!(index["thumbnails"]["renditions"][0]["name"], "360p");

    let vtt = std::fs::read_to_string(out.join("storyboard.vtt")).unwrap();
    let sprite = std::fs::read(out.join("storyboard.jpg")).unwrap();
    check_storyboard(&vtt, &sprite, "storyboard.jpg");

    // DASH-IF IOP 6.2.6: a thumbnail AdaptationSet naming the sprite, its grid and the
    // time one sprite covers.
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    dash_mpd_core::parse(&mpd).expect("manifest.mpd parses");
    let at = mpd.find("contentType=\"image\"").expect("an image set");
    let set = &mpd[at..at + mpd[at..].find("</AdaptationSet>").unwrap()];
    for want in [
        "mimeType=\"image/jpeg\"",
        "schemeIdUri=\"http://dashif.org/thumbnail_tile\" value=\"6x1\"",
        "width=\"960\" height=\"90\"",
        "media=\"storyboard.jpg\"",
        "duration=\"12000\"",
    ] {
        assert!(set.contains(want), "{want} in {set}");
    }
}

fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    format!("{} {}", v["error"]["code"], v["error"]["message"])
}

/// Every picture on request of one ready asset at `base`.
fn check_pictures(base: &str, id: &str) {
    let image = |q: &str| curl_get(&format!("{base}/image/{id}/{q}"));

    for (query, ms) in [("time=1", 1000), ("time=6", 6000), ("time=10.5", 10_500)] {
        let (status, headers, body) = image(&format!("thumbnail.jpg?{query}&width=160&height=90"));
        assert_eq!(status, 200, "{query}: {}", error_of(&body));
        assert!(headers.contains("content-type: image/jpeg"), "{headers}");
        assert_eq!(look(&body, None), ((160, 90), colour_at(ms)), "{query}");
    }
    let (status, headers, body) = image("thumbnail.jpg?time=6&width=160&height=90");
    assert_eq!(status, 200);
    assert!(
        headers.contains("x-cache: hit"),
        "a second ask is a shield hit: {headers}"
    );
    assert_eq!(look(&body, None).1, Colour::Green);

    let (status, headers, body) = image("thumbnail.webp?time=9&width=320");
    assert_eq!(status, 200, "{}", error_of(&body));
    assert!(headers.contains("content-type: image/webp"), "{headers}");
    assert_eq!(look(&body, None), ((320, 180), Colour::Blue));
    // The box's shape: preserve fits inside it, crop and pad fill it exactly.
    for (fit, size) in [
        ("preserve", (100, 56)),
        ("crop", (100, 100)),
        ("pad", (100, 100)),
    ] {
        let (status, _, body) = image(&format!(
            "thumbnail.jpg?time=2&width=100&height=100&fit={fit}"
        ));
        assert_eq!(status, 200, "{fit}: {}", error_of(&body));
        let (got, _) = look(&body, Some("16:16:42:42"));
        assert_eq!(got, size, "{fit}");
        assert_eq!(look(&body, Some("16:16:42:42")).1, Colour::Red, "{fit}");
    }

    // Bad requests are clear and change nothing.
    for (query, code, words) in [
        (
            "thumbnail.jpg?time=12.5",
            400,
            "past the end of the title (12.",
        ),
        ("thumbnail.jpg?time=3&width=100000", 400, "16 to 1920"),
        (
            "thumbnail.jpg?time=3&fit=crop&width=100",
            400,
            "need both width and height",
        ),
        ("thumbnail.jpg?when=3", 400, "not a parameter"),
        ("thumbnail.png?time=3", 404, "no picture"),
        ("animated.gif?duration=60", 400, "at most 10"),
    ] {
        let (status, _, body) = image(query);
        assert_eq!(status, code, "{query}");
        assert!(
            error_of(&body).contains(words),
            "{query}: {}",
            error_of(&body)
        );
    }

    // The poster: as made, then at a time set on the asset, which changes the version.
    let (status, _, made) = image("poster.jpg");
    assert_eq!(status, 200);
    assert_eq!(look(&made, None).0, (640, 360));
    let (status, asset) = curl_json(&[
        "-X",
        "PUT",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"time": 10}"#,
        &format!("{base}/v1/assets/{id}/poster"),
    ]);
    assert_eq!(status, 200, "{asset}");
    assert_eq!(asset["poster_time"], 10.0);
    let (status, _, poster) = image("poster.jpg?width=320");
    assert_eq!(status, 200, "{}", error_of(&poster));
    assert_eq!(look(&poster, None), ((320, 180), Colour::Blue));
    let (status, body) = curl_json(&[
        "-X",
        "PUT",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"time": 99}"#,
        &format!("{base}/v1/assets/{id}/poster"),
    ]);
    assert_eq!(status, 400, "{body}");
    let (_, _, still_blue) = image("poster.jpg?width=320");
    assert_eq!(
        look(&still_blue, None).1,
        Colour::Blue,
        "a refused time changes nothing"
    );

    // An animated preview: 2 s at 5 fps from 3 s, red turning green.
    for ext in ["gif", "webp"] {
        let (status, headers, body) = image(&format!(
            "animated.{ext}?start=3&duration=2&fps=5&width=160"
        ));
        assert_eq!(status, 200, "{ext}: {}", error_of(&body));
        assert!(
            headers.contains(&format!("content-type: image/{ext}")),
            "{headers}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("a.{ext}"));
        std::fs::write(&file, &body).unwrap();
        let frames = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
            .arg(&file)
            .output()
            .unwrap();
        let frames = String::from_utf8_lossy(&frames.stdout);
        // ffmpeg's WebP demuxer does not read animations; GIF frames are counted.
        if ext == "gif" {
            let n: u32 = frames.trim().parse().unwrap_or(0);
            assert!((9..=11).contains(&n), "{n} frames in 2 s at 5 fps");
            assert_eq!(
                look(&body, None),
                ((160, 90), Colour::Red),
                "the first frame"
            );
        } else {
            assert!(body.starts_with(b"RIFF") && &body[8..12] == b"WEBP");
            assert!(body.windows(4).any(|w| w == b"ANMF"), "an animated WebP");
        }
    }

    // The storyboard, through the origin.
    let (status, _, vtt) = curl_get(&format!("{base}/play/{id}/storyboard.vtt"));
    assert_eq!(status, 200);
    let (status, headers, sprite) = curl_get(&format!("{base}/play/{id}/storyboard.jpg"));
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: image/jpeg"), "{headers}");
    check_storyboard(&String::from_utf8(vtt).unwrap(), &sprite, "storyboard.jpg");
}

#[test]
fn pictures_are_made_on_request_ahead_of_time_and_on_request_packaged() {
    let dir = tempfile::tempdir().unwrap();
    let src = colours(dir.path());
    let cfg = serve_config_with_jit(dir.path());
    let s = start_service("serve", &cfg, &[]);
    let ahead = upload_as(&s.base, &src, "colours.mp4");
    let asset = wait_finished(&s.base, &ahead, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    check_pictures(&s.base, &ahead);

    let on_request = upload_with(&s.base, &src, "colours.mp4", "jit");
    let asset = wait_finished(&s.base, &on_request, std::time::Duration::from_secs(300));
    assert_eq!(asset["status"], "ready", "{asset}");
    check_pictures(&s.base, &on_request);
    let (status, _, mpd) = curl_get(&format!("{}/play/{on_request}/s2/manifest.mpd", s.base));
    assert_eq!(status, 200);
    let mpd = String::from_utf8(mpd).unwrap();
    assert!(
        mpd.contains("media=\"../storyboard.jpg\""),
        "another segment length's MPD names the one sprite: {mpd}"
    );
}
