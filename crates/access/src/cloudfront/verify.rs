//! Verifying signed requests against a key group.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::keys::{self, SigningKeyError};
use super::params::{self, strip_signing_params, SigningParams};
use super::policy::{Policy, MAX_POLICY_BYTES};
use super::signer::MAX_URL_LEN;
use super::{base64, wildcard, Denied, HashAlgorithm};

/// A key group: the public keys whose signatures are accepted, by key pair id. Holding
/// several at once is how keys rotate: add the new key, start signing with it, remove the
/// old one once the URLs it signed have expired.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<String, RsaPublicKey>,
}

impl TrustedKeys {
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Trusts `key` for signatures that name `key_pair_id`, replacing any key under that id.
    pub fn insert(&mut self, key_pair_id: &str, key: RsaPublicKey) -> Result<(), SigningKeyError> {
        keys::check_key_pair_id(key_pair_id)?;
        keys::check_key_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
        self.keys.insert(key_pair_id.to_owned(), key);
        Ok(())
    }

    /// Trusts a public key given as PEM (SubjectPublicKeyInfo or PKCS#1).
    pub fn insert_pem(
        &mut self,
        key_pair_id: &str,
        public_key_pem: &str,
    ) -> Result<(), SigningKeyError> {
        self.insert(key_pair_id, keys::public_key_from_pem(public_key_pem)?)
    }

    /// Stops trusting a key; whether it was there.
    pub fn remove(&mut self, key_pair_id: &str) -> bool {
        self.keys.remove(key_pair_id).is_some()
    }

    pub fn key_pair_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Decides whether a request may be served.
    ///
    /// The signature is checked before the policy is parsed or its conditions are
    /// looked at: the JSON parser only ever sees bytes that a trusted key signed, and a
    /// changed `Expires` or `Policy` is reported as a bad signature, not as whatever the
    /// changed value would have meant.
    pub fn verify(&self, request: &SignedRequest) -> Result<Grant, Denied> {
        // CloudFront's guide ("Decide to use signed URLs or signed cookies"): when a
        // viewer presents a signed URL for a file that signed cookies also cover,
        // CloudFront decides on the signed URL alone. The two sets are never mixed.
        let (found, source) = if !request.query.is_empty() {
            (&request.query, SignatureSource::Query)
        } else if !request.cookies.is_empty() {
            (&request.cookies, SignatureSource::Cookies)
        } else {
            return Err(Denied::NoSignature);
        };
        if request.url.len() > MAX_URL_LEN {
            return Err(Denied::Malformed("URL too long"));
        }
        if has_dot_segment(&request.url) {
            // A wildcard such as https://host/play/a/* would otherwise match
            // https://host/play/a/../b/x, which a server that normalizes the path later
            // would answer with a file of another asset.
            return Err(Denied::Malformed("URL path has a . or .. segment"));
        }
        let signature_text = found
            .signature
            .as_deref()
            .ok_or(Denied::Malformed("missing Signature"))?;
        let key_pair_id = found
            .key_pair_id
            .as_deref()
            .ok_or(Denied::Malformed("missing Key-Pair-Id"))?;
        let hash = HashAlgorithm::from_parameter(found.hash_algorithm.as_deref())?;
        let key = self.keys.get(key_pair_id).ok_or(Denied::UnknownKeyPairId)?;
        let signature = base64::decode(signature_text)
            .ok_or(Denied::Malformed("Signature is not CloudFront base64"))?;

        // A canned policy is rebuilt (and known) before the signature check; a custom one is
        // only parsed once its bytes are known to be signed.
        let (signed_bytes, canned_policy, policy_param) = match (&found.expires, &found.policy) {
            (Some(_), Some(_)) => return Err(Denied::Malformed("both Expires and Policy")),
            (None, None) => return Err(Denied::Malformed("missing Expires or Policy")),
            (Some(expires), None) => {
                let expires = parse_epoch_seconds(expires)?;
                let policy = Policy::canned(&request.url, expires);
                let param = format!("{}={expires}", params::EXPIRES);
                (policy.to_json().into_bytes(), Some(policy), param)
            }
            (None, Some(encoded)) => {
                let bytes = base64::decode(encoded)
                    .ok_or(Denied::Malformed("Policy is not CloudFront base64"))?;
                if bytes.len() > MAX_POLICY_BYTES {
                    return Err(Denied::Malformed("policy longer than 4 KiB"));
                }
                let param = format!("{}={}", params::POLICY, base64::encode(&bytes));
                (bytes, None, param)
            }
        };

        verify_signature(key, hash, &signed_bytes, &signature)?;

        let (kind, policy) = match canned_policy {
            Some(policy) => (PolicyKind::Canned, policy),
            None => (
                PolicyKind::Custom,
                Policy::from_signed_json(&signed_bytes).map_err(Denied::Malformed)?,
            ),
        };
        if request.now >= policy.not_after() {
            return Err(Denied::Expired {
                expires: policy.not_after(),
                now: request.now,
            });
        }
        if let Some(not_before) = policy.not_before() {
            // CloudFront documents DateGreaterThan as the moment from which (inclusive)
            // the file may be accessed, and DateLessThan as the moment before which.
            if request.now < not_before {
                return Err(Denied::NotYetValid {
                    not_before,
                    now: request.now,
                });
            }
        }
        if let Some(range) = policy.source_ip() {
            // Without a known client address an IP condition cannot be shown to hold.
            let allowed = request.client_ip.is_some_and(|ip| range.contains(ip));
            if !allowed {
                return Err(Denied::IpNotAllowed);
            }
        }
        // A canned policy was rebuilt from the request URL, so it matches by construction.
        if kind == PolicyKind::Custom && !wildcard::matches(policy.resource(), &request.url) {
            return Err(Denied::ResourceMismatch);
        }

        Ok(Grant {
            kind,
            source,
            key_pair_id: key_pair_id.to_owned(),
            hash,
            policy,
            policy_param,
            signature: base64::encode(&signature),
        })
    }
}

/// Where the signing values of a request were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureSource {
    Query,
    Cookies,
}

/// Whether the policy came as `Expires` (canned, exactly one URL) or as `Policy` (custom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Canned,
    Custom,
}

/// What [`TrustedKeys::verify`] looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The URL as the viewer sees it, WITHOUT the signing parameters:
    /// `scheme://host/path?other-query` (see [`SignedRequest::from_http`]). Scheme and
    /// host are part of what is signed, so they must be the public ones, not the origin's
    /// internal address.
    pub url: String,
    /// Signing values found in the query string.
    pub query: SigningParams,
    /// Signing values found in the `CloudFront-*` cookies.
    pub cookies: SigningParams,
    /// The viewer's address, for policies with an `IpAddress` condition.
    pub client_ip: Option<IpAddr>,
    /// Epoch seconds; passed in so that callers (and tests) control time.
    pub now: u64,
}

impl SignedRequest {
    /// Builds the request from HTTP pieces: `scheme_host_path` such as
    /// `https://cdn.example.com/play/abc/master.m3u8`, the raw query string (without `?`)
    /// and the `Cookie` header, if any.
    pub fn from_http(
        scheme_host_path: &str,
        raw_query: Option<&str>,
        cookie_header: Option<&str>,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<SignedRequest, Denied> {
        let query = raw_query.unwrap_or("");
        let cookies = match cookie_header {
            Some(header) => SigningParams::from_cookie_header(header)?,
            None => SigningParams::default(),
        };
        Ok(SignedRequest {
            url: with_query(scheme_host_path, &strip_signing_params(query)),
            query: SigningParams::from_query(query)?,
            cookies,
            client_ip,
            now,
        })
    }

    /// Builds the request from a complete URL that may carry signing parameters (a
    /// signed URL as issued).
    pub fn from_signed_url(
        signed_url: &str,
        cookie_header: Option<&str>,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<SignedRequest, Denied> {
        let (scheme_host_path, query) = match signed_url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (signed_url, None),
        };
        SignedRequest::from_http(scheme_host_path, query, cookie_header, client_ip, now)
    }
}

/// A verified permission: which policy allowed the request and how to pass it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    kind: PolicyKind,
    source: SignatureSource,
    key_pair_id: String,
    hash: HashAlgorithm,
    policy: Policy,
    /// `Expires=<n>` or `Policy=<base64>`, ready for a query string.
    policy_param: String,
    /// CloudFront base64 of the verified signature.
    signature: String,
}

impl Grant {
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn source(&self) -> SignatureSource {
        self.source
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The verified policy (for a canned one, the statement rebuilt from the URL).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn resource(&self) -> &str {
        self.policy.resource()
    }

    /// Epoch second from which the grant no longer holds.
    pub fn expires(&self) -> u64 {
        self.policy.not_after()
    }

    /// Whether the grant can cover URLs other than the one requested: only a custom
    /// policy's `Resource` is a pattern; a canned policy's resource is the literal URL.
    pub fn has_wildcard(&self) -> bool {
        self.kind == PolicyKind::Custom && self.policy.has_wildcard()
    }

    /// Whether a request for `url` (signing parameters in it are ignored) with the same
    /// signature would match the policy's resource. Time and address conditions are not
    /// re-checked: they were checked for this request and are the same for the other URL.
    ///
    /// Used to check, for example, that a key request made on behalf of the viewer of
    /// `https://host/play/<asset>/...` stays within what the viewer was granted.
    pub fn covers(&self, url: &str) -> bool {
        if url.len() > MAX_URL_LEN || has_dot_segment(url) {
            return false;
        }
        let url = match url.split_once('?') {
            Some((base, query)) => with_query(base, &strip_signing_params(query)),
            None => url.to_owned(),
        };
        match self.kind {
            PolicyKind::Canned => url == self.policy.resource(),
            PolicyKind::Custom => wildcard::matches(self.policy.resource(), &url),
        }
    }

    /// The signing query parameters to append to the URIs a manifest lists, so that a
    /// player fetching them presents the same signature:
    /// `Policy=...&Signature=...&Key-Pair-Id=...` (or `Expires=...` first for a canned
    /// policy), followed by `&Hash-Algorithm=SHA256` when SHA-256 was used. Every value is
    /// already URL-safe: CloudFront base64, digits, and a key pair id restricted to
    /// unreserved characters when it was trusted. Only useful when [`Grant::has_wildcard`]
    /// is true: a canned signature is valid for one URL only.
    pub fn query_suffix(&self) -> String {
        let mut suffix = format!(
            "{}&{}={}&{}={}",
            self.policy_param,
            params::SIGNATURE,
            self.signature,
            params::KEY_PAIR_ID,
            self.key_pair_id
        );
        if let Some(value) = self.hash.parameter_value() {
            suffix.push_str(&format!("&{}={value}", params::HASH_ALGORITHM));
        }
        suffix
    }
}

fn verify_signature(
    key: &RsaPublicKey,
    hash: HashAlgorithm,
    signed_bytes: &[u8],
    signature: &[u8],
) -> Result<(), Denied> {
    let outcome = match hash {
        HashAlgorithm::Sha1 => key.verify(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(signed_bytes),
            signature,
        ),
        HashAlgorithm::Sha256 => key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(signed_bytes),
            signature,
        ),
    };
    outcome.map_err(|_| Denied::BadSignature)
}

/// Epoch seconds in canonical decimal only: the canned policy is rebuilt with the number
/// printed back, so `Expires=0100` would not be the text that was signed.
fn parse_epoch_seconds(text: &str) -> Result<u64, Denied> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(Denied::Malformed("Expires is not a decimal epoch time"));
    }
    text.parse()
        .map_err(|_| Denied::Malformed("Expires is not a decimal epoch time"))
}

fn with_query(base: &str, query: &str) -> String {
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

/// Whether the path of `url` (absolute or origin-form) has a `.` or `..` segment, also
/// when percent-encoded (`%2e`), which some servers decode before normalizing.
fn has_dot_segment(url: &str) -> bool {
    let without_query = url.split(['?', '#']).next().unwrap_or("");
    let path = match without_query.split_once("://") {
        Some((_, authority_and_path)) => authority_and_path
            .find('/')
            .map_or("", |slash| &authority_and_path[slash..]),
        None => without_query,
    };
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_found_in_the_path_only() {
        assert!(has_dot_segment("https://h/play/a/../b/x"));
        assert!(has_dot_segment("https://h/play/a/%2E%2e/b/x"));
        assert!(has_dot_segment("https://h/play/./x"));
        assert!(has_dot_segment("/play/a/.."));
        assert!(!has_dot_segment("https://h/play/a/..b/x.m4s?p=../x"));
        assert!(!has_dot_segment("https://h/play/a/seg.1.m4s"));
        assert!(!has_dot_segment("https://../"));
    }

    #[test]
    fn epoch_seconds_must_be_canonical() {
        assert_eq!(parse_epoch_seconds("1767290400"), Ok(1767290400));
        assert_eq!(parse_epoch_seconds("0"), Ok(0));
        for bad in ["", "0100", "+5", "-5", "1e9", "99999999999999999999"] {
            assert!(parse_epoch_seconds(bad).is_err(), "{bad}");
        }
    }
}
