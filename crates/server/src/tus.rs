//! Resumable uploads: the tus protocol 1.0.0 with the creation, termination and
//! expiration extensions (https://tus.io/protocols/resumable-upload), at `/v1/uploads`.
//!
//! Every PATCH streams into an object of its own (a part); the bytes of a PATCH that is
//! cut off are kept, so a client resumes exactly where the connection dropped, also
//! after a server restart (the offsets live in the database, the parts in the store).
//! When the last byte arrives the parts are joined, streaming, into the source object,
//! and the asset is created; the response carries its id in `Openvod-Asset`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use futures::TryStreamExt;
use openvod_store::{NewAsset, Upload};
use utoipa::ToSchema;

use crate::{openapi, ApiError, AppState};

const TUS_VERSION: &str = "1.0.0";
/// How long an unfinished upload is kept after its last PATCH.
const EXPIRY: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/uploads", post(create).options(options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(head)
                .patch(patch)
                .delete(terminate)
                .options(options_upload),
        )
}

/// The protocol versions this server speaks (`Tus-Resumable`, `Tus-Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
pub(crate) enum TusVersion {
    #[schema(rename = "1.0.0")]
    V1_0_0,
}

impl TusVersion {
    fn parse(s: &str) -> Option<TusVersion> {
        (s == TUS_VERSION).then_some(TusVersion::V1_0_0)
    }
}

/// `Upload-Metadata` (tus 1.0.0, creation): comma-separated pairs of a key (ASCII, no
/// space or comma) and, after one space, its value in base64 (RFC 4648, 4, canonical).
pub(crate) fn metadata_pattern() -> &'static str {
    r"^[\x21-\x2B\x2D-\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)?(,[\x21-\x2B\x2D-\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)?)*$"
}

fn metadata_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(metadata_pattern()).expect("the pattern is valid"))
}

fn tus_headers(h: &mut HeaderMap) {
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn respond(status: StatusCode, extra: &[(&'static str, String)]) -> Response {
    let mut r = status.into_response();
    tus_headers(r.headers_mut());
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

/// Every request but OPTIONS must speak our version (tus 1.0.0, "Tus-Resumable").
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("tus-resumable")
        .and_then(|v| v.to_str().ok())
        .and_then(TusVersion::parse)
    {
        Some(TusVersion::V1_0_0) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            "send Tus-Resumable: 1.0.0",
        )),
    }
}

#[utoipa::path(
    options,
    path = "/v1/uploads",
    operation_id = "tusOptions",
    tag = "uploads",
    summary = "tus 1.0 capabilities",
    responses((status = 204, description = "What this server supports", headers(
        ("Tus-Resumable" = TusVersion),
        ("Tus-Version" = TusVersion, description = "The versions spoken"),
        ("Tus-Extension" = String, description = "creation,termination,expiration"),
        ("Tus-Max-Size" = u64, description = "The largest Upload-Length ([upload] max_bytes)"),
    ))),
)]
async fn options(State(state): State<AppState>) -> Response {
    respond(
        StatusCode::NO_CONTENT,
        &[
            ("tus-version", TUS_VERSION.into()),
            ("tus-extension", "creation,termination,expiration".into()),
            ("tus-max-size", state.config.max_upload_bytes.to_string()),
        ],
    )
}

#[utoipa::path(
    options,
    path = "/v1/uploads/{id}",
    operation_id = "tusUploadOptions",
    tag = "uploads",
    summary = "tus 1.0 capabilities (the same answer for every upload URL)",
    params(("id" = String, Path, description = "Any upload URL")),
    responses((status = 204, description = "What this server supports", headers(
        ("Tus-Resumable" = TusVersion),
        ("Tus-Version" = TusVersion, description = "The versions spoken"),
        ("Tus-Extension" = String, description = "creation,termination,expiration"),
        ("Tus-Max-Size" = u64, description = "The largest Upload-Length ([upload] max_bytes)"),
    ))),
)]
async fn options_upload(state: State<AppState>) -> Response {
    options(state).await
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    parse_upload_number(headers.get(name)?.as_bytes())
}

/// Reads the value of `Upload-Length` or `Upload-Offset`: a non-negative integer (tus
/// 1.0.0, "Headers"), written in decimal digits only, with optional surrounding spaces or
/// tabs (RFC 9110, 5.5). A sign, other characters or a value over `u64::MAX` give `None`.
pub fn parse_upload_number(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    // 20 digits hold u64::MAX; a longer run cannot be a valid value, so it is refused
    // before it is read.
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // ASCII digits are valid UTF-8.
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn expiry() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + EXPIRY).as_millis() as i64
}

/// Longest `Upload-Metadata` value read.
pub const MAX_METADATA_BYTES: usize = 4096;

/// Why an `Upload-Metadata` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("Upload-Metadata is longer than {MAX_METADATA_BYTES} bytes")]
    TooLong,
    #[error("Upload-Metadata is not ASCII")]
    NotAscii,
    #[error("Upload-Metadata {0}: not base64")]
    NotBase64(String),
    #[error("Upload-Metadata: comma-separated \"key base64\" pairs of at most {MAX_METADATA_BYTES} bytes")]
    Malformed,
}

fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(Vec::new());
    };
    parse_upload_metadata(raw.as_bytes())
        .map_err(|e| ApiError::bad_request("invalid_metadata", e.to_string()))
}

/// Reads an `Upload-Metadata` value (tus 1.0.0, creation extension): comma-separated
/// pairs of a key (printable ASCII, no space or comma) and, after one space, its value in
/// canonical base64; the value may be left out. The value is refused whole when it is
/// longer than [`MAX_METADATA_BYTES`], before it is matched, and when it does not match
/// the pattern the OpenAPI document gives ([`metadata_pattern`]), so the two agree.
/// Values are bytes (tus 1.0.0); the ones read here are names, kept as text.
pub fn parse_upload_metadata(raw: &[u8]) -> Result<Vec<(String, String)>, MetadataError> {
    if raw.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLong);
    }
    let raw = std::str::from_utf8(raw)
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or(MetadataError::NotAscii)?;
    if !metadata_regex().is_match(raw) {
        return Err(MetadataError::Malformed);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',') {
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let v = base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| MetadataError::NotBase64(k.to_string()))?;
        let v = String::from_utf8_lossy(&v).into_owned();
        out.push((k.to_string(), v));
    }
    Ok(out)
}

#[utoipa::path(
    post,
    path = "/v1/uploads",
    operation_id = "tusCreate",
    tag = "uploads",
    summary = "tus creation: a new upload of Upload-Length bytes",
    params(
        ("Tus-Resumable" = TusVersion, Header),
        ("Upload-Length" = u64, Header, minimum = 1, description = "The size of the whole file, at most Tus-Max-Size (deferred length is not supported)"),
        ("Upload-Metadata" = Option<String>, Header, max_length = 4096,
            pattern = "^[\\x21-\\x2B\\x2D-\\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)?(,[\\x21-\\x2B\\x2D-\\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)?)*$",
            description = "filename (or name) and template, base64"),
    ),
    responses(
        (status = 201, description = "Created: PATCH the bytes to Location", headers(
            ("Location" = String, description = "/v1/uploads/{id}"),
            ("Upload-Expires" = String, description = "When an unfinished upload is removed (HTTP date)"),
            ("Tus-Resumable" = TusVersion),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 412, response = openapi::PreconditionFailed),
        (status = 413, response = openapi::TooLarge),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn create(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let length = header_u64(&headers, "upload-length").ok_or_else(|| {
        ApiError::bad_request(
            "invalid_length",
            "Upload-Length is required (deferred length is not supported)",
        )
    })?;
    if length > state.config.max_upload_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the upload is larger than the limit of {} bytes",
                state.config.max_upload_bytes
            ),
        ));
    }
    if length == 0 {
        return Err(ApiError::bad_request(
            "empty_body",
            "Upload-Length is 0: there is nothing to transcode",
        ));
    }
    let meta = metadata(&headers)?;
    let get = |k: &str| meta.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let name = get("filename").or_else(|| get("name")).map(|n| {
        n.chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect::<String>()
    });
    let template = get("template").unwrap_or_else(|| state.config.default_template.clone());
    if !state.config.templates.contains(&template) {
        return Err(ApiError::bad_request(
            "unknown_template",
            format!("no template named {template:?}"),
        ));
    }
    let expires = expiry();
    let upload = state
        .db
        .create_upload(length as i64, name.as_deref(), &template, expires)
        .await?;
    Ok(respond(
        StatusCode::CREATED,
        &[
            ("location", format!("/v1/uploads/{}", upload.id)),
            ("upload-expires", http_date(expires)),
        ],
    ))
}

async fn load(state: &AppState, id: &str) -> Result<Upload, ApiError> {
    crate::api::check_id(id)?;
    let gone = || ApiError::not_found(format!("no upload {id}"));
    let upload = state.db.upload(id).await?.ok_or_else(gone)?;
    if upload.asset_id.is_none() && upload.expires_at < openvod_store::now_ms() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            format!("upload {id} has expired"),
        ));
    }
    Ok(upload)
}

fn state_headers(u: &Upload) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("upload-offset", u.received.to_string()),
        ("upload-length", u.length.to_string()),
    ];
    if let Some(a) = &u.asset_id {
        h.push(("openvod-asset", a.clone()));
    } else {
        h.push(("upload-expires", http_date(u.expires_at)));
    }
    h
}

#[utoipa::path(
    head,
    path = "/v1/uploads/{id}",
    operation_id = "tusHead",
    tag = "uploads",
    summary = "tus: where the upload is",
    params(
        ("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload (the last segment of Location)"),
        ("Tus-Resumable" = TusVersion, Header),
    ),
    responses(
        (status = 200, description = "The upload's state", headers(
            ("Upload-Offset" = u64, description = "The bytes received so far"),
            ("Upload-Length" = u64),
            ("Upload-Expires" = Option<String>, description = "While unfinished: when it is removed (HTTP date)"),
            ("Openvod-Asset" = Option<String>, description = "Once complete: the asset made from it"),
            ("Tus-Resumable" = TusVersion),
            ("Cache-Control" = String, description = "no-store"),
        )),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 410, response = openapi::Gone),
        (status = 412, response = openapi::PreconditionFailed),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn head(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let u = load(&state, &id).await?;
    Ok(respond(StatusCode::OK, &state_headers(&u)))
}

#[utoipa::path(
    patch,
    path = "/v1/uploads/{id}",
    operation_id = "tusPatch",
    tag = "uploads",
    summary = "tus: append bytes at Upload-Offset",
    params(
        ("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload (the last segment of Location)"),
        ("Tus-Resumable" = TusVersion, Header),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the upload's current offset"),
    ),
    request_body(content = openapi::RawBytes, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored; the new offset, and Openvod-Asset once complete", headers(
            ("Upload-Offset" = u64, description = "The bytes received so far"),
            ("Upload-Length" = u64),
            ("Upload-Expires" = Option<String>, description = "While unfinished: when it is removed (HTTP date)"),
            ("Openvod-Asset" = Option<String>, description = "Once complete: the asset made from it"),
            ("Tus-Resumable" = TusVersion),
            ("Cache-Control" = String, description = "no-store"),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 410, response = openapi::Gone),
        (status = 412, response = openapi::PreconditionFailed),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/offset+octet-stream")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "PATCH needs Content-Type: application/offset+octet-stream",
        ));
    }
    let u = load(&state, &id).await?;
    let offset = header_u64(&headers, "upload-offset")
        .ok_or_else(|| ApiError::bad_request("invalid_offset", "Upload-Offset is required"))?;
    if u.asset_id.is_some() || offset != u.received as u64 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!(
                "Upload-Offset is {offset} but the upload is at {}",
                u.received
            ),
        ));
    }
    let room = (u.length - u.received).max(0) as u64;
    let part = format!(
        "tus/{id}/{:016}-{}",
        u.received,
        uuid::Uuid::now_v7().simple()
    );
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    let (size, failure) = match state
        .objects
        .sources
        .put_stream_partial(&part, stream, room)
        .await
    {
        Ok(r) => r,
        Err(openvod_store::Error::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body runs past Upload-Length ({} bytes left)", room),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if size > 0
        && !state
            .db
            .append_upload_part(&id, u.received, &part, size as i64, expiry())
            .await?
    {
        // Another PATCH got there first: ours does not count.
        let _ = state.objects.sources.delete(&part).await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            "another request moved the offset",
        ));
    }
    if let Some(e) = failure {
        return Err(ApiError::bad_request(
            "upload_interrupted",
            format!("the request body was cut off after {size} bytes: {e}"),
        ));
    }
    let mut u = load(&state, &id).await?;
    if u.received == u.length && u.asset_id.is_none() {
        let asset_id = complete(&state, &u).await?;
        u.asset_id = Some(asset_id);
    }
    metrics::counter!("openvod_upload_bytes_total").increment(size);
    Ok(respond(StatusCode::NO_CONTENT, &state_headers(&u)))
}

/// Joins the parts into the source object and creates the asset.
async fn complete(state: &AppState, u: &Upload) -> Result<String, ApiError> {
    let key = format!("uploads/{}", u.id);
    let size = state.objects.sources.concat(&key, &u.parts).await?;
    let asset = state
        .db
        .create_asset(
            NewAsset {
                source_key: key,
                source_name: u.name.clone(),
                source_size: Some(size as i64),
                template: u.template.clone(),
            },
            state.config.max_attempts,
        )
        .await?;
    state.db.finish_upload(&u.id, &asset.id).await?;
    for part in &u.parts {
        let _ = state.objects.sources.delete(part).await;
    }
    metrics::counter!("openvod_uploads_total").increment(1);
    Ok(asset.id)
}

#[utoipa::path(
    delete,
    path = "/v1/uploads/{id}",
    operation_id = "tusTerminate",
    tag = "uploads",
    summary = "tus termination: remove an upload and its bytes",
    params(
        ("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload (the last segment of Location)"),
        ("Tus-Resumable" = TusVersion, Header),
    ),
    responses(
        (status = 204, description = "Removed", headers(("Tus-Resumable" = TusVersion))),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 410, response = openapi::Gone),
        (status = 412, response = openapi::PreconditionFailed),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn terminate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let u = load(&state, &id).await?;
    for part in &u.parts {
        state.objects.sources.delete(part).await?;
    }
    state.db.delete_upload(&id).await?;
    Ok(respond(StatusCode::NO_CONTENT, &[]))
}

/// Removes expired unfinished uploads and their parts.
pub async fn remove_expired(state: &AppState) -> Result<usize, openvod_store::Error> {
    let expired = state.db.expired_uploads(openvod_store::now_ms()).await?;
    for u in &expired {
        state
            .objects
            .sources
            .delete_prefix(&format!("tus/{}", u.id))
            .await?;
        state.db.delete_upload(&u.id).await?;
    }
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_numbers_are_decimal_digits() {
        assert_eq!(parse_upload_number(b" 1024\t"), Some(1024));
        assert_eq!(parse_upload_number(b"007"), Some(7));
        assert_eq!(parse_upload_number(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"+5",
            b"-1",
            b"1e3",
            b"0x10",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_upload_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn metadata_pairs_are_read_and_checked() {
        let pairs = parse_upload_metadata(b"filename YS5tcDQ=,flag,template ZGVmYXVsdA==").unwrap();
        assert_eq!(
            pairs,
            [
                ("filename".to_string(), "a.mp4".to_string()),
                ("flag".to_string(), String::new()),
                ("template".to_string(), "default".to_string()),
            ]
        );
        for bad in [
            &b"a not-base64"[..],
            b"a YQ=,b",
            b"a YR==",
            b"filename YS5tcDQ=, flag",
            b"a  YQ==",
            b"",
        ] {
            assert_eq!(
                parse_upload_metadata(bad),
                Err(MetadataError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_upload_metadata("a é".as_bytes()),
            Err(MetadataError::NotAscii)
        );
        // A value that is not UTF-8 is kept as text, not refused.
        assert_eq!(
            parse_upload_metadata(b"a /w==").unwrap(),
            [("a".to_string(), "\u{fffd}".to_string())]
        );
        let long = format!("a {}", "QUFB".repeat(MAX_METADATA_BYTES / 4));
        assert_eq!(
            parse_upload_metadata(long.as_bytes()),
            Err(MetadataError::TooLong)
        );
    }
}
