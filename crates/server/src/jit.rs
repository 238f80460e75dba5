//! Packaging on request: an asset stored as one MP4 per rendition and its index
//! (`presentation.json`, see `openvod_store::stored`) is served as HLS and DASH, clear,
//! `cenc`, `cbcs` or AES-128, in any segment length the keyframes allow, from one ranged
//! read of the store per segment.
//!
//! Paths under `/play/{id}/`: `[cenc/|cbcs/|aes128/][sN/]` then `master.m3u8`,
//! `manifest.mpd`, `NAME/index.m3u8`, `NAME/iframes.m3u8`, `NAME/init.mp4` or
//! `NAME/K.m4s`; `sN/` asks for N-second segments (1 to 30) instead of the template's.
//! Generated objects go through the origin shield (`crate::shield`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use openvod_drm::packaging::{self, CopyPlan, KeyedRendition};
use openvod_drm::{KeyProvider, KeyScope};
use openvod_media::package::{Method, Presentation, Protection, Rendition};
use openvod_media::segment::SegmentTarget;
use openvod_media::{ByteSource, Limits, Track, TrackKind};
use openvod_store::stored::{StoredPresentation, STORED_PRESENTATION};
use tokio::sync::OnceCell;

use crate::shield::GeneratedObject;
use crate::{ApiError, AppState};

/// `presentation.json` is a few kilobytes; anything larger is not one.
const DESCRIPTION_LIMIT: u64 = 1 << 20;
/// An index holds about 29 bytes per sample: 64 MiB is over two million samples.
const INDEX_LIMIT: u64 = 64 << 20;

/// Settings of the origin's packaging on request and of its shield.
#[derive(Debug, Clone)]
pub struct OriginConfig {
    /// Bytes of generated objects kept in memory (the shield).
    pub cache_bytes: u64,
    /// Largest object generated in memory; a larger segment is refused (502), so that
    /// no request holds more than this.
    pub max_object_bytes: u64,
    /// How long a store read may take before the request fails with 504.
    pub store_timeout: Duration,
}

impl Default for OriginConfig {
    fn default() -> Self {
        OriginConfig {
            cache_bytes: 256 << 20,
            max_object_bytes: 64 << 20,
            store_timeout: Duration::from_secs(10),
        }
    }
}

/// An asset stored for packaging on request, with what was derived from it.
pub(crate) struct JitAsset {
    prefix: String,
    stored: StoredPresentation,
    tracks: Vec<Track>,
    /// Presentations by segment length in milliseconds.
    presentations: Mutex<HashMap<u64, Arc<Presentation>>>,
    /// Protection of each copy's folder, made once (keys from the key store).
    copies: OnceCell<HashMap<String, Protection>>,
}

/// The assets packaged on request, by asset id and version.
#[derive(Clone)]
pub(crate) struct JitAssets {
    assets: moka::future::Cache<String, Option<Arc<JitAsset>>>,
}

impl JitAssets {
    pub fn new() -> JitAssets {
        JitAssets {
            assets: moka::future::Cache::builder()
                .max_capacity(1024)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }
}

fn bad_gateway(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "storage", message)
}

/// A store read within the configured deadline: 504 when it takes longer, 502 when it
/// fails.
async fn read_range(
    state: &AppState,
    key: &str,
    range: std::ops::Range<u64>,
) -> Result<Bytes, ApiError> {
    let want = range.end - range.start;
    metrics::counter!("openvod_store_reads_total").increment(1);
    let read = tokio::time::timeout(
        state.config.origin.store_timeout,
        state.objects.outputs.get_range(key, range),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "storage_timeout",
            format!("the store did not answer for {key} in time"),
        )
    })?
    .map_err(|e| bad_gateway(format!("{key}: {e}")))?;
    if read.len() as u64 != want {
        return Err(bad_gateway(format!(
            "{key}: the store returned {} of {want} bytes",
            read.len()
        )));
    }
    Ok(read)
}

/// A whole stored object, read with a deadline.
pub(crate) enum Stored {
    Missing,
    /// Larger than the limit asked for: not read.
    TooLarge,
    Whole(openvod_store::objects::ObjectMeta, Bytes),
}

/// Reads a whole object of at most `limit` bytes.
pub(crate) async fn read_whole(
    state: &AppState,
    key: &str,
    limit: u64,
) -> Result<Stored, ApiError> {
    let head = tokio::time::timeout(
        state.config.origin.store_timeout,
        state.objects.outputs.head(key),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "storage_timeout",
            key.to_string(),
        )
    })?
    .map_err(|e| bad_gateway(format!("{key}: {e}")))?;
    let Some(meta) = head else {
        return Ok(Stored::Missing);
    };
    if meta.size > limit {
        return Ok(Stored::TooLarge);
    }
    let body = read_range(state, key, 0..meta.size).await?;
    Ok(Stored::Whole(meta, body))
}

/// A whole small object (an index, the description), refused past `limit`.
async fn read_small(state: &AppState, key: &str, limit: u64) -> Result<Option<Bytes>, ApiError> {
    match read_whole(state, key, limit).await? {
        Stored::Missing => Ok(None),
        Stored::TooLarge => Err(bad_gateway(format!("{key} is over {limit} bytes"))),
        Stored::Whole(_, body) => Ok(Some(body)),
    }
}

/// The stored asset behind `prefix`, or `None` when the asset was packaged ahead of time.
pub(crate) async fn load(
    state: &AppState,
    id: &str,
    version: i64,
    prefix: &str,
) -> Result<Option<Arc<JitAsset>>, ApiError> {
    let key = format!("{id}@{version}");
    state
        .jit
        .assets
        .try_get_with(key, load_uncached(state, prefix))
        .await
        .map_err(|e| ApiError::new(e.status, e.code, e.message.clone()))
}

async fn load_uncached(state: &AppState, prefix: &str) -> Result<Option<Arc<JitAsset>>, ApiError> {
    let Some(json) = read_small(
        state,
        &format!("{prefix}/{STORED_PRESENTATION}"),
        DESCRIPTION_LIMIT,
    )
    .await?
    else {
        return Ok(None);
    };
    let stored: StoredPresentation = serde_json::from_slice(&json)
        .map_err(|e| bad_gateway(format!("{prefix}/{STORED_PRESENTATION}: {e}")))?;
    let mut tracks = Vec::with_capacity(stored.renditions.len());
    for r in &stored.renditions {
        let key = format!("{prefix}/{}", r.index);
        let bytes = read_small(state, &key, INDEX_LIMIT)
            .await?
            .ok_or_else(|| bad_gateway(format!("{key} is missing")))?;
        let track = openvod_media::index::decode_track(&bytes, &Limits::default())
            .map_err(|e| bad_gateway(format!("{key}: {e}")))?;
        tracks.push(track);
    }
    Ok(Some(Arc::new(JitAsset {
        prefix: prefix.to_string(),
        stored,
        tracks,
        presentations: Mutex::new(HashMap::new()),
        copies: OnceCell::new(),
    })))
}

/// What a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Object {
    Master,
    Mpd,
    MediaPlaylist(usize),
    IFramePlaylist(usize),
    Init(usize),
    Segment(usize, usize),
}

/// A parsed request path: the copy's folder, the segment length, the object.
#[derive(Debug)]
struct Request {
    folder: &'static str,
    segment_seconds: f64,
    object: Object,
}

fn parse(jit: &JitAsset, path: &str) -> Option<Request> {
    let (folder, rest) = match path.split_once('/') {
        Some(("cenc", rest)) => ("cenc", rest),
        Some(("cbcs", rest)) => ("cbcs", rest),
        Some(("aes128", rest)) => ("aes128", rest),
        _ => ("", path),
    };
    let (segment_seconds, rest) = match rest.split_once('/') {
        Some((s, rest)) if s.starts_with('s') && s[1..].bytes().all(|b| b.is_ascii_digit()) => {
            let n: u32 = s[1..].parse().ok().filter(|n| (1..=30).contains(n))?;
            (f64::from(n), rest)
        }
        _ => (jit.stored.segment_seconds, rest),
    };
    let rendition = |name: &str| jit.stored.renditions.iter().position(|r| r.name == name);
    let object = match rest.split_once('/') {
        None if rest == "master.m3u8" => Object::Master,
        None if rest == "manifest.mpd" => Object::Mpd,
        Some((name, file)) => {
            let r = rendition(name)?;
            match file {
                "index.m3u8" => Object::MediaPlaylist(r),
                "iframes.m3u8" => Object::IFramePlaylist(r),
                "init.mp4" => Object::Init(r),
                _ => {
                    let n: usize = file.strip_suffix(".m4s")?.parse().ok()?;
                    Object::Segment(r, n.checked_sub(1)?)
                }
            }
        }
        None => return None,
    };
    Some(Request {
        folder,
        segment_seconds,
        object,
    })
}

/// Whether the template asked for this copy.
fn copy_allowed(stored: &StoredPresentation, folder: &str) -> bool {
    let Some(p) = &stored.protection else {
        return folder.is_empty();
    };
    let name = match folder {
        "" => "clear",
        "aes128" => "aes-128",
        other => other,
    };
    p.outputs.iter().any(|o| o == name)
}

impl JitAsset {
    fn presentation(&self, segment_seconds: f64) -> Result<Arc<Presentation>, ApiError> {
        let key = (segment_seconds * 1000.0).round() as u64;
        let mut all = self
            .presentations
            .lock()
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lock"))?;
        if let Some(p) = all.get(&key) {
            return Ok(p.clone());
        }
        let renditions = self
            .stored
            .renditions
            .iter()
            .zip(&self.tracks)
            .enumerate()
            .map(|(i, (r, t))| Rendition {
                name: r.name.clone(),
                source: i,
                track: t.clone(),
            })
            .collect();
        // The template's fragments when they divide the asked length, else one fragment
        // per segment.
        let f = self.stored.fragment_seconds;
        let whole = f > 0.0 && ((segment_seconds / f).round() * f - segment_seconds).abs() < 1e-6;
        let target = SegmentTarget {
            segment_seconds,
            fragment_seconds: if whole { f } else { segment_seconds },
        };
        let p = Arc::new(
            Presentation::new(renditions, target)
                .map_err(|e| bad_gateway(format!("{}: {e}", self.prefix)))?,
        );
        all.insert(key, p.clone());
        Ok(p)
    }

    /// The protection of a copy's folder (`None` for the clear copy).
    async fn protection(
        &self,
        state: &AppState,
        id: &str,
        folder: &str,
    ) -> Result<Option<Protection>, ApiError> {
        if folder.is_empty() {
            return Ok(None);
        }
        let Some(settings) = &self.stored.protection else {
            return Ok(None);
        };
        let copies = self
            .copies
            .get_or_try_init(|| async {
                let store = state.keys.clone().ok_or_else(|| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "no_key_store",
                        "protected copies need a key store ([drm] master_key)",
                    )
                })?;
                let plan = CopyPlan {
                    outputs: settings.outputs.clone(),
                    drm_systems: settings.drm_systems.clone(),
                    scope: if settings.keys == "single" {
                        KeyScope::Single
                    } else {
                        KeyScope::PerTrackType
                    },
                    builtin_provider: settings.key_provider == "builtin",
                    clear_lead_seconds: settings.clear_lead_seconds,
                };
                let keyed: Vec<KeyedRendition> = self
                    .stored
                    .renditions
                    .iter()
                    .zip(&self.tracks)
                    .map(|(r, t)| match t.kind {
                        TrackKind::Video => KeyedRendition::video(&r.name, t.width, t.height),
                        TrackKind::Audio => KeyedRendition::audio(&r.name),
                    })
                    .collect();
                let key_uri = |kid: &str| format!("../../keys/{kid}");
                let copies = packaging::protected_copies(
                    &KeyProvider::Builtin(store),
                    id,
                    &plan,
                    &keyed,
                    &key_uri,
                )
                .await
                .map_err(|e| {
                    ApiError::new(StatusCode::BAD_GATEWAY, "key_provider", e.to_string())
                })?;
                Ok::<_, ApiError>(
                    copies
                        .into_iter()
                        .filter_map(|c| c.protection.map(|p| (c.folder, p)))
                        .collect(),
                )
            })
            .await?;
        Ok(copies.get(folder).cloned())
    }
}

/// The bytes of a segment's samples, read at once from the store, as a `ByteSource`
/// over the source file's offsets.
struct Span {
    base: u64,
    bytes: Bytes,
}

impl ByteSource for Span {
    fn len(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = offset
            .checked_sub(self.base)
            .ok_or_else(|| io::Error::other("read before the span"))? as usize;
        let end = start + buf.len();
        let src = self
            .bytes
            .get(start..end)
            .ok_or_else(|| io::Error::other("read past the span"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// The validator of a generated object. Generation is deterministic (the same stored
/// asset version and path give the same bytes, keys included), so the ETag names what
/// was asked for instead of hashing the bytes, which would cost a quarter of the time of
/// making a segment. FNV-1a (64 bit) is stable across processes and builds, so every
/// origin behind a CDN gives the same ETag.
pub(crate) fn etag_of(identity: &str) -> String {
    let hash = identity.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"g{hash:016x}\"")
}

fn object(body: Bytes, content_type: &'static str, etag: &str) -> GeneratedObject {
    GeneratedObject {
        etag: etag.to_string(),
        body,
        content_type,
        created: Instant::now(),
    }
}

/// Generates the object `path` of a stored asset.
pub(crate) async fn generate(
    state: &AppState,
    jit: &JitAsset,
    id: &str,
    path: &str,
    etag: &str,
) -> Result<GeneratedObject, ApiError> {
    let not_found = || ApiError::not_found(format!("no {path} for asset {id}"));
    let req = parse(jit, path).ok_or_else(not_found)?;
    if !copy_allowed(&jit.stored, req.folder) {
        return Err(not_found());
    }
    let p = jit.presentation(req.segment_seconds)?;
    let protection = jit.protection(state, id, req.folder).await?;
    let prot = protection.as_ref();
    let aes = prot.is_some_and(|k| k.method == Method::Aes128);
    let text = |s: String, t: &'static str| Ok(object(Bytes::from(s), t, etag));
    const HLS: &str = "application/vnd.apple.mpegurl";
    match req.object {
        Object::Master if jit.stored.hls => {
            let mut m = p.protected_hls_multivariant_playlist(prot);
            // I-frame byte ranges of a protected copy depend on its encrypted fragments,
            // which are only known once every segment is made: protected copies made on
            // request have no I-frame playlists.
            if prot.is_some() {
                m = m
                    .lines()
                    .filter(|l| !l.starts_with("#EXT-X-I-FRAME-STREAM-INF"))
                    .map(|l| format!("{l}\n"))
                    .collect();
            }
            text(m, HLS)
        }
        Object::Mpd if jit.stored.dash && !aes => {
            text(p.protected_dash_mpd(prot), "application/dash+xml")
        }
        Object::MediaPlaylist(r) if jit.stored.hls => {
            text(p.protected_hls_media_playlist(r, prot), HLS)
        }
        Object::IFramePlaylist(r) if jit.stored.hls && prot.is_none() => {
            let playlist = p.hls_iframe_playlist(r).ok_or_else(not_found)?;
            text(playlist, HLS)
        }
        Object::Init(r) => {
            let init = match prot {
                Some(k) => p
                    .protected_init_segment(r, k)
                    .map_err(|e| bad_gateway(e.to_string()))?,
                None => p.init_segment(r),
            };
            Ok(object(Bytes::from(init), "video/mp4", etag))
        }
        Object::Segment(r, n) => {
            let rendition = &p.renditions[r];
            let spec = rendition.segments.get(n).ok_or_else(not_found)?;
            let (first, last) = match (spec.fragments.first(), spec.fragments.last()) {
                (Some(a), Some(b)) => (a.start, b.end),
                _ => return Err(not_found()),
            };
            let samples = &rendition.track.samples[first..last];
            let base = samples.iter().map(|s| s.offset).min().unwrap_or(0);
            let end = samples
                .iter()
                .map(|s| s.offset + u64::from(s.size))
                .max()
                .unwrap_or(base);
            let limit = state.config.origin.max_object_bytes;
            if end - base > limit {
                return Err(bad_gateway(format!(
                    "segment {} of {} needs {} bytes, over origin.max_object_bytes ({limit})",
                    n + 1,
                    rendition.name,
                    end - base
                )));
            }
            let media = format!("{}/{}", jit.prefix, jit.stored.renditions[r].media);
            let span = Span {
                base,
                bytes: read_range(state, &media, base..end).await?,
            };
            let layout = match prot {
                Some(k) => p
                    .protected_media_segment(r, n, k, &span)
                    .map_err(|e| bad_gateway(e.to_string()))?,
                None => p.media_segment(r, n),
            };
            let body = layout.read(&span).map_err(|e| bad_gateway(e.to_string()))?;
            Ok(object(Bytes::from(body), "video/iso.segment", etag))
        }
        _ => Err(not_found()),
    }
}
