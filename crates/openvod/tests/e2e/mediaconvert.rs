//! `openvod transcode --mediaconvert-job`: a MediaConvert CMAF job run with local folders
//! standing in for its S3 buckets.

use std::path::Path;

use crate::common::*;

const REFERENCE: &str =
    include_str!("../../../transcode/tests/fixtures/mediaconvert/reference_cmaf.json");

#[test]
fn reference_job_runs_with_mapped_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let src_root = dir.path().join("source-bucket");
    let dst_root = dir.path().join("dest-bucket");
    std::fs::create_dir_all(src_root.join("uploads/2024")).unwrap();
    make_source(
        &src_root.join("uploads/2024"),
        "big_buck_bunny.mp4",
        "1920x1080",
        30,
        4,
        true,
        &[],
    );
    let job = dir.path().join("job.json");
    std::fs::write(&job, REFERENCE).unwrap();
    let map_src = format!("s3://vod-source-111122223333={}", src_root.display());
    let map_dst = format!("s3://vod-destination-111122223333={}", dst_root.display());
    let out = openvod(&[
        "transcode",
        "--mediaconvert-job",
        job.to_str().unwrap(),
        "--map",
        &map_src,
        "--map",
        &map_dst,
        "--json",
    ]);
    assert_ok(&out, "transcode --mediaconvert-job");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: ignored: Settings."),
        "ignored fields are named: {stderr}"
    );
    let cmaf = dst_root.join("big_buck_bunny/cmaf");
    let master = std::fs::read(cmaf.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    let rungs: Vec<String> = master
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| v.uri.clone())
        .collect();
    assert_eq!(
        rungs,
        vec![
            "1080p/index.m3u8",
            "720p/index.m3u8",
            "540p/index.m3u8",
            "360p/index.m3u8"
        ]
    );
    assert!(cmaf.join("manifest.mpd").exists());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let crf: Vec<u64> = summary["plan"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["crf"].as_u64().unwrap())
        .collect();
    assert_eq!(crf, vec![22, 24, 24, 24], "QVBR 8, 7, 7, 7");
}

#[test]
fn unsupported_and_unmapped_jobs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.json");
    std::fs::write(&job, REFERENCE).unwrap();
    let out = openvod(&["transcode", "--mediaconvert-job", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--map s3://vod-source-111122223333=DIR"),
        "{err}"
    );

    let cbr = REFERENCE.replacen(
        "\"RateControlMode\": \"QVBR\"",
        "\"RateControlMode\": \"CBR\"",
        1,
    );
    assert_ne!(cbr, REFERENCE);
    std::fs::write(&job, cbr).unwrap();
    let out = openvod(&[
        "transcode",
        "--mediaconvert-job",
        job.to_str().unwrap(),
        "--map",
        "s3://vod-source-111122223333=/tmp",
        "--map",
        "s3://vod-destination-111122223333=/tmp",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RateControlMode: \"CBR\" is not supported"),
        "{err}"
    );
}

const HEVC: &str = include_str!("../../../transcode/tests/fixtures/mediaconvert/hevc_cmaf.json");
const AV1: &str = include_str!("../../../transcode/tests/fixtures/mediaconvert/av1_cmaf.json");
const MIXED_AV: &str =
    include_str!("../../../transcode/tests/fixtures/mediaconvert/mixed_av_cmaf.json");
const AUTOMATED_ABR: &str =
    include_str!("../../../transcode/tests/fixtures/mediaconvert/automated_abr_cmaf.json");

/// `fixture` made small enough to encode in a moment: reading `input`, writing to `out`,
/// each video output `heights[i]` pixels high in its codec with openvod's default name
/// (its NameModifier and Width removed).
fn small_job(fixture: &str, input: &Path, out: &Path, heights: &[u32]) -> serde_json::Value {
    let mut job: serde_json::Value = serde_json::from_str(fixture).unwrap();
    let settings = &mut job["Settings"];
    settings["Inputs"][0]["FileInput"] = input.to_str().unwrap().into();
    let group = &mut settings["OutputGroups"][0];
    group["OutputGroupSettings"]["CmafGroupSettings"]["Destination"] = out.to_str().unwrap().into();
    let outputs = group["Outputs"].as_array_mut().unwrap();
    let videos = outputs.iter_mut().filter_map(|o| {
        let o = o.as_object_mut()?;
        o.get("VideoDescription")?;
        Some(o)
    });
    let mut count = 0;
    for (o, h) in videos.zip(heights) {
        o.remove("NameModifier");
        let video = o["VideoDescription"].as_object_mut().unwrap();
        video.remove("Width");
        video.insert("Height".into(), (*h).into());
        count += 1;
    }
    assert_eq!(count, heights.len(), "a height per video output");
    job
}

/// ffprobe's codec name of the first stream of `kind` (`v` or `a`) in `file`.
fn codec_of(file: &Path, kind: &str) -> String {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `job` with `openvod transcode --mediaconvert-job --json` and checks that every
/// expected rendition (name, ffprobe codec) is written, decodes, and is planned with that
/// codec. Returns the command's stderr.
fn run_job(dir: &Path, job: &serde_json::Value, out: &Path, expected: &[(&str, &str)]) -> String {
    let path = dir.join("job.json");
    std::fs::write(&path, job.to_string()).unwrap();
    let r = openvod(&[
        "transcode",
        "--mediaconvert-job",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&r, "transcode --mediaconvert-job");
    let mut names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    names.extend([
        "images.json",
        "manifest.mpd",
        "master.m3u8",
        "poster.jpg",
        "storyboard.jpg",
        "storyboard.vtt",
    ]);
    names.sort();
    assert_eq!(entries(out), names);
    for (name, codec) in expected {
        let file = concat_rendition(out, name, dir);
        let kind = if *codec == "aac" { "a" } else { "v" };
        assert_eq!(codec_of(&file, kind), *codec, "{name}");
        assert_eq!(decode_errors(&file), "", "{name} decodes cleanly");
    }
    // openvod's codec names are ffprobe's.
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let planned: Vec<(&str, &str)> = summary["plan"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["codec"].as_str().unwrap()))
        .collect();
    let videos: Vec<(&str, &str)> = expected
        .iter()
        .copied()
        .filter(|(_, c)| *c != "aac")
        .collect();
    assert_eq!(planned, videos);
    String::from_utf8_lossy(&r.stderr).into_owned()
}

#[test]
fn an_hevc_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 2, true, &[]);
    let out = dir.path().join("out");
    let job = small_job(HEVC, &src, &out, &[180, 144, 90]);
    let stderr = run_job(
        dir.path(),
        &job,
        &out,
        &[
            ("180p", "hevc"),
            ("144p", "hevc"),
            ("90p", "hevc"),
            ("aac", "aac"),
        ],
    );
    assert!(stderr.contains("warning: ignored: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H265Settings.Tiles = \"ENABLED\""), "{stderr}");
    let hevc = concat_rendition(&out, "144p", dir.path());
    let tag = probe_video(&hevc, "stream=codec_tag_string", "csv=p=0");
    assert_eq!(tag.trim(), "hvc1");
}

#[test]
fn an_av1_job_with_an_h264_fallback_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 2, true, &[]);
    let out = dir.path().join("out");
    let job = small_job(AV1, &src, &out, &[180, 128, 64, 90]);
    run_job(
        dir.path(),
        &job,
        &out,
        &[
            ("180p", "av1"),
            ("128p", "av1"),
            ("64p", "av1"),
            ("90p-h264", "h264"),
            ("aac", "aac"),
        ],
    );
    // The smallest AV1 picture SVT-AV1 makes is 64 pixels high; below, the job is refused
    // before any work starts.
    let too_small = small_job(AV1, &src, &out, &[180, 128, 48, 90]);
    std::fs::write(dir.path().join("small.json"), too_small.to_string()).unwrap();
    let r = openvod(&[
        "transcode",
        "--mediaconvert-job",
        dir.path().join("small.json").to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("Outputs[2].VideoDescription.Height: 48 pixels is too small for AV1"),
        "{err}"
    );
}

#[test]
fn a_job_with_audio_in_its_video_outputs_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 2, true, &[]);
    let out = dir.path().join("out");
    let job = small_job(MIXED_AV, &src, &out, &[180, 90]);
    let stderr = run_job(
        dir.path(),
        &job,
        &out,
        &[("180p", "h264"), ("90p", "h264"), ("audio", "aac")],
    );
    assert!(
        stderr.contains("warning: split: Settings.OutputGroups[0].Outputs[0].AudioDescriptions: this audio is written as its own rendition \"audio\""),
        "{stderr}"
    );
    // The video renditions carry no audio of their own.
    let video = concat_rendition(&out, "180p", dir.path());
    assert_eq!(codec_of(&video, "a"), "");
}

/// An Automated ABR job (`AutomatedEncodingSettings.AbrSettings`) runs as a per-title
/// ladder within its bounds, from the sizes its ALLOWED_RENDITIONS rule gives.
#[test]
fn an_automated_abr_job_runs_as_a_per_title_ladder() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "src.mp4", "320x180", 25, 4, true, &[]);
    let out = dir.path().join("out");
    let mut job: serde_json::Value = serde_json::from_str(AUTOMATED_ABR).unwrap();
    let settings = &mut job["Settings"];
    settings["Inputs"][0]["FileInput"] = src.to_str().unwrap().into();
    let group = &mut settings["OutputGroups"][0];
    group["OutputGroupSettings"]["CmafGroupSettings"]["Destination"] = out.to_str().unwrap().into();
    let abr = &mut group["AutomatedEncodingSettings"]["AbrSettings"];
    abr["MinAbrBitrate"] = 100_000.into();
    abr["Rules"] = serde_json::json!([{
        "Type": "ALLOWED_RENDITIONS",
        "AllowedRenditions": [
            {"Width": 320, "Height": 180, "Required": "DISABLED"},
            {"Width": 160, "Height": 90, "Required": "DISABLED"}
        ]
    }]);
    let path = dir.path().join("job.json");
    std::fs::write(&path, job.to_string()).unwrap();
    let r = openvod(&[
        "transcode",
        "--mediaconvert-job",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&r, "transcode --mediaconvert-job (Automated ABR)");
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let ladder = &summary["ladder"];
    // MaxQualityLevel 7 is a top score of 91; 2 sizes at 3 CRFs were sampled.
    assert_eq!(ladder["top_quality"], 91.0);
    assert_eq!(ladder["samples"].as_array().unwrap().len(), 6);
    let rungs = ladder["rungs"].as_array().unwrap();
    assert!(!rungs.is_empty() && rungs.len() <= 5, "{ladder}");
    for rung in rungs {
        let name = rung["name"].as_str().unwrap();
        assert!(["180p", "90p", "180p-2", "90p-2"].contains(&name), "{name}");
        assert!(rung["max_bitrate"].as_u64().unwrap() <= 6_000_000);
        let file = concat_rendition(&out, name, dir.path());
        assert_eq!(codec_of(&file, "v"), "h264");
        assert_eq!(decode_errors(&file), "", "{name} decodes cleanly");
    }
    let audio = concat_rendition(&out, "aac", dir.path());
    assert_eq!(codec_of(&audio, "a"), "aac");
}
