//! Packaging on request (`[packaging] mode = "jit"`) through `openvod serve`: a 3-hour
//! rendition is served from start to end, and an S3 store is read with ranged gets only.
//! The origin's answers (every object of every copy byte-equal to packaging ahead of
//! time, segment lengths, the shield, store failures) are tested in-process in
//! crates/server/tests/origin.rs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// `openvod serve` with a template `jit` (packaging on request, with `protection`).
pub(crate) fn serve_jit(dir: &Path, protection: &str) -> Service {
    serve_jit_with(dir, protection, &[])
}

fn serve_jit_with(dir: &Path, protection: &str, env: &[(String, String)]) -> Service {
    let template = std::fs::read_to_string(fast_template(dir))
        .unwrap()
        .replace("mode = \"static\"", "mode = \"jit\"")
        + protection;
    let tpath = dir.join("jit.toml");
    std::fs::write(&tpath, template).unwrap();
    let cfg = dir.join("openvod.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[drm]\nmaster_key = \"{}\"\n[templates]\njit = \"{}\"\n",
            dir.join("data").display(),
            "4f".repeat(32),
            tpath.display()
        ),
    )
    .unwrap();
    start_service("serve", &cfg, env)
}

pub(crate) fn upload(s: &Service, src: &Path) -> String {
    let out = Command::new("curl")
        .args(["-s", "--data-binary"])
        .arg(format!("@{}", src.display()))
        .arg(format!("{}/v1/assets?name=src.mp4&template=jit", s.base))
        .output()
        .unwrap();
    let id = json(&out.stdout)["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, _, body) = curl_get(&format!("{}/v1/assets/{id}", s.base));
        let a = json(&body);
        match a["status"].as_str() {
            Some("ready") => return id,
            Some("failed") => panic!("asset failed: {a}"),
            _ if Instant::now() > deadline => panic!("not ready: {a}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn metric(base: &str, name: &str) -> f64 {
    let (_, _, body) = curl_get(&format!("{base}/metrics"));
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_three_hour_rendition_is_served_from_start_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve_jit(dir.path(), "");
    let src = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=2:duration=10800",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        src.to_str().unwrap(),
    ]);
    let id = upload(&s, &src);
    let play = |p: &str| format!("{}/play/{id}/{p}", s.base);
    let (status, _, master) = curl_get(&play("master.m3u8"));
    assert_eq!(status, 200);
    let master = String::from_utf8(master).unwrap();
    let media = master
        .lines()
        .find(|l| l.ends_with("index.m3u8") && !l.starts_with('#'))
        .unwrap()
        .to_string();
    let name = media.split('/').next().unwrap().to_string();
    let (_, _, playlist) = curl_get(&play(&media));
    let playlist = String::from_utf8(playlist).unwrap();
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".m4s")).collect();
    let total: f64 = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|l| l.trim_end_matches(',').parse::<f64>().ok())
        .sum();
    assert!((total - 10800.0).abs() < 5.0, "{total} s listed");
    let (_, _, init) = curl_get(&play(&format!("{name}/init.mp4")));
    // The first, middle and last segments decode.
    for n in [1, segments.len() / 2, segments.len()] {
        let (status, _, seg) = curl_get(&play(&format!("{name}/{n}.m4s")));
        assert_eq!(status, 200, "segment {n}");
        let file = dir.path().join(format!("seg{n}.mp4"));
        std::fs::write(&file, [init.as_slice(), seg.as_slice()].concat()).unwrap();
        let errors = decode_errors(&file);
        assert!(errors.is_empty(), "segment {n}: {errors}");
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let frames: u32 = String::from_utf8_lossy(&probe.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(frames >= 2, "segment {n}: {frames} frames");
    }
}

#[test]
fn an_s3_store_is_read_with_ranged_gets_only() {
    let Some(env) = pg_s3_env(&format!("jit_{}", std::process::id())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = serve_jit_with(
        dir.path(),
        "\n[protection]\noutputs = [\"clear\", \"cbcs\"]\ndrm_systems = [\"clearkey\"]\n",
        &env,
    );
    let src = make_source(dir.path(), "src.mp4", "640x360", 25, 9, true, &[]);
    let id = upload(&s, &src);
    let play = |p: &str| format!("{}/play/{id}/{p}", s.base);
    let reads = metric(&s.base, "openvod_store_reads_total");
    let (status, _, init) = curl_get(&play("360p/init.mp4"));
    assert_eq!(status, 200);
    let (_, _, playlist) = curl_get(&play("360p/index.m3u8"));
    let playlist = String::from_utf8(playlist).unwrap();
    let segments: Vec<String> = playlist
        .lines()
        .filter(|l| l.ends_with(".m4s"))
        .map(String::from)
        .collect();
    assert!(segments.len() >= 2, "{playlist}");
    let mut stream = init.clone();
    for seg in &segments {
        let (status, _, body) = curl_get(&play(&format!("360p/{seg}")));
        assert_eq!(status, 200, "{seg}");
        stream.extend_from_slice(&body);
        assert_eq!(
            curl_get(&play(&format!("cbcs/360p/{seg}"))).0,
            200,
            "cbcs {seg}"
        );
    }
    let file = dir.path().join("clear.mp4");
    std::fs::write(&file, stream).unwrap();
    assert_eq!(decode_errors(&file), "", "the clear copy decodes");
    // presentation.json, two indexes and the storyboard's sprite once, then one ranged
    // GET per segment made.
    let after = metric(&s.base, "openvod_store_reads_total");
    assert_eq!(
        after - reads,
        (4 + 2 * segments.len()) as f64,
        "store reads from S3"
    );
}
