//! `openvod serve`, `worker` and `origin` as real processes over HTTP: upload, the
//! pipeline to ready, the origin serving it (its answers are tested in-process in
//! crates/server/tests/origin.rs), bad requests, and a worker killed with SIGKILL in the
//! middle of a transcode. On SQLite + a folder, and on PostgreSQL + S3
//! (Garage) with each role in its own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::*;

/// `curl` with `args`; returns (status, headers, body).
pub(crate) fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("h");
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "-",
            "-D",
            headers.to_str().unwrap(),
            "--max-time",
            "120",
        ])
        .args(args)
        .output()
        .unwrap();
    let h = std::fs::read_to_string(&headers).unwrap_or_default();
    let status = h
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, h.to_ascii_lowercase(), out.stdout)
}

pub(crate) fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

pub(crate) fn upload(api: &str, file: &Path) -> String {
    let (status, _, body) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{api}/v1/assets?name=clip.mp4"),
    ]);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    json(&body)["id"].as_str().unwrap().to_string()
}

pub(crate) fn wait_until(api: &str, id: &str, want: &str, limit: Duration) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, _, body) = curl(&[&format!("{api}/v1/assets/{id}")]);
        assert_eq!(status, 200);
        let a = json(&body);
        if a["status"] == want {
            return a;
        }
        assert!(a["status"] != "failed" && a["status"] != "cancelled", "{a}");
        assert!(
            started.elapsed() < limit,
            "still {} after {limit:?}: {a}",
            a["status"]
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(crate) fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let template = fast_template(dir);
    let path = dir.join("openvod.toml");
    let text = format!(
        "data_dir = \"{}\"\n[templates]\ndefault = \"{}\"\n[upload]\nmax_bytes = 30000000\n[watch]\ninterval_seconds = 1\nsettle_seconds = 1\n[worker]\nlease_seconds = 4\nheartbeat_seconds = 1\nretry_base_seconds = 1\n{extra}",
        dir.join("data").display(),
        template.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Checks that the origin process serves a ready asset from its store (the answers'
/// headers, ranges and validators are tested in-process in crates/server/tests/origin.rs).
pub(crate) fn check_origin(origin: &str, id: &str) {
    let play = format!("{origin}/play/{id}");
    let (status, _, body) = curl(&[&format!("{play}/master.m3u8")]);
    assert_eq!(status, 200);
    assert!(body.starts_with(b"#EXTM3U"));
    let (status, headers, body) = curl(&["-r", "0-99", &format!("{play}/360p/1.m4s")]);
    assert_eq!((status, body.len()), (206, 100), "{headers}");
    assert_eq!(&body[4..8], b"styp");
    // ffmpeg plays both manifests over HTTP.
    for m in ["master.m3u8", "manifest.mpd"] {
        let out = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-i",
                &format!("{play}/{m}"),
                "-map",
                "0",
                "-f",
                "null",
                "-",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn serve_on_sqlite_and_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "clip.mp4", "640x360", 25, 6, true, &[]);
    let config = write_config(dir.path(), "");
    let server = start_service("serve", &config, &[]);
    let api = server.base.clone();
    let (status, _, body) = curl(&[&format!("{api}/healthz")]);
    assert_eq!((status, json(&body)["status"].as_str()), (200, Some("ok")));
    let (status, _, body) = curl(&[&format!("{api}/readyz")]);
    assert_eq!(
        (status, json(&body)["database"].as_str()),
        (200, Some("ok"))
    );

    let id = upload(&api, &src);
    let asset = wait_until(&api, &id, "ready", Duration::from_secs(180));
    assert_eq!(asset["playback"]["hls"], format!("/play/{id}/master.m3u8"));
    assert_eq!(asset["source"]["name"], "clip.mp4");
    assert_eq!(asset["renditions"].as_array().unwrap().len(), 2, "{asset}");
    // What the processing used, as recorded: real CPU time and the bytes kept.
    let usage = &asset["usage"];
    assert!(
        usage["encode_cpu_seconds"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    assert!(
        usage["package_cpu_seconds"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    assert_eq!(
        usage["source_bytes"],
        std::fs::metadata(&src).unwrap().len()
    );
    assert!(usage["output_bytes"].as_u64().unwrap() > 10_000, "{usage}");
    assert_eq!(
        usage["rungs"],
        serde_json::json!(["h264:360p@25"]),
        "{usage}"
    );
    assert!(
        (usage["minutes"].as_f64().unwrap() - 0.1).abs() < 0.01,
        "{usage}"
    );
    check_origin(&api, &id);
    // The origin's answers reach the asset's served bytes within a flush.
    let started = Instant::now();
    loop {
        let (_, _, body) = curl(&[&format!("{api}/v1/assets/{id}")]);
        let a = json(&body);
        if a["usage"]["served_bytes"].as_u64().unwrap_or(0) > 0 {
            assert!(
                a["cost"]["aws"]["cloudfront_usd"].as_f64().unwrap() > 0.0,
                "{a}"
            );
            assert!(a["cost"]["openvod"]["usd"].as_f64().unwrap() > 0.0, "{a}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{a}");
        std::thread::sleep(Duration::from_millis(500));
    }

    let (status, _, body) = curl(&[&format!("{api}/v1/assets?status=ready&limit=10")]);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["assets"][0]["id"], id);
    let (status, _, body) = curl(&[&format!("{api}/metrics")]);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(
        text.contains("openvod_assets{status=\"ready\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("openvod_origin_requests_total{status=\"206\"}"),
        "{text}"
    );
    for metric in [
        "openvod_task_seconds_bucket{stage=\"transcode\",outcome=\"succeeded\"",
        "openvod_encode_speed_count",
        "openvod_queue_depth",
        "openvod_origin_bytes_total{status=\"206\"}",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }

    // Bad requests: clear 4xx, nothing written outside the data folder.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 31_000_000]).unwrap();
    let (status, _, body) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", big.display()),
        &format!("{api}/v1/assets"),
    ]);
    assert_eq!(
        (status, json(&body)["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let (status, _, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Length: 0",
        &format!("{api}/v1/assets"),
    ]);
    assert_eq!(
        (status, json(&body)["error"]["code"].as_str()),
        (400, Some("empty_body"))
    );
    let (status, _, _) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        "x",
        &format!("{api}/v1/assets?template=nope"),
    ]);
    assert_eq!(status, 400);
    let (status, _, _) = curl(&[
        "-X",
        "POST",
        &format!("{api}/v1/assets?limit=x&status=bogus"),
    ]);
    assert_eq!(status, 400, "a POST without a body");
    let (status, _, _) = curl(&[&format!("{api}/v1/assets?status=bogus")]);
    assert_eq!(status, 400);

    // A failing upload fails with a reason, and retry re-runs only the failed stage.
    let text_file = dir.path().join("notes.mp4");
    std::fs::write(&text_file, "not a video at all").unwrap();
    let bad = upload(&api, &text_file);
    let started = Instant::now();
    let failed = loop {
        let (_, _, body) = curl(&[&format!("{api}/v1/assets/{bad}")]);
        let a = json(&body);
        if a["status"] == "failed" {
            break a;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{a}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(failed["error"]["code"], "invalid_media");

    // A file dropped into the watched folder becomes an asset, once.
    let watched = dir.path().join("data/objects/sources/watch");
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::copy(&src, watched.join("dropped.mp4")).unwrap();
    let started = Instant::now();
    let dropped = loop {
        let (_, _, body) = curl(&[&format!("{api}/v1/assets?limit=50")]);
        let list = json(&body);
        let found: Vec<&serde_json::Value> = list["assets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["source"]["name"] == "dropped.mp4")
            .collect();
        assert!(found.len() <= 1, "imported twice: {list}");
        if let Some(a) = found.first() {
            break a["id"].as_str().unwrap().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the watched file was not imported"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    wait_until(&api, &dropped, "ready", Duration::from_secs(180));

    // Delete removes the outputs.
    let (status, _, _) = curl(&["-X", "DELETE", &format!("{api}/v1/assets/{id}")]);
    assert_eq!(status, 204);
    let (status, _, _) = curl(&[&format!("{api}/v1/assets/{id}")]);
    assert_eq!(status, 404);
    let (status, _, _) = curl(&[&format!("{api}/play/{id}/master.m3u8")]);
    assert_eq!(status, 404);
    assert!(!dir.path().join("data/objects/outputs").join(&id).exists());
    assert!(
        dir.path()
            .join("data/objects/sources/uploads")
            .read_dir()
            .unwrap()
            .count()
            >= 1,
        "sources are kept"
    );
}

#[test]
fn separate_roles_on_postgres_and_s3_survive_a_killed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let Some(env) = pg_s3_env(&format!("svc_{}", std::process::id())) else {
        return;
    };
    // The API process runs no worker; workers and the origin are processes of their own.
    let config = write_config(dir.path(), "concurrency = 1\n");
    let mut api_env = env.clone();
    api_env.push(("OPENVOD_WORKER_CONCURRENCY".into(), "0".into()));
    let api = start_service("serve", &config, &api_env);
    let origin = start_service("origin", &config, &env);
    // Long enough that the first worker is surely mid-transcode when it is killed.
    let src = make_source(dir.path(), "long.mp4", "1280x720", 25, 20, true, &[]);
    let source_bytes = std::fs::read(&src).unwrap();
    let id = upload(&api.base, &src);

    let mut first = start_service("worker", &config, &env);
    let started = Instant::now();
    loop {
        let (_, _, body) = curl(&[&format!("{}/v1/assets/{id}", api.base)]);
        let a = json(&body);
        if a["stage"] == "transcode" && a["progress"].as_f64().unwrap_or(0.0) > 5.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{a}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SIGKILL: no chance to clean up or give the lease back.
    unsafe_kill(&mut first.child);
    let _second = start_service("worker", &config, &env);
    let asset = wait_until(&api.base, &id, "ready", Duration::from_secs(300));
    let transcode = task_of(&asset, "transcode");
    assert_eq!(
        transcode["attempts"], 2,
        "the second worker re-ran the transcode after the lease expired: {asset}"
    );
    check_origin(&origin.base, &id);
    // Exactly one set of outputs, and the source byte-identical to what was uploaded.
    let objects = s3_objects(&env);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys: Vec<String> = rt
        .block_on(objects.outputs.list(&id))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        keys.iter().all(|k| k.starts_with(&format!("{id}/out/"))),
        "{keys:?}"
    );
    // The presentation's and its preview's.
    assert_eq!(
        keys.iter()
            .filter(|k| k.ends_with("master.m3u8"))
            .collect::<Vec<_>>(),
        [
            &format!("{id}/out/master.m3u8"),
            &format!("{id}/out/preview/master.m3u8")
        ],
        "{keys:?}"
    );
    let copy = dir.path().join("source-after");
    rt.block_on(
        objects
            .sources
            .download(asset["source"]["key"].as_str().unwrap(), &copy),
    )
    .unwrap();
    assert!(
        std::fs::read(&copy).unwrap() == source_bytes,
        "the source changed"
    );
}

/// `kill -9`: the process gets no chance to clean up.
pub(crate) fn unsafe_kill(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = child.wait();
}

/// The S3 store the child processes use, opened here to look at it directly.
pub(crate) fn s3_objects(env: &[(String, String)]) -> openvod_store::Objects {
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let config = openvod_store::ObjectsConfig::S3 {
        endpoint: Some(get("OPENVOD_STORE_ENDPOINT")),
        source_bucket: get("OPENVOD_STORE_SOURCE_BUCKET"),
        output_bucket: get("OPENVOD_STORE_OUTPUT_BUCKET"),
        region: get("OPENVOD_STORE_REGION"),
        access_key_id: get("OPENVOD_STORE_ACCESS_KEY_ID"),
        secret_access_key: get("OPENVOD_STORE_SECRET_ACCESS_KEY"),
        path_style: true,
        allow_http: true,
    };
    openvod_store::Objects::open(&config).unwrap()
}

#[test]
fn twenty_uploads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), "tiny.mp4", "320x240", 25, 2, true, &[]);
    let config = write_config(dir.path(), "concurrency = 2\n");
    let server = start_service("serve", &config, &[]);
    let api = server.base.clone();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20).map(|_| s.spawn(|| upload(&api, &src))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        20
    );
    for id in &ids {
        wait_until(&api, id, "ready", Duration::from_secs(600));
    }
}

/// The task of `stage` in an asset's answer.
pub(crate) fn task_of<'a>(asset: &'a serde_json::Value, stage: &str) -> &'a serde_json::Value {
    asset["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["stage"] == stage)
        .unwrap_or_else(|| panic!("no {stage} task: {asset}"))
}

/// `GET /v1/workers` from the API process.
pub(crate) fn fleet(api: &str) -> serde_json::Value {
    let (status, _, body) = curl(&[&format!("{api}/v1/workers")]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json(&body)
}

/// The workers of the fleet whose process is `pid`: its ladder workers and its preview
/// worker.
pub(crate) fn workers_of(fleet: &serde_json::Value, pid: u32) -> Vec<serde_json::Value> {
    fleet["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["pid"] == pid)
        .cloned()
        .collect()
}

/// The ladder worker of the fleet whose process is `pid` (not its preview worker, which
/// takes only previews and, idle, stops at once on SIGTERM).
pub(crate) fn worker_of(fleet: &serde_json::Value, pid: u32) -> serde_json::Value {
    workers_of(fleet, pid)
        .into_iter()
        .find(|w| w["id"].as_str().is_some_and(|id| !id.contains("-preview-")))
        .unwrap_or_else(|| panic!("no ladder worker of process {pid}: {fleet}"))
}

#[test]
fn workers_beside_serve_from_one_config_claim_what_they_can_encode_and_drain_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // One file for every process, with a fixed `listen`, as an operator writes it: the
    // workers, started from it as it is, answer on addresses of their own.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let av1 = dir.path().join("av1.toml");
    std::fs::write(
        &av1,
        include_str!("../../../transcode/templates/default.toml")
            .replace("codec = \"h264\"", "codec = \"av1\"")
            .replace(
                "preset = \"medium\"",
                "preset = \"superfast\"\nav1_preset = 12",
            ),
    )
    .unwrap();
    let config = write_config(dir.path(), "concurrency = 1\n");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[templates]\n",
        &format!("[templates]\nav1 = \"{}\"\n", av1.display()),
    );
    std::fs::write(&config, format!("listen = \"127.0.0.1:{port}\"\n{text}")).unwrap();
    let api = start_service_with(
        "serve",
        &config,
        &[("OPENVOD_WORKER_CONCURRENCY".into(), "0".into())],
        &[],
    );
    assert_eq!(api.base, format!("http://127.0.0.1:{port}"));
    // A worker whose ffmpeg has no SVT-AV1.
    let (bin, _) = ffmpeg_lacking(dir.path(), "libsvtav1");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let no_av1 = start_service_with("worker", &config, &[("PATH".into(), path)], &[]);
    let (status, _, _) = curl(&[&format!("{}/healthz", no_av1.base)]);
    assert_eq!(status, 200, "the worker answers on the address it printed");
    let started = Instant::now();
    let f = loop {
        let f = fleet(&api.base);
        if workers_of(&f, no_av1.child.id()).len() == 2 {
            break f;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{f}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let w = worker_of(&f, no_av1.child.id());
    assert_eq!(w["state"], "running", "{w}");
    assert_eq!(w["codecs"], serde_json::json!(["h264", "hevc"]), "{w}");
    assert_eq!(
        w["listen"].as_str().map(|l| format!("http://{l}")),
        Some(no_av1.base.clone())
    );
    assert!(
        w["ffmpeg"].as_str().unwrap().starts_with("ffmpeg version"),
        "{w}"
    );

    // An AV1 job with no worker that can encode it: refused at validation, by name.
    let small = make_source(dir.path(), "small.mp4", "320x180", 25, 2, true, &[]);
    let av1_id = upload_as(&api.base, &small, "small.mp4&template=av1");
    let failed = wait_until(&api.base, &av1_id, "failed", Duration::from_secs(60));
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no libsvtav1 encoder") && message.contains("no live worker"),
        "{failed}"
    );

    // A worker that has it joins, and takes the next AV1 transcode: the only one that
    // can. SIGTERM in the middle of it: the worker finishes the transcode, then stops,
    // and the worker without SVT-AV1 packages and publishes the AV1 rungs.
    let full = start_service_with("worker", &config, &[], &[]);
    let src = make_source(dir.path(), "long.mp4", "1280x720", 25, 20, true, &[]);
    let id = upload_as(&api.base, &src, "long.mp4&template=av1");
    let started = Instant::now();
    let holder = loop {
        let f = fleet(&api.base);
        let holder =
            f["workers"].as_array().unwrap().iter().find(|w| {
                w["task"]["asset_id"] == id.as_str() && w["task"]["stage"] == "transcode"
            });
        let (_, _, body) = curl(&[&format!("{}/v1/assets/{id}", api.base)]);
        let a = json(&body);
        if let Some(h) = holder.filter(|_| a["progress"].as_f64().unwrap_or(0.0) > 5.0) {
            break h.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{f} {a}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(holder["pid"], full.child.id(), "{holder}");
    assert_eq!(
        holder["codecs"],
        serde_json::json!(["h264", "hevc", "av1"]),
        "{holder}"
    );
    assert_ne!(
        holder["listen"],
        worker_of(&fleet(&api.base), no_av1.child.id())["listen"]
    );
    let mut draining = full;
    let pid = draining.child.id();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let w = loop {
        let w = worker_of(&fleet(&api.base), pid);
        if w["state"] != "running" {
            break w;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{w}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(w["state"], "draining", "{w}");
    assert_eq!(w["task"]["asset_id"], id.as_str(), "it keeps its task: {w}");
    let asset = wait_until(&api.base, &id, "ready", Duration::from_secs(300));
    for stage in ["transcode", "package", "publish"] {
        assert_eq!(task_of(&asset, stage)["attempts"], 1, "{stage}: {asset}");
    }
    assert!(
        asset["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["codecs"].as_str().is_some_and(|c| c.starts_with("av01"))),
        "{asset}"
    );
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = draining.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit}");
    let stopped = workers_of(&fleet(&api.base), pid);
    assert_eq!(
        stopped.len(),
        2,
        "a ladder worker and a preview worker: {stopped:?}"
    );
    for w in stopped {
        assert_eq!(w["state"], "stopped", "{w}");
    }
    check_origin(&api.base, &id);

    // A stopped worker's codecs count for nothing: the first AV1 job, run again, is
    // refused as before.
    let (status, _, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/assets/{av1_id}/retry", api.base),
    ]);
    assert!(status < 300, "{}", String::from_utf8_lossy(&body));
    let again = wait_finished(&api.base, &av1_id, Duration::from_secs(60));
    assert_eq!(again["status"], "failed", "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no live worker"),
        "{again}"
    );
}
