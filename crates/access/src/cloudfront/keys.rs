//! Loading RSA keys from PEM text, and the rules for key pair ids.

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

/// A PEM file holding one key is a few KiB; anything much larger is not a key.
const MAX_PEM_BYTES: usize = 64 * 1024;

/// CloudFront requires 2048-bit RSA keys for its key groups. Smaller keys are refused
/// outright; larger ones (up to the 4096 bits the `rsa` crate accepts for public keys)
/// are allowed for deployments that do not go through CloudFront.
const MIN_KEY_BITS: usize = 2048;
const MAX_KEY_BITS: usize = 4096;

/// CloudFront's public key ids are short upper-case strings such as `K2JCJMDEHXQW5F`.
const MAX_KEY_PAIR_ID_LEN: usize = 128;

/// Why a key or key pair id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    #[error("PEM text is larger than {MAX_PEM_BYTES} bytes")]
    PemTooLarge,
    #[error("no PEM block found (expected a line starting with -----BEGIN)")]
    NoPemBlock,
    #[error("PEM block {0:?} is not an RSA private key: expected BEGIN RSA PRIVATE KEY (PKCS#1) or BEGIN PRIVATE KEY (PKCS#8)")]
    NotAPrivateKey(String),
    #[error("PEM block {0:?} is not an RSA public key: expected BEGIN PUBLIC KEY (SubjectPublicKeyInfo) or BEGIN RSA PUBLIC KEY (PKCS#1)")]
    NotAPublicKey(String),
    #[error("encrypted private keys are not supported: decrypt it first (openssl pkey -in key.pem -out plain.pem)")]
    EncryptedPrivateKey,
    #[error("invalid {label} PEM: {reason}")]
    InvalidPem { label: String, reason: String },
    #[error("RSA key of {bits} bits: keys must have {MIN_KEY_BITS} to {MAX_KEY_BITS} bits")]
    UnsupportedKeySize { bits: usize },
    #[error("key pair id must be 1 to {MAX_KEY_PAIR_ID_LEN} characters of A-Z a-z 0-9 - . _ ~")]
    InvalidKeyPairId,
}

/// Parses an RSA private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa
/// -traditional` and CloudFront's own instructions produce) or PKCS#8 (`BEGIN PRIVATE KEY`,
/// what OpenSSL 3 writes by default).
pub fn private_key_from_pem(pem: &str) -> Result<RsaPrivateKey, SigningKeyError> {
    let (label, block) = pem_block(pem)?;
    let invalid = |reason: String| SigningKeyError::InvalidPem {
        label: label.to_owned(),
        reason,
    };
    let key = match label {
        "RSA PRIVATE KEY" => {
            RsaPrivateKey::from_pkcs1_pem(block).map_err(|e| invalid(e.to_string()))?
        }
        "PRIVATE KEY" => {
            RsaPrivateKey::from_pkcs8_pem(block).map_err(|e| invalid(e.to_string()))?
        }
        "ENCRYPTED PRIVATE KEY" => return Err(SigningKeyError::EncryptedPrivateKey),
        other => return Err(SigningKeyError::NotAPrivateKey(other.to_owned())),
    };
    key.validate().map_err(|e| invalid(e.to_string()))?;
    check_key_size(key.size() * 8)?;
    Ok(key)
}

/// Parses an RSA public key: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, what CloudFront's
/// console takes and `openssl rsa -pubout` writes) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub fn public_key_from_pem(pem: &str) -> Result<RsaPublicKey, SigningKeyError> {
    let (label, block) = pem_block(pem)?;
    let invalid = |reason: String| SigningKeyError::InvalidPem {
        label: label.to_owned(),
        reason,
    };
    let key = match label {
        "PUBLIC KEY" => {
            RsaPublicKey::from_public_key_pem(block).map_err(|e| invalid(e.to_string()))?
        }
        "RSA PUBLIC KEY" => {
            RsaPublicKey::from_pkcs1_pem(block).map_err(|e| invalid(e.to_string()))?
        }
        other => return Err(SigningKeyError::NotAPublicKey(other.to_owned())),
    };
    check_key_size(key.size() * 8)?;
    Ok(key)
}

pub(crate) fn check_key_size(bits: usize) -> Result<(), SigningKeyError> {
    if (MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(SigningKeyError::UnsupportedKeySize { bits })
    }
}

/// Key pair ids are written into URLs as they are (botocore does not encode them), so
/// only unreserved URL characters are accepted: then no encoding is ever needed and a
/// signed URL is the same whoever builds it.
pub(crate) fn check_key_pair_id(key_pair_id: &str) -> Result<(), SigningKeyError> {
    let valid = !key_pair_id.is_empty()
        && key_pair_id.len() <= MAX_KEY_PAIR_ID_LEN
        && key_pair_id.bytes().all(is_unreserved);
    if valid {
        Ok(())
    } else {
        Err(SigningKeyError::InvalidKeyPairId)
    }
}

/// RFC 3986 unreserved characters.
pub(crate) fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Finds the first PEM block and its label, and returns the block alone: the PEM decoder
/// is strict about what surrounds a block, while key files often carry comments or a
/// trailing newline, or hold a private key followed by its certificate.
fn pem_block(pem: &str) -> Result<(&str, &str), SigningKeyError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(SigningKeyError::PemTooLarge);
    }
    const BEGIN: &str = "-----BEGIN ";
    let start = pem.find(BEGIN).ok_or(SigningKeyError::NoPemBlock)?;
    let rest = &pem[start + BEGIN.len()..];
    let label_end = rest.find("-----").ok_or(SigningKeyError::NoPemBlock)?;
    let label = &rest[..label_end];
    let end_marker = format!("-----END {label}-----");
    let end = pem[start..]
        .find(&end_marker)
        .ok_or_else(|| SigningKeyError::InvalidPem {
            label: label.to_owned(),
            reason: format!("missing {end_marker}"),
        })?;
    Ok((label, &pem[start..start + end + end_marker.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_PKCS1: &str = include_str!("../../tests/data/test_only_signer_a_pkcs1.pem");
    const A_SPKI: &str = include_str!("../../tests/data/test_only_signer_a_spki.pub.pem");
    const B_PKCS8: &str = include_str!("../../tests/data/test_only_signer_b_pkcs8.pem");
    const B_PKCS1_PUBLIC: &str = include_str!("../../tests/data/test_only_signer_b_pkcs1.pub.pem");

    #[test]
    fn loads_every_supported_format() {
        let a = private_key_from_pem(A_PKCS1).expect("PKCS#1 private key");
        let b = private_key_from_pem(B_PKCS8).expect("PKCS#8 private key");
        assert_eq!(
            public_key_from_pem(A_SPKI).expect("SPKI"),
            a.to_public_key()
        );
        assert_eq!(
            public_key_from_pem(B_PKCS1_PUBLIC).expect("PKCS#1 public key"),
            b.to_public_key()
        );
    }

    #[test]
    fn tolerates_text_around_the_block() {
        let commented = format!("# test key\n\n{A_SPKI}\n-----BEGIN CERTIFICATE-----\n");
        assert!(public_key_from_pem(&commented).is_ok());
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(
            private_key_from_pem(A_SPKI),
            Err(SigningKeyError::NotAPrivateKey("PUBLIC KEY".into()))
        );
        assert_eq!(
            public_key_from_pem(A_PKCS1),
            Err(SigningKeyError::NotAPublicKey("RSA PRIVATE KEY".into()))
        );
        assert_eq!(
            private_key_from_pem("hello"),
            Err(SigningKeyError::NoPemBlock)
        );
        assert_eq!(
            private_key_from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
            Err(SigningKeyError::EncryptedPrivateKey)
        );
        let truncated = &A_PKCS1[..A_PKCS1.len() / 2];
        assert!(matches!(
            private_key_from_pem(truncated),
            Err(SigningKeyError::InvalidPem { .. })
        ));
        let corrupted = A_SPKI.replacen("MII", "MIX", 1);
        assert!(matches!(
            public_key_from_pem(&corrupted),
            Err(SigningKeyError::InvalidPem { .. })
        ));
        assert_eq!(
            public_key_from_pem(&"x".repeat(MAX_PEM_BYTES + 1)),
            Err(SigningKeyError::PemTooLarge)
        );
    }

    #[test]
    fn key_sizes_are_bounded() {
        assert_eq!(
            check_key_size(1024),
            Err(SigningKeyError::UnsupportedKeySize { bits: 1024 })
        );
        assert!(check_key_size(2048).is_ok());
        assert!(check_key_size(4096).is_ok());
        assert!(check_key_size(8192).is_err());
    }

    #[test]
    fn key_pair_ids_are_unreserved_characters() {
        assert!(check_key_pair_id("K2JCJMDEHXQW5F").is_ok());
        assert!(check_key_pair_id("key-2024_a.b~c").is_ok());
        for bad in ["", "a b", "a&b", "a=b", "é"] {
            assert_eq!(
                check_key_pair_id(bad),
                Err(SigningKeyError::InvalidKeyPairId),
                "{bad}"
            );
        }
        assert!(check_key_pair_id(&"K".repeat(MAX_KEY_PAIR_ID_LEN + 1)).is_err());
    }
}
