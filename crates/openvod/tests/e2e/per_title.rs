//! Per-title ladders and quality scores: `openvod transcode --ladder per-title` samples
//! the title, records its decision, and encodes the ladder it chose; `openvod quality`
//! scores an encode against its source.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An 8 s 640x360 source from a lavfi graph, kept as a fixture.
fn lavfi_source(dir: &Path, name: &str, graph: &str) -> PathBuf {
    let args = [
        "-f",
        "lavfi",
        "-i",
        graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
    ];
    let cached = fixture(&args, "mkv", |out| {
        let mut a = args.to_vec();
        a.push(s(out));
        ffmpeg(&a);
    });
    let path = dir.join(name);
    std::fs::copy(cached, &path).unwrap();
    path
}

const PER_TITLE_TEMPLATE: &str = r#"
name = "per-title-small"
[video]
preset = "veryfast"
rungs = [
  { name = "360p", height = 360, max_bitrate = 2_000_000 },
  { name = "240p", height = 240, max_bitrate = 1_000_000 },
  { name = "144p", height = 144, max_bitrate = 400_000 },
]
[packaging]
segment_seconds = 2.0
fragment_seconds = 2.0
[ladder]
mode = "per-title"
min_bitrate = 50_000
max_bitrate = 4_000_000
top_quality = 95.0
"#;

fn per_title(dir: &Path, src: &Path, out: &str) -> Value {
    let template = dir.join("per-title.toml");
    std::fs::write(&template, PER_TITLE_TEMPLATE).unwrap();
    let out = dir.join(out);
    let r = openvod(&[
        "transcode",
        s(src),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--measure-quality",
        "--json",
    ]);
    assert_ok(&r, "transcode with a per-title ladder");
    let summary: Value = serde_json::from_slice(&r.stdout).unwrap();
    // The folder holds the chosen rungs and nothing of the analysis.
    let names: Vec<&str> = summary["ladder"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for n in &names {
        assert!(
            out.join(n).is_dir(),
            "{n} is missing from {:?}",
            entries(&out)
        );
    }
    assert!(!out.join(".encode").exists());
    summary
}

fn total_expected(summary: &Value) -> u64 {
    summary["ladder"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["expected_bitrate"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_flat_title_gets_a_cheaper_ladder_than_a_noisy_one_and_each_rung_meets_its_score() {
    let dir = tempfile::tempdir().unwrap();
    let flat = lavfi_source(
        dir.path(),
        "flat.mkv",
        "smptebars=size=640x360:rate=25:duration=8",
    );
    let noisy = lavfi_source(
        dir.path(),
        "noisy.mkv",
        "testsrc2=size=640x360:rate=25:duration=8,noise=alls=20:allf=t+u",
    );
    let f = per_title(dir.path(), &flat, "flat");
    let n = per_title(dir.path(), &noisy, "noisy");

    for (what, summary) in [("flat", &f), ("noisy", &n)] {
        let ladder = &summary["ladder"];
        assert_eq!(ladder["codec"], "h264", "{what}");
        // 3 resolutions at 3 CRFs, every one measured; the still bars cost so little at
        // the top size (under 1.5 times min_bitrate) that their ladder is one rung and the
        // smaller sizes are not sampled.
        let samples = ladder["samples"].as_array().unwrap();
        let sizes = if what == "flat" { 1 } else { 3 };
        let on_curves = samples.iter().filter(|p| p["capped"] != true).count();
        assert_eq!(on_curves, 3 * sizes, "{what}: {ladder}");
        // At most one encode held by the 4 Mb/s ceiling, at the top size; the still bars
        // come nowhere near it, and none is made.
        let held: Vec<&Value> = samples.iter().filter(|p| p["capped"] == true).collect();
        assert!(held.len() <= 1, "{what}: {ladder}");
        assert!(
            held.iter().all(|p| p["height"] == 360 && p["crf"] == 19),
            "{what}: {ladder}"
        );
        if what == "flat" {
            assert!(held.is_empty(), "{ladder}");
        }
        if what == "flat" {
            assert!(
                samples
                    .iter()
                    .all(|p| p["bitrate"].as_u64().unwrap() < 75_000),
                "{ladder}"
            );
            assert_eq!(ladder["rungs"].as_array().unwrap().len(), 1, "{ladder}");
        }
        for p in samples {
            let score = p["score"].as_f64().unwrap();
            assert!(score > 0.0 && score <= 100.0, "{what}: {p}");
            assert!(p["bitrate"].as_u64().unwrap() > 0, "{what}: {p}");
        }
        // The hull rises in both rate and score.
        let hull = ladder["hull"].as_array().unwrap();
        for w in hull.windows(2) {
            assert!(
                w[1]["bitrate"].as_u64() > w[0]["bitrate"].as_u64(),
                "{what}"
            );
            assert!(w[1]["score"].as_f64() > w[0]["score"].as_f64(), "{what}");
        }
        assert!(ladder["cpu_seconds"].as_f64().unwrap() > 0.0, "{what}");
        // The samples are superfast, the ladder veryfast: the top size was encoded once
        // more with veryfast, at x264's CRF 23, to calibrate the CRFs.
        let calibration = &ladder["calibration"];
        assert_eq!(calibration["preset"], "veryfast", "{what}: {ladder}");
        assert_eq!(calibration["crf"], 23, "{what}: {ladder}");
        assert_eq!(calibration["height"], 360, "{what}: {ladder}");
        let shift = calibration["crf_shift"].as_i64().unwrap();
        assert!((-8..=8).contains(&shift), "{what}: {ladder}");
        // The excerpt starts on the source's keyframe, not on the ladder's GOP grid: the
        // source's one keyframe is its first (x264's default GOP is longer than the title).
        let excerpts = ladder["excerpts"].as_array().unwrap();
        assert_eq!(excerpts.len(), 1, "{what}: {ladder}");
        assert_eq!(excerpts[0]["start"], 0.0, "{what}: {ladder}");
        // Each rung of the encode looks as the analysis said it would (the final encode's
        // slower preset does at least as well at the same CRF), within a margin for the
        // excerpts being a sample of the title.
        let rungs = ladder["rungs"].as_array().unwrap();
        assert!(!rungs.is_empty(), "{what}");
        for r in rungs {
            let rendition = summary["renditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == r["name"])
                .unwrap_or_else(|| panic!("{what}: no rendition {}", r["name"]));
            let measured = rendition["quality"]["score"].as_f64().unwrap();
            let expected = r["score"].as_f64().unwrap();
            assert!(
                measured >= expected - 4.0,
                "{what} {}: measured {measured}, analysis {expected}",
                r["name"]
            );
            assert!(rendition["cpu_seconds"].as_f64().unwrap() > 0.0, "{what}");
            // The cap is a VBV rate (`-maxrate`, buffer twice that): over a few seconds the
            // average may exceed it by the buffer's worth.
            let (got, cap) = (
                rendition["bitrate"].as_u64().unwrap(),
                r["max_bitrate"].as_u64().unwrap(),
            );
            let duration = summary["duration"].as_f64().unwrap();
            let allowed = cap as f64 * (1.0 + 2.0 / duration) + 8_000.0;
            assert!(
                got as f64 <= allowed,
                "{what} {}: {got} b/s over its cap {cap}: {ladder}",
                r["name"]
            );
        }
    }
    // The flat title's top rung stops at the target; its ladder costs a fraction of the
    // noisy one's, with no more rungs.
    let f_top = &f["ladder"]["rungs"][0];
    assert!(f_top["score"].as_f64().unwrap() >= 95.0, "{f_top}");
    assert!(
        total_expected(&f) * 4 < total_expected(&n),
        "flat {} b/s against noisy {} b/s",
        total_expected(&f),
        total_expected(&n)
    );
    assert!(f["bytes"].as_u64().unwrap() * 4 < n["bytes"].as_u64().unwrap());
    assert!(
        f["ladder"]["rungs"].as_array().unwrap().len()
            <= n["ladder"]["rungs"].as_array().unwrap().len()
    );
}

/// A title whose top size runs past the ceiling at every sampled CRF: one more encode of
/// the top size under the ceiling shows what the top rung looks like there, and a rung
/// chosen from it is capped at the ceiling and keeps its CRF.
#[test]
fn a_title_past_the_ceiling_is_weighed_by_an_encode_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let noisy = lavfi_source(
        dir.path(),
        "noisy.mkv",
        "testsrc2=size=640x360:rate=25:duration=8,noise=alls=20:allf=t+u",
    );
    let ceiling = 300_000u64;
    let template = dir.path().join("tight.toml");
    std::fs::write(
        &template,
        PER_TITLE_TEMPLATE.replace("max_bitrate = 4_000_000", "max_bitrate = 300_000"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = openvod(&[
        "transcode",
        s(&noisy),
        "--out",
        s(&out),
        "--template",
        s(&template),
        "--json",
    ]);
    assert_ok(&r, "transcode under a tight ceiling");
    let summary: Value = serde_json::from_slice(&r.stdout).unwrap();
    let ladder = &summary["ladder"];
    let samples = ladder["samples"].as_array().unwrap();
    let held: Vec<&Value> = samples.iter().filter(|p| p["capped"] == true).collect();
    assert_eq!(held.len(), 1, "{ladder}");
    let held = held[0];
    // The top size, at the lowest sampled CRF, its rate brought to the ceiling (over it
    // by at most the buffer's first fill), while the same CRF uncapped ran far past it.
    assert_eq!(held["height"], 360, "{ladder}");
    assert_eq!(held["crf"], 19, "{ladder}");
    let rate = held["bitrate"].as_u64().unwrap();
    assert!(rate >= ceiling * 8 / 10 && rate <= ceiling * 2, "{held}");
    let free = samples
        .iter()
        .find(|p| p["height"] == 360 && p["crf"] == 19 && p["capped"] != true)
        .unwrap();
    assert!(free["bitrate"].as_u64().unwrap() > 2 * ceiling, "{free}");
    // No rung is capped above the ceiling, and a rung taken from the held encode keeps
    // its CRF (the calibration moves the others).
    let rungs = ladder["rungs"].as_array().unwrap();
    assert!(!rungs.is_empty());
    for r in rungs {
        assert!(r["max_bitrate"].as_u64().unwrap() <= ceiling, "{ladder}");
        if r["capped"] == true {
            assert_eq!(r["crf"], 19, "{ladder}");
            assert_eq!(r["height"], 360, "{ladder}");
        }
    }
    assert!(ladder["hull"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["capped"] == true || p["bitrate"].as_u64().unwrap() <= ceiling));
}

#[test]
fn the_quality_command_scores_an_encode_against_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 2, false, &[]);
    let soft = dir.path().join("soft.mp4");
    ffmpeg(&[
        "-i",
        s(&src),
        "-vf",
        "scale=80:46,scale=320:180",
        "-c:v",
        "libx264",
        "-crf",
        "35",
        s(&soft),
    ]);
    let score = |dist: &Path| -> Value {
        let r = openvod(&["quality", s(&src), s(dist), "--json"]);
        assert_ok(&r, "openvod quality");
        serde_json::from_slice(&r.stdout).unwrap()
    };
    let same = score(&src);
    assert_eq!(same["score"], 100.0);
    assert_eq!(same["ssim"], 1.0);
    assert_eq!(same["psnr"], 100.0);
    let worse = score(&soft);
    let q = worse["score"].as_f64().unwrap();
    assert!(q < 80.0 && q > 0.0, "{worse}");
    assert!(worse["ssim"].as_f64().unwrap() < 0.95, "{worse}");
    let text = openvod(&["quality", s(&src), s(&soft)]);
    assert_ok(&text, "openvod quality");
    assert!(String::from_utf8_lossy(&text.stdout).contains("score"));

    // A playlist is not a video to compare: refused before ffmpeg follows it.
    let playlist = dir.path().join("list.m3u8");
    std::fs::write(
        &playlist,
        "#EXTM3U\n#EXTINF:2,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let r = openvod(&["quality", s(&src), s(&playlist)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("list.m3u8") && !err.contains("root:"), "{err}");
    // An audio-only file has no picture.
    let tone = dir.path().join("tone.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=duration=1", s(&tone)]);
    let r = openvod(&["quality", s(&src), s(&tone)]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no video stream"));
}

/// A per-title ladder in three codecs: the analysis runs once (in H.264), every codec gets
/// the chosen sizes and caps at the CRF of the same quality level, and ffmpeg decodes
/// every rendition, HEVC included.
#[test]
fn a_per_title_ladder_in_h264_hevc_and_av1_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "640x360", 25, 4, true, &[]);
    let template = dir.path().join("per-title.toml");
    std::fs::write(&template, PER_TITLE_TEMPLATE).unwrap();
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
    assert_ok(&r, "transcode --ladder per-title --codecs h264,hevc,av1");
    let summary: Value = serde_json::from_slice(&r.stdout).unwrap();
    let chosen = summary["ladder"]["rungs"].as_array().unwrap();
    let planned = summary["plan"]["rungs"].as_array().unwrap();
    assert_eq!(planned.len(), 3 * chosen.len());
    for (k, (codec, offset)) in [("h264", 0), ("hevc", 5), ("av1", 12)]
        .into_iter()
        .enumerate()
    {
        for (i, c) in chosen.iter().enumerate() {
            let p = &planned[k * chosen.len() + i];
            let name = match k {
                0 => c["name"].as_str().unwrap().to_string(),
                _ => format!("{}-{codec}", c["name"].as_str().unwrap()),
            };
            assert_eq!(p["name"], name.as_str());
            assert_eq!(p["codec"], codec);
            assert_eq!((&p["width"], &p["height"]), (&c["width"], &c["height"]));
            assert_eq!(p["max_bitrate"], c["max_bitrate"]);
            assert_eq!(
                p["crf"].as_u64().unwrap(),
                c["crf"].as_u64().unwrap() + offset
            );
            let file = concat_rendition(&out, &name, dir.path());
            assert_eq!(decode_errors(&file), "", "{name} decodes cleanly");
        }
    }
    // The player sees one set of variants per codec.
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    for family in ["avc1", "hvc1", "av01"] {
        let n = master
            .lines()
            .filter(|l| {
                l.starts_with("#EXT-X-STREAM-INF") && l.contains(&format!("CODECS=\"{family}"))
            })
            .count();
        assert_eq!(n, chosen.len(), "{family}: {master}");
    }
}
