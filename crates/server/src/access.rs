//! Who may do what: admin tokens on the control API, single-use upload tokens, signed
//! playback (CloudFront-compatible URLs and cookies, see `openvod_access`), and the
//! endpoints a backend uses to issue them.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openvod_access::{
    AdminTokens, Denied, Grant, Policy, SignedRequest, TrustedKeys, UploadGrant, UploadTokenKey,
    UrlSigner,
};
use openvod_store::Asset;
use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::json::JsonBody;
use crate::{openapi, ApiError, AppState};

/// Playback access of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Playback {
    /// Anyone with the URL.
    Public,
    /// Only requests with a valid CloudFront-style signature (URL or cookies).
    Signed,
}

impl Playback {
    pub fn parse(s: &str) -> Option<Playback> {
        match s {
            "public" => Some(Playback::Public),
            "signed" => Some(Playback::Signed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Playback::Public => "public",
            Playback::Signed => "signed",
        }
    }
}

/// Access settings of the HTTP side.
#[derive(Clone)]
pub struct AccessConfig {
    /// Bearer tokens of the control API; none configured leaves the API open (a
    /// single-machine default, announced at start-up).
    pub admin_tokens: AdminTokens,
    /// Secret that issues upload tokens; `None` disables them.
    pub upload_tokens: Option<UploadTokenKey>,
    /// Lifetime of an issued upload token.
    pub upload_token_seconds: u64,
    /// Public keys trusted for signed playback (a key group: several for rotation).
    pub trusted_keys: TrustedKeys,
    /// Access of assets that set none.
    pub default_playback: Playback,
    /// `scheme://host[:port]` of the playback URLs as viewers (and signers) see them, e.g.
    /// the CDN's address. Without it the request's `Host` header (and
    /// `X-Forwarded-Proto`) is used.
    pub public_url: Option<String>,
    /// Signs URLs for `POST /v1/sign`.
    pub signer: Option<UrlSigner>,
}

impl std::fmt::Debug for AccessConfig {
    // Secrets (tokens, the signing key) are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessConfig")
            .field("admin_tokens", &!self.admin_tokens.is_empty())
            .field("upload_tokens", &self.upload_tokens.is_some())
            .field("trusted_keys", &self.trusted_keys.len())
            .field("default_playback", &self.default_playback)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            admin_tokens: AdminTokens::default(),
            upload_tokens: None,
            upload_token_seconds: 3600,
            trusted_keys: TrustedKeys::new(),
            default_playback: Playback::Public,
            public_url: None,
            signer: None,
        }
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The dashboard's admin token: a `SameSite=Strict` cookie, so that EventSource and
/// uploads from the page carry it and other sites' requests do not.
fn admin_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("openvod_admin="))
        .map(|v| {
            v.replace("%2F", "/")
                .replace("%2B", "+")
                .replace("%3D", "=")
        })
}

/// Whether the request carries a valid admin token (or no admin token is configured).
pub(crate) fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    let tokens = &state.config.access.admin_tokens;
    tokens.is_empty()
        || bearer(headers).is_some_and(|t| tokens.check(t))
        || admin_cookie(headers).is_some_and(|t| tokens.check(&t))
}

/// Guards the control API: an admin token, or for uploads only, an upload token.
pub(crate) async fn control_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if is_admin(&state, request.headers()) {
        return Ok(next.run(request).await);
    }
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let upload_create = method == Method::POST && (path == "/v1/uploads" || path == "/v1/assets");
    let upload_resume = path.starts_with("/v1/uploads/")
        && [Method::PATCH, Method::HEAD, Method::DELETE].contains(&method);
    if method == Method::OPTIONS && path.starts_with("/v1/uploads") {
        return Ok(next.run(request).await);
    }
    let Some(token) = bearer(request.headers()) else {
        return Err(unauthorized(
            "this endpoint needs an admin token (Authorization: Bearer ...)",
        ));
    };
    if !(upload_create || upload_resume) || !token.starts_with("ovu1.") {
        return Err(unauthorized("the token is not valid for this endpoint"));
    }
    let key = state
        .config
        .access
        .upload_tokens
        .as_ref()
        .ok_or_else(|| unauthorized("upload tokens are not enabled"))?;
    let grant = key
        .verify(token, now())
        .map_err(|e| unauthorized(format!("upload token refused: {e}")))?;
    let id = grant.id_hex();
    if upload_resume {
        let upload = path.trim_start_matches("/v1/uploads/");
        return match state.db.upload_of_token(&id).await? {
            Some(u) if u == upload => Ok(next.run(request).await),
            _ => Err(forbidden(
                "token_mismatch",
                "this upload token did not create this upload",
            )),
        };
    }
    // Creation: the declared size must fit the grant, and the token is spent first so
    // that two concurrent requests cannot both use it.
    let declared = request
        .headers()
        .get(if path == "/v1/uploads" {
            "upload-length"
        } else {
            "content-length"
        })
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(max) = grant.max_bytes {
        if declared.is_none_or(|n| n > max) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("this upload token allows at most {max} bytes"),
            ));
        }
    }
    if !state.db.use_upload_token(&id, None).await? {
        return Err(forbidden(
            "token_used",
            "this upload token was already used",
        ));
    }
    let response = next.run(request).await;
    if let Some(upload) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
    {
        state.db.bind_upload_token(&id, upload).await?;
    }
    Ok(response)
}

/// Longest upload-token lifetime: a week.
const MAX_TOKEN_SECONDS: u64 = 7 * 24 * 3600;
/// Longest lifetime of a signed URL: a year.
const MAX_SIGNED_SECONDS: u64 = 366 * 24 * 3600;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadTokenRequest {
    /// The most bytes the upload may have (at most `[upload] max_bytes`); none: that limit.
    #[serde(default, deserialize_with = "crate::json::optional_whole_number")]
    #[schema(minimum = 1)]
    max_bytes: Option<u64>,
    /// The template the upload will use; one of the configured ones.
    #[serde(default)]
    template: Option<String>,
    /// Lifetime in seconds (default `[access] upload_token_seconds`), at most a week.
    #[serde(default, deserialize_with = "crate::json::optional_whole_number")]
    #[schema(minimum = 1, maximum = 604800)]
    expires_in: Option<u64>,
}

/// An issued upload token.
#[derive(Serialize, ToSchema)]
pub(crate) struct UploadTokenView {
    /// `Authorization: Bearer <token>` on one `POST /v1/uploads` or `POST /v1/assets`,
    /// and on the PATCH, HEAD and DELETE requests of the upload it created.
    #[schema(pattern = "^ovu1\\.")]
    token: String,
    /// Unix seconds.
    expires_at: u64,
}

/// `POST /v1/upload-tokens`: a token that allows one upload and nothing else.
#[utoipa::path(
    post,
    path = "/v1/upload-tokens",
    operation_id = "issueUploadToken",
    tag = "access",
    summary = "Issue a short-lived token that allows one upload and nothing else",
    request_body(content = Option<UploadTokenRequest>, description = "Optional: without a body, the defaults"),
    responses(
        (status = 201, description = "The token", body = UploadTokenView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn issue_upload_token(
    State(state): State<AppState>,
    body: Option<JsonBody<UploadTokenRequest>>,
) -> Result<Response, ApiError> {
    let key = state.config.access.upload_tokens.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "disabled",
            "upload tokens are not enabled ([access] upload_token_secret)",
        )
    })?;
    let req = body.map(|JsonBody(b)| b).unwrap_or(UploadTokenRequest {
        max_bytes: None,
        template: None,
        expires_in: None,
    });
    if let Some(t) = &req.template {
        if !state.config.templates.contains(t) {
            return Err(ApiError::bad_request(
                "unknown_template",
                format!("no template named {t:?}"),
            ));
        }
    }
    let limit = state.config.max_upload_bytes;
    if req.max_bytes.is_some_and(|n| !(1..=limit).contains(&n)) {
        return Err(ApiError::bad_request(
            "invalid_max_bytes",
            format!("max_bytes must be 1 to the upload limit of {limit} bytes"),
        ));
    }
    if req
        .expires_in
        .is_some_and(|s| !(1..=MAX_TOKEN_SECONDS).contains(&s))
    {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            format!("expires_in must be 1 to {MAX_TOKEN_SECONDS} seconds"),
        ));
    }
    let lifetime = req
        .expires_in
        .unwrap_or(state.config.access.upload_token_seconds)
        .clamp(1, MAX_TOKEN_SECONDS);
    let mut id = [0u8; 16];
    id.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let grant = UploadGrant {
        id,
        expires: now() + lifetime,
        max_bytes: req.max_bytes,
        template: req.template,
    };
    let token = key
        .issue(&grant)
        .map_err(|e| ApiError::bad_request("invalid_token_request", e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(UploadTokenView {
            token,
            expires_at: grant.expires,
        }),
    )
        .into_response())
}

/// The longest URL `POST /v1/sign` signs.
const MAX_PLAY_URL: usize = 2048;

fn play_url_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&openapi::play_url_pattern()).expect("the pattern is valid"))
}

fn source_ip_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&openapi::source_ip_pattern()).expect("the pattern is valid"))
}

pub(crate) fn play_url_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(openapi::play_url_pattern()))
        .max_length(Some(MAX_PLAY_URL))
        .description(Some("The playback URL, e.g. https://cdn.example.com/play/ASSET/master.m3u8; with wildcard the policy covers every object under /play/ASSET/"))
        .build()
}

pub(crate) fn source_ip_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .pattern(Some(openapi::source_ip_pattern()))
        .max_length(Some(64))
        .description(Some(
            "The address or CIDR range (IPv4 or IPv6) the viewer must come from",
        ))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignRequest {
    #[schema(schema_with = play_url_schema)]
    url: String,
    /// Lifetime in seconds, at most a year.
    #[serde(deserialize_with = "crate::json::whole_number")]
    #[schema(minimum = 1, maximum = 31622400)]
    expires_in: u64,
    /// Cover every object of the asset (`/play/ASSET/*`), so that one signature plays it.
    #[serde(default)]
    wildcard: bool,
    #[serde(default)]
    #[schema(schema_with = source_ip_schema)]
    ip: Option<String>,
}

/// A signed URL with the equivalent cookies.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignedView {
    url: String,
    /// `CloudFront-Policy` or `CloudFront-Expires`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id`.
    cookies: std::collections::BTreeMap<String, String>,
    /// Unix seconds.
    expires_at: u64,
}

/// `POST /v1/sign`: a signed URL (and the matching cookies) made with the configured
/// private key, for a backend that does not sign itself.
#[utoipa::path(
    post,
    path = "/v1/sign",
    operation_id = "signUrl",
    tag = "access",
    summary = "Sign a playback URL with the configured key (CloudFront canned or custom policy) and return the matching cookies",
    request_body = SignRequest,
    responses(
        (status = 200, description = "Signed URL and cookies", body = SignedView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn sign(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SignRequest>,
) -> Result<Response, ApiError> {
    let signer = state.config.access.signer.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "disabled",
            "no signing key is configured ([access] signing_key_file, key_pair_id)",
        )
    })?;
    if !(1..=MAX_SIGNED_SECONDS).contains(&req.expires_in) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            "expires_in must be 1 second to a year",
        ));
    }
    if req.url.len() > MAX_PLAY_URL || !play_url_regex().is_match(&req.url) {
        return Err(ApiError::bad_request(
            "invalid_url",
            "url must be an http(s) URL of an object under /play/ASSET/, without query or fragment",
        ));
    }
    if req
        .ip
        .as_deref()
        .is_some_and(|ip| ip.len() > 64 || !source_ip_regex().is_match(ip))
    {
        return Err(ApiError::bad_request(
            "invalid_ip",
            "ip must be an IPv4 or IPv6 address, optionally with a prefix length",
        ));
    }
    let expires = now() + req.expires_in;
    let bad = |e: &dyn std::fmt::Display| ApiError::bad_request("invalid_url", e.to_string());
    let (url, cookies) = if req.wildcard || req.ip.is_some() {
        let resource = if req.wildcard {
            wildcard_resource(&req.url)
                .ok_or_else(|| bad(&"a wildcard needs a /play/ASSET/... URL"))?
        } else {
            req.url.clone()
        };
        let policy =
            Policy::custom(&resource, expires, None, req.ip.as_deref()).map_err(|e| bad(&e))?;
        (
            signer
                .signed_url_custom(&req.url, &policy)
                .map_err(|e| bad(&e))?,
            signer.signed_cookies(&policy).map_err(|e| bad(&e))?,
        )
    } else {
        (
            signer
                .signed_url_canned(&req.url, expires)
                .map_err(|e| bad(&e))?,
            signer
                .signed_cookies_canned(&req.url, expires)
                .map_err(|e| bad(&e))?,
        )
    };
    let cookies = cookies
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Json(SignedView {
        url,
        cookies,
        expires_at: expires,
    })
    .into_response())
}

/// `https://host/play/ASSET/...` -> `https://host/play/ASSET/*`.
pub fn wildcard_resource(url: &str) -> Option<String> {
    let at = url.find("/play/")? + "/play/".len();
    let rest = &url[at..];
    let id_len = rest.find('/')?;
    Some(format!("{}{}/*", &url[..at], &rest[..id_len]))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaybackRequest {
    /// `public`, `signed`, or null (or absent) for the server's default.
    #[serde(default)]
    playback: Option<Playback>,
}

/// `PUT /v1/assets/{id}/playback`: the asset's playback access.
#[utoipa::path(
    put,
    path = "/v1/assets/{id}/playback",
    operation_id = "setPlayback",
    tag = "assets",
    summary = "Set the asset's playback access: public, signed, or null for the server default",
    params(crate::api::AssetId),
    request_body = PlaybackRequest,
    responses(
        (status = 200, description = "The asset", body = crate::api::AssetView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn set_playback(
    State(state): State<AppState>,
    Path(crate::api::AssetId { id }): Path<crate::api::AssetId>,
    body: Result<JsonBody<PlaybackRequest>, ApiError>,
) -> Result<Response, ApiError> {
    crate::api::check_id(&id)?;
    let JsonBody(req) = body?;
    let asset = state
        .db
        .set_playback(&id, req.playback.map(Playback::as_str))
        .await?;
    Ok(Json(crate::api::view(&state, &asset).await?).into_response())
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/upload-tokens", post(issue_upload_token))
        .route("/v1/sign", post(sign))
        .route("/v1/assets/{id}/playback", axum::routing::put(set_playback))
}

/// The playback access of an asset.
pub(crate) fn playback_of(state: &AppState, asset: &Asset) -> Playback {
    asset
        .playback
        .as_deref()
        .and_then(Playback::parse)
        .unwrap_or(state.config.access.default_playback)
}

/// `scheme://host` of a request as the viewer sent it.
pub(crate) fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.config.access.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or(if state.config.tls { "https" } else { "http" });
    format!("{scheme}://{host}")
}

/// Checks a viewer's signature for `path` (e.g. `/play/ID/master.m3u8`) on a signed
/// asset. The reason of a refusal goes to the log, the viewer sees 403 only.
pub(crate) fn check_viewer(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    raw_query: Option<&str>,
    client: Option<SocketAddr>,
) -> Result<Grant, ApiError> {
    let keys = &state.config.access.trusted_keys;
    let refuse = |why: &dyn std::fmt::Display| {
        tracing::info!(path, reason = %why, "signed playback refused");
        forbidden("forbidden", "a valid signature is required")
    };
    if keys.is_empty() {
        return Err(refuse(&"no trusted public keys are configured"));
    }
    let url = format!("{}{path}", public_base(state, headers));
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    // A player's CMCD is its own data, not part of what was granted (CTA-5004 5.1 adds
    // it to any URL the player fetches).
    let query = raw_query.map(openvod_qoe::cmcd::query_without_cmcd);
    let request = SignedRequest::from_http(
        &url,
        query.as_deref(),
        cookies,
        client.map(|c| c.ip()),
        now(),
    )
    .map_err(|e: Denied| refuse(&e))?;
    keys.verify(&request).map_err(|e| refuse(&e))
}

/// The client address, when the server was started with connection info.
pub(crate) fn client_addr(req: &Request<Body>) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
