//! Packaging on request: an asset stored as one MP4 per rendition and its index
//! (`presentation.json`, see `openvod_media::stored`) is served as HLS and DASH, clear,
//! `cenc`, `cbcs` or AES-128, in any segment length the keyframes allow, from one ranged
//! read of the store per segment.
//!
//! The origin does no packaging of its own: a request's path is an
//! `openvod_media::ObjectPath`, and `openvod_media::Presentation` makes the object, as it
//! does for packaging ahead of time. Here the stored asset is loaded, the store is read,
//! and generated objects go through the origin shield (`crate::shield`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use openvod_drm::packaging::{self, KeyedRendition};
use openvod_drm::KeyProvider;
use openvod_media::images::{StoryboardImages, MAX_SPRITE_BYTES};
use openvod_media::presentation::TextRendition;
use openvod_media::segment::SegmentTarget;
use openvod_media::stored::{StoredPresentation, STORED_PRESENTATION, STORYBOARD_SPRITE_KEY};
use openvod_media::{
    ByteSource, Copy, CopyKeys, FileSource, Limits, Made, ObjectPath, Packaging, Presentation,
    Rendition, SegmentLength, TrackKind,
};
use tokio::sync::OnceCell;

use crate::buffers::BufferPool;
use crate::shield::GeneratedObject;
use crate::{ApiError, AppState};

/// `presentation.json` is a few kilobytes; anything larger is not one.
pub(crate) const DESCRIPTION_LIMIT: u64 = 1 << 20;
/// An index holds about 31 bytes per sample: 64 MiB is over two million samples.
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
    renditions: Vec<Rendition>,
    texts: Vec<TextRendition>,
    storyboard: Option<StoryboardImages>,
    /// Presentations by segment length.
    presentations: Mutex<HashMap<SegmentLength, Arc<Presentation>>>,
    /// The keys of every copy, made once (from the key store).
    copies: OnceCell<Vec<CopyKeys>>,
}

/// The assets packaged on request, by asset id and version.
#[derive(Clone)]
pub(crate) struct JitAssets {
    assets: moka::future::Cache<String, Option<Arc<JitAsset>>>,
    /// Segment bodies, recycled.
    buffers: Arc<BufferPool>,
}

impl JitAssets {
    pub fn new(config: &OriginConfig) -> JitAssets {
        JitAssets {
            // Enough for the requests two cores keep in flight, none past the largest
            // segment the origin makes.
            buffers: BufferPool::new(64, config.max_object_bytes as usize),
            assets: moka::future::Cache::builder()
                .max_capacity(1024)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }
}

/// The store failed a read the origin needed: viewers get a generic 502 with a request
/// id, the log gets `detail` (object keys, the store's error).
fn bad_gateway(detail: impl std::fmt::Display) -> ApiError {
    ApiError::upstream(StatusCode::BAD_GATEWAY, "storage", detail)
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
        ApiError::upstream(
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
        ApiError::upstream(
            StatusCode::GATEWAY_TIMEOUT,
            "storage_timeout",
            format!("the store did not answer for {key} in time"),
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
pub(crate) async fn read_small(
    state: &AppState,
    key: &str,
    limit: u64,
) -> Result<Option<Bytes>, ApiError> {
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
    let key = format!("{prefix}/{STORED_PRESENTATION}");
    let Some(json) = read_small(state, &key, DESCRIPTION_LIMIT).await? else {
        return Ok(None);
    };
    let stored =
        StoredPresentation::from_json(&json).map_err(|e| bad_gateway(format!("{key}: {e}")))?;
    let mut renditions = Vec::with_capacity(stored.renditions.len());
    for (source, r) in stored.renditions.iter().enumerate() {
        let key = format!("{prefix}/{}", r.index_key());
        let bytes = read_small(state, &key, INDEX_LIMIT)
            .await?
            .ok_or_else(|| bad_gateway(format!("{key} is missing")))?;
        let track = openvod_media::index::decode_track(&bytes, &Limits::default())
            .map_err(|e| bad_gateway(format!("{key}: {e}")))?;
        renditions.push(Rendition {
            name: r.name.clone(),
            source,
            track,
        });
    }
    let mut texts = Vec::with_capacity(stored.texts.len());
    for t in &stored.texts {
        let key = format!("{prefix}/{}", t.media_key());
        let bytes = read_small(
            state,
            &key,
            openvod_media::text::MAX_WRITTEN_TEXT_BYTES as u64,
        )
        .await?
        .ok_or_else(|| bad_gateway(format!("{key} is missing")))?;
        let cues = openvod_media::text::parse_written(&bytes)
            .map_err(|e| bad_gateway(format!("{key}: {e}")))?;
        texts.push(TextRendition {
            name: t.name.clone(),
            info: t.info.clone(),
            cues,
        });
    }
    let storyboard = match &stored.storyboard {
        None => None,
        Some(board) => {
            let key = format!("{prefix}/{STORYBOARD_SPRITE_KEY}");
            let sprite = read_small(state, &key, MAX_SPRITE_BYTES as u64)
                .await?
                .ok_or_else(|| bad_gateway(format!("{key} is missing")))?;
            Some(
                StoryboardImages::new(board.clone(), sprite.to_vec())
                    .map_err(|e| bad_gateway(format!("{key}: {e}")))?,
            )
        }
    };
    Ok(Some(Arc::new(JitAsset {
        prefix: prefix.to_string(),
        stored,
        renditions,
        texts,
        storyboard,
        presentations: Mutex::new(HashMap::new()),
        copies: OnceCell::new(),
    })))
}

impl JitAsset {
    /// Where the title's picture ends, ms (see `openvod_media::presentation::video_end_ms`).
    pub(crate) fn video_end_ms(&self) -> Option<u64> {
        openvod_media::presentation::video_end_ms(&self.renditions)
    }

    /// The presentation cut for `length`: the template's segments, or N-second ones with
    /// the template's fragments when they divide N, else one fragment per segment.
    pub(crate) fn presentation(
        &self,
        length: SegmentLength,
    ) -> Result<Arc<Presentation>, ApiError> {
        let mut all = self
            .presentations
            .lock()
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lock"))?;
        if let Some(p) = all.get(&length) {
            return Ok(p.clone());
        }
        let p = Arc::new(
            Presentation::new(self.renditions.clone(), self.packaging(length), length)
                .and_then(|p| p.with_text(self.texts.clone()))
                .map(|p| match &self.storyboard {
                    Some(s) => p.with_storyboard(s.clone()),
                    None => p,
                })
                .map_err(|e| bad_gateway(format!("{}: {e}", self.prefix)))?,
        );
        all.insert(length, p.clone());
        Ok(p)
    }

    /// The renditions, as stored.
    pub(crate) fn renditions(&self) -> &[Rendition] {
        &self.renditions
    }

    /// The presentation at the template's segments with `extra` after the stored
    /// renditions: whether a rendition about to be added fits the title, and its sizes.
    pub(crate) fn with_rendition(&self, extra: Rendition) -> openvod_media::Result<Presentation> {
        let mut renditions = self.renditions.clone();
        renditions.push(extra);
        Presentation::new(
            renditions,
            self.packaging(SegmentLength::Template),
            SegmentLength::Template,
        )
        .and_then(|p| p.with_text(self.texts.clone()))
    }

    /// The packaging of segment length `length`: the template's segments, or N-second
    /// ones with the template's fragments when they divide N, else one fragment per
    /// segment.
    fn packaging(&self, length: SegmentLength) -> Packaging {
        let template = self.stored.target;
        let target = match length {
            SegmentLength::Template => template,
            SegmentLength::Seconds(n) => {
                let n = f64::from(n);
                let f = template.fragment_seconds;
                let whole = f > 0.0 && ((n / f).round() * f - n).abs() < 1e-6;
                SegmentTarget {
                    segment_seconds: n,
                    fragment_seconds: if whole { f } else { n },
                }
            }
        };
        Packaging {
            target,
            manifests: self.stored.manifests,
            copies: self.stored.copies(),
            clear_lead_seconds: self
                .stored
                .protection
                .as_ref()
                .map_or(0.0, |p| p.clear_lead_seconds),
            captioned: self.stored.captioned.clone(),
        }
    }

    /// The keys of `copy`.
    async fn keys(&self, state: &AppState, id: &str, copy: Copy) -> Result<CopyKeys, ApiError> {
        let Some(settings) = self
            .stored
            .protection
            .as_ref()
            .filter(|_| copy.is_protected())
        else {
            return Ok(CopyKeys::clear());
        };
        let copies = self
            .copies
            .get_or_try_init(|| async {
                let store = state.keys.clone().ok_or_else(|| {
                    ApiError::upstream(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "no_key_store",
                        "protected copies need a key store ([drm] master_key)",
                    )
                })?;
                let keyed: Vec<KeyedRendition> = self
                    .renditions
                    .iter()
                    .map(|r| match r.track.kind {
                        TrackKind::Video => {
                            KeyedRendition::video(r.name.as_str(), r.track.width, r.track.height)
                        }
                        TrackKind::Audio => KeyedRendition::audio(r.name.as_str()),
                    })
                    .collect();
                packaging::copy_keys(&KeyProvider::Builtin(store), id, settings, &keyed)
                    .await
                    .map_err(|e| ApiError::upstream(StatusCode::BAD_GATEWAY, "key_provider", e))
            })
            .await?;
        packaging::find_copy(copies, copy)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no {copy} copy")))
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

    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = offset
            .checked_sub(self.base)
            .ok_or_else(|| io::Error::other("read before the span"))? as usize;
        let src = start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| io::Error::other("read past the span"))?;
        out.extend_from_slice(src);
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

/// Generates the object at `path` of a stored asset.
pub(crate) async fn generate(
    state: &AppState,
    jit: &JitAsset,
    id: &str,
    path: &ObjectPath,
    etag: &str,
) -> Result<GeneratedObject, ApiError> {
    let not_found = || ApiError::not_found(format!("no {path} for asset {id}"));
    if !path.is_root_only() && !jit.stored.copies().contains(&path.copy) {
        return Err(not_found());
    }
    let p = jit.presentation(path.length)?;
    let keys = jit.keys(state, id, path.copy).await?;
    let content_type = path.object.content_type();
    let made = p.make(&keys, path).map_err(|e| match e {
        openvod_media::Error::NoObject(_) => not_found(),
        other => bad_gateway(format!("{}: {path}: {other}", jit.prefix)),
    })?;
    match made {
        Made::Bytes(bytes) => Ok(object(Bytes::from(bytes), content_type, etag)),
        Made::Segment(segment) => {
            let range = segment.source_range();
            let limit = state.config.origin.max_object_bytes;
            if segment.len() > limit || range.end - range.start > limit {
                return Err(bad_gateway(format!(
                    "{path} needs {} bytes, over origin.max_object_bytes ({limit})",
                    segment.len().max(range.end - range.start)
                )));
            }
            let rendition = &jit.stored.renditions[segment.source()];
            let media = format!("{}/{}", jit.prefix, rendition.media_key());
            let len = segment.len() as usize;
            let local = state
                .objects
                .outputs
                .local_file(&media)
                .map_err(|e| bad_gateway(format!("{media}: {e}")))?;
            let body = match local {
                Some(file) => {
                    let body = state.jit.buffers.take(len);
                    write_from_file(state, p, keys, path.clone(), file, body).await?
                }
                None => {
                    let span = Span {
                        base: range.start,
                        bytes: read_range(state, &media, range).await?,
                    };
                    // One buffer of the segment's size: the samples are copied into it
                    // once and encrypted there, and it becomes the response body.
                    let mut body = state.jit.buffers.take(len);
                    segment
                        .write(&span, &mut body)
                        .map_err(|e| bad_gateway(format!("{media}: {path}: {e}")))?;
                    body
                }
            };
            Ok(object(state.jit.buffers.body(body), content_type, etag))
        }
    }
}

/// A segment of a rendition stored in a local folder, made on a blocking thread: its
/// samples are read from the file straight into the body (one copy, no zero-filled
/// intermediate buffer) and encrypted there, within the store deadline.
async fn write_from_file(
    state: &AppState,
    p: Arc<Presentation>,
    keys: CopyKeys,
    path: ObjectPath,
    file: std::path::PathBuf,
    mut body: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    metrics::counter!("openvod_store_reads_total").increment(1);
    // The blocking thread only says what failed: the error (and its log line, with the
    // request id) is made here, in the request's context.
    let write = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
        let src = std::fs::File::open(&file)
            .and_then(FileSource::new)
            .map_err(|e| fail(&e))?;
        let Made::Segment(segment) = p.make(&keys, &path).map_err(|e| fail(&e))? else {
            return Err(fail(&format!("{path} is not a media segment")));
        };
        segment
            .write(&src, &mut body)
            .map_err(|e| fail(&format!("{path}: {e}")))?;
        Ok(body)
    });
    tokio::time::timeout(state.config.origin.store_timeout, write)
        .await
        .map_err(|_| {
            ApiError::upstream(
                StatusCode::GATEWAY_TIMEOUT,
                "storage_timeout",
                "the store did not answer in time",
            )
        })?
        .map_err(|e| bad_gateway(format!("a packaging task failed: {e}")))?
        .map_err(bad_gateway)
}
