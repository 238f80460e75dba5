//! The origin: `/play/{id}/...` streamed from the output location, with single byte
//! ranges (RFC 9110, 14), validators (ETag, If-None-Match) and cache headers a CDN can
//! keep, and CORS for browser players.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use openvod_store::AssetStatus;

use crate::api::check_id;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/play/{id}/{*path}",
        get(serve).head(serve).options(preflight),
    )
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("mpd") => "application/dash+xml",
        Some("mp4") => "video/mp4",
        Some("m4s") => "video/iso.segment",
        _ => "application/octet-stream",
    }
}

/// Manifests may be replaced (a re-run, a delete); segments never change under a name.
fn cache_control(path: &str) -> &'static str {
    if path.ends_with(".m3u8") || path.ends_with(".mpd") {
        "public, max-age=30"
    } else {
        "public, max-age=31536000, immutable"
    }
}

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges, ETag, Age"),
    );
}

async fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    cors(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, If-None-Match"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
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
    method: Method,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let response = serve_inner(&state, &method, &id, &path, &headers).await;
    let status = match &response {
        Ok(r) => r.status(),
        Err(e) => e.status,
    };
    metrics::counter!("openvod_origin_requests_total", "status" => status.as_u16().to_string())
        .increment(1);
    response
}

async fn serve_inner(
    state: &AppState,
    method: &Method,
    id: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    check_id(id)?;
    let not_found = || ApiError::not_found(format!("no {path} for asset {id}"));
    let asset = state.db.asset(id).await?.ok_or_else(not_found)?;
    // Nothing is served before the asset is ready: never a partial manifest.
    let prefix = match (&asset.status, &asset.output_prefix) {
        (AssetStatus::Ready, Some(p)) => p.clone(),
        _ => return Err(not_found()),
    };
    let key = format!("{prefix}/{path}");
    if openvod_store::objects::check_key(&key).is_err() {
        return Err(not_found());
    }
    let meta = state
        .objects
        .outputs
        .head(&key)
        .await?
        .ok_or_else(not_found)?;
    let etag = match &meta.e_tag {
        Some(t) => format!("\"{}\"", t.trim_matches('"')),
        None => format!(
            "\"{:x}-{:x}\"",
            meta.size,
            meta.last_modified.timestamp_millis()
        ),
    };
    let mut out = HeaderMap::new();
    cors(&mut out);
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(path)),
    );
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
        return Ok(r);
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
            return Ok(r);
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
            .get_stream(&key, range.map(|(a, b)| a..b + 1))
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
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

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
