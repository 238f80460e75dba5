//! CloudFront-compatible signed URLs and signed cookies.
//!
//! The scheme is Amazon CloudFront's ("Serve private content with signed URLs and signed
//! cookies" in the CloudFront developer guide), so that URLs signed by openvod work
//! through CloudFront and URLs signed by CloudFront tooling (botocore's
//! `CloudFrontSigner`, the AWS CLI, the SDKs) work on openvod's origin:
//!
//! - A **policy** says which URL(s) (`Resource`, with `*` and `?` wildcards in custom
//!   policies), until when (`DateLessThan`, required), from when (`DateGreaterThan`) and
//!   from which addresses (`IpAddress`). Its JSON text is what gets signed.
//! - A **canned** policy is not transmitted: the request carries `Expires`, and the
//!   verifier rebuilds the policy JSON from the request URL and that number, which is why
//!   [`Policy::to_json`] must produce exactly the bytes every signer produces.
//!   A **custom** policy travels as `Policy`, in CloudFront's base64.
//! - The signature is RSA PKCS#1 v1.5 over the policy JSON with SHA-1, or with SHA-256
//!   when the request says `Hash-Algorithm=SHA256` (`CloudFront-Hash-Algorithm` as a
//!   cookie). `Key-Pair-Id` names the public key that verifies it, among the keys of a
//!   key group ([`TrustedKeys`]), so keys can be rotated by adding the new one first.
//! - The same values can come as query parameters (signed URL) or as `CloudFront-*`
//!   cookies (signed cookies). When a request carries both, CloudFront decides on the
//!   signed URL alone, and so does [`TrustedKeys::verify`].

mod base64;
mod keys;
mod params;
mod policy;
mod signer;
mod verify;
mod wildcard;

pub use keys::{private_key_from_pem, public_key_from_pem, SigningKeyError};
pub use params::{strip_signing_params, SigningParams, SIGNING_NAMES};
pub use policy::{IpCidr, Policy, PolicyError, MAX_POLICY_BYTES};
/// The key types of the API, so that callers need no direct dependency on `rsa`.
pub use rsa::{RsaPrivateKey, RsaPublicKey};
pub use signer::{SignError, UrlSigner};
pub use verify::{Grant, PolicyKind, SignatureSource, SignedRequest, TrustedKeys};

/// Encodes bytes in CloudFront's URL-safe base64 (`+`→`-`, `=`→`_`, `/`→`~`).
pub fn cloudfront_base64_encode(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

/// Decodes CloudFront's URL-safe base64; `None` when the text is not valid.
pub fn cloudfront_base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::decode(text)
}

/// The digest the RSA signature is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashAlgorithm {
    /// CloudFront's original and default algorithm: used when no `Hash-Algorithm` is given.
    #[default]
    Sha1,
    /// Announced by `Hash-Algorithm=SHA256` in the query or `CloudFront-Hash-Algorithm=SHA256`
    /// as a cookie.
    Sha256,
}

impl HashAlgorithm {
    /// The `Hash-Algorithm` value to send, or `None` when the parameter is left out (SHA-1
    /// is the default, and leaving it out keeps URLs identical to botocore's).
    pub fn parameter_value(self) -> Option<&'static str> {
        match self {
            HashAlgorithm::Sha1 => None,
            HashAlgorithm::Sha256 => Some("SHA256"),
        }
    }

    /// Reads a `Hash-Algorithm` value. CloudFront documents `SHA256`; `SHA1` names the
    /// default explicitly. Anything else is refused rather than guessed.
    pub(crate) fn from_parameter(value: Option<&str>) -> Result<HashAlgorithm, Denied> {
        match value {
            None | Some("SHA1") => Ok(HashAlgorithm::Sha1),
            Some("SHA256") => Ok(HashAlgorithm::Sha256),
            Some(_) => Err(Denied::Malformed("unknown Hash-Algorithm")),
        }
    }
}

/// Why a request was refused. The HTTP layer answers 403 for every case (as CloudFront
/// does) and logs the reason; no variant carries request text, so logging one cannot
/// write attacker-chosen bytes into the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no CloudFront signature in the query or the cookies")]
    NoSignature,
    #[error("Key-Pair-Id is not one of the trusted keys")]
    UnknownKeyPairId,
    #[error("malformed signed request: {0}")]
    Malformed(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("policy expired at {expires} (now {now})")]
    Expired { expires: u64, now: u64 },
    #[error("policy is not valid before {not_before} (now {now})")]
    NotYetValid { not_before: u64, now: u64 },
    #[error("client IP address is not allowed by the policy")]
    IpNotAllowed,
    #[error("policy Resource does not match the requested URL")]
    ResourceMismatch,
}

#[cfg(test)]
mod tests;
