//! Access control for openvod: no I/O, no async.
//!
//! - [`cloudfront`]: signed URLs and signed cookies in Amazon CloudFront's scheme, so that
//!   the same signer (openvod, botocore, the AWS CLI, the AWS SDKs) works whether a viewer
//!   reaches the origin directly or through CloudFront, and a key group can hold several
//!   public keys for rotation.
//! - [`token`]: bearer tokens for the control API (admin tokens) and short-lived upload
//!   tokens.
//! - [`outbound`]: where openvod may send requests on a user's behalf (webhooks, SPEKE):
//!   no loopback, private or link-local address unless the allow-list admits it.
//!
//! Every value read from a request is length-bounded before it is decoded or parsed, and
//! every refusal carries a typed reason so that the HTTP layer can answer one status and
//! log the cause.

pub mod cloudfront;
pub mod outbound;
pub mod token;

pub use cloudfront::{
    strip_signing_params, Denied, Grant, HashAlgorithm, IpCidr, Policy, PolicyError, PolicyKind,
    SignError, SignatureSource, SignedRequest, SigningKeyError, SigningParams, TrustedKeys,
    UrlSigner, MAX_POLICY_BYTES,
};
pub use outbound::{AllowEntry, AllowError, OutboundPolicy, Refused};
pub use token::{AdminTokens, TokenError, UploadGrant, UploadTokenKey};
