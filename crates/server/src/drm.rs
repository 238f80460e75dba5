//! DRM endpoints: the W3C EME ClearKey licence server (`POST /v1/drm/clearkey`, also at
//! `/play/{id}/clearkey`), the SPEKE v2.0 key provider (`POST /speke/v2`), and the
//! AES-128 keys of HLS (`/play/{id}/keys/{kid}`, served by the origin).
//!
//! Keys leave openvod only in a licence or a SPEKE answer, to a caller that passed the
//! same access check as the stream itself; they are never logged.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use openvod_drm::{license_response, parse_license_request, ContentKey, KeyStore, Kid};
use openvod_store::AssetStatus;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::access::{self, Playback};
use crate::{openapi, ApiError, AppState};

/// Licence requests are a few KIDs of JSON (the clearkey module caps it again).
const LICENCE_BODY_LIMIT: usize = 64 << 10;
/// CPIX documents (SPEKE caps them at 1 MiB as well).
const SPEKE_BODY_LIMIT: usize = 1 << 20;

pub(crate) fn licence_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/drm/clearkey",
            post(clearkey_any).options(clearkey_any_preflight),
        )
        .route(
            "/play/{id}/clearkey",
            post(clearkey_asset).options(clearkey_asset_preflight),
        )
}

pub(crate) fn speke_routes() -> Router<AppState> {
    Router::new().route("/speke/v2", post(speke))
}

/// The key store did not answer: like the database, a dependency to retry, not a bug.
pub(crate) fn key_store_unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "key store error");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "key_store_unavailable",
        "the key store is unavailable, try again",
    )
}

/// A licence request (W3C EME, 9.1.3), as the document describes it.
pub(crate) enum LicenceRequest {}

impl PartialSchema for LicenceRequest {
    fn schema() -> RefOr<Schema> {
        let kid = ObjectBuilder::new()
            .schema_type(Type::String)
            // base64url without padding of 16 bytes: 22 characters, the last one of
            // the four whose low bits are zero.
            .pattern(Some("^[A-Za-z0-9_-]{21}[AQgw]$"))
            .description(Some("A key ID, base64url of 16 bytes without padding"));
        let kids = ArrayBuilder::new()
            .items(kid)
            .min_items(Some(1))
            .max_items(Some(openvod_drm::clearkey::MAX_LICENSE_KIDS));
        let session = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["temporary", "persistent-license"]));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("kids", kids)
            .required("kids")
            .property("type", session)
            .into()
    }
}

impl ToSchema for LicenceRequest {}

/// A licence: a JSON Web Key Set (RFC 7517) of the keys the caller may have.
pub(crate) enum Licence {}

impl PartialSchema for Licence {
    fn schema() -> RefOr<Schema> {
        let b64 = |pattern: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
        };
        let key = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "kty",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["oct"])),
            )
            .property("kid", b64("^[A-Za-z0-9_-]{22}$"))
            .property("k", b64("^[A-Za-z0-9_-]{22}$"))
            .required("kty")
            .required("kid")
            .required("k");
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("keys", ArrayBuilder::new().items(key).min_items(Some(1)))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["temporary", "persistent-license"])),
            )
            .required("keys")
            .into()
    }
}

impl ToSchema for Licence {}

fn key_store(state: &AppState) -> Result<&KeyStore, ApiError> {
    state.keys.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_key_store",
            "no key store is configured ([drm] master_key)",
        )
    })
}

/// Reads a bounded body whose media type is one of `types` (or absent when `None` is
/// allowed): 415 for another type, 413 past `limit`.
pub(crate) async fn bounded_body(
    request: Request,
    types: &[&str],
    allow_missing: bool,
    limit: usize,
) -> Result<(HeaderMap, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let media_type = crate::json::media_type(&parts.headers);
    let ok = match &media_type {
        Some(t) => types.contains(&t.as_str()),
        None => allow_missing,
    };
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send {}", types.join(" or ")),
        ));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is over {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes = to_bytes(Body::new(body), limit)
        .await
        .map_err(|_| too_large())?;
    Ok((parts.headers, bytes))
}

#[utoipa::path(
    post,
    path = "/v1/drm/clearkey",
    operation_id = "clearKeyLicence",
    tag = "drm",
    summary = "W3C EME ClearKey licence: the keys of the requested KIDs, for a viewer allowed to play their asset (signature in the query or cookies for signed assets)",
    request_body(content = LicenceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The keys", body = Licence, headers(
            ("Cache-Control" = String, description = "private, no-store"),
            ("Access-Control-Allow-Origin" = String),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
)]
async fn clearkey_any(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    clearkey(state, None, query, request).await
}

#[utoipa::path(
    post,
    path = "/play/{id}/clearkey",
    operation_id = "assetClearKeyLicence",
    tag = "drm",
    summary = "ClearKey licence for one asset (under the asset's playback path, so a wildcard signature covers it)",
    params(crate::api::AssetId),
    request_body(content = LicenceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The keys", body = Licence, headers(
            ("Cache-Control" = String, description = "private, no-store"),
            ("Access-Control-Allow-Origin" = String),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
)]
async fn clearkey_asset(
    State(state): State<AppState>,
    Path(crate::api::AssetId { id }): Path<crate::api::AssetId>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    crate::api::check_id(&id)?;
    clearkey(state, Some(id), query, request).await
}

#[utoipa::path(
    options,
    path = "/v1/drm/clearkey",
    operation_id = "clearKeyPreflight",
    tag = "drm",
    summary = "CORS preflight of the licence endpoint",
    responses((status = 204, description = "POST from any origin", headers(
        ("Access-Control-Allow-Origin" = String),
        ("Access-Control-Allow-Methods" = String),
        ("Access-Control-Allow-Headers" = String),
        ("Access-Control-Max-Age" = String),
    ))),
)]
async fn clearkey_any_preflight() -> Response {
    crate::origin::preflight_post()
}

#[utoipa::path(
    options,
    path = "/play/{id}/clearkey",
    operation_id = "assetClearKeyPreflight",
    tag = "drm",
    summary = "CORS preflight of the asset's licence endpoint",
    params(("id" = String, Path, description = "Any asset id")),
    responses((status = 204, description = "POST from any origin", headers(
        ("Access-Control-Allow-Origin" = String),
        ("Access-Control-Allow-Methods" = String),
        ("Access-Control-Allow-Headers" = String),
        ("Access-Control-Max-Age" = String),
    ))),
)]
async fn clearkey_asset_preflight() -> Response {
    crate::origin::preflight_post()
}

/// A ClearKey licence (W3C EME, 9.1.4): the keys of the requested KIDs that the caller
/// may play. Every asset a KID belongs to is checked like a request for its stream.
async fn clearkey(
    state: AppState,
    asset: Option<String>,
    query: Option<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let client = access::client_addr(&request);
    let (headers, body) = bounded_body(
        request,
        &["application/json", "text/plain", "application/octet-stream"],
        true,
        LICENCE_BODY_LIMIT,
    )
    .await?;
    let store = key_store(&state)?;
    let licence = parse_license_request(&body)
        .map_err(|e| ApiError::bad_request("invalid_licence_request", e.to_string()))?;
    let mut keys: Vec<ContentKey> = Vec::with_capacity(licence.kids.len());
    let mut checked: Vec<String> = Vec::new();
    for kid in &licence.kids {
        let Some((content_id, _, key)) = store
            .key_by_kid(*kid)
            .await
            .map_err(key_store_unavailable)?
        else {
            continue;
        };
        if asset.as_ref().is_some_and(|a| *a != content_id) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a requested key does not belong to this asset",
            ));
        }
        if !checked.contains(&content_id) {
            check_playable(&state, &headers, &content_id, query.as_deref(), client).await?;
            checked.push(content_id);
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(ApiError::not_found("none of the requested keys is known"));
    }
    let mut r = license_response(&keys, licence.session_type).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(h);
    crate::origin::cors(h);
    Ok(r)
}

fn no_store(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// The caller may play asset `id`: it exists, is ready, and is public or the request's
/// signature (query or cookies) covers `/play/{id}/clearkey`.
async fn check_playable(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    query: Option<&str>,
    client: Option<std::net::SocketAddr>,
) -> Result<(), ApiError> {
    let asset = state
        .db
        .asset(id)
        .await?
        .filter(|a| a.status == AssetStatus::Ready)
        .ok_or_else(|| ApiError::not_found(format!("no playable asset {id}")))?;
    if access::playback_of(state, &asset) == Playback::Signed {
        access::check_viewer(
            state,
            headers,
            &format!("/play/{id}/clearkey"),
            query,
            client,
        )?;
    }
    Ok(())
}

/// `GET /play/{id}/keys/{kid}`: the raw 16-byte key of an HLS AES-128 stream (RFC
/// 8216bis, 5.2), after the origin's access check.
pub(crate) async fn aes128_key(state: &AppState, id: &str, kid: Kid) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no key {} for asset {id}", kid.to_hex()));
    let store = key_store(state)?;
    let found = store.key_by_kid(kid).await.map_err(key_store_unavailable)?;
    let key = match found {
        Some((content_id, _, key)) if content_id == id => key,
        _ => return Err(not_found()),
    };
    let mut r = Response::new(Body::from(key.key.to_vec()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    no_store(h);
    crate::origin::cors(h);
    Ok(r)
}

/// `POST /speke/v2`: openvod as a SPEKE v2.0 key provider, for the control API's
/// admins (an encoder or packager configured with an admin token).
#[utoipa::path(
    post,
    path = "/speke/v2",
    operation_id = "speke",
    tag = "drm",
    summary = "SPEKE v2.0 key provider: a CPIX 2.3 request answered with keys from openvod's key store",
    params(("X-Speke-Version" = String, Header, pattern = "^2\\.0$", description = "The SPEKE version: 2.0")),
    request_body(content = String, content_type = "application/xml", description = "A CPIX 2.3 document (SPEKE v2.0)"),
    responses(
        (status = 200, description = "The CPIX response", content_type = "application/xml", body = String, headers(
            ("X-Speke-Version" = String, description = "2.0"),
            ("X-Speke-User-Agent" = String),
            ("Cache-Control" = String, description = "private, no-store"),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 422, response = openapi::Unprocessable),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn speke(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if !access::is_admin(&state, request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "SPEKE requests need an admin token (Authorization: Bearer ...)",
        ));
    }
    let version = request
        .headers()
        .get("x-speke-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    openvod_drm::check_speke_version(version.as_deref())
        .map_err(|e| ApiError::bad_request("unsupported_version", e.to_string()))?;
    let (_, body) = bounded_body(
        request,
        &["application/xml", "text/xml"],
        false,
        SPEKE_BODY_LIMIT,
    )
    .await?;
    let store = key_store(&state)?;
    match openvod_drm::answer_speke(store, &body).await {
        Ok(xml) => {
            let mut r = xml.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            h.insert("x-speke-version", HeaderValue::from_static("2.0"));
            h.insert(
                "x-speke-user-agent",
                HeaderValue::from_static(concat!("openvod/", env!("CARGO_PKG_VERSION"))),
            );
            no_store(h);
            Ok(r)
        }
        // As a provider, the only failures that are not the request's own are the key
        // store's: a dependency to retry (503), like the database.
        Err(e) => match StatusCode::from_u16(e.status_code()) {
            Ok(status) if status.is_client_error() => {
                Err(ApiError::new(status, "speke", e.to_string()))
            }
            _ => Err(key_store_unavailable(e)),
        },
    }
}
