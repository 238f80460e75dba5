//! What the in-process tests share: one tiny encode per test binary (a 2 s, 160x90 H.264
//! rendition and an AAC one), packaged ahead of time (clear) and stored for packaging on
//! request; a fresh SQLite database and object folder per test; ready assets made through
//! the task table as the pipeline makes them; and requests sent to
//! `openvod_server::router` with `tower::ServiceExt::oneshot`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use openvod_drm::{KeyStore, MasterKey};
use openvod_media::segment::SegmentTarget;
use openvod_media::{Copy, KeyProviderSettings, KeyScope, Manifests, Packaging, Rendition};
use openvod_media::{DrmSystem, ProtectionSettings};
use openvod_server::{AppState, Roles, ServerConfig};
use openvod_store::{Db, NewAsset, Objects, ObjectsConfig, Previews, StageOutcome};
use tower::ServiceExt;

/// The encode and its packaged forms, made once per test binary.
pub struct Media {
    _dir: tempfile::TempDir,
    /// `90p.mp4` (video) and `audio.mp4`.
    pub sources: Vec<PathBuf>,
    /// The clear copy packaged ahead of time.
    pub packaged: PathBuf,
    /// The stored form for packaging on request, with every copy.
    pub stored: PathBuf,
}

/// One-second segments over half-second GOPs: two segments at the template's length,
/// other lengths on request.
pub fn packaging(copies: Vec<Copy>) -> Packaging {
    Packaging {
        target: SegmentTarget {
            segment_seconds: 1.0,
            fragment_seconds: 1.0,
        },
        manifests: Manifests {
            hls: true,
            dash: true,
        },
        copies,
        clear_lead_seconds: 0.0,
        captioned: Vec::new(),
    }
}

/// Every copy, every DRM system, one key.
pub fn protection() -> ProtectionSettings {
    ProtectionSettings {
        copies: vec![Copy::Clear, Copy::Cenc, Copy::Cbcs, Copy::Aes128],
        drm_systems: vec![
            DrmSystem::Widevine,
            DrmSystem::PlayReady,
            DrmSystem::ClearKey,
        ],
        keys: KeyScope::Single,
        key_provider: KeyProviderSettings::Builtin,
        clear_lead_seconds: 0.0,
    }
}

/// The renditions of the encode, named as `openvod package` names them.
pub fn renditions() -> (Vec<PathBuf>, Vec<Rendition>) {
    let m = media();
    let tracks = m
        .sources
        .iter()
        .map(|p| {
            let t = openvod_transcode::package::read_mp4(p).expect("the encode reads back");
            (p.clone(), t)
        })
        .collect();
    openvod_transcode::package::name_renditions(tracks)
}

pub fn media() -> &'static Media {
    static MEDIA: LazyLock<Media> = LazyLock::new(make_media);
    &MEDIA
}

fn make_media() -> Media {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let video = dir.path().join("90p.mp4");
    let audio = dir.path().join("audio.mp4");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x90:rate=24:duration=2")
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=2",
        ])
        .args(["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-g", "12", "-keyint_min", "12", "-sc_threshold", "0"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&video)
        .args(["-map", "1:a", "-c:a", "aac", "-b:a", "64k"])
        .arg(&audio)
        .output()
        .expect("ffmpeg runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sources = vec![video, audio];
    let named = || {
        let tracks = sources
            .iter()
            .map(|p| (p.clone(), openvod_transcode::package::read_mp4(p).unwrap()))
            .collect();
        openvod_transcode::package::name_renditions(tracks)
    };
    let packaged = dir.path().join("packaged");
    std::fs::create_dir_all(&packaged).unwrap();
    let (paths, r) = named();
    openvod_transcode::package::package_copies(
        &paths,
        r,
        texts(),
        &images(),
        &packaging(vec![Copy::Clear]),
        &[openvod_media::CopyKeys::clear()],
        &packaged,
    )
    .expect("static packaging");
    let stored = dir.path().join("stored");
    let (paths, r) = named();
    let p = protection();
    openvod_transcode::package::store_renditions(
        &paths,
        r,
        texts(),
        &images(),
        &packaging(p.copies.clone()),
        Some(&p),
        &stored,
    )
    .expect("the stored form");
    Media {
        _dir: dir,
        sources,
        packaged,
        stored,
    }
}

/// A storyboard of three tiles over the test media: its sprite's bytes are a stand-in
/// (the origin serves them as held; real sprites are made and decoded in the end-to-end
/// tests).
pub fn images() -> openvod_transcode::images::MadeImages {
    let storyboard = openvod_media::images::Storyboard {
        columns: 3,
        rows: 1,
        tile_width: 160,
        tile_height: 90,
        interval_ms: 1000,
        times_ms: vec![0, 1000, 2000],
        duration_ms: 3000,
    };
    let sprite = [&[0xFF, 0xD8, 0xFF, 0xE0][..], b"sprite", &[0xFF, 0xD9]].concat();
    openvod_transcode::images::MadeImages {
        storyboard: Some(
            openvod_media::images::StoryboardImages::new(storyboard, sprite).expect("storyboard"),
        ),
        poster: Some((
            openvod_media::images::PosterFrame {
                time_ms: 500,
                width: 160,
                height: 90,
            },
            poster_bytes(),
        )),
    }
}

/// The stand-in poster's bytes.
pub fn poster_bytes() -> Vec<u8> {
    [&[0xFF, 0xD8, 0xFF, 0xE0][..], b"poster", &[0xFF, 0xD9]].concat()
}

/// An English subtitle track with a cue that spans a segment boundary.
pub fn texts() -> Vec<openvod_media::presentation::TextRendition> {
    let cues = openvod_media::text::parse(
        b"WEBVTT\n\n00:00.500 --> 00:01.500\nHello\n\n00:03.500 --> 00:04.500\nacross a cut\n",
        openvod_media::text::TextFormat::WebVtt,
    )
    .expect("test cues");
    vec![openvod_media::presentation::TextRendition {
        name: openvod_media::RenditionName::new("subs-en").unwrap(),
        info: openvod_media::text::TextTrackInfo {
            language: openvod_media::Language::from_code("en"),
            kind: openvod_media::text::TextKind::Subtitles,
            forced: false,
        },
        cues,
    }]
}

/// A server over its own database and object folder.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
}

/// The test master key of the key store.
pub const MASTER_KEY: [u8; 32] = [0x4f; 32];

impl Server {
    pub async fn new(config: ServerConfig) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::open(&ObjectsConfig::Local {
            root: dir.path().join("objects"),
        })
        .unwrap();
        Server::with_objects(dir, objects, config).await
    }

    pub async fn with_objects(
        dir: tempfile::TempDir,
        objects: Objects,
        config: ServerConfig,
    ) -> Server {
        let db = Db::connect(&format!(
            "sqlite://{}",
            dir.path().join("openvod.db").display()
        ))
        .await
        .unwrap();
        let keys = KeyStore::new(db.clone(), MasterKey::from_bytes(&MASTER_KEY));
        let state = AppState::new(db, objects, config, Some(keys));
        let app = openvod_server::router(
            state.clone(),
            Roles {
                api: true,
                origin: true,
            },
        );
        Server { dir, state, app }
    }

    /// The folder of the output objects.
    pub fn outputs(&self) -> PathBuf {
        self.dir.path().join("objects/outputs")
    }

    /// A queued asset with no outputs yet.
    pub async fn queued_asset(&self) -> String {
        let new = NewAsset {
            source_key: "uploads/clip".into(),
            source_name: Some("clip.mp4".into()),
            source_size: Some(1),
            template: "default".into(),
        };
        self.state.db.create_asset(new, 3).await.unwrap().id
    }

    /// An asset whose outputs are the files of `folder`, run through every stage to
    /// `ready` the way workers commit them.
    pub async fn ready_asset(&self, folder: &Path) -> String {
        let id = self.queued_asset().await;
        let prefix = format!("{id}/out");
        self.state
            .objects
            .outputs
            .put_dir(&prefix, folder)
            .await
            .unwrap();
        self.commit_ready(&id, &prefix).await;
        id
    }

    /// Runs every task of `id` to completion with outputs under `prefix`.
    pub async fn commit_ready(&self, id: &str, prefix: &str) {
        let db = &self.state.db;
        while let Some(task) = db
            .claim_task(
                "in-process-test",
                Duration::from_secs(60),
                -1,
                Previews::First,
            )
            .await
            .unwrap()
        {
            // Publish records what the processing used, as the pipeline does.
            let output = if task.stage == openvod_store::Stage::Publish {
                serde_json::json!({ "usage": {
                    "analysis_cpu_seconds": 0.0, "encode_cpu_seconds": 7200.0,
                    "package_cpu_seconds": 36.0, "source_bytes": 1_000_000_000u64,
                    "output_bytes": 2_000_000_000u64, "minutes": 10.0,
                    "rungs": ["h264:1080p@30", "h264:360p@30"],
                } })
            } else {
                serde_json::json!({})
            };
            let outcome = StageOutcome {
                output,
                output_prefix: Some(prefix.to_string()),
                ..StageOutcome::default()
            };
            db.complete_task(&task, outcome).await.unwrap();
        }
        let asset = db.asset(id).await.unwrap().unwrap();
        assert_eq!(asset.status, openvod_store::AssetStatus::Ready);
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// GET with the given headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut r = Request::get(uri);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// A request with a JSON body.
    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        send(&self.app, request).await
    }
}

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 256 << 20)
        .await
        .expect("the body reads");
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Counters recorded by this test only: a recorder local to the test's thread, which
/// every handler of a current-thread runtime runs on (the process-wide one is shared by
/// the tests running beside it).
pub struct LocalMetrics {
    handle: metrics_exporter_prometheus::PrometheusHandle,
    _guard: metrics::LocalRecorderGuard<'static>,
}

impl LocalMetrics {
    pub fn install() -> LocalMetrics {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // The guard borrows the recorder for as long as it is installed; a leaked
        // recorder of a few bytes per test keeps that simple.
        let recorder: &'static _ = Box::leak(Box::new(recorder));
        let guard = metrics::set_default_local_recorder(recorder);
        LocalMetrics {
            handle,
            _guard: guard,
        }
    }

    /// The sum of every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.handle
            .render()
            .lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The value of one series (`name{labels}`), 0 when absent.
    pub fn value(&self, series: &str) -> f64 {
        self.handle
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }
}

/// Log lines written while it is installed on this thread (a current-thread runtime runs
/// every handler here).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    pub fn install() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (log, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every file below `dir`, relative, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}
