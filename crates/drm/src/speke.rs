//! SPEKE v2.0 (AWS "Secure Packager and Encoder Key Exchange API v2"): a client that asks
//! a key provider for keys, and the key provider's answer over openvod's own key store.
//!
//! The exchange is one HTTP POST of a CPIX 2.3 document (see `cpix`) with
//! `Content-Type: application/xml` and `X-Speke-Version: 2.0`. The key provider answers
//! 200 with the filled-in document, `Content-Type: application/xml`, and an
//! `X-Speke-User-Agent` header naming itself (SPEKE v2.0 renamed v1's
//! `Speke-User-Agent`; only the new name is accepted). Header names are matched
//! without regard to case, as in all of HTTP (RFC 9110 5.1). A missing
//! `X-Speke-Version` in the response is let pass, since the v2.0 specification defines
//! it as a request header and the body's `CPIX@version` is checked anyway; a different
//! version is refused.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use openvod_net::{
    describe, read_limited, refusal, NetError, OutboundClient, OutboundPolicy, Refused,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::cpix::{CpixError, CpixRequest, CpixResponse, RequestedKey, MAX_DOCUMENT_LEN};
use crate::keys::{KeyError, KeyStore, Kid, Scheme, TrackType};
use crate::provider::ProviderKeys;
use crate::pssh::DrmSystem;
use crate::signaling::{signaling_for, SignalingError};

/// The SPEKE version spoken (`X-Speke-Version`).
pub const SPEKE_VERSION: &str = "2.0";
/// The `X-Speke-Version` header.
pub const SPEKE_VERSION_HEADER: &str = "x-speke-version";
/// The `X-Speke-User-Agent` header, which a key provider's response must carry.
pub const SPEKE_USER_AGENT_HEADER: &str = "x-speke-user-agent";
/// What openvod's key provider puts in `X-Speke-User-Agent`.
pub const USER_AGENT: &str = concat!("openvod/", env!("CARGO_PKG_VERSION"));
/// Largest response body read from a key provider.
pub const MAX_RESPONSE_LEN: usize = MAX_DOCUMENT_LEN;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_RETRIES: u32 = 2;
const DEFAULT_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How much of an error response's body is quoted in the error.
const ERROR_DETAIL_LEN: usize = 300;

/// Errors of SPEKE, on both sides. Messages name the key provider's URL (without
/// credentials or query) and never a key.
#[derive(Debug, thiserror::Error)]
pub enum SpekeError {
    #[error("SPEKE URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("SPEKE URL {url}: {reason}")]
    Refused { url: String, reason: Refused },
    #[error("SPEKE request header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: &'static str },
    #[error("SPEKE request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("SPEKE request to {url} timed out after {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("SPEKE key provider {url} answered HTTP {status}: {detail}")]
    Status {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("SPEKE response from {url} is over the {MAX_RESPONSE_LEN}-byte limit")]
    ResponseTooLarge { url: String },
    #[error(
        "SPEKE response from {url} has no X-Speke-User-Agent header, which SPEKE v2.0 requires"
    )]
    MissingUserAgent { url: String },
    #[error(
        "SPEKE response from {url} has X-Speke-Version {got:?}; openvod speaks {SPEKE_VERSION}"
    )]
    VersionMismatch { url: String, got: String },
    #[error("SPEKE response from {url} has Content-Type {got:?}, not XML")]
    NotXml { url: String, got: String },
    #[error("SPEKE response from {url}: {source}")]
    InvalidResponse { url: String, source: CpixError },
    #[error("SPEKE key provider {url} returned a key for KID {kid} other than the one stored for it before")]
    KeyChanged { url: String, kid: Kid },
    #[error("SPEKE request: {0}")]
    BadRequest(CpixError),
    #[error(
        "SPEKE request: X-Speke-Version {0:?} is not supported; openvod speaks {SPEKE_VERSION}"
    )]
    UnsupportedVersion(Option<String>),
    #[error("SPEKE request: {0}")]
    Signaling(#[from] SignalingError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl SpekeError {
    /// Whether the same request may succeed later: the provider could not be reached,
    /// was slow, or failed on its side (5xx, 429), or the key store was unavailable.
    pub fn is_transient(&self) -> bool {
        match self {
            SpekeError::Transport { .. } | SpekeError::Timeout { .. } => true,
            SpekeError::Status { status, .. } => *status >= 500 || *status == 429,
            SpekeError::Key(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The HTTP status a key provider answers with for this error (the handler's choice
    /// of body and headers is its own). 4xx: the request is at fault; 5xx: openvod, or a
    /// key provider openvod asked, is.
    pub fn status_code(&self) -> u16 {
        match self {
            SpekeError::BadRequest(CpixError::TooLarge { .. }) => 413,
            SpekeError::BadRequest(CpixError::NotXml(_)) | SpekeError::UnsupportedVersion(_) => 400,
            SpekeError::BadRequest(_) | SpekeError::Signaling(_) => 422,
            SpekeError::Key(KeyError::KidTaken { .. } | KeyError::KeyMismatch { .. }) => 409,
            SpekeError::Key(KeyError::InvalidContentId(_)) => 422,
            SpekeError::Key(_)
            | SpekeError::InvalidUrl { .. }
            | SpekeError::Refused { .. }
            | SpekeError::InvalidHeader { .. } => 500,
            SpekeError::Timeout { .. } => 504,
            SpekeError::Transport { .. }
            | SpekeError::Status { .. }
            | SpekeError::ResponseTooLarge { .. }
            | SpekeError::MissingUserAgent { .. }
            | SpekeError::VersionMismatch { .. }
            | SpekeError::NotXml { .. }
            | SpekeError::InvalidResponse { .. }
            | SpekeError::KeyChanged { .. } => 502,
        }
    }

    /// Whether the SPEKE client (the request) is at fault rather than openvod.
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status_code())
    }

    /// Whether asking the key provider again may help: transport failures, timeouts and
    /// 5xx answers. Never 4xx.
    fn is_retryable(&self) -> bool {
        match self {
            // A refused address is not retried: the policy would refuse it again.
            SpekeError::Transport { .. } | SpekeError::Timeout { .. } => true,
            SpekeError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A key provider's URL as errors show it: no user info, no query (either may hold a
/// credential).
fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A client of one SPEKE v2.0 key provider. Clones share one configuration and one
/// connection pool.
#[derive(Clone)]
pub struct SpekeClient {
    config: Arc<ClientConfig>,
}

#[derive(Clone)]
struct ClientConfig {
    url: reqwest::Url,
    shown_url: String,
    http: OutboundClient,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    headers: HeaderMap,
}

/// Header values (an Authorization, say) are left out.
impl fmt::Debug for SpekeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpekeClient")
            .field("url", &self.config.shown_url)
            .field("timeout", &self.config.timeout)
            .field("retries", &self.config.retries)
            .field("headers", &self.config.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SpekeClient {
    /// A client of the key provider at `url` (http or https, where `outbound` lets
    /// openvod send requests): 10 s per attempt, 2 retries, no redirects followed.
    pub fn new(url: &str, outbound: &OutboundPolicy) -> Result<SpekeClient, SpekeError> {
        // Shown without credentials where it parses.
        let shown = || {
            reqwest::Url::parse(url)
                .map(|u| shown_url(&u))
                .unwrap_or_else(|_| url.chars().take(80).collect())
        };
        let invalid = |reason: String| SpekeError::InvalidUrl {
            url: shown(),
            reason,
        };
        let parsed = outbound.check_url(url).map_err(|reason| {
            if reason.is_malformed() {
                invalid(reason.to_string())
            } else {
                SpekeError::Refused {
                    url: shown(),
                    reason,
                }
            }
        })?;
        let http = OutboundClient::builder(outbound.clone())
            .connect_timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(SpekeClient {
            config: Arc::new(ClientConfig {
                shown_url: shown_url(&parsed),
                url: parsed,
                http,
                timeout: DEFAULT_TIMEOUT,
                retries: DEFAULT_RETRIES,
                backoff: DEFAULT_BACKOFF,
                headers: HeaderMap::new(),
            }),
        })
    }

    /// Uses an outbound client of the caller's (a shared connection pool). Its policy
    /// judges every request.
    pub fn with_http_client(mut self, http: OutboundClient) -> SpekeClient {
        Arc::make_mut(&mut self.config).http = http;
        self
    }

    /// The limit on each attempt, from connecting to the last byte of the body.
    pub fn with_timeout(mut self, timeout: Duration) -> SpekeClient {
        Arc::make_mut(&mut self.config).timeout = timeout;
        self
    }

    /// Attempts after the first, on transport errors, timeouts and 5xx answers.
    pub fn with_retries(mut self, retries: u32) -> SpekeClient {
        Arc::make_mut(&mut self.config).retries = retries;
        self
    }

    /// The wait before the first retry; it doubles with each retry, up to 5 s.
    pub fn with_backoff(mut self, backoff: Duration) -> SpekeClient {
        Arc::make_mut(&mut self.config).backoff = backoff;
        self
    }

    /// A header sent with every request, e.g. `Authorization`. Its value is marked
    /// sensitive and never shown.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<SpekeClient, SpekeError> {
        let invalid = |reason| SpekeError::InvalidHeader {
            name: name.chars().take(64).collect(),
            reason,
        };
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid("not a valid header name"))?;
        let mut value =
            HeaderValue::from_str(value).map_err(|_| invalid("not a valid header value"))?;
        value.set_sensitive(true);
        Arc::make_mut(&mut self.config)
            .headers
            .insert(header, value);
        Ok(self)
    }

    /// The key provider's URL, as errors show it.
    pub fn url(&self) -> &str {
        &self.config.shown_url
    }

    /// Asks for one key per (track type, KID), each for every DRM system, and returns the
    /// keys and the signalling the provider returned for them.
    pub async fn fetch(
        &self,
        content_id: &str,
        keys: &[(TrackType, Kid)],
        scheme: Scheme,
        systems: &[DrmSystem],
    ) -> Result<ProviderKeys, SpekeError> {
        let request = CpixRequest {
            content_id: content_id.to_string(),
            keys: keys
                .iter()
                .map(|&(track, kid)| RequestedKey::for_track(kid, track, scheme))
                .collect(),
            systems: systems.to_vec(),
            periods: Vec::new(),
        };
        let response = self.fetch_cpix(&request).await?;
        ProviderKeys::from_response(&response, keys, scheme).map_err(|source| {
            SpekeError::InvalidResponse {
                url: self.config.shown_url.clone(),
                source,
            }
        })
    }

    /// Sends a CPIX request and reads the response, checked against the request.
    pub async fn fetch_cpix(&self, request: &CpixRequest) -> Result<CpixResponse, SpekeError> {
        let body = request.to_xml();
        let mut retry = 0;
        loop {
            let attempt =
                tokio::time::timeout(self.config.timeout, self.attempt(body.clone())).await;
            let result = attempt.unwrap_or_else(|_| {
                Err(SpekeError::Timeout {
                    url: self.config.shown_url.clone(),
                    after: self.config.timeout,
                })
            });
            match result {
                Ok(bytes) => {
                    return CpixResponse::parse(&bytes, request).map_err(|source| {
                        SpekeError::InvalidResponse {
                            url: self.config.shown_url.clone(),
                            source,
                        }
                    });
                }
                Err(e) if e.is_retryable() && retry < self.config.retries => {
                    let wait = self
                        .config
                        .backoff
                        .saturating_mul(2u32.saturating_pow(retry))
                        .min(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry = retry + 1, ?wait, "SPEKE request failed; retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One POST: the status, the headers SPEKE requires, and the body, read in chunks
    /// and refused as soon as it passes the limit.
    async fn attempt(&self, body: String) -> Result<Vec<u8>, SpekeError> {
        let url = || self.config.shown_url.clone();
        let refused = |reason: Refused| SpekeError::Refused { url: url(), reason };
        let mut response = self
            .config
            .http
            .post(self.config.url.as_str())
            .map_err(refused)?
            .headers(self.config.headers.clone())
            .header(CONTENT_TYPE, "application/xml")
            .header(SPEKE_VERSION_HEADER, SPEKE_VERSION)
            .body(body)
            .send()
            .await
            .map_err(|e| match refusal(&e) {
                Some(reason) => refused(reason.clone()),
                None => SpekeError::Transport {
                    url: url(),
                    reason: describe(e),
                },
            })?;
        let status = response.status();
        if !status.is_success() {
            let detail = read_detail(&mut response).await;
            return Err(SpekeError::Status {
                url: url(),
                status: status.as_u16(),
                detail,
            });
        }
        let headers = response.headers();
        let user_agent = headers
            .get(SPEKE_USER_AGENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("");
        if user_agent.is_empty() {
            return Err(SpekeError::MissingUserAgent { url: url() });
        }
        if let Some(version) = headers.get(SPEKE_VERSION_HEADER) {
            let got = String::from_utf8_lossy(version.as_bytes())
                .trim()
                .to_string();
            if got != SPEKE_VERSION {
                return Err(SpekeError::VersionMismatch {
                    url: url(),
                    got: got.chars().take(32).collect(),
                });
            }
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(media_type == "application/xml"
            || media_type == "text/xml"
            || media_type.ends_with("+xml"))
        {
            return Err(SpekeError::NotXml {
                url: url(),
                got: content_type.chars().take(64).collect(),
            });
        }
        tracing::debug!(url = %self.config.shown_url, user_agent, "SPEKE response");
        read_limited(&mut response, MAX_RESPONSE_LEN)
            .await
            .map_err(|e| match e {
                NetError::TooLarge { .. } => SpekeError::ResponseTooLarge { url: url() },
                other => SpekeError::Transport {
                    url: url(),
                    reason: other.to_string(),
                },
            })
    }
}

/// The start of an error response's body, as one line of printable text.
async fn read_detail(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_DETAIL_LEN {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .take(ERROR_DETAIL_LEN)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "(no body)".to_string()
    } else {
        text
    }
}

/// Checks a request's `X-Speke-Version` header (the HTTP handler's first step).
pub fn check_speke_version(header: Option<&str>) -> Result<(), SpekeError> {
    match header.map(str::trim) {
        Some(SPEKE_VERSION) => Ok(()),
        other => Err(SpekeError::UnsupportedVersion(
            other.map(|v| v.chars().take(32).collect()),
        )),
    }
}

/// Answers a SPEKE v2.0 request as a key provider over openvod's key store; returns the
/// response CPIX document. The HTTP handler checks authentication and
/// `X-Speke-Version` (`check_speke_version`), and answers with `Content-Type:
/// application/xml`, `X-Speke-Version: 2.0` and `X-Speke-User-Agent: USER_AGENT`; on an
/// error, with `SpekeError::status_code`.
///
/// Each requested KID gets its key (created on first request, refused when the KID
/// belongs to another content id), filed under the track type its usage rule names
/// (`TrackType::from_intended_track_type`). Every requested system gets, for every KID,
/// all the signalling openvod can write for it, so each element the request asked for is
/// filled. Nothing is created for a request that is malformed or asks for what cannot be
/// signalled.
pub async fn answer_speke(store: &KeyStore, body: &[u8]) -> Result<String, SpekeError> {
    let request = CpixRequest::parse(body).map_err(SpekeError::BadRequest)?;
    let mut signaling = Vec::with_capacity(request.keys.len() * request.systems.len());
    for key in &request.keys {
        for &system in &request.systems {
            signaling.push(signaling_for(
                system,
                key.kid,
                key.scheme,
                &request.content_id,
                None,
            )?);
        }
    }
    let mut keys = Vec::with_capacity(request.keys.len());
    for requested in &request.keys {
        let key = store
            .key_for_kid(&request.content_id, requested.kid, requested.track_type())
            .await?;
        keys.push(key);
    }
    tracing::info!(
        content_id = %request.content_id,
        keys = keys.len(),
        systems = ?request.systems,
        "answered a SPEKE request"
    );
    Ok(CpixResponse {
        request,
        keys,
        signaling,
    }
    .to_xml())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        let url = reqwest::Url::parse("https://user:secret@keys.example:8443/speke/v2?token=abc#x")
            .unwrap();
        assert_eq!(shown_url(&url), "https://keys.example:8443/speke/v2");
        let client = SpekeClient::new(
            "https://user:secret@keys.example/speke?token=abc",
            &OutboundPolicy::default(),
        )
        .unwrap()
        .with_header("Authorization", "Bearer hunter2")
        .unwrap();
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }

    #[test]
    fn bad_configuration_is_refused() {
        let outbound = OutboundPolicy::default();
        for url in ["ftp://keys.example/", "file:///etc/passwd", "not a url"] {
            assert!(
                matches!(
                    SpekeClient::new(url, &outbound),
                    Err(SpekeError::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:8080/speke/v2",
            "https://[::ffff:10.0.0.1]/speke",
        ] {
            let err = SpekeClient::new(url, &outbound).unwrap_err();
            assert!(matches!(err, SpekeError::Refused { .. }), "{url}: {err}");
            assert!(err.to_string().contains("[outbound] allow"), "{err}");
        }
        let err = SpekeClient::new("http://user:pw@127.0.0.1/speke?token=abc", &outbound)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw") && !err.contains("abc"), "{err}");
        let allowed = OutboundPolicy::new(["127.0.0.1/32"]).unwrap();
        assert!(SpekeClient::new("http://127.0.0.1:8080/speke/v2", &allowed).is_ok());
        let client = SpekeClient::new("https://keys.example/", &outbound).unwrap();
        assert!(matches!(
            client.clone().with_header("Bad Name", "x"),
            Err(SpekeError::InvalidHeader { .. })
        ));
        assert!(matches!(
            client.with_header("X-Api-Key", "line\nbreak"),
            Err(SpekeError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn errors_say_whose_fault_they_are() {
        let client_faults = [
            SpekeError::BadRequest(CpixError::TooLarge { len: 2 << 20 }),
            SpekeError::BadRequest(CpixError::NotXml("x".into())),
            SpekeError::BadRequest(CpixError::MissingContentKeyList),
            SpekeError::UnsupportedVersion(None),
            SpekeError::Signaling(SignalingError::FairPlayNeedsCbcs(Scheme::Cenc)),
            SpekeError::Key(KeyError::KidTaken { kid: Kid([0; 16]) }),
        ];
        for e in client_faults {
            assert!(e.is_client_error(), "{e}");
        }
        let ours = [
            SpekeError::Key(KeyError::Random("x".into())),
            SpekeError::Key(KeyError::Open { kid: Kid([0; 16]) }),
            SpekeError::Timeout {
                url: "u".into(),
                after: Duration::from_secs(1),
            },
            SpekeError::Status {
                url: "u".into(),
                status: 400,
                detail: "d".into(),
            },
        ];
        for e in ours {
            assert!(!e.is_client_error(), "{e}");
        }
        assert_eq!(
            SpekeError::BadRequest(CpixError::TooLarge { len: 2 << 20 }).status_code(),
            413
        );
    }

    #[test]
    fn only_speke_two_is_spoken() {
        assert!(check_speke_version(Some("2.0")).is_ok());
        assert!(check_speke_version(Some(" 2.0 ")).is_ok());
        assert!(check_speke_version(Some("1.0")).is_err());
        assert!(check_speke_version(None).is_err());
    }
}
