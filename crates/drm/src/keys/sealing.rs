//! Sealing content keys under the master key (AES-256-GCM).

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use openvod_media::key::parse_hex;

use super::{random_bytes, ContentKey, KeyError, Kid};

const NONCE_LEN: usize = 12;
/// nonce || ciphertext of 16 bytes || tag of 16 bytes.
const SEALED_LEN: usize = NONCE_LEN + 16 + 16;

/// The 32-byte key that seals content keys at rest (AES-256-GCM). `Debug` hides it;
/// clones share one key schedule.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Arc<Aes256Gcm>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey {
            cipher: Arc::new(Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(bytes))),
        }
    }

    /// Reads a master key written as 64 hex digits or as base64 (standard alphabet,
    /// padded or not) of 32 bytes. Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        if let Some(bytes) = parse_hex::<32>(text) {
            return Ok(MasterKey::from_bytes(&bytes));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| {
                KeyError::InvalidMasterKey("expected 64 hex digits or base64 of 32 bytes")
            })?;
        let bytes = <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| {
            KeyError::InvalidMasterKey("base64 decodes to a length other than 32 bytes")
        })?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// The associated data binding a sealed key to its content id and KID: the KID's
    /// fixed length at the end keeps the concatenation unambiguous.
    fn aad(content_id: &str, kid: &Kid) -> Vec<u8> {
        let mut aad = Vec::with_capacity(content_id.len() + 16);
        aad.extend_from_slice(content_id.as_bytes());
        aad.extend_from_slice(&kid.0);
        aad
    }

    /// Seals a content key: a random 12-byte nonce, then the AES-256-GCM ciphertext and
    /// tag, with the content id and KID as associated data.
    pub fn seal(&self, content_id: &str, key: &ContentKey) -> Result<Vec<u8>, KeyError> {
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let aad = MasterKey::aad(content_id, &key.kid);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &key.key,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Seal { kid: key.kid })?;
        let mut sealed = Vec::with_capacity(SEALED_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a sealed key; fails on a wrong master key, another content id or KID, or
    /// any altered byte.
    pub fn open(&self, content_id: &str, kid: Kid, sealed: &[u8]) -> Result<ContentKey, KeyError> {
        if sealed.len() != SEALED_LEN {
            return Err(KeyError::Open { kid });
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = MasterKey::aad(content_id, &kid);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Open { kid })?;
        let key = <[u8; 16]>::try_from(plain.as_slice()).map_err(|_| KeyError::Open { kid })?;
        Ok(ContentKey { kid, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: Kid = Kid([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);

    #[test]
    fn debug_never_shows_the_key() {
        let key = ContentKey {
            kid: KID,
            key: [0xab; 16],
        };
        let shown = format!("{key:?} {:?}", MasterKey::from_bytes(&[0xcd; 32]));
        assert!(
            shown.contains("00112233-4455-6677-8899-aabbccddeeff"),
            "{shown}"
        );
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(
            !shown.to_lowercase().contains("cdcd") && !shown.contains("205"),
            "{shown}"
        );
    }

    #[test]
    fn master_keys_parse_from_hex_or_base64_only() {
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        let b64 = base64::engine::general_purpose::STANDARD.encode((0u8..32).collect::<Vec<_>>());
        let key = ContentKey {
            kid: KID,
            key: [9; 16],
        };
        let sealed = MasterKey::parse(hex).unwrap().seal("a", &key).unwrap();
        let opened = MasterKey::parse(&format!(" {b64}\n"))
            .unwrap()
            .open("a", KID, &sealed)
            .unwrap();
        assert_eq!(opened, key, "hex and base64 name the same master key");
        assert!(MasterKey::parse(b64.trim_end_matches('=')).is_ok());
        for bad in ["", "abc", &hex[..62], &format!("{hex}00"), "AAAA", "!!!!"] {
            let err = MasterKey::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("master key:"), "{bad}: {err}");
        }
    }

    #[test]
    fn sealing_round_trips_and_refuses_any_other_context() {
        let master = MasterKey::from_bytes(&[1; 32]);
        let key = super::super::random_key(super::super::random_kid().unwrap()).unwrap();
        let sealed = master.seal("asset-1", &key).unwrap();
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_ne!(
            sealed,
            master.seal("asset-1", &key).unwrap(),
            "a fresh nonce each time"
        );
        assert!(
            !sealed.windows(16).any(|w| w == key.key),
            "no clear key in the record"
        );
        assert_eq!(master.open("asset-1", key.kid, &sealed).unwrap(), key);

        let wrong = MasterKey::from_bytes(&[2; 32]);
        let err = wrong.open("asset-1", key.kid, &sealed).unwrap_err();
        assert!(matches!(err, KeyError::Open { .. }), "{err}");
        assert!(err.to_string().contains("wrong master key"), "{err}");
        assert!(
            master.open("asset-2", key.kid, &sealed).is_err(),
            "other content id"
        );
        assert!(master.open("asset-1", KID, &sealed).is_err(), "other KID");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(
                master.open("asset-1", key.kid, &tampered).is_err(),
                "byte {i}"
            );
        }
        assert!(master.open("asset-1", key.kid, &sealed[..40]).is_err());
    }
}
