//! The origin: `/play/{id}/...` streamed from the output location, with single byte
//! ranges (RFC 9110, 14), validators (ETag, If-None-Match) and cache headers a CDN can
//! keep, and CORS for browser players.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use openvod_media::{Object, ObjectPath};
use openvod_store::AssetStatus;

use crate::access::{self, Playback};
use crate::api::check_id;
use crate::{openapi, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/play/{id}/{*path}",
        get(serve_get).head(serve_head).options(preflight),
    )
}

/// An object of a ready asset.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ObjectParams {
    /// The asset (32 lowercase hex digits).
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// master.m3u8, manifest.mpd, NAME/index.m3u8, NAME/init.mp4, NAME/N.m4s, keys/KID,
    /// a copy's folder before them (cenc/, cbcs/, aes/), sN/ for another segment length.
    #[param(max_length = 512)]
    path: String,
}

#[utoipa::path(
    get,
    path = "/play/{id}/{path}",
    operation_id = "play",
    tag = "origin",
    summary = "The origin: a manifest, segment or key of a ready asset (Range, If-None-Match)",
    params(
        ObjectParams,
        ("Range" = Option<String>, Header, description = "One byte range (RFC 9110, 14.1.2); others are ignored"),
        ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, description = "The object", content(
            (String = "application/vnd.apple.mpegurl"),
            (String = "application/dash+xml"),
            (openapi::RawBytes = "video/mp4"),
            (openapi::RawBytes = "video/iso.segment"),
            (openapi::RawBytes = "application/octet-stream"),
        ), headers(
            ("ETag" = String),
            ("Cache-Control" = String),
            ("Accept-Ranges" = String, description = "bytes"),
            ("Access-Control-Allow-Origin" = String),
        )),
        (status = 206, description = "A byte range", content(
            (openapi::RawBytes = "video/mp4"),
            (openapi::RawBytes = "video/iso.segment"),
            (String = "application/vnd.apple.mpegurl"),
            (String = "application/dash+xml"),
            (openapi::RawBytes = "application/octet-stream"),
        ), headers(("Content-Range" = String))),
        (status = 202, description = "The asset is in cold storage (storage tiers): it is being restored; ask again after Retry-After seconds", body = crate::tiers::StorageView, headers(("Retry-After" = u64), ("Cache-Control" = String, description = "no-store"))),
        (status = 304, description = "Not modified (the ETag matched)"),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 416, description = "Range not satisfiable", headers(("Content-Range" = String, description = "bytes */LENGTH"))),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::GatewayTimeout),
    ),
)]
async fn serve_get(
    state: State<AppState>,
    path: Path<ObjectParams>,
    query: RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    serve(state, path, query, request).await
}

#[utoipa::path(
    head,
    path = "/play/{id}/{path}",
    operation_id = "playHead",
    tag = "origin",
    summary = "The origin, headers only",
    params(
        ObjectParams,
        ("Range" = Option<String>, Header),
        ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, description = "The object's headers", headers(
            ("ETag" = String),
            ("Content-Length" = u64),
            ("Cache-Control" = String),
        )),
        (status = 206, description = "A byte range's headers"),
        (status = 202, description = "The asset is in cold storage (storage tiers): it is being restored; ask again after Retry-After seconds", body = crate::tiers::StorageView, headers(("Retry-After" = u64), ("Cache-Control" = String, description = "no-store"))),
        (status = 304, description = "Not modified"),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 416, description = "Range not satisfiable"),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::GatewayTimeout),
    ),
)]
async fn serve_head(
    state: State<AppState>,
    path: Path<ObjectParams>,
    query: RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    serve(state, path, query, request).await
}

/// Manifests may be replaced (a re-run, a delete); segments never change under a name.
fn cache_control(object: &Object) -> &'static str {
    if object.is_manifest() {
        "public, max-age=30"
    } else {
        "public, max-age=31536000, immutable"
    }
}

pub(crate) fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges, ETag, Age"),
    );
}

/// A CORS preflight answer allowing `methods` with `headers`.
fn preflight_for(methods: &'static str, headers: &'static str) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    cors(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(headers),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

#[utoipa::path(
    options,
    path = "/play/{id}/{path}",
    operation_id = "playPreflight",
    tag = "origin",
    summary = "CORS preflight of the origin",
    params(("id" = String, Path), ("path" = String, Path)),
    responses((status = 204, description = "GET and HEAD from any origin", headers(
        ("Access-Control-Allow-Origin" = String),
        ("Access-Control-Allow-Methods" = String),
        ("Access-Control-Allow-Headers" = String),
        ("Access-Control-Max-Age" = String),
    ))),
)]
async fn preflight() -> Response {
    preflight_for(
        "GET, HEAD, OPTIONS",
        "Range, If-None-Match, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status",
    )
}

/// CORS preflight of the licence endpoints (POST with a JSON body).
pub(crate) fn preflight_post() -> Response {
    preflight_for("POST, OPTIONS", "Content-Type, Authorization")
}

/// A single byte range of a `len`-byte object (RFC 9110, 14.1.2): `Ok(None)` for no
/// (or an ignorable) Range header, `Err(())` when it cannot be satisfied.
fn byte_range(value: Option<&HeaderValue>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multiple ranges: answering with the whole object is allowed (14.2).
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse().map_err(|_| ())?
        };
        if start >= len || end < start {
            return Err(());
        }
        (start, end.min(len - 1))
    };
    Ok(Some(range))
}

async fn serve(
    State(state): State<AppState>,
    Path(ObjectParams { id, path }): Path<ObjectParams>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let client = access::client_addr(&request);
    let method = request.method().clone();
    let headers = request.headers().clone();
    let viewer = Viewer {
        query: query.as_deref(),
        client,
    };
    let response = serve_inner(&state, &method, &id, &path, &headers, viewer).await;
    let status = match &response {
        Ok(r) => r.status(),
        Err(e) => e.status,
    };
    // The asset's served bytes: what each full or partial answer to GET carries.
    if let Ok(r) = &response {
        if method == Method::GET
            && matches!(r.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT)
        {
            let header = |name| r.headers().get(name).and_then(|v| v.to_str().ok());
            let bytes = header(header::CONTENT_LENGTH.as_str())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            state
                .served
                .record(&id, bytes, header("x-cache") == Some("HIT"));
        }
    }
    metrics::counter!("openvod_origin_requests_total", "status" => status.as_u16().to_string())
        .increment(1);
    let starved = crate::qoe::observe(&state, &id, &path, query.as_deref(), &headers, status);
    crate::steering::observe(&state, &headers, status, starved);
    response
}

/// A manifest opened with a wildcard policy in its query lists its children with the
/// same signature, so that a player without cookies can fetch them.
fn query_signer(
    grant: Option<openvod_access::Grant>,
    manifest: bool,
) -> Option<openvod_access::Grant> {
    grant.filter(|g| {
        manifest && g.has_wildcard() && g.source() == openvod_access::SignatureSource::Query
    })
}

/// What identifies a viewer's request beyond its headers.
#[derive(Clone, Copy)]
struct Viewer<'a> {
    query: Option<&'a str>,
    client: Option<std::net::SocketAddr>,
}

/// What a request to `/play/ID/...` is answered from.
enum Served {
    /// The preview's objects: while the asset is playable, and after it is ready for
    /// players that started on it.
    Preview(crate::preview::PreviewRequest),
    /// The published presentation under this prefix.
    Presentation(String),
}

async fn serve_inner(
    state: &AppState,
    method: &Method,
    id: &str,
    path: &str,
    headers: &HeaderMap,
    viewer: Viewer<'_>,
) -> Result<Response, ApiError> {
    check_id(id)?;
    let not_found = || ApiError::not_found(format!("no {path} for asset {id}"));
    let asset = state.db.asset(id).await?.ok_or_else(not_found)?;
    // Nothing of the presentation is served before the asset is ready: never a partial
    // manifest. A playable asset serves its preview only.
    let served = match (
        &asset.status,
        &asset.output_prefix,
        crate::preview::PreviewRequest::of(&asset, path),
    ) {
        (AssetStatus::Ready | AssetStatus::Playable, _, Some(request)) => Served::Preview(request),
        (AssetStatus::Ready, Some(prefix), None) => Served::Presentation(prefix.clone()),
        _ => return Err(not_found()),
    };
    // Signed playback: the same check CloudFront makes, on every object (manifests,
    // segments and keys). The signing parameters never reach the cache identity below.
    let grant = match access::playback_of(state, &asset) {
        Playback::Public => None,
        Playback::Signed => Some(access::check_viewer(
            state,
            headers,
            &format!("/play/{id}/{path}"),
            viewer.query,
            viewer.client,
        )?),
    };
    let prefix = match served {
        Served::Presentation(prefix) => prefix,
        Served::Preview(request) => {
            if let Some(waiting) = crate::tiers::unless_cold(state, &asset).await? {
                return Ok(waiting);
            }
            let signer = query_signer(grant, request.is_manifest());
            return crate::preview::serve(state, method, headers, &asset, request, signer).await;
        }
    };
    // Only the objects a presentation can have are looked for: anything else is 404
    // without a store read.
    let object = ObjectPath::parse(path).map_err(|_| not_found())?;
    if let Object::Key(kid) = object.object {
        return crate::drm::aes128_key(state, id, kid).await;
    }
    if let Some(waiting) = crate::tiers::unless_cold(state, &asset).await? {
        return Ok(waiting);
    }
    let manifest = object.object.is_manifest();
    let signer = query_signer(grant, manifest);
    // Answers held in memory go through the shield, keyed by asset version and path only
    // (never by signing parameters): objects packaged on request, and files packaged
    // ahead of time up to origin.max_object_bytes (larger files stream below).
    let key = format!("{prefix}/{object}");
    let made = held_object(state, id, asset.updated_at, &prefix, &object).await;
    match made {
        Ok((obj, lookup)) => {
            let steered = crate::steering::steer(state, headers, id, &object, &obj.body);
            return Ok(answer_object(
                method, headers, &object, &obj, lookup, signer, steered,
            ));
        }
        Err(e) if e.code == TOO_LARGE_TO_HOLD && signer.is_some() => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "manifest_too_large",
                format!("{path} is over origin.max_object_bytes and cannot be signed"),
            ))
        }
        Err(e) if e.code == TOO_LARGE_TO_HOLD => {}
        Err(e) => return Err(ApiError::new(e.status, e.code, e.message.clone())),
    }
    stream_stored(
        state,
        method,
        headers,
        &key,
        object.object.content_type(),
        cache_control(&object.object),
        &[],
    )
    .await?
    .ok_or_else(not_found)
}

/// A stored file streamed from the store in its own chunks (no whole-object buffer),
/// with a single byte range, its validator and `extra` headers; `None` when there is no
/// such file.
pub(crate) async fn stream_stored(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    key: &str,
    content_type: &'static str,
    cache: &'static str,
    extra: &[(header::HeaderName, String)],
) -> Result<Option<Response>, ApiError> {
    let Some(meta) = state.objects.outputs.head(key).await? else {
        return Ok(None);
    };
    let etag = store_etag(&meta);
    let mut out = HeaderMap::new();
    cors(&mut out);
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name.clone(), v);
        }
    }
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        *r.headers_mut() = out;
        return Ok(Some(r));
    }
    let len = meta.size;
    let (status, range) = match byte_range(headers.get(header::RANGE), len) {
        Ok(None) => (StatusCode::OK, None),
        Ok(Some((a, b))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, Some((a, b)))
        }
        Err(()) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            *r.headers_mut() = out;
            return Ok(Some(r));
        }
    };
    let body_len = range.map_or(len, |(a, b)| b - a + 1);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        // The object streams from the store in its own chunks: no whole-object buffer.
        let stream = state
            .objects
            .outputs
            .get_stream(key, range.map(|(a, b)| a..b + 1))
            .await?;
        let code = status.as_u16().to_string();
        let counted = stream.map(move |chunk| {
            if let Ok(c) = &chunk {
                metrics::counter!("openvod_origin_bytes_total", "status" => code.clone())
                    .increment(c.len() as u64);
            }
            chunk.map_err(std::io::Error::other)
        });
        Body::from_stream(counted)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = out;
    Ok(Some(r))
}

/// Object `object` of asset `id` at `version`, stored under `prefix`, through the shield
/// (keyed by asset version and path only, never by signing parameters): made on request
/// from the stored renditions, or a file packaged ahead of time up to
/// `origin.max_object_bytes` (a larger file is `TOO_LARGE_TO_HOLD`, for the caller to
/// stream).
pub(crate) async fn held_object(
    state: &AppState,
    id: &str,
    version: i64,
    prefix: &str,
    object: &ObjectPath,
) -> Result<
    (
        std::sync::Arc<crate::shield::GeneratedObject>,
        crate::shield::Lookup,
    ),
    std::sync::Arc<ApiError>,
> {
    let shield_key = format!("{id}@{version}/{object}");
    let key = format!("{prefix}/{object}");
    match crate::jit::load(state, id, version, prefix).await? {
        Some(jit) => {
            let etag = crate::jit::etag_of(&shield_key);
            state
                .shield
                .get_or_make(
                    shield_key,
                    crate::jit::generate(state, &jit, id, object, &etag),
                )
                .await
        }
        None => {
            if openvod_store::objects::check_key(&key).is_err() {
                return Err(std::sync::Arc::new(ApiError::not_found(format!(
                    "no {object} for asset {id}"
                ))));
            }
            state
                .shield
                .get_or_make(shield_key, load_static(state, &key, object))
                .await
        }
    }
}

/// The error code of a file too large for the shield (it is streamed instead).
pub(crate) const TOO_LARGE_TO_HOLD: &str = "too_large_to_hold";

/// The validator of a stored file: its store ETag, or its size and time.
fn store_etag(meta: &openvod_store::objects::ObjectMeta) -> String {
    match &meta.e_tag {
        Some(t) => format!("\"{}\"", t.trim_matches('"')),
        None => format!(
            "\"{:x}-{:x}\"",
            meta.size,
            meta.last_modified.timestamp_millis()
        ),
    }
}

/// A whole stored file for the shield; too large to hold: `TOO_LARGE_TO_HOLD`, and the
/// caller streams it instead.
async fn load_static(
    state: &AppState,
    key: &str,
    path: &ObjectPath,
) -> Result<crate::shield::GeneratedObject, ApiError> {
    match crate::jit::read_whole(state, key, state.config.origin.max_object_bytes).await? {
        crate::jit::Stored::Missing => Err(ApiError::not_found(format!("no {path}"))),
        crate::jit::Stored::TooLarge => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            TOO_LARGE_TO_HOLD,
            path.to_string(),
        )),
        crate::jit::Stored::Whole(meta, body) => Ok(crate::shield::GeneratedObject {
            etag: store_etag(&meta),
            body,
            content_type: path.object.content_type(),
            created: std::time::Instant::now(),
        }),
    }
}

/// Answers with an object from the shield: as it is (with its age and whether it was a
/// hit), or, for a manifest a viewer opened with a wildcard signature, rewritten with
/// that signature on every child URI (private to that viewer).
fn answer_object(
    method: &Method,
    headers: &HeaderMap,
    path: &ObjectPath,
    obj: &crate::shield::GeneratedObject,
    lookup: crate::shield::Lookup,
    signer: Option<openvod_access::Grant>,
    steered: Option<String>,
) -> Response {
    if let Some(g) = signer {
        let text = match &steered {
            Some(s) => std::borrow::Cow::Borrowed(s.as_str()),
            None => String::from_utf8_lossy(&obj.body),
        };
        let signed = if path.object == Object::Mpd {
            sign_mpd(&text, &g.query_suffix())
        } else {
            sign_playlist(&text, &g.query_suffix())
        };
        return answer(
            method,
            headers,
            bytes::Bytes::from(signed),
            obj.content_type,
            "private, no-cache",
            None,
            &[],
        );
    }
    let age = obj.created.elapsed().as_secs().to_string();
    let x_cache = match lookup {
        crate::shield::Lookup::Hit => "HIT",
        crate::shield::Lookup::Miss => "MISS",
    };
    if let Some(text) = steered {
        // The steered form is a different representation of the same manifest: its own
        // validator, made from the stored one and the steered bytes.
        let etag = format!(
            "\"{}-s{:x}\"",
            obj.etag.trim_matches('"'),
            fnv1a(text.as_bytes())
        );
        return answer(
            method,
            headers,
            bytes::Bytes::from(text),
            obj.content_type,
            cache_control(&path.object),
            Some(&etag),
            &[("age", age.as_str()), ("x-cache", x_cache)],
        );
    }
    answer(
        method,
        headers,
        obj.body.clone(),
        obj.content_type,
        cache_control(&path.object),
        Some(&obj.etag),
        &[("age", age.as_str()), ("x-cache", x_cache)],
    )
}

/// Answers with an object held in memory: validators, a single byte range, HEAD.
pub(crate) fn answer(
    method: &Method,
    headers: &HeaderMap,
    body: bytes::Bytes,
    content_type: &'static str,
    cache: &'static str,
    etag: Option<&str>,
    extra: &[(&'static str, &str)],
) -> Response {
    let mut out = HeaderMap::new();
    cors(&mut out);
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(*name, v);
        }
    }
    if let Some(tag) = etag {
        if let Ok(v) = HeaderValue::from_str(tag) {
            out.insert(header::ETAG, v);
        }
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
        if matches {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            *r.headers_mut() = out;
            return r;
        }
    }
    let len = body.len() as u64;
    let (status, body) = match byte_range(headers.get(header::RANGE), len) {
        Ok(None) => (StatusCode::OK, body),
        Ok(Some((a, b))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            (
                StatusCode::PARTIAL_CONTENT,
                body.slice(a as usize..b as usize + 1),
            )
        }
        Err(()) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            *r.headers_mut() = out;
            return r;
        }
    };
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    metrics::counter!("openvod_origin_bytes_total", "status" => status.as_u16().to_string())
        .increment(if method == Method::HEAD {
            0
        } else {
            body.len() as u64
        });
    let mut r = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    *r.status_mut() = status;
    *r.headers_mut() = out;
    r
}

/// FNV-1a, 64 bits: a validator's distinguishing part, not a security boundary.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Adds `suffix` to a relative or absolute URI's query.
fn with_suffix(uri: &str, suffix: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{suffix}")
}

/// URIs that name a key inline or for another system (`data:`, `skd:`) are left alone.
fn is_fetchable(uri: &str) -> bool {
    !(uri.starts_with("data:") || uri.starts_with("skd:"))
}

/// RFC 8216bis: URI lines, and `URI="..."` attributes of tags (EXT-X-MAP, EXT-X-MEDIA,
/// EXT-X-I-FRAME-STREAM-INF, EXT-X-KEY, EXT-X-SESSION-KEY).
pub(crate) fn sign_playlist(text: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        if line.is_empty() {
        } else if !line.starts_with('#') {
            out.push_str(&with_suffix(line, suffix));
        } else if let Some(at) = line.find("URI=\"") {
            let start = at + 5;
            match line[start..].find('"') {
                Some(len) if is_fetchable(&line[start..start + len]) => {
                    out.push_str(&line[..start]);
                    out.push_str(&with_suffix(&line[start..start + len], suffix));
                    out.push_str(&line[start + len..]);
                }
                _ => out.push_str(line),
            }
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// ISO/IEC 23009-1, 5.3.9.4: the `initialization` and `media` templates of each
/// SegmentTemplate (the only URLs openvod's MPDs hold), XML-escaped.
fn sign_mpd(text: &str, suffix: &str) -> String {
    let escaped = suffix.replace('&', "&amp;");
    let mut out = text.to_string();
    for attr in ["initialization=\"", "media=\""] {
        let mut result = String::with_capacity(out.len() * 2);
        let mut rest = out.as_str();
        while let Some(at) = rest.find(attr) {
            let start = at + attr.len();
            let Some(len) = rest[start..].find('"') else {
                break;
            };
            let uri = &rest[start..start + len];
            let sep = if uri.contains('?') { "&amp;" } else { "?" };
            result.push_str(&rest[..start + len]);
            result.push_str(sep);
            result.push_str(&escaped);
            rest = &rest[start + len..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_playlists_carry_the_signature_to_every_child() {
        let m = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://ab\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"../../keys/ab\"\n#EXTINF:4,\n1.m4s\n";
        let s = sign_playlist(m, "Policy=p&Signature=s&Key-Pair-Id=k");
        assert!(s.contains("URI=\"init.mp4?Policy=p&Signature=s&Key-Pair-Id=k\""));
        assert!(s.contains("URI=\"skd://ab\""));
        assert!(s.contains("URI=\"../../keys/ab?Policy=p"));
        assert!(s.contains("\n1.m4s?Policy=p&Signature=s&Key-Pair-Id=k\n"));
        let d = "<SegmentTemplate initialization=\"a/init.mp4\" media=\"a/$Number$.m4s\">";
        let s = sign_mpd(d, "Policy=p&Signature=s");
        assert_eq!(
            s,
            "<SegmentTemplate initialization=\"a/init.mp4?Policy=p&amp;Signature=s\" media=\"a/$Number$.m4s?Policy=p&amp;Signature=s\">"
        );
    }

    fn range(v: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
        byte_range(Some(&HeaderValue::from_str(v).unwrap()), len)
    }

    #[test]
    fn single_ranges_per_rfc_9110() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(range("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=990-2000", 1000), Ok(Some((990, 999))));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=5-1", 1000), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(range("items=0-1", 1000), Ok(None));
        assert_eq!(range("bytes=x-1", 1000), Err(()));
    }
}
