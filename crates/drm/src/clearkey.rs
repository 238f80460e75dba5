//! W3C EME Clear Key licences (Encrypted Media Extensions, clause 9.1 "Clear Key"):
//! the licence request a browser's CDM sends (9.1.3, a JSON object with base64url KIDs)
//! and the licence returned (9.1.4, a JSON Web Key set of `oct` keys).

use serde::{Deserialize, Serialize};

use crate::keys::{ContentKey, Kid};

/// Largest licence request body read.
pub const MAX_LICENSE_REQUEST_LEN: usize = 64 * 1024;
/// Most KIDs in one licence request.
pub const MAX_LICENSE_KIDS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearKeyError {
    #[error("licence request of {len} bytes is over the {MAX_LICENSE_REQUEST_LEN}-byte limit")]
    TooLarge { len: usize },
    #[error("licence request is not the EME Clear Key JSON format: {0}")]
    NotJson(String),
    #[error("licence request has no KIDs")]
    NoKids,
    #[error("licence request has {count} KIDs; at most {MAX_LICENSE_KIDS}")]
    TooManyKids { count: usize },
    #[error("licence request KID #{index}: {reason}")]
    InvalidKid { index: usize, reason: String },
    #[error("licence request type {0:?} is neither \"temporary\" nor \"persistent-license\"")]
    UnknownSessionType(String),
}

/// `MediaKeySessionType` (EME 8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionType {
    #[default]
    Temporary,
    PersistentLicense,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Temporary => "temporary",
            SessionType::PersistentLicense => "persistent-license",
        }
    }
}

/// A licence request: the KIDs wanted (distinct, in request order) and the session type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRequest {
    pub kids: Vec<Kid>,
    pub session_type: SessionType,
}

#[derive(Deserialize)]
struct RawRequest {
    kids: Vec<String>,
    #[serde(rename = "type")]
    session_type: Option<String>,
}

/// Reads a licence request (EME 9.1.3): `{"kids":["<base64url>",...],"type":"temporary"}`.
/// Each KID is base64url without padding of exactly 16 bytes. A missing `type` is read as
/// "temporary", the default session type.
pub fn parse_license_request(body: &[u8]) -> Result<LicenseRequest, ClearKeyError> {
    if body.len() > MAX_LICENSE_REQUEST_LEN {
        return Err(ClearKeyError::TooLarge { len: body.len() });
    }
    let raw: RawRequest =
        serde_json::from_slice(body).map_err(|e| ClearKeyError::NotJson(e.to_string()))?;
    if raw.kids.is_empty() {
        return Err(ClearKeyError::NoKids);
    }
    if raw.kids.len() > MAX_LICENSE_KIDS {
        return Err(ClearKeyError::TooManyKids {
            count: raw.kids.len(),
        });
    }
    let session_type = match raw.session_type.as_deref() {
        None | Some("temporary") => SessionType::Temporary,
        Some("persistent-license") => SessionType::PersistentLicense,
        Some(other) => {
            return Err(ClearKeyError::UnknownSessionType(
                other.chars().take(32).collect(),
            ))
        }
    };
    let mut kids: Vec<Kid> = Vec::with_capacity(raw.kids.len());
    for (index, text) in raw.kids.iter().enumerate() {
        let kid = Kid::from_base64url(text).map_err(|e| ClearKeyError::InvalidKid {
            index,
            reason: e.to_string(),
        })?;
        if !kids.contains(&kid) {
            kids.push(kid);
        }
    }
    Ok(LicenseRequest { kids, session_type })
}

#[derive(Serialize)]
struct Jwk {
    kty: &'static str,
    kid: String,
    k: String,
}

#[derive(Serialize)]
struct JwkSet {
    keys: Vec<Jwk>,
    #[serde(rename = "type")]
    session_type: &'static str,
}

/// The licence (EME 9.1.4): `{"keys":[{"kty":"oct","kid":"..","k":".."}],"type":".."}`,
/// KIDs and keys base64url without padding. The caller passes only the keys the
/// requester may have; KIDs it does not know are simply left out.
pub fn license_response(keys: &[ContentKey], session_type: SessionType) -> String {
    use base64::Engine as _;
    let set = JwkSet {
        keys: keys
            .iter()
            .map(|key| Jwk {
                kty: "oct",
                kid: key.kid.to_base64url(),
                k: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.key),
            })
            .collect(),
        session_type: session_type.as_str(),
    };
    serde_json::to_string(&set).unwrap_or_else(|_| String::from("{\"keys\":[]}"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn a_browser_request_is_read() {
        let r = parse_license_request(
            br#"{"kids":["ABEiM0RVZneImaq7zN3u_w","QkJCQkJCQkJCQkJCQkJCQg","ABEiM0RVZneImaq7zN3u_w"],"type":"temporary"}"#,
        )
        .unwrap();
        assert_eq!(
            r.kids,
            vec![
                Kid::from_hex("00112233445566778899aabbccddeeff").unwrap(),
                Kid([0x42; 16])
            ]
        );
        assert_eq!(r.session_type, SessionType::Temporary);
        let r = parse_license_request(
            br#"{"kids":["QkJCQkJCQkJCQkJCQkJCQg"],"type":"persistent-license"}"#,
        )
        .unwrap();
        assert_eq!(r.session_type, SessionType::PersistentLicense);
        let r = parse_license_request(br#"{"kids":["QkJCQkJCQkJCQkJCQkJCQg"]}"#).unwrap();
        assert_eq!(r.session_type, SessionType::Temporary);
    }

    #[test]
    fn bad_requests_get_clear_errors() {
        let big = vec![b' '; MAX_LICENSE_REQUEST_LEN + 1];
        assert_eq!(
            parse_license_request(&big),
            Err(ClearKeyError::TooLarge { len: big.len() })
        );
        assert!(matches!(
            parse_license_request(b"kids"),
            Err(ClearKeyError::NotJson(_))
        ));
        assert!(matches!(
            parse_license_request(br#"{"kids":"QkJC"}"#),
            Err(ClearKeyError::NotJson(_))
        ));
        assert_eq!(
            parse_license_request(br#"{"kids":[]}"#),
            Err(ClearKeyError::NoKids)
        );
        let many: Vec<String> = (0..65).map(|_| Kid([1; 16]).to_base64url()).collect();
        let body = serde_json::json!({ "kids": many, "type": "temporary" }).to_string();
        assert_eq!(
            parse_license_request(body.as_bytes()),
            Err(ClearKeyError::TooManyKids { count: 65 })
        );
        for bad in [
            "QkJCQkJCQkJCQkJCQkJCQg==",
            "QkJCQkJCQkJCQkJCQkJC",
            "QkJCQkJCQkJCQkJCQkJCQkJC",
            "QkJCQkJCQkJCQkJCQkJC+g",
        ] {
            let body = format!(r#"{{"kids":["QkJCQkJCQkJCQkJCQkJCQg","{bad}"]}}"#);
            let err = parse_license_request(body.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ClearKeyError::InvalidKid { index: 1, .. }),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            parse_license_request(br#"{"kids":["QkJCQkJCQkJCQkJCQkJCQg"],"type":"forever"}"#),
            Err(ClearKeyError::UnknownSessionType("forever".into()))
        );
    }

    #[test]
    fn the_licence_is_a_jwk_set() {
        let key = ContentKey {
            kid: Kid::from_hex("00112233445566778899aabbccddeeff").unwrap(),
            key: [0xfb; 16],
        };
        let text = license_response(std::slice::from_ref(&key), SessionType::Temporary);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "keys": [{ "kty": "oct", "kid": "ABEiM0RVZneImaq7zN3u_w", "k": "-_v7-_v7-_v7-_v7-_v7-w" }],
                "type": "temporary"
            })
        );
        let k = v["keys"][0]["k"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k)
                .unwrap(),
            key.key
        );
        assert!(!text.contains('='), "no padding: {text}");
    }
}
