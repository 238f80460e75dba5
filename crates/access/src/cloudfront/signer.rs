//! Signing URLs and cookies with a private key.

use std::fmt;

use rsa::rand_core::OsRng;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::keys::{self, SigningKeyError};
use super::params::{self, SigningParams};
use super::policy::{Policy, MAX_POLICY_BYTES};
use super::{base64, HashAlgorithm};

/// Longest URL this crate signs or verifies. Browsers and CDNs handle about 8 KiB; a
/// policy holding a longer URL would not fit in 4 KiB anyway.
pub(crate) const MAX_URL_LEN: usize = 8 * 1024;

/// Why a URL or cookie could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("URL is longer than {MAX_URL_LEN} bytes")]
    UrlTooLong,
    #[error(
        "URL has a #fragment: browsers do not send fragments, so the signed URL could never match"
    )]
    UrlHasFragment,
    #[error("URL already carries a CloudFront signing parameter (Expires, Policy, Signature, Key-Pair-Id or Hash-Algorithm)")]
    UrlHasSigningParams,
    #[error("policy JSON is {0} bytes, more than the {MAX_POLICY_BYTES} bytes accepted")]
    PolicyTooLarge(usize),
    #[error("RSA signing failed: {0}")]
    Rsa(String),
}

/// Signs URLs and cookies for one key pair: `key_pair_id` is the id CloudFront gave the
/// public key (or the id under which openvod's [`super::TrustedKeys`] hold it).
#[derive(Clone)]
pub struct UrlSigner {
    key_pair_id: String,
    key: RsaPrivateKey,
    hash: HashAlgorithm,
}

impl UrlSigner {
    pub fn new(
        key_pair_id: &str,
        key: RsaPrivateKey,
        hash: HashAlgorithm,
    ) -> Result<UrlSigner, SigningKeyError> {
        keys::check_key_pair_id(key_pair_id)?;
        keys::check_key_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
        Ok(UrlSigner {
            key_pair_id: key_pair_id.to_owned(),
            key,
            hash,
        })
    }

    /// Loads the private key from PEM text (PKCS#1 or PKCS#8).
    pub fn from_pem(
        key_pair_id: &str,
        private_key_pem: &str,
        hash: HashAlgorithm,
    ) -> Result<UrlSigner, SigningKeyError> {
        UrlSigner::new(
            key_pair_id,
            keys::private_key_from_pem(private_key_pem)?,
            hash,
        )
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The public half, to put into a key group.
    pub fn public_key(&self) -> rsa::RsaPublicKey {
        self.key.to_public_key()
    }

    /// A canned-policy URL: `url?...&Expires=<expires>&Signature=...&Key-Pair-Id=...`
    /// (plus `&Hash-Algorithm=SHA256` when signing with SHA-256). Valid for exactly `url`,
    /// its query string included, until `expires` (epoch seconds, exclusive).
    pub fn signed_url_canned(&self, url: &str, expires: u64) -> Result<String, SignError> {
        check_url(url)?;
        let signature = self.sign_policy(&Policy::canned(url, expires))?;
        let mut signed = self.query_params(&format!("{}={expires}", params::EXPIRES), &signature);
        signed.insert_str(0, query_separator(url));
        signed.insert_str(0, url);
        Ok(signed)
    }

    /// A custom-policy URL: `url?...&Policy=...&Signature=...&Key-Pair-Id=...`. The
    /// policy's resource may be a wildcard covering `url` and others; the same
    /// `Policy`/`Signature`/`Key-Pair-Id` values then work on every URL it covers.
    pub fn signed_url_custom(&self, url: &str, policy: &Policy) -> Result<String, SignError> {
        check_url(url)?;
        let json = policy.to_json();
        let signature = self.sign_json(&json)?;
        let policy_param = format!("{}={}", params::POLICY, base64::encode(json.as_bytes()));
        let mut signed = self.query_params(&policy_param, &signature);
        signed.insert_str(0, query_separator(url));
        signed.insert_str(0, url);
        Ok(signed)
    }

    /// Cookies for a custom policy: `CloudFront-Policy`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id` (and `CloudFront-Hash-Algorithm` for SHA-256), as
    /// (name, value). The caller adds the attributes (`Domain`, `Path`, `Secure`,
    /// `HttpOnly`); CloudFront advises against `Expires`/`Max-Age` so that the cookies
    /// go away with the browser session.
    pub fn signed_cookies(
        &self,
        policy: &Policy,
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        let json = policy.to_json();
        let signature = self.sign_json(&json)?;
        Ok(self.cookies(
            ("CloudFront-Policy", base64::encode(json.as_bytes())),
            signature,
        ))
    }

    /// Cookies for a canned policy: `CloudFront-Expires` instead of `CloudFront-Policy`.
    /// They are only good for exactly `url`, so they suit a single file; a player that
    /// fetches many files needs [`UrlSigner::signed_cookies`] with a wildcard.
    pub fn signed_cookies_canned(
        &self,
        url: &str,
        expires: u64,
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        check_url(url)?;
        let signature = self.sign_policy(&Policy::canned(url, expires))?;
        Ok(self.cookies(("CloudFront-Expires", expires.to_string()), signature))
    }

    /// The RSA PKCS#1 v1.5 signature of a policy's JSON, CloudFront-base64 encoded.
    pub fn sign_policy(&self, policy: &Policy) -> Result<String, SignError> {
        self.sign_json(&policy.to_json())
    }

    fn sign_json(&self, json: &str) -> Result<String, SignError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(SignError::PolicyTooLarge(json.len()));
        }
        let (scheme, digest) = match self.hash {
            HashAlgorithm::Sha1 => (
                Pkcs1v15Sign::new::<Sha1>(),
                Sha1::digest(json.as_bytes()).to_vec(),
            ),
            HashAlgorithm::Sha256 => (
                Pkcs1v15Sign::new::<Sha256>(),
                Sha256::digest(json.as_bytes()).to_vec(),
            ),
        };
        // With a random source the private-key operation is blinded, so its timing does
        // not depend on the key (the unblinded path is what RUSTSEC-2023-0071 warns about).
        let signature = self
            .key
            .sign_with_rng(&mut OsRng, scheme, &digest)
            .map_err(|e| SignError::Rsa(e.to_string()))?;
        Ok(base64::encode(&signature))
    }

    /// `<policy or expires>&Signature=...&Key-Pair-Id=...[&Hash-Algorithm=SHA256]`: the
    /// order botocore writes and CloudFront's documentation shows.
    fn query_params(&self, policy_or_expires: &str, signature: &str) -> String {
        let mut query = format!(
            "{policy_or_expires}&{}={signature}&{}={}",
            params::SIGNATURE,
            params::KEY_PAIR_ID,
            self.key_pair_id
        );
        if let Some(value) = self.hash.parameter_value() {
            query.push_str(&format!("&{}={value}", params::HASH_ALGORITHM));
        }
        query
    }

    fn cookies(
        &self,
        policy_or_expires: (&'static str, String),
        signature: String,
    ) -> Vec<(&'static str, String)> {
        let mut cookies = vec![
            policy_or_expires,
            ("CloudFront-Signature", signature),
            ("CloudFront-Key-Pair-Id", self.key_pair_id.clone()),
        ];
        if let Some(value) = self.hash.parameter_value() {
            cookies.push(("CloudFront-Hash-Algorithm", value.to_owned()));
        }
        cookies
    }
}

/// The private key is deliberately left out.
impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("key_pair_id", &self.key_pair_id)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// Same rule as botocore's `_build_url`: `&` when the URL already has a `?`.
fn query_separator(url: &str) -> &'static str {
    if url.contains('?') {
        "&"
    } else {
        "?"
    }
}

fn check_url(url: &str) -> Result<(), SignError> {
    if url.len() > MAX_URL_LEN {
        return Err(SignError::UrlTooLong);
    }
    if url.contains('#') {
        return Err(SignError::UrlHasFragment);
    }
    if let Some((_, query)) = url.split_once('?') {
        let has_signing_params = SigningParams::from_query(query)
            .map(|found| !found.is_empty())
            .unwrap_or(true);
        if has_signing_params {
            return Err(SignError::UrlHasSigningParams);
        }
    }
    Ok(())
}
