//! Outbound HTTP for openvod: every request openvod makes to a URL a user gave it
//! (webhook receivers, SPEKE key providers) goes through an [`OutboundClient`], the one
//! place such clients are built. Each one:
//!
//! - checks every URL before the request ([`OutboundPolicy::check_url`]: http or https,
//!   an address written in the URL is public or admitted, an admitted host's port);
//! - resolves host names through a resolver that drops every address the policy refuses
//!   ([`OutboundPolicy::check_resolved`]), so a name that resolves inward, now or after
//!   a later change of its DNS answer, is refused when the connection is made;
//! - follows no redirect (a redirect would lead to a URL nobody checked) and uses no
//!   proxy (`HTTP_PROXY` and the like are ignored: through a proxy, the address the
//!   request reaches would be the proxy's choice, not one this client checked);
//! - has a connect timeout, and optionally a total one; [`read_limited`] reads a
//!   response body up to a bound.
//!
//! The policy itself is pure and lives in `openvod_access::outbound`.

mod resolver;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use openvod_access::outbound::{
    inward, AddressClass, AllowEntry, AllowError, Embedding, Inward, OutboundPolicy, Refused,
};

use resolver::FencedResolver;

/// The connect timeout unless the builder sets another.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of outbound HTTP.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the HTTP client cannot be built: {0}")]
    Build(String),
    #[error("the response body is over the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("reading the response: {0}")]
    Read(String),
}

/// An HTTP client for user-given URLs that only reaches what the outbound policy admits.
/// Clones share one connection pool.
#[derive(Clone, Debug)]
pub struct OutboundClient {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

/// Settings of an [`OutboundClient`].
#[derive(Debug)]
pub struct OutboundClientBuilder {
    policy: OutboundPolicy,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    fixed: HashMap<String, Vec<IpAddr>>,
}

impl OutboundClientBuilder {
    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, from connecting to the end of the body.
    /// Default: no limit (the caller bounds it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Answers `name` with `addresses` instead of looking it up (as an `/etc/hosts`
    /// line would). The answer is judged by the policy like any other: this changes
    /// what a name resolves to, never what may be reached.
    pub fn resolve_to(mut self, name: &str, addresses: &[IpAddr]) -> Self {
        self.fixed.insert(
            name.trim_end_matches('.').to_ascii_lowercase(),
            addresses.to_vec(),
        );
        self
    }

    pub fn build(self) -> Result<OutboundClient, NetError> {
        let policy = Arc::new(self.policy);
        let resolver = FencedResolver {
            policy: policy.clone(),
            fixed: self.fixed,
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(resolver);
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder.build().map_err(|e| NetError::Build(describe(e)))?;
        Ok(OutboundClient { http, policy })
    }
}

impl OutboundClient {
    /// A client that reaches what `policy` admits.
    pub fn builder(policy: OutboundPolicy) -> OutboundClientBuilder {
        OutboundClientBuilder {
            policy,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: None,
            fixed: HashMap::new(),
        }
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// A POST to `url`, once the URL passes the policy. The addresses its host resolves
    /// to are checked when the request is sent.
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        let url = self.policy.check_url(url)?;
        Ok(self.http.post(url))
    }
}

/// The policy's refusal inside a request's error, when the request failed because the
/// host resolved only to refused addresses.
pub fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

/// A request error with its causes on one line, without the URL (which may hold a
/// credential; callers name the URL their own way).
pub fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads a response body of at most `limit` bytes: refused at once when its declared
/// length is larger, and as soon as the bytes received pass the limit otherwise.
pub async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, NetError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(NetError::TooLarge { limit });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| NetError::Read(describe(e)))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(NetError::TooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
