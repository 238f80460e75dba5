//! Chunked encoding across worker processes, on PostgreSQL and S3 (Garage): a 60 s
//! title in 10 s chunks, one worker killed with SIGKILL in the middle of a chunk. Only
//! that chunk runs again; the joined renditions have every frame of the source once, in
//! order, each the source's own picture (no frame lost or doubled at a seam), decode
//! without an error, and keep a flash and a tone at 55 s together. A source shorter than
//! two chunks is encoded whole.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::service::{curl, fleet, json, unsafe_kill, upload, wait_until, write_config};

const SECONDS: u32 = 60;
const RATE: u32 = 30;

/// 60 s at 30 fps, 960x540 (two rungs): moving test pictures at half brightness (so
/// that only the flash is bright), a white flash and a 1 kHz tone burst together from
/// 55.0 to 55.2 s, silence otherwise.
fn moving_flash_source(dir: &Path) -> std::path::PathBuf {
    made_source(
        dir,
        "moving.mp4",
        &[
            "-f", "lavfi", "-i",
            "testsrc2=size=960x540:rate=30:duration=60,lutyuv=y=val/2,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,55,55.2)'",
            "-f", "lavfi", "-i",
            "aevalsrc='if(between(t,55,55.2),0.5*sin(2*PI*1000*t),0)':s=48000:d=60",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ],
    )
}

/// Presentation times of the frames of `file`'s video.
fn frame_times(file: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// PSNR (dB) of each frame of `encoded` against the same frame of `source` scaled to
/// `size`.
fn psnr_per_frame(encoded: &Path, source: &Path, size: &str, dir: &Path) -> Vec<f64> {
    let stats = dir.join("psnr.log");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(encoded)
        .arg("-i")
        .arg(source)
        .args([
            "-lavfi",
            &format!(
                "[1:v]scale={size}:flags=bicubic[r];[0:v][r]psnr=stats_file={}",
                stats.display()
            ),
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&stats)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v = l.split("psnr_avg:").nth(1)?.split_whitespace().next()?;
            Some(if v == "inf" { 99.0 } else { v.parse().ok()? })
        })
        .collect()
}

#[test]
fn a_title_encoded_in_chunks_across_workers_is_whole_after_a_killed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let Some(env) = pg_s3_env(&format!("chunks_{}", std::process::id())) else {
        return;
    };
    let config = write_config(dir.path(), "concurrency = 1\n");
    let template = dir.path().join("fast.toml");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        text.replace(
            "gop_seconds = 2.0",
            "gop_seconds = 2.0\nchunk_seconds = 10.0",
        ),
    )
    .unwrap();
    let mut api_env = env.clone();
    api_env.push(("OPENVOD_WORKER_CONCURRENCY".into(), "0".into()));
    let api = start_service("serve", &config, &api_env);
    let base = api.base.clone();
    let src = moving_flash_source(dir.path());
    let id = upload(&base, &src);

    // The first worker is killed while it holds a video chunk, half-way through it.
    let mut first = start_service("worker", &config, &env);
    let started = Instant::now();
    let killed_part = loop {
        let (_, _, body) = curl(&[&format!("{base}/v1/assets/{id}")]);
        let a = json(&body);
        let running = a["tasks"].as_array().and_then(|t| {
            t.iter()
                .find(|t| {
                    t["stage"] == "encode"
                        && t["part"].as_u64().unwrap_or(0) >= 1
                        && t["status"] == "running"
                        && t["progress"].as_f64().unwrap_or(0.0) > 20.0
                })
                .cloned()
        });
        if let Some(t) = running {
            break t["part"].as_u64().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(180), "{a}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let held = fleet(&base);
    unsafe_kill(&mut first.child);
    assert!(
        held["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["task"]["stage"] == "encode" && w["task"]["part"] == killed_part),
        "the fleet shows the part a worker holds: {held}"
    );
    // Each with its own scratch folder, as on hosts of their own.
    let scratch = |n: &str| {
        let mut e = env.clone();
        let d = dir.path().join(n);
        e.push(("OPENVOD_WORKER_WORK_DIR".into(), d.display().to_string()));
        (e, d)
    };
    let (second_env, second_dir) = scratch("work-2");
    let (third_env, third_dir) = scratch("work-3");
    let _second = start_service("worker", &config, &second_env);
    let _third = start_service("worker", &config, &third_env);
    // A source shorter than two chunks is encoded whole, by one task (beside its preview).
    let short = make_source(dir.path(), "short.mp4", "320x240", 25, 6, true, &[]);
    let short_id = upload(&base, &short);
    let asset = wait_until(&base, &id, "ready", Duration::from_secs(600));
    let whole = wait_until(&base, &short_id, "ready", Duration::from_secs(300));
    let stages: Vec<&str> = whole["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "probe",
            "validate",
            "preview",
            "transcode",
            "package",
            "publish"
        ],
        "{whole}"
    );
    assert!(asset["warnings"].as_array().unwrap().is_empty(), "{asset}");

    // Part 0 (audio and text) and six video chunks; the killed one alone ran twice.
    let parts: Vec<(u64, u64)> = asset["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == "encode")
        .map(|t| {
            assert_eq!(t["status"], "succeeded", "{asset}");
            (t["part"].as_u64().unwrap(), t["attempts"].as_u64().unwrap())
        })
        .collect();
    let expected: Vec<(u64, u64)> = (0..=6)
        .map(|p| (p, if p == killed_part { 2 } else { 1 }))
        .collect();
    assert_eq!(parts, expected, "{asset}");
    assert!(
        asset["usage"]["encode_cpu_seconds"].as_f64().unwrap() > 1.0,
        "{asset}"
    );
    // No worker keeps its copy of the source once no part is left to take.
    for d in [&second_dir, &third_dir] {
        let copy = d.join(&id).join("source");
        assert!(!copy.exists(), "{} is left behind", copy.display());
    }

    let master = format!("{base}/play/{id}/master.m3u8");
    let errors = decode_errors(Path::new(&master));
    assert!(errors.trim().is_empty(), "{errors}");
    for (rung, size) in [("540p", "960:540"), ("360p", "640:360")] {
        let playlist = format!("{base}/play/{id}/{rung}/index.m3u8");
        let file = dir.path().join(format!("{rung}.mp4"));
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i", &playlist])
            .args(["-map", "0:v:0", "-c", "copy"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Every frame once, one frame apart: nothing doubled or lost at a seam.
        let times = frame_times(&file);
        assert_eq!(times.len(), (SECONDS * RATE) as usize, "{rung}: frames");
        for (k, w) in times.windows(2).enumerate() {
            assert!(
                ((w[1] - w[0]) - 1.0 / f64::from(RATE)).abs() < 1e-3,
                "{rung}: frame {} at {} follows one at {}",
                k + 1,
                w[1],
                w[0]
            );
        }
        // Each frame is the source's frame of the same number: a frame lost or doubled
        // at a seam would shift every later one onto another picture (measured: one
        // frame off, these pictures score 20-23 dB; in place, over 40).
        let psnr = psnr_per_frame(&file, &src, size, dir.path());
        assert_eq!(psnr.len(), times.len(), "{rung}");
        let (worst, at) = psnr
            .iter()
            .enumerate()
            .map(|(k, p)| (*p, k))
            .fold((f64::MAX, 0), |a, b| if b.0 < a.0 { b } else { a });
        let seams: Vec<String> = (1..6).map(|c| format!("{:.1}", psnr[c * 300])).collect();
        eprintln!("{rung}: worst PSNR {worst:.1} dB at frame {at}; at the seams {seams:?}");
        assert!(
            worst > 30.0,
            "{rung}: frame {at} is {worst:.1} dB from the source's"
        );
    }
    // Lip sync at the end of the title: the tone starts with the flash.
    let (_, flash) = crate::clips::frames_and_flash(&master);
    let tone = crate::av_sync::beep_time(Path::new(&master));
    assert!((flash - 55.0).abs() < 0.02, "flash at {flash}");
    assert!(
        (tone - flash).abs() < 1.0 / 30.0,
        "tone {tone}, flash {flash}"
    );
}
