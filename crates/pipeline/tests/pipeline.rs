//! The pipeline end to end: a source in the store becomes a packaged, playable asset.
//! Runs on SQLite + a local folder, and on PostgreSQL + S3 (Garage) when they are there
//! (required under `CI=true`; see `crates/store/tests` for the variables).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use openvod_pipeline::{PipelineConfig, Worker};
use openvod_store::{AssetStatus, Db, NewAsset, Objects, ObjectsConfig, Stage};
use openvod_transcode::JobTemplate;

struct Env {
    name: &'static str,
    db: Db,
    objects: Objects,
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

async fn environments(dir: &Path) -> Vec<Env> {
    let mut out = vec![Env {
        name: "sqlite+folder",
        db: Db::connect(&format!("sqlite://{}/meta.db", dir.display()))
            .await
            .unwrap(),
        objects: Objects::open(&ObjectsConfig::Local {
            root: dir.join("objects"),
        })
        .unwrap(),
    }];
    let pg = std::env::var("OPENVOD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let s3 = std::env::var("OPENVOD_TEST_S3_ENDPOINT").ok();
    let admin = Db::connect_admin(&pg).await;
    match (admin, s3) {
        (Ok(admin), Some(endpoint)) => {
            let schema = format!(
                "p_{}_{}",
                std::process::id(),
                SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            admin
                .execute_raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .unwrap();
            admin
                .execute_raw(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
            let sep = if pg.contains('?') { '&' } else { '?' };
            let db = Db::connect(&format!("{pg}{sep}options=-c%20search_path%3D{schema}"))
                .await
                .unwrap();
            let env = |k: &str| std::env::var(k).unwrap();
            let bucket = env("OPENVOD_TEST_S3_BUCKET");
            let objects = Objects::open(&ObjectsConfig::S3 {
                endpoint: Some(endpoint),
                source_bucket: bucket.clone(),
                output_bucket: bucket,
                region: env("OPENVOD_TEST_S3_REGION"),
                access_key_id: env("OPENVOD_TEST_S3_KEY_ID"),
                secret_access_key: env("OPENVOD_TEST_S3_SECRET"),
                path_style: true,
                allow_http: true,
            })
            .unwrap();
            out.push(Env {
                name: "postgres+s3",
                db,
                objects,
            });
        }
        (admin, s3) => {
            let why = format!(
                "PostgreSQL {}, S3 {}",
                if admin.is_ok() {
                    "reachable"
                } else {
                    "unreachable"
                },
                if s3.is_some() {
                    "configured"
                } else {
                    "not configured"
                }
            );
            assert!(!ci(), "PostgreSQL and S3 are required in CI: {why}");
            eprintln!("\n*** SKIPPED: the PostgreSQL + S3 half of this test ({why}) ***\n");
        }
    }
    out
}

/// SQLite and a folder store in `dir`: the default set-up.
async fn sqlite_env(dir: &Path) -> Env {
    Env {
        name: "sqlite+folder",
        db: Db::connect(&format!("sqlite://{}/meta.db", dir.display()))
            .await
            .unwrap(),
        objects: Objects::open(&ObjectsConfig::Local {
            root: dir.join("objects"),
        })
        .unwrap(),
    }
}

fn fast_template() -> JobTemplate {
    let mut t = JobTemplate::default_ladder();
    t.video.preset = openvod_transcode::template::Preset::Superfast;
    t
}

fn config(dir: &Path, worker: &str) -> PipelineConfig {
    let mut c = PipelineConfig::new(worker, dir.join(format!("work-{worker}")));
    c.templates.insert("fast".into(), fast_template());
    c.heartbeat = Duration::from_millis(200);
    c.lease = Duration::from_secs(5);
    c.poll_interval = Duration::from_millis(50);
    c.retry_base = Duration::from_millis(100);
    c
}

fn make_source(dir: &Path, seconds: u32, size: &str) -> std::path::PathBuf {
    let path = dir.join(format!("src-{seconds}-{size}.mp4"));
    let video = format!("testsrc2=size={size}:rate=25:duration={seconds}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &video,
            "-f",
            "lavfi",
            "-i",
            &audio,
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ])
        .arg(&path)
        .output()
        .expect("ffmpeg is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

async fn upload(env: &Env, key: &str, file: &Path) -> NewAsset {
    let size = env.objects.sources.put_file(key, file).await.unwrap();
    NewAsset {
        source_key: key.into(),
        source_name: Some("src.mp4".into()),
        source_size: Some(size as i64),
        template: "fast".into(),
    }
}

/// Runs the worker until the asset leaves queued/processing.
async fn drive(worker: &Worker, db: &Db, id: &str) -> openvod_store::Asset {
    drive_until(worker, db, id, |a| {
        !matches!(
            a.status,
            AssetStatus::Queued | AssetStatus::Processing | AssetStatus::Playable
        )
    })
    .await
}

/// Runs the worker until `done` holds for the asset.
async fn drive_until(
    worker: &Worker,
    db: &Db,
    id: &str,
    done: impl Fn(&openvod_store::Asset) -> bool,
) -> openvod_store::Asset {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let a = db.asset(id).await.unwrap().unwrap();
        if done(&a) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "asset {id} stuck at {:?} {:?}",
            a.status,
            a.stage
        );
        if !worker.run_once().await.unwrap() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_becomes_a_playable_asset() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 6, "640x360");
    for env in environments(dir.path()).await {
        let name = env.name;
        let key = format!(
            "uploads/{}-{}.mp4",
            name.replace('+', "-"),
            std::process::id()
        );
        let new = upload(&env, &key, &src).await;
        let asset = env.db.create_asset(new, 3).await.unwrap();
        let worker = Worker::new(
            env.db.clone(),
            env.objects.clone(),
            config(dir.path(), name),
        );
        let done = drive(&worker, &env.db, &asset.id).await;
        assert_eq!(
            done.status,
            AssetStatus::Ready,
            "{name}: {:?}",
            done.error_message
        );
        let prefix = done.output_prefix.clone().unwrap();
        assert_eq!(prefix, format!("{}/out", asset.id));
        let renditions = done.renditions.clone().unwrap();
        let names: Vec<&str> = renditions
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["360p", "audio"], "{name}");
        assert!(done.probe.as_ref().unwrap()["duration"].as_f64().unwrap() > 5.9);
        // Exactly the packaged files, nothing from the work area.
        let keys: Vec<String> = env
            .objects
            .outputs
            .list(&asset.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(
            keys.iter().all(|k| k.starts_with(&prefix)),
            "{name}: {keys:?}"
        );
        assert!(
            keys.contains(&format!("{prefix}/master.m3u8"))
                && keys.contains(&format!("{prefix}/manifest.mpd"))
        );
        // The preview ran first, whole, and publish kept it for players still on it.
        let preview = &env.db.asset_tasks(&asset.id).await.unwrap()[2];
        assert_eq!(
            (preview.stage, preview.status),
            (Stage::Preview, openvod_store::TaskStatus::Succeeded),
            "{name}"
        );
        let seconds = done.preview_seconds.unwrap_or(0.0);
        assert!(
            (seconds - 6.0).abs() < 0.1,
            "{name}: preview of {seconds} s"
        );
        for file in ["master.m3u8", "index.m3u8", "init.mp4", "1.m4s", "3.m4s"] {
            assert!(
                keys.contains(&format!("{prefix}/preview/{file}")),
                "{name}: preview/{file} in {keys:?}"
            );
        }
        // ffmpeg plays what the store holds.
        let copy = dir.path().join(format!("copy-{}", name.replace('+', "-")));
        for k in &keys {
            let local = copy.join(k);
            std::fs::create_dir_all(local.parent().unwrap()).unwrap();
            env.objects.outputs.download(k, &local).await.unwrap();
        }
        for playlist in ["master.m3u8", "preview/master.m3u8"] {
            let out = Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(copy.join(&prefix).join(playlist))
                .args(["-map", "0", "-f", "null", "-"])
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{name} {playlist}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The source is untouched.
        let meta = env.objects.sources.head(&key).await.unwrap().unwrap();
        assert_eq!(meta.size, std::fs::metadata(&src).unwrap().len());
        let stages: Vec<Stage> = env
            .db
            .asset_tasks(&asset.id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.stage)
            .collect();
        let unchunked: Vec<Stage> = Stage::ALL
            .into_iter()
            .filter(|s| *s != Stage::Encode)
            .collect();
        assert_eq!(stages, unchunked);
        assert!(
            !dir.path()
                .join(format!("work-{name}"))
                .join(&asset.id)
                .exists(),
            "{name}: local scratch removed"
        );
    }
}

#[tokio::test]
async fn bad_sources_and_policy_fail_fast_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a video").unwrap();
    let src = make_source(dir.path(), 3, "320x240");
    for env in environments(dir.path()).await {
        let name = env.name;
        let mut cfg = config(dir.path(), name);
        cfg.policy.max_duration_seconds = 2.0;
        let worker = Worker::new(env.db.clone(), env.objects.clone(), cfg);

        let new = upload(&env, &format!("bad/{}.mp4", std::process::id()), &text).await;
        let asset = env.db.create_asset(new, 3).await.unwrap();
        let failed = drive(&worker, &env.db, &asset.id).await;
        assert_eq!(
            (failed.status, failed.error_code.as_deref()),
            (AssetStatus::Failed, Some("invalid_media")),
            "{name}"
        );
        assert!(failed.error_message.unwrap().contains("not a media file"));
        let tasks = env.db.asset_tasks(&asset.id).await.unwrap();
        assert_eq!(
            (tasks[0].stage, tasks[0].attempts),
            (Stage::Probe, 1),
            "{name}: not retried"
        );

        let new = upload(&env, &format!("long/{}.mp4", std::process::id()), &src).await;
        let asset = env.db.create_asset(new, 3).await.unwrap();
        let failed = drive(&worker, &env.db, &asset.id).await;
        assert_eq!(failed.error_code.as_deref(), Some("policy"), "{name}");
        assert!(failed
            .error_message
            .unwrap()
            .contains("over the limit of 2 s"));

        // With the limit lifted, retry runs only what failed and the asset completes.
        let worker = Worker::new(
            env.db.clone(),
            env.objects.clone(),
            config(dir.path(), name),
        );
        env.db.retry_asset(&asset.id).await.unwrap();
        let done = drive(&worker, &env.db, &asset.id).await;
        assert_eq!(done.status, AssetStatus::Ready, "{name}");
        let tasks = env.db.asset_tasks(&asset.id).await.unwrap();
        assert_eq!(
            (
                tasks[0].stage,
                tasks[0].status,
                tasks[0].attempts,
                tasks[0].last_error.as_deref()
            ),
            (Stage::Probe, openvod_store::TaskStatus::Succeeded, 1, None),
            "probe ran once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_ffmpeg_mid_transcode() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 40, "1280x720");
    let env = environments(dir.path()).await.remove(0);
    let new = upload(&env, "long.mp4", &src).await;
    let asset = env.db.create_asset(new, 3).await.unwrap();
    let mut cfg = config(dir.path(), "canceller");
    cfg.templates
        .insert("fast".into(), JobTemplate::default_ladder());
    let worker = Worker::new(env.db.clone(), env.objects.clone(), cfg);
    let run = tokio::spawn({
        let worker = worker.clone();
        async move { while worker.run_once().await.unwrap() {} }
    });
    let started = Instant::now();
    loop {
        let a = env.db.asset(&asset.id).await.unwrap().unwrap();
        if a.stage == Some(Stage::Transcode) && a.progress > 0.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "transcode never started: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(env.db.cancel_asset(&asset.id).await.unwrap());
    let cancelled_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the worker stops promptly")
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(10));
    let a = env.db.asset(&asset.id).await.unwrap().unwrap();
    assert_eq!(a.status, AssetStatus::Cancelled);
    let ffmpeg_left = Command::new("pgrep")
        .args(["-f", &format!("ffmpeg.*{}", asset.id)])
        .output()
        .unwrap();
    assert!(
        ffmpeg_left.stdout.is_empty(),
        "ffmpeg still running: {}",
        String::from_utf8_lossy(&ffmpeg_left.stdout)
    );
}

#[tokio::test]
async fn watched_objects_become_assets_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 2, "320x240");
    for env in environments(dir.path()).await {
        let prefix = format!(
            "watch-{}-{}",
            std::process::id(),
            env.name.replace('+', "-")
        );
        let watch = openvod_pipeline::watch::WatchConfig {
            prefix: prefix.clone(),
            settle: Duration::ZERO,
            template: "fast".into(),
            max_attempts: 3,
        };
        env.objects
            .sources
            .put_file(&format!("{prefix}/a.mp4"), &src)
            .await
            .unwrap();
        env.objects
            .sources
            .put_file(&format!("{prefix}/sub/b.mp4"), &src)
            .await
            .unwrap();
        // Two importers at once (two serve processes) and a second pass: still two assets.
        let (x, y) = tokio::join!(
            openvod_pipeline::watch::import_new(&env.db, &env.objects, &watch),
            openvod_pipeline::watch::import_new(&env.db, &env.objects, &watch)
        );
        assert_eq!(x.unwrap() + y.unwrap(), 2, "{}", env.name);
        assert_eq!(
            openvod_pipeline::watch::import_new(&env.db, &env.objects, &watch)
                .await
                .unwrap(),
            0
        );
        let assets = env.db.list_assets(None, None, 100).await.unwrap();
        let mut names: Vec<String> = assets
            .iter()
            .filter(|a| a.source_key.starts_with(&prefix))
            .filter_map(|a| a.source_name.clone())
            .collect();
        names.sort();
        assert_eq!(names, vec!["a.mp4", "b.mp4"], "{}", env.name);
        // A fresh object waits for the settle time.
        let slow = openvod_pipeline::watch::WatchConfig {
            settle: Duration::from_secs(3600),
            ..watch
        };
        env.objects
            .sources
            .put_file(&format!("{prefix}/c.mp4"), &src)
            .await
            .unwrap();
        assert_eq!(
            openvod_pipeline::watch::import_new(&env.db, &env.objects, &slow)
                .await
                .unwrap(),
            0
        );
    }
}

/// A worker may die the instant after `publish` commits, so the store must be in its final
/// state before the commit: the work files and anything an earlier package run left under
/// the output prefix are gone, and only the package's files remain. A trigger makes the
/// commit fail, which stops the run at that instant; the next run commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_leaves_a_clean_store_before_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 2, "320x180");
    let env = sqlite_env(dir.path()).await;
    let (db, objects) = (env.db.clone(), env.objects.clone());
    let new = upload(&env, "uploads/publish.mp4", &src).await;
    let asset = db.create_asset(new, 3).await.unwrap();
    let worker = Worker::new(db.clone(), objects.clone(), config(dir.path(), "w"));
    let deadline = Instant::now() + Duration::from_secs(300);
    while db.asset(&asset.id).await.unwrap().unwrap().stage != Some(Stage::Publish) {
        assert!(Instant::now() < deadline, "asset never reached publish");
        assert!(worker.run_once().await.unwrap(), "no task before publish");
    }
    let out = format!("{}/out", asset.id);
    let work = format!("{}/work", asset.id);
    assert!(!objects.outputs.list(&work).await.unwrap().is_empty());
    // What an earlier, interrupted package run may have left: a file the package does not list.
    let stale = dir.path().join("stale.m4s");
    std::fs::write(&stale, b"left by an earlier run").unwrap();
    let stale_key = format!("{out}/360p/99.m4s");
    objects.outputs.put_file(&stale_key, &stale).await.unwrap();

    db.execute_raw(
        "CREATE TRIGGER publish_dies BEFORE UPDATE OF status ON tasks \
         WHEN NEW.stage = 'publish' AND NEW.status = 'succeeded' \
         BEGIN SELECT RAISE(ABORT, 'the worker died at the commit'); END",
    )
    .await
    .unwrap();
    assert!(worker.run_once().await.is_err(), "the commit must fail");
    let asset_now = db.asset(&asset.id).await.unwrap().unwrap();
    // Its preview ran first (a lone worker takes previews first): playable, not ready.
    assert_eq!(asset_now.status, AssetStatus::Playable);
    let files: Vec<String> = db
        .task_output(&asset.id, Stage::Package)
        .await
        .unwrap()
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{out}/{}", f.as_str().unwrap()))
        .collect();
    // And the preview, which publish keeps for the players still on it.
    let mut expected = files.clone();
    expected.extend(
        ["1.m4s", "index.m3u8", "init.mp4", "master.m3u8"].map(|f| format!("{out}/preview/{f}")),
    );
    expected.sort();
    let stored = |objects: Objects, id: String| async move {
        let mut keys: Vec<String> = objects
            .outputs
            .list(&id)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        stored(objects.clone(), asset.id.clone()).await,
        expected,
        "at the commit the store holds the package's files and nothing else"
    );

    // The next worker takes the task over once the lease has gone, and commits.
    db.execute_raw("DROP TRIGGER publish_dies").await.unwrap();
    db.execute_raw("UPDATE tasks SET lease_expires_at = 0 WHERE stage = 'publish'")
        .await
        .unwrap();
    let done = drive(&worker, &db, &asset.id).await;
    assert_eq!(done.status, AssetStatus::Ready, "{:?}", done.error_message);
    assert_eq!(stored(objects, asset.id.clone()).await, expected);
}

/// A per-title template: the transcode stage analyses the title once, records its
/// decision on the asset, and the package stage (here on another worker, with a scratch
/// folder of its own) packages exactly the rungs that were encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_title_ladder_is_recorded_and_packaged_as_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 6, "640x360");
    let mut template = fast_template();
    template.ladder.mode = openvod_transcode::per_title::LadderMode::PerTitle;
    template.ladder.min_bitrate = 50_000;
    for env in environments(dir.path()).await {
        let name = env.name;
        let key = format!(
            "uploads/pt-{}-{}.mp4",
            name.replace('+', "-"),
            std::process::id()
        );
        let new = upload(&env, &key, &src).await;
        let asset = env.db.create_asset(new, 3).await.unwrap();
        let mut first = config(dir.path(), &format!("{name}-a"));
        first.templates.insert("fast".into(), template.clone());
        let mut second = config(dir.path(), &format!("{name}-b"));
        second.templates.insert("fast".into(), template.clone());
        let a = Worker::new(env.db.clone(), env.objects.clone(), first);
        let b = Worker::new(env.db.clone(), env.objects.clone(), second);
        // The first worker runs up to the transcode; the second packages and publishes.
        drive_until(&a, &env.db, &asset.id, |now| {
            now.stage == Some(Stage::Package) || now.status == AssetStatus::Failed
        })
        .await;
        let done = drive(&b, &env.db, &asset.id).await;
        assert_eq!(
            done.status,
            AssetStatus::Ready,
            "{name}: {:?}",
            done.error_message
        );
        let ladder = done.ladder.clone().expect("the decision is recorded");
        assert_eq!(ladder["codec"], "h264");
        // One size fits the 360p source (the default ladder's smallest), at three CRFs.
        assert_eq!(ladder["samples"].as_array().unwrap().len(), 3, "{name}");
        let chosen: Vec<&str> = ladder["rungs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(!chosen.is_empty(), "{name}");
        let packaged: Vec<&str> = done
            .renditions
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .filter(|n| *n != "audio")
            .collect();
        assert_eq!(
            packaged, chosen,
            "{name}: the packaged rungs are the chosen ones"
        );
        for (r, c) in done
            .renditions
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .zip(ladder["rungs"].as_array().unwrap())
        {
            assert_eq!(r["height"], c["height"], "{name}");
        }
    }
}

/// The preview's EVENT playlist only grows (RFC 8216bis 6.2.1): players may be on it.
/// A preview run again after its worker was lost (its lease expired) lists nothing until
/// it has caught up with what the lost run published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_run_again_never_shrinks_its_playlist() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(dir.path(), 12, "320x180");
    let env = sqlite_env(dir.path()).await;
    let (db, objects) = (env.db.clone(), env.objects.clone());
    let new = upload(&env, "uploads/again.mp4", &src).await;
    let asset = db.create_asset(new, 3).await.unwrap();
    let worker = Worker::new(db.clone(), objects.clone(), config(dir.path(), "w"));
    let published = drive_until(&worker, &db, &asset.id, |a| {
        a.preview_seconds.is_some_and(|s| s >= 11.9)
    })
    .await;
    assert_eq!(published.status, AssetStatus::Playable);
    let key = format!("{}/out/preview/index.m3u8", asset.id);
    let read = |objects: Objects, key: String| async move {
        let chunks: Vec<bytes::Bytes> = objects
            .outputs
            .get_stream(&key, None)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        String::from_utf8(chunks.concat()).unwrap()
    };
    let first = read(objects.clone(), key.clone()).await;
    let listed = |playlist: &str| playlist.matches("#EXTINF:").count();
    assert_eq!(listed(&first), 6, "{first}");

    // The worker that ran it is gone: its task is running under a lease that expired.
    db.execute_raw(
        "UPDATE tasks SET status = 'running', lease_owner = 'lost', lease_expires_at = 0 \
         WHERE stage = 'preview'",
    )
    .await
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (objects, key, stop) = (objects.clone(), key.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.push(listed(&read(objects.clone(), key.clone()).await));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    assert!(
        worker.run_once().await.unwrap(),
        "the lost preview is claimed"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    let tasks = db.asset_tasks(&asset.id).await.unwrap();
    let preview = tasks.iter().find(|t| t.stage == Stage::Preview).unwrap();
    assert_eq!(
        (preview.status, preview.attempts),
        (openvod_store::TaskStatus::Succeeded, 2),
        "the second attempt ran it whole"
    );
    assert!(
        seen.len() > 10,
        "the playlist was read while it ran: {seen:?}"
    );
    assert!(
        seen.iter().all(|&n| n == 6),
        "a player saw the playlist shrink: {seen:?}"
    );
    assert_eq!(read(objects.clone(), key).await, first);
    let after = db.asset(&asset.id).await.unwrap().unwrap();
    assert_eq!(after.status, AssetStatus::Playable);
    assert_eq!(after.preview_seconds, published.preview_seconds);
}
