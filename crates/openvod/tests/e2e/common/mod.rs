//! Helpers shared by the end-to-end tests: media made with ffmpeg's lavfi sources, the
//! openvod binary, and independent readers of its output (ffprobe, m3u8-rs,
//! dash-mpd-core, mp4-atom).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Runs ffmpeg with `args`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-nostdin"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (the test command installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test source: `seconds` of testsrc2 at `size` and `rate`, with a sine tone unless
/// `audio` is false. Extra output arguments go before the file name.
///
/// Each distinct source is encoded once and kept in the target's test folder, keyed by
/// its ffmpeg arguments; every test gets its own copy (some damage theirs).
pub fn make_source(
    dir: &Path,
    name: &str,
    size: &str,
    rate: u32,
    seconds: u32,
    audio: bool,
    extra: &[&str],
) -> PathBuf {
    let video = format!("testsrc2=size={size}:rate={rate}:duration={seconds}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", &tone, "-c:a", "aac"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ]);
    args.extend(extra);
    made_source(dir, name, &args)
}

/// A source ffmpeg makes from `args` (inputs and output options, without the output
/// file), made once and copied to `dir/name` for the test.
pub fn made_source(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("mp4");
    let cached = fixture(args, ext, |out| {
        let mut args = args.to_vec();
        args.push(out.to_str().expect("utf-8 path"));
        ffmpeg(&args);
    });
    let path = dir.join(name);
    std::fs::copy(&cached, &path).expect("copy a cached source");
    path
}

/// The file `make` writes for `key`, made once and kept under the target's test folder
/// (`CARGO_TARGET_TMPDIR`). Concurrent tests asking for the same file each write a
/// temporary file and rename it into place, so none sees a partial one.
pub fn fixture(key: &[&str], ext: &str, make: impl FnOnce(&Path)) -> PathBuf {
    // FNV-1a over the key: stable from run to run, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.join("\u{1f}").bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openvod-fixtures");
    std::fs::create_dir_all(&folder).expect("fixture folder");
    let path = folder.join(format!("{hash:016x}.{ext}"));
    if !path.exists() {
        static PARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = PARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let part = folder.join(format!("{hash:016x}.{}-{n}.part.{ext}", std::process::id()));
        make(&part);
        std::fs::rename(&part, &path).expect("fixture into place");
    }
    path
}

/// The openvod binary built for this test run.
pub fn openvod(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openvod"))
        .args(args)
        .output()
        .expect("openvod runs")
}

/// A fast template for tests: the default ladder with a quick preset (which still uses
/// B-frames, so composition offsets are exercised).
pub fn fast_template(dir: &Path) -> PathBuf {
    let text = include_str!("../../../../transcode/templates/default.toml")
        .replace("preset = \"medium\"", "preset = \"superfast\"");
    let path = dir.join("fast.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `openvod transcode SRC --out DIR/out --template <fast> --json EXTRA...`: its output
/// and the output folder.
pub fn transcode_fast(dir: &Path, src: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("out");
    let template = fast_template(dir);
    let mut args = vec![
        "transcode",
        src.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
        "--template",
        template.to_str().expect("utf-8 path"),
        "--json",
    ];
    args.extend(extra);
    (openvod(&args), out)
}

/// Asserts that a command succeeded, showing its output otherwise.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Decodes every stream of `input` with ffmpeg to nothing; returns ffmpeg's error output,
/// which must be empty for a clean decode.
pub fn decode_errors(input: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
        .arg(input)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("\nexit status {}", out.status));
    }
    text
}

/// Concatenates a rendition's init segment and media segments, in playlist order, into
/// one fragmented MP4 that any MP4 reader can open.
pub fn concat_rendition(out: &Path, name: &str, dest: &Path) -> PathBuf {
    let playlist = std::fs::read(out.join(name).join("index.m3u8")).unwrap();
    let media = match m3u8_rs::parse_media_playlist_res(&playlist) {
        Ok(p) => p,
        Err(e) => panic!("{name}/index.m3u8 does not parse: {e:?}"),
    };
    let mut bytes = std::fs::read(out.join(name).join("init.mp4")).unwrap();
    for seg in &media.segments {
        bytes.extend(std::fs::read(out.join(name).join(&seg.uri)).unwrap());
    }
    let path = dest.join(format!("{name}.cat.mp4"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `ffprobe -show_entries ENTRIES -of FORMAT` of the first video stream: its output.
pub fn probe_video(file: &Path, entries: &str, format: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([entries, "-of", format])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Presentation times (seconds) of the keyframes of the first video stream, by ffprobe.
pub fn keyframe_times(file: &Path) -> Vec<f64> {
    let out = probe_video(file, "packet=pts_time,flags", "csv=p=0");
    let mut times: Vec<f64> = out
        .lines()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// ffprobe's `start_time` of the first stream of `file`.
pub fn start_time(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=start_time",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap()
}

/// Names of the entries of a folder, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A running `openvod serve|worker|origin`; killed when dropped.
pub struct Service {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `openvod ROLE --config CONFIG` on a free port with extra environment `env`,
/// and waits for the "listening on" line it prints first.
pub fn start_service(role: &str, config: &Path, env: &[(String, String)]) -> Service {
    start_service_with(role, config, env, &["--listen", "127.0.0.1:0"])
}

/// [`start_service`] with `args` after `--config CONFIG` (none: the addresses the file
/// gives).
pub fn start_service_with(
    role: &str,
    config: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openvod"))
        .args([role, "--config", config.to_str().unwrap()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("OPENVOD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("openvod starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .unwrap();
    let base = match line.trim().strip_prefix("listening on ") {
        Some(b) => b.to_string(),
        None => {
            let _ = child.kill();
            panic!("openvod {role} did not start: {line:?}");
        }
    };
    Service { child, base }
}

/// PostgreSQL + S3 settings for child processes, or `None` (skipped loudly, or failing
/// in CI) when they are not there.
pub fn pg_s3_env(schema: &str) -> Option<Vec<(String, String)>> {
    let pg = std::env::var("OPENVOD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(endpoint) = std::env::var("OPENVOD_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "S3 is required in CI (scripts/test starts Garage)"
        );
        eprintln!("\n*** SKIPPED: PostgreSQL + S3 service tests: OPENVOD_TEST_S3_ENDPOINT is not set ***\n");
        return None;
    };
    let psql = Command::new("psql")
        .args([
            pg.as_str(),
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        ])
        .output();
    match psql {
        Ok(o) if o.status.success() => {}
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is required in CI: {other:?}"
            );
            eprintln!("\n*** SKIPPED: PostgreSQL + S3 service tests: PostgreSQL is not reachable at {pg} ***\n");
            return None;
        }
    }
    let sep = if pg.contains('?') { '&' } else { '?' };
    let var = |k: &str| std::env::var(k).unwrap();
    let bucket = var("OPENVOD_TEST_S3_BUCKET");
    Some(vec![
        (
            "OPENVOD_DATABASE_URL".into(),
            format!("{pg}{sep}options=-c%20search_path%3D{schema}"),
        ),
        ("OPENVOD_STORE_KIND".into(), "s3".into()),
        ("OPENVOD_STORE_ENDPOINT".into(), endpoint),
        ("OPENVOD_STORE_SOURCE_BUCKET".into(), bucket.clone()),
        ("OPENVOD_STORE_OUTPUT_BUCKET".into(), bucket),
        ("OPENVOD_STORE_REGION".into(), var("OPENVOD_TEST_S3_REGION")),
        (
            "OPENVOD_STORE_ACCESS_KEY_ID".into(),
            var("OPENVOD_TEST_S3_KEY_ID"),
        ),
        (
            "OPENVOD_STORE_SECRET_ACCESS_KEY".into(),
            var("OPENVOD_TEST_S3_SECRET"),
        ),
        ("OPENVOD_STORE_ALLOW_HTTP".into(), "true".into()),
    ])
}

/// `curl -s` with `args`; returns the HTTP status and the body as JSON (`Null` when the
/// body is not JSON).
pub fn curl_json(args: &[&str]) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "120", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// `curl -s URL`; returns the status, the headers (lower case) and the body.
pub fn curl_get(url: &str) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "120", "-D", "-", "-o"])
        .arg(&body)
        .arg(url)
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    let status = headers
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers, std::fs::read(&body).unwrap_or_default())
}

/// Uploads `file` to `POST /v1/assets?name=NAME`; returns the new asset's id.
pub fn upload_as(base: &str, file: &Path, name: &str) -> String {
    let (status, body) = curl_json(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/v1/assets?name={name}"),
    ]);
    assert_eq!(status, 201, "upload of {name}: {body}");
    body["id"]
        .as_str()
        .expect("the asset has an id")
        .to_string()
}

/// Uploads `file` to `POST /v1/assets?name=NAME&template=TEMPLATE`; returns the new
/// asset's id.
pub fn upload_with(base: &str, file: &Path, name: &str, template: &str) -> String {
    upload_as(base, file, &format!("{name}&template={template}"))
}

/// Polls `GET /v1/assets/ID` until the asset is ready, failed or cancelled.
pub fn wait_finished(base: &str, id: &str, limit: std::time::Duration) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let (status, asset) = curl_json(&[&format!("{base}/v1/assets/{id}")]);
        assert_eq!(status, 200, "{asset}");
        if ["ready", "failed", "cancelled"].contains(&asset["status"].as_str().unwrap_or("")) {
            return asset;
        }
        assert!(
            started.elapsed() < limit,
            "not finished after {limit:?}: {asset}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A configuration for `openvod serve` keeping everything under `dir`, with the fast
/// template, scratch space in `dir/work`, one attempt per stage, and `extra` appended.
pub fn serve_config(dir: &Path, extra: &str) -> PathBuf {
    let template = fast_template(dir);
    let path = dir.join("openvod.toml");
    let text = format!(
        "data_dir = \"{}\"\n[templates]\ndefault = \"{}\"\n[worker]\nwork_dir = \"{}\"\nmax_attempts = 1\n{extra}",
        dir.join("data").display(),
        template.display(),
        dir.join("work").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// [`serve_config`] with a second template, `jit`: the fast one, packaged on request.
pub fn serve_config_with_jit(dir: &Path) -> PathBuf {
    let jit = std::fs::read_to_string(fast_template(dir))
        .unwrap()
        .replace("mode = \"static\"", "mode = \"jit\"");
    let jit_path = dir.join("jit.toml");
    std::fs::write(&jit_path, jit).unwrap();
    let cfg = serve_config(dir, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[templates]\n",
        &format!("[templates]\njit = \"{}\"\n", jit_path.display()),
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A folder with an `ffmpeg` that is this machine's, except that `ffmpeg -encoders`
/// leaves `encoder` out, as a build without it would; every other run is noted in the
/// returned file. Put the folder first on `PATH`.
pub fn ffmpeg_lacking(dir: &Path, encoder: &str) -> (PathBuf, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ffmpeg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let runs = dir.join("runs");
    let wrapper = bin.join("ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *-encoders*) {real} \"$@\" | grep -v {encoder}; exit 0;; esac\n\
             echo run >> {runs}\nexec {real} \"$@\"\n",
            real = real.trim(),
            runs = runs.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, runs)
}
