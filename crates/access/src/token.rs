//! Bearer tokens of the control API: configured admin tokens, and short-lived upload
//! tokens that openvod issues itself.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Presented tokens longer than this are refused without hashing: no configured token is
/// that long, and it bounds the work an unauthenticated request can cause.
const MAX_ADMIN_TOKEN_LEN: usize = 1024;

/// Upload tokens are refused above this length before any decoding.
const MAX_UPLOAD_TOKEN_LEN: usize = 2048;

/// Bound on an upload grant's template name.
const MAX_TEMPLATE_LEN: usize = 256;

/// An HMAC-SHA256 key shorter than its output would be the weakest part of the MAC.
const MIN_UPLOAD_SECRET_LEN: usize = 32;

/// Version prefix of upload tokens. It is part of the MAC input, so a token cannot be
/// re-labelled as another version.
const UPLOAD_TOKEN_PREFIX: &str = "ovu1";

/// Why a token was refused or a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("admin tokens must not be empty")]
    EmptyAdminToken,
    #[error("upload token secret has {0} bytes; at least {MIN_UPLOAD_SECRET_LEN} are required")]
    SecretTooShort(usize),
    #[error("token is longer than {MAX_UPLOAD_TOKEN_LEN} bytes")]
    TooLong,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token MAC does not verify (tampered, or issued with another secret)")]
    BadMac,
    #[error("token expired at {expires} (now {now})")]
    Expired { expires: u64, now: u64 },
    #[error("upload template name longer than {MAX_TEMPLATE_LEN} bytes")]
    TemplateTooLong,
}

/// The configured admin bearer tokens.
///
/// Only SHA-256 digests are kept, and a presented token is compared with every digest
/// without stopping at the first difference or the first match, so the time taken says
/// nothing about which bytes matched or which token it was. (Comparing digests rather
/// than tokens also hides the tokens' lengths.)
#[derive(Clone, Default)]
pub struct AdminTokens {
    digests: Vec<[u8; 32]>,
}

impl AdminTokens {
    pub fn new<I, T>(tokens: I) -> Result<AdminTokens, TokenError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let digests = tokens
            .into_iter()
            .map(|token| {
                let token = token.as_ref();
                if token.is_empty() {
                    Err(TokenError::EmptyAdminToken)
                } else {
                    Ok(Sha256::digest(token.as_bytes()).into())
                }
            })
            .collect::<Result<Vec<[u8; 32]>, _>>()?;
        Ok(AdminTokens { digests })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `presented` is one of the configured tokens.
    pub fn check(&self, presented: &str) -> bool {
        if presented.is_empty() || presented.len() > MAX_ADMIN_TOKEN_LEN {
            return false;
        }
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digests.iter().fold(false, |found, digest| {
            found | constant_time_eq(digest, &presented)
        })
    }
}

/// The digests are not secret on their own, but there is no reason to print them.
impl fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminTokens")
            .field("count", &self.digests.len())
            .finish()
    }
}

/// Compares all 32 bytes whatever they hold; `black_box` keeps the optimizer from turning
/// the accumulation back into an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |difference, (x, y)| difference | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// What an upload token allows: one upload (single use is enforced by the caller, who
/// records `id` when the upload starts), before `expires`, of at most `max_bytes`, with a
/// given encoding template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    /// 16 random bytes chosen by the caller (this crate has no random source of its own).
    pub id: [u8; 16],
    /// Epoch seconds from which the token is refused.
    pub expires: u64,
    pub max_bytes: Option<u64>,
    pub template: Option<String>,
}

impl UploadGrant {
    /// The id as 32 lower-case hex digits, the form stored in the database.
    pub fn id_hex(&self) -> String {
        self.id.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// The signed payload: short member names keep tokens short in URLs and headers.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadPayload {
    id: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tpl: Option<String>,
}

/// The secret that issues and verifies upload tokens:
/// `ovu1.<base64url JSON payload>.<base64url HMAC-SHA256 of "ovu1.<payload>">`.
#[derive(Clone)]
pub struct UploadTokenKey {
    mac: Hmac<Sha256>,
}

impl UploadTokenKey {
    pub fn new(secret: &[u8]) -> Result<UploadTokenKey, TokenError> {
        if secret.len() < MIN_UPLOAD_SECRET_LEN {
            return Err(TokenError::SecretTooShort(secret.len()));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| TokenError::SecretTooShort(secret.len()))?;
        Ok(UploadTokenKey { mac })
    }

    /// Issues a token for `grant`. Fails only for a grant that its own verification would
    /// refuse (a template name that is too long, or a token over the length limit).
    pub fn issue(&self, grant: &UploadGrant) -> Result<String, TokenError> {
        if grant
            .template
            .as_ref()
            .is_some_and(|template| template.len() > MAX_TEMPLATE_LEN)
        {
            return Err(TokenError::TemplateTooLong);
        }
        let payload = UploadPayload {
            id: grant.id_hex(),
            exp: grant.expires,
            max: grant.max_bytes,
            tpl: grant.template.clone(),
        };
        let json = serde_json::to_vec(&payload)
            .map_err(|_| TokenError::Malformed("payload does not serialize"))?;
        let signed_part = format!("{UPLOAD_TOKEN_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let tag = self.tag(&signed_part);
        let token = format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag));
        if token.len() > MAX_UPLOAD_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        Ok(token)
    }

    /// Checks a presented token: length first, then the MAC (in constant time, before the
    /// payload is decoded), then the expiry (`now` in epoch seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<UploadGrant, TokenError> {
        if token.len() > MAX_UPLOAD_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let (signed_part, tag) = token
            .rsplit_once('.')
            .ok_or(TokenError::Malformed("expected ovu1.<payload>.<mac>"))?;
        let (prefix, payload) = signed_part
            .split_once('.')
            .ok_or(TokenError::Malformed("expected ovu1.<payload>.<mac>"))?;
        if prefix != UPLOAD_TOKEN_PREFIX {
            return Err(TokenError::Malformed("not an ovu1 upload token"));
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed("MAC is not base64url"))?;
        let mut mac = self.mac.clone();
        mac.update(signed_part.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TokenError::BadMac)?;

        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
        let payload: UploadPayload = serde_json::from_slice(&json)
            .map_err(|_| TokenError::Malformed("payload is not an upload grant"))?;
        let id = parse_id_hex(&payload.id)
            .ok_or(TokenError::Malformed("grant id is not 32 hex digits"))?;
        if payload
            .tpl
            .as_ref()
            .is_some_and(|t| t.len() > MAX_TEMPLATE_LEN)
        {
            return Err(TokenError::TemplateTooLong);
        }
        if now >= payload.exp {
            return Err(TokenError::Expired {
                expires: payload.exp,
                now,
            });
        }
        Ok(UploadGrant {
            id,
            expires: payload.exp,
            max_bytes: payload.max,
            template: payload.tpl,
        })
    }

    fn tag(&self, signed_part: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(signed_part.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The secret is deliberately left out.
impl fmt::Debug for UploadTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTokenKey").finish_non_exhaustive()
    }
}

fn parse_id_hex(text: &str) -> Option<[u8; 16]> {
    // Lower-case only, as issued: one id, one spelling.
    if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut id = [0u8; 16];
    for (byte, pair) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

    fn grant() -> UploadGrant {
        UploadGrant {
            id: [
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff,
            ],
            expires: 1_000,
            max_bytes: Some(5 << 30),
            template: Some("hls-1080p".into()),
        }
    }

    fn key() -> UploadTokenKey {
        UploadTokenKey::new(SECRET).expect("32-byte secret")
    }

    #[test]
    fn admin_tokens_accept_only_configured_tokens() {
        let tokens = AdminTokens::new(["first-admin-token", "second-admin-token"]).expect("valid");
        assert!(tokens.check("first-admin-token"));
        assert!(tokens.check("second-admin-token"));
        assert!(!tokens.check("first-admin-toke"));
        assert!(!tokens.check("first-admin-tokenX"));
        assert!(!tokens.check(""));
        assert!(!tokens.check(&"x".repeat(MAX_ADMIN_TOKEN_LEN + 1)));
        assert!(!format!("{tokens:?}").contains("admin-token"));
    }

    #[test]
    fn admin_tokens_refuse_empty_configuration_entries() {
        assert_eq!(
            AdminTokens::new(["ok", ""]).err(),
            Some(TokenError::EmptyAdminToken)
        );
        let none = AdminTokens::new(Vec::<String>::new()).expect("empty set");
        assert!(none.is_empty());
        assert!(!none.check("anything"));
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!constant_time_eq(&a, &b));
    }

    #[test]
    fn upload_token_round_trips() {
        let token = key().issue(&grant()).expect("issued");
        assert!(token.starts_with("ovu1."));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(key().verify(&token, 999), Ok(grant()));
        assert_eq!(grant().id_hex(), "00112233445566778899aabbccddeeff");

        let minimal = UploadGrant {
            max_bytes: None,
            template: None,
            ..grant()
        };
        let token = key().issue(&minimal).expect("issued");
        assert_eq!(key().verify(&token, 0), Ok(minimal));
    }

    #[test]
    fn upload_token_expires() {
        let token = key().issue(&grant()).expect("issued");
        assert_eq!(
            key().verify(&token, 1_000),
            Err(TokenError::Expired {
                expires: 1_000,
                now: 1_000
            })
        );
    }

    #[test]
    fn upload_token_refuses_tampering() {
        let token = key().issue(&grant()).expect("issued");
        let parts: Vec<&str> = token.split('.').collect();

        let forged_payload = URL_SAFE_NO_PAD
            .encode(br#"{"id":"00112233445566778899aabbccddeeff","exp":99999999999,"max":1}"#);
        let forged = format!("ovu1.{forged_payload}.{}", parts[2]);
        assert_eq!(key().verify(&forged, 0), Err(TokenError::BadMac));

        let mut tag = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64");
        tag[0] ^= 1;
        let flipped = format!("ovu1.{}.{}", parts[1], URL_SAFE_NO_PAD.encode(tag));
        assert_eq!(key().verify(&flipped, 0), Err(TokenError::BadMac));

        let other_key = UploadTokenKey::new(&[9u8; 32]).expect("key");
        assert_eq!(other_key.verify(&token, 0), Err(TokenError::BadMac));

        let relabelled = token.replacen("ovu1", "ovu2", 1);
        assert!(matches!(
            key().verify(&relabelled, 0),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn upload_token_refuses_malformed_input() {
        for bad in ["", "ovu1", "ovu1.abc", "ovu1..", "ovu1.abc.!!!", "a.b.c.d"] {
            assert!(
                matches!(
                    key().verify(bad, 0),
                    Err(TokenError::Malformed(_) | TokenError::BadMac)
                ),
                "{bad}"
            );
        }
        assert_eq!(
            key().verify(&"a".repeat(MAX_UPLOAD_TOKEN_LEN + 1), 0),
            Err(TokenError::TooLong)
        );
    }

    #[test]
    fn upload_token_refuses_well_signed_but_invalid_payloads() {
        let key = key();
        let sign = |json: &str| {
            let signed_part = format!("ovu1.{}", URL_SAFE_NO_PAD.encode(json));
            format!(
                "{signed_part}.{}",
                URL_SAFE_NO_PAD.encode(key.tag(&signed_part))
            )
        };
        for json in [
            r#"{"id":"0011","exp":5}"#,
            r#"{"id":"00112233445566778899AABBCCDDEEFF","exp":5}"#,
            r#"{"id":"00112233445566778899aabbccddeeff","exp":5,"admin":true}"#,
            r#"{"id":"00112233445566778899aabbccddeeff"}"#,
            "[]",
        ] {
            assert!(
                matches!(key.verify(&sign(json), 0), Err(TokenError::Malformed(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn upload_secret_and_template_are_bounded() {
        assert_eq!(
            UploadTokenKey::new(&[1u8; 31]).err(),
            Some(TokenError::SecretTooShort(31))
        );
        let long_template = UploadGrant {
            template: Some("t".repeat(MAX_TEMPLATE_LEN + 1)),
            ..grant()
        };
        assert_eq!(
            key().issue(&long_template),
            Err(TokenError::TemplateTooLong)
        );
    }
}
