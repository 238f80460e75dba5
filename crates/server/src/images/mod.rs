//! Pictures of a ready asset, on request: `/image/{id}/FILE`.
//!
//! - `thumbnail.jpg` / `thumbnail.webp` `?time=S&width=W&height=H&fit=preserve|crop|pad`:
//!   the frame at `time`;
//! - `poster.jpg` / `poster.webp`: the asset's poster, as made with the encode, or at the
//!   time set on the asset, at any size the same parameters ask;
//! - `animated.webp` / `animated.gif` `?start=S&duration=D&width=W&fps=F`: a short
//!   animated preview.
//!
//! Frames are decoded from the clear copy's own segments (the init segment and the one
//! or few media segments that hold the time), fed to ffmpeg on stdin: ffmpeg opens no
//! file and reads nothing but those bytes, which the origin made or stored itself. A
//! protected title (no clear copy) has no thumbnails on request: its frames are not
//! given away as pictures; its poster and storyboard, made with the encode, remain.
//! Every size and time is bounded before any work; answers go through the shield, keyed
//! by the asset's version and the parsed request, and follow the same access rules as
//! playback (signed URLs included).

use std::time::Duration;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use openvod_media::images::{ImageIndex, IMAGE_INDEX, MAX_IMAGE_INDEX_BYTES, POSTER};
use openvod_media::{Copy, Object, ObjectPath};
use openvod_store::{Asset, AssetStatus};

use crate::access::{self, Playback};
use crate::api::check_id;
use crate::shield::GeneratedObject;
use crate::{ApiError, AppState};

mod ffmpeg;
pub(crate) mod poster;

pub(crate) use poster::control_routes;

/// Largest width or height of a picture asked for, pixels.
pub const MAX_SIDE: u32 = 1920;
/// Smallest width or height of a picture asked for, pixels.
pub const MIN_SIDE: u32 = 16;
/// Longest animated preview, seconds.
pub const MAX_ANIMATION_SECONDS: f64 = 10.0;
/// Widest animated preview, pixels.
pub const MAX_ANIMATION_WIDTH: u32 = 640;
/// Highest animated preview frame rate.
pub const MAX_ANIMATION_FPS: u32 = 24;
/// Most segments an animated preview decodes.
const MAX_ANIMATION_SEGMENTS: usize = 8;
/// Largest picture ffmpeg may answer with.
const MAX_PICTURE_BYTES: usize = 16 << 20;
/// Time ffmpeg gets for one picture.
const PICTURE_DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/image/{id}/{file}", get(image_get).head(image_get))
}

/// The picture formats on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Webp,
    Gif,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
        }
    }
}

/// How a picture fills a `width` x `height` box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// The whole frame, inside the box (the box's other side may be smaller).
    Preserve,
    /// The box filled, the frame's overflow cut.
    Crop,
    /// The whole frame, centred in the box on black.
    Pad,
}

/// A picture's size as asked: neither side (the rendition's), one side (the other from
/// the frame's shape) or both (with a fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Size {
    width: Option<u32>,
    height: Option<u32>,
    fit: Fit,
}

/// What a request asks for, read once from the file name and the query.
#[derive(Debug, Clone, PartialEq)]
enum Picture {
    Thumbnail {
        time_ms: Option<u64>,
        size: Size,
        format: Format,
    },
    Poster {
        size: Size,
        format: Format,
    },
    Animated {
        start_ms: Option<u64>,
        duration_ms: u64,
        width: u32,
        fps: u32,
        format: Format,
    },
}

/// Most query parameters a picture request may have (its own and a signature's).
const MAX_PARAMETERS: usize = 16;
/// Thumbnail times are read to this many ms, so that nearby asks share one picture in
/// the shield.
const TIME_STEP_MS: u64 = 100;
/// How long a request waits for its turn at ffmpeg before a 503.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_image_request", message)
}

fn seconds_ms(name: &str, value: &str) -> Result<u64, ApiError> {
    let s: f64 = value
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 360_000.0)
        .ok_or_else(|| {
            bad(format!(
                "{name}={value:?} is not a time in seconds (0 to 360000)"
            ))
        })?;
    Ok((s * 1000.0).round() as u64)
}

fn side(name: &str, value: &str, max: u32) -> Result<u32, ApiError> {
    value
        .parse()
        .ok()
        .filter(|v| (MIN_SIDE..=max).contains(v))
        .ok_or_else(|| {
            bad(format!(
                "{name}={value:?} is not a size of {MIN_SIDE} to {max} pixels"
            ))
        })
}

impl Picture {
    fn parse(file: &str, query: Option<&str>) -> Result<Picture, ApiError> {
        let (stem, ext) = file
            .rsplit_once('.')
            .ok_or_else(|| ApiError::not_found(format!("no picture {file:?}")))?;
        let format = match ext {
            "jpg" => Format::Jpeg,
            "webp" => Format::Webp,
            "gif" => Format::Gif,
            _ => return Err(ApiError::not_found(format!("no picture {file:?}"))),
        };
        let mut params: Vec<(&str, &str)> = Vec::new();
        let pairs = query.unwrap_or("").split('&').filter(|p| !p.is_empty());
        if pairs.clone().count() > MAX_PARAMETERS {
            return Err(bad(format!("more than {MAX_PARAMETERS} query parameters")));
        }
        for pair in pairs {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // The signature is checked by the access rules; `v` is the caller's own cache
            // key (a poster's version, say). Neither is read here.
            if openvod_access::cloudfront::SIGNING_NAMES.contains(&k) || k == "v" {
                continue;
            }
            if params.iter().any(|(seen, _)| *seen == k) {
                return Err(bad(format!("{k} is given twice")));
            }
            params.push((k, v));
        }
        let allowed: &[&str] = match stem {
            "thumbnail" => &["time", "width", "height", "fit"],
            "poster" => &["width", "height", "fit"],
            "animated" => &["start", "duration", "width", "fps"],
            _ => return Err(ApiError::not_found(format!("no picture {file:?}"))),
        };
        if let Some((k, _)) = params.iter().find(|(k, _)| !allowed.contains(k)) {
            return Err(bad(format!(
                "{k:?} is not a parameter of {file} (it takes {})",
                allowed.join(", ")
            )));
        }
        let get = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let size = || -> Result<Size, ApiError> {
            let width = get("width")
                .map(|v| side("width", v, MAX_SIDE))
                .transpose()?;
            let height = get("height")
                .map(|v| side("height", v, MAX_SIDE))
                .transpose()?;
            let fit = match get("fit") {
                None | Some("preserve") => Fit::Preserve,
                Some("crop") => Fit::Crop,
                Some("pad") => Fit::Pad,
                Some(other) => {
                    return Err(bad(format!("fit={other:?} is not preserve, crop or pad")))
                }
            };
            if fit != Fit::Preserve && (width.is_none() || height.is_none()) {
                return Err(bad("fit=crop and fit=pad need both width and height"));
            }
            Ok(Size { width, height, fit })
        };
        Ok(match stem {
            "thumbnail" | "poster" if format == Format::Gif => {
                return Err(ApiError::not_found(format!(
                    "no picture {file:?} (stills are .jpg or .webp)"
                )))
            }
            "thumbnail" => Picture::Thumbnail {
                time_ms: get("time")
                    .map(|v| seconds_ms("time", v))
                    .transpose()?
                    .map(|ms| ms / TIME_STEP_MS * TIME_STEP_MS),
                size: size()?,
                format,
            },
            "poster" => Picture::Poster {
                size: size()?,
                format,
            },
            _ => {
                if format == Format::Jpeg {
                    return Err(ApiError::not_found(format!(
                        "no picture {file:?} (animations are .webp or .gif)"
                    )));
                }
                let duration_ms = get("duration")
                    .map(|v| seconds_ms("duration", v))
                    .transpose()?
                    .unwrap_or(3000);
                if duration_ms == 0 || duration_ms as f64 > MAX_ANIMATION_SECONDS * 1000.0 {
                    return Err(bad(format!(
                        "duration must be above 0 and at most {MAX_ANIMATION_SECONDS} s"
                    )));
                }
                let fps = match get("fps") {
                    None => 10,
                    Some(v) => v
                        .parse()
                        .ok()
                        .filter(|f| (1..=MAX_ANIMATION_FPS).contains(f))
                        .ok_or_else(|| bad(format!("fps={v:?} is not 1 to {MAX_ANIMATION_FPS}")))?,
                };
                Picture::Animated {
                    start_ms: get("start").map(|v| seconds_ms("start", v)).transpose()?,
                    duration_ms,
                    width: get("width")
                        .map(|v| side("width", v, MAX_ANIMATION_WIDTH))
                        .transpose()?
                        .unwrap_or(320),
                    fps,
                    format,
                }
            }
        })
    }

    fn format(&self) -> Format {
        match self {
            Picture::Thumbnail { format, .. }
            | Picture::Poster { format, .. }
            | Picture::Animated { format, .. } => *format,
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PictureParams {
    /// The asset (32 lowercase hex digits).
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// thumbnail.jpg, thumbnail.webp, poster.jpg, poster.webp, animated.webp or
    /// animated.gif.
    #[param(max_length = 32)]
    file: String,
}

#[utoipa::path(
    get,
    path = "/image/{id}/{file}",
    operation_id = "image",
    tag = "origin",
    summary = "A picture of a ready asset: a thumbnail at a time, its poster, or an animated preview",
    params(
        PictureParams,
        ("time" = Option<f64>, Query, description = "thumbnail: seconds into the title (default: the poster's time)"),
        ("width" = Option<u32>, Query, description = "16 to 1920 pixels (animated: to 640)"),
        ("height" = Option<u32>, Query, description = "16 to 1920 pixels"),
        ("fit" = Option<String>, Query, description = "preserve (default), crop or pad; crop and pad need width and height"),
        ("start" = Option<f64>, Query, description = "animated: seconds into the title"),
        ("duration" = Option<f64>, Query, description = "animated: seconds, up to 10 (default 3)"),
        ("fps" = Option<u32>, Query, description = "animated: 1 to 24 (default 10)"),
        ("v" = Option<String>, Query, description = "not read: a cache key of the caller's (a poster's version)"),
    ),
    responses(
        (status = 200, description = "The picture", content(
            (crate::openapi::RawBytes = "image/jpeg"),
            (crate::openapi::RawBytes = "image/webp"),
            (crate::openapi::RawBytes = "image/gif"),
        )),
        (status = 304, description = "Not modified (the ETag matched)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 202, description = "The asset is in cold storage (storage tiers): it is being restored; ask again after Retry-After seconds", body = crate::tiers::StorageView, headers(("Retry-After" = u64), ("Cache-Control" = String, description = "no-store"))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 502, response = crate::openapi::BadGateway),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
async fn image_get(
    State(state): State<AppState>,
    Path(PictureParams { id, file }): Path<PictureParams>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let client = access::client_addr(&request);
    let method = request.method().clone();
    let headers = request.headers().clone();
    let result = picture(
        &state,
        &method,
        &headers,
        &id,
        &file,
        query.as_deref(),
        client,
    )
    .await;
    let status = match &result {
        Ok(r) => r.status(),
        Err(e) => e.status,
    };
    metrics::counter!("openvod_image_requests_total", "status" => status.as_u16().to_string())
        .increment(1);
    result
}

async fn picture(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    id: &str,
    file: &str,
    query: Option<&str>,
    client: Option<std::net::SocketAddr>,
) -> Result<Response, ApiError> {
    check_id(id)?;
    let not_found = || ApiError::not_found(format!("no {file} for asset {id}"));
    let asset = state.db.asset(id).await?.ok_or_else(not_found)?;
    let prefix = match (&asset.status, &asset.output_prefix) {
        (AssetStatus::Ready, Some(p)) => p.clone(),
        _ => return Err(not_found()),
    };
    if access::playback_of(state, &asset) == Playback::Signed {
        access::check_viewer(
            state,
            headers,
            &format!("/image/{id}/{file}"),
            query,
            client,
        )?;
    }
    let picture = Picture::parse(file, query)?;
    if let Some(waiting) = crate::tiers::unless_cold(state, &asset).await? {
        return Ok(waiting);
    }
    let index = image_index(state, &asset, &prefix).await?;
    // A poster changes when its time is set: a minute. Other pictures change only with
    // a new encode: a day.
    let cache = if matches!(picture, Picture::Poster { .. }) {
        "public, max-age=60"
    } else {
        "public, max-age=86400"
    };
    let made = match picture {
        // The poster as made with the encode, when no time is set and no size asked.
        Picture::Poster {
            size:
                Size {
                    width: None,
                    height: None,
                    ..
                },
            format: Format::Jpeg,
        } if asset.poster_time_ms.is_none() && index.poster.is_some() => {
            let key = format!("{prefix}/{POSTER}");
            let shield_key = format!("{id}@{}/image/{POSTER}", asset.updated_at);
            state
                .shield
                .get_or_make(shield_key, stored_picture(state, key))
                .await
        }
        picture => {
            let shield_key = format!("{id}@{}/image/{picture:?}", asset.updated_at);
            state
                .shield
                .get_or_make(shield_key, make(state, &asset, &prefix, &index, picture))
                .await
        }
    };
    let (obj, lookup) = made.map_err(|e| ApiError::new(e.status, e.code, e.message.clone()))?;
    let age = obj.created.elapsed().as_secs().to_string();
    let x_cache = match lookup {
        crate::shield::Lookup::Hit => "HIT",
        crate::shield::Lookup::Miss => "MISS",
    };
    Ok(crate::origin::answer(
        method,
        headers,
        obj.body.clone(),
        obj.content_type,
        cache,
        Some(&obj.etag),
        &[("age", age.as_str()), ("x-cache", x_cache)],
    ))
}

/// The asset's `images.json`, or a 404 that says the asset has no pictures.
async fn image_index(
    state: &AppState,
    asset: &Asset,
    prefix: &str,
) -> Result<ImageIndex, ApiError> {
    let body = held_small(
        state,
        asset,
        prefix,
        IMAGE_INDEX,
        MAX_IMAGE_INDEX_BYTES,
        || {
            format!(
                "asset {} has no pictures (it was packaged without them)",
                asset.id
            )
        },
    )
    .await?;
    ImageIndex::from_json(&body)
        .map_err(|e| ApiError::upstream(StatusCode::BAD_GATEWAY, "bad_gateway", e))
}

/// A small file at the root of a ready asset's output (`name`, at most `limit` bytes),
/// held in the shield with the asset's version; a 404 with `missing` when it is not
/// there.
pub(crate) async fn held_small(
    state: &AppState,
    asset: &Asset,
    prefix: &str,
    name: &str,
    limit: u64,
    missing: impl FnOnce() -> String,
) -> Result<Bytes, ApiError> {
    let key = format!("{prefix}/{name}");
    let load = async {
        match crate::jit::read_whole(state, &key, limit).await? {
            crate::jit::Stored::Whole(_, body) => Ok(GeneratedObject {
                etag: String::new(),
                body,
                content_type: "application/json",
                created: std::time::Instant::now(),
            }),
            crate::jit::Stored::Missing => Err(ApiError::not_found(missing())),
            crate::jit::Stored::TooLarge => Err(ApiError::upstream(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                format!("{name} is over {limit} bytes"),
            )),
        }
    };
    let shield_key = format!("{}@{}/{name}", asset.id, asset.updated_at);
    let (held, _) = state
        .shield
        .get_or_make(shield_key, load)
        .await
        .map_err(|e| ApiError::new(e.status, e.code, e.message.clone()))?;
    Ok(held.body.clone())
}

async fn stored_picture(state: &AppState, key: String) -> Result<GeneratedObject, ApiError> {
    match crate::jit::read_whole(state, &key, MAX_PICTURE_BYTES as u64).await? {
        crate::jit::Stored::Whole(_, body) => Ok(picture_object(body, Format::Jpeg)),
        _ => Err(ApiError::not_found("the asset has no stored poster")),
    }
}

/// A picture for the shield, its validator a digest of its bytes.
fn picture_object(body: Bytes, format: Format) -> GeneratedObject {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(&body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    GeneratedObject {
        etag: format!("\"{hex}\""),
        body,
        content_type: format.content_type(),
        created: std::time::Instant::now(),
    }
}

/// Makes `picture` from the clear copy's segments.
async fn make(
    state: &AppState,
    asset: &Asset,
    prefix: &str,
    index: &ImageIndex,
    picture: Picture,
) -> Result<GeneratedObject, ApiError> {
    let source = index.thumbnails.as_ref().ok_or_else(|| {
        ApiError::not_found(format!(
            "asset {} has no clear copy to make pictures from (a protected title's frames are not served as pictures; its poster and storyboard are)",
            asset.id
        ))
    })?;
    let duration_ms = source.duration_ms();
    let poster_ms = asset
        .poster_time_ms
        .and_then(|t| u64::try_from(t).ok())
        .or(index.poster.as_ref().map(|p| p.time_ms))
        .unwrap_or(0)
        .min(duration_ms.saturating_sub(1));
    let past_end = |what: &str, ms: u64| {
        bad(format!(
            "{what} {:.3} s is past the end of the title ({:.3} s)",
            ms as f64 / 1000.0,
            duration_ms as f64 / 1000.0
        ))
    };
    let format = picture.format();
    let (time_ms, segments, filter, output) = match picture {
        Picture::Thumbnail { time_ms, size, .. } => {
            let t = time_ms.unwrap_or(poster_ms);
            if t >= duration_ms {
                return Err(past_end("time", t));
            }
            still(source, t, size)?
        }
        Picture::Poster { size, .. } => still(source, poster_ms, size)?,
        Picture::Animated {
            start_ms,
            duration_ms: length,
            width,
            fps,
            ..
        } => {
            let start = start_ms.unwrap_or(poster_ms);
            if start >= duration_ms {
                return Err(past_end("start", start));
            }
            let end = (start + length).min(duration_ms);
            let rendition = source
                .rendition_for(width, 0)
                .ok_or_else(|| ApiError::not_found("no video rendition"))?;
            let (first, _) = source
                .segment_at(start)
                .ok_or_else(|| past_end("start", start))?;
            let last = source
                .segment_at(end.saturating_sub(1))
                .map_or(source.spans_ms.len() - 1, |(k, _)| k);
            if last + 1 - first > MAX_ANIMATION_SEGMENTS {
                return Err(bad(
                    "the preview spans too many segments; ask for less time",
                ));
            }
            let offset = start - source.spans_ms[first].0;
            // Trimmed first, so that only the preview's frames reach the palette (which
            // holds every frame it is given until it has seen the last).
            let filter = format!(
                "trim=start={:.3}:duration={:.3},setpts=PTS-STARTPTS,fps={fps},\
                 scale={width}:{width}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=lanczos,setsar=1{}",
                offset as f64 / 1000.0,
                (end - start) as f64 / 1000.0,
                if format == Format::Gif {
                    ",split[a][b];[a]palettegen=max_colors=128[p];[b][p]paletteuse=dither=bayer"
                } else {
                    ""
                }
            );
            (
                0,
                (rendition.name.clone(), first..last + 1),
                filter,
                Output::Animation,
            )
        }
    };
    // The turn first, so that waiting requests hold no segments.
    let _turn = tokio::time::timeout(QUEUE_WAIT, FFMPEG_TURNS.acquire())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the origin is busy making other pictures; ask again shortly",
            )
        })?
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "shutting down"))?;
    let (name, range) = segments;
    let mut input = Vec::with_capacity(range.len() + 1);
    let init = ObjectPath::new(Copy::Clear, Object::InitSegment(name.clone()));
    input.push(clear_object(state, asset, prefix, &init).await?);
    for k in range {
        let seg = ObjectPath::new(Copy::Clear, Object::MediaSegment(name.clone(), k));
        input.push(clear_object(state, asset, prefix, &seg).await?);
    }
    let body = ffmpeg::run(input, time_ms, &filter, output, format).await?;
    Ok(picture_object(body, format))
}

/// ffmpeg processes making pictures at once: they are CPU-bound, and the origin's first
/// work is serving segments.
static FFMPEG_TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What ffmpeg writes.
#[derive(Debug, Clone, Copy)]
enum Output {
    Still,
    Animation,
}

type Plan = (
    u64,
    (openvod_media::RenditionName, std::ops::Range<usize>),
    String,
    Output,
);

/// The segment, offset and filter of a still at `t`.
fn still(
    source: &openvod_media::images::ThumbnailSource,
    t: u64,
    size: Size,
) -> Result<Plan, ApiError> {
    let (k, offset) = source
        .segment_at(t)
        .ok_or_else(|| bad("the time falls in no segment of the title"))?;
    // Without a size, the largest picture.
    let rendition = source
        .rendition_for(
            size.width.unwrap_or(u32::MAX),
            size.height.unwrap_or(u32::MAX),
        )
        .ok_or_else(|| ApiError::not_found("no video rendition"))?;
    // A time after the segment's last frame starts would select no frame: at most a
    // quarter second (a frame at 4 fps) before the segment's end.
    let (start, end) = source.spans_ms[k];
    let offset = offset.min((end - start).saturating_sub(250));
    let filter = match (size.width, size.height, size.fit) {
        (None, None, _) => "null".to_string(),
        (Some(w), None, _) => format!("scale={w}:-2"),
        (None, Some(h), _) => format!("scale=-2:{h}"),
        (Some(w), Some(h), Fit::Preserve) => format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"
        ),
        (Some(w), Some(h), Fit::Crop) => {
            format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}")
        }
        (Some(w), Some(h), Fit::Pad) => format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black"
        ),
    };
    Ok((
        offset,
        (rendition.name.clone(), k..k + 1),
        format!("{filter},setsar=1"),
        Output::Still,
    ))
}

/// A clear object's bytes, through the shield (a thumbnail warms what players fetch).
async fn clear_object(
    state: &AppState,
    asset: &Asset,
    prefix: &str,
    object: &ObjectPath,
) -> Result<Bytes, ApiError> {
    match crate::origin::held_object(state, &asset.id, asset.updated_at, prefix, object).await {
        Ok((obj, _)) => Ok(obj.body.clone()),
        Err(e) if e.code == crate::origin::TOO_LARGE_TO_HOLD => Err(ApiError::upstream(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("{object} is over origin.max_object_bytes"),
        )),
        Err(e) => Err(ApiError::upstream(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("{object}: {}", e.message),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_once_and_bounded() {
        let p = Picture::parse(
            "thumbnail.jpg",
            Some("time=3.5&width=320&height=180&fit=crop"),
        )
        .unwrap();
        assert_eq!(
            p,
            Picture::Thumbnail {
                time_ms: Some(3500),
                size: Size {
                    width: Some(320),
                    height: Some(180),
                    fit: Fit::Crop
                },
                format: Format::Jpeg
            }
        );
        let signed = "time=1&Expires=1&Signature=abc~&Key-Pair-Id=K";
        assert!(Picture::parse("thumbnail.webp", Some(signed)).is_ok());
        for (file, query) in [
            ("thumbnail.jpg", "width=100000"),
            ("thumbnail.jpg", "width=8"),
            ("thumbnail.jpg", "time=-1"),
            ("thumbnail.jpg", "time=NaN"),
            ("thumbnail.jpg", "time=1&time=2"),
            ("thumbnail.jpg", "fit=crop&width=100"),
            ("thumbnail.jpg", "fit=stretch"),
            ("thumbnail.jpg", "start=1"),
            ("poster.jpg", "time=1"),
            ("animated.gif", "duration=11"),
            ("animated.gif", "duration=0"),
            ("animated.webp", "width=1000"),
            ("animated.webp", "fps=60"),
        ] {
            let e = Picture::parse(file, Some(query)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{file}?{query}");
        }
        for file in [
            "thumbnail.gif",
            "animated.jpg",
            "thumbnail.png",
            "other.jpg",
            "x",
        ] {
            let e = Picture::parse(file, None).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_FOUND, "{file}");
        }
    }
}
