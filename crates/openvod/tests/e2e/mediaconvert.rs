//! `openvod transcode --mediaconvert-job`: a MediaConvert CMAF job run with local folders
//! standing in for its S3 buckets.

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
