//! Who may do what: admin tokens on the control API, single-use upload tokens, signed
//! playback (CloudFront-compatible URLs and cookies, see `openvod_access`), and the
//! endpoints a backend uses to issue them.

use std::net::SocketAddr;
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
use serde::Deserialize;
use serde_json::json;

use crate::{ApiError, AppState};

/// Playback access of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadTokenRequest {
    #[serde(default)]
    max_bytes: Option<u64>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// `POST /v1/upload-tokens`: a token that allows one upload and nothing else.
async fn issue_upload_token(
    State(state): State<AppState>,
    body: Option<Json<UploadTokenRequest>>,
) -> Result<Response, ApiError> {
    let key = state.config.access.upload_tokens.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "disabled",
            "upload tokens are not enabled ([access] upload_token_secret)",
        )
    })?;
    let req = body.map(|Json(b)| b).unwrap_or(UploadTokenRequest {
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
    let lifetime = req
        .expires_in
        .unwrap_or(state.config.access.upload_token_seconds)
        .clamp(1, 7 * 24 * 3600);
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
        Json(json!({ "token": token, "expires_at": grant.expires })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    /// The URL to sign; with `wildcard`, the policy covers everything under the asset.
    url: String,
    /// Lifetime in seconds.
    expires_in: u64,
    #[serde(default)]
    wildcard: bool,
    #[serde(default)]
    ip: Option<String>,
}

/// `POST /v1/sign`: a signed URL (and the matching cookies) made with the configured
/// private key, for a backend that does not sign itself.
async fn sign(
    State(state): State<AppState>,
    Json(req): Json<SignRequest>,
) -> Result<Response, ApiError> {
    let signer = state.config.access.signer.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "disabled",
            "no signing key is configured ([access] signing_key_file, key_pair_id)",
        )
    })?;
    if !(1..=366 * 24 * 3600).contains(&req.expires_in) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            "expires_in must be 1 second to a year",
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
    let cookies: serde_json::Map<String, serde_json::Value> = cookies
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Ok(Json(json!({ "url": url, "cookies": cookies, "expires_at": expires })).into_response())
}

/// `https://host/play/ASSET/...` -> `https://host/play/ASSET/*`.
pub fn wildcard_resource(url: &str) -> Option<String> {
    let at = url.find("/play/")? + "/play/".len();
    let rest = &url[at..];
    let id_len = rest.find('/')?;
    Some(format!("{}{}/*", &url[..at], &rest[..id_len]))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybackRequest {
    playback: Option<String>,
}

/// `PATCH /v1/assets/{id}`: the asset's playback access.
async fn set_playback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<PlaybackRequest>,
) -> Result<Response, ApiError> {
    crate::api::check_id(&id)?;
    if let Some(p) = &req.playback {
        if Playback::parse(p).is_none() {
            return Err(ApiError::bad_request(
                "invalid_playback",
                "playback is \"public\" or \"signed\" (or null for the default)",
            ));
        }
    }
    let asset = state.db.set_playback(&id, req.playback.as_deref()).await?;
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
    let request = SignedRequest::from_http(&url, raw_query, cookies, client.map(|c| c.ip()), now())
        .map_err(|e: Denied| refuse(&e))?;
    keys.verify(&request).map_err(|e| refuse(&e))
}

/// The client address, when the server was started with connection info.
pub(crate) fn client_addr(req: &Request<Body>) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
