//! Content keys at rest: making them, sealing them with the master key, and the key
//! store over the database.
//!
//! The vocabulary (KIDs, keys, track types, the key scope, the scheme) is
//! `openvod_media`'s, re-exported here. The database only ever holds keys sealed with the
//! master key (AES-256-GCM, the content id and KID as associated data), and no key is
//! ever logged or printed: `ContentKey`'s `Debug` shows the KID only.

mod sealing;
mod store;

pub(crate) use openvod_media::key::{parse_uuid, uuid_string};
pub use openvod_media::key::{ContentKey, KeyScope, Kid, ParseIdError, TrackType};
pub use openvod_media::Scheme;
pub use sealing::MasterKey;
pub use store::{KeyStore, StoreOutcome};

/// Longest content id accepted (asset ids are far shorter; CPIX contentIds come from
/// outside).
pub const MAX_CONTENT_ID_LEN: usize = 256;

/// Errors of keys, sealing and the key store. None of them carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key: {0}")]
    InvalidMasterKey(&'static str),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("content key {kid} does not open: wrong master key, or the stored record was altered")]
    Open { kid: Kid },
    #[error("content key {kid} could not be sealed")]
    Seal { kid: Kid },
    #[error("KID {kid} is already bound to another content id")]
    KidTaken { kid: Kid },
    #[error("KID {kid} is already stored with a different key")]
    KeyMismatch { kid: Kid },
    #[error("content id: {0}")]
    InvalidContentId(&'static str),
    #[error("stored content key {kid}: {reason}")]
    CorruptRecord { kid: String, reason: String },
    #[error("content key of {content_id}/{track_type} disappeared while it was being created (deleted meanwhile?)")]
    Vanished {
        content_id: String,
        track_type: TrackType,
    },
    #[error(transparent)]
    Store(#[from] openvod_store::Error),
}

impl KeyError {
    /// Whether trying again may succeed (the database or the random source failed, or a
    /// key vanished in a race), rather than the request or the stored record being wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            KeyError::Random(_) | KeyError::Vanished { .. } => true,
            KeyError::Store(e) => e.is_transient(),
            KeyError::InvalidMasterKey(_)
            | KeyError::Open { .. }
            | KeyError::Seal { .. }
            | KeyError::KidTaken { .. }
            | KeyError::KeyMismatch { .. }
            | KeyError::InvalidContentId(_)
            | KeyError::CorruptRecord { .. } => false,
        }
    }

    /// Whether the caller's input is at fault (a SPEKE client asking for a KID of another
    /// content, or an unusable content id), rather than openvod.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            KeyError::KidTaken { .. }
                | KeyError::KeyMismatch { .. }
                | KeyError::InvalidContentId(_)
        )
    }
}

/// Fills a buffer from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A random KID.
pub fn random_kid() -> Result<Kid, KeyError> {
    random_bytes().map(Kid)
}

/// A random key under `kid`.
pub fn random_key(kid: Kid) -> Result<ContentKey, KeyError> {
    Ok(ContentKey {
        kid,
        key: random_bytes()?,
    })
}

/// Checks a content id before it is stored or sealed into a key.
pub fn check_content_id(content_id: &str) -> Result<(), KeyError> {
    if content_id.is_empty() {
        Err(KeyError::InvalidContentId("it is empty"))
    } else if content_id.len() > MAX_CONTENT_ID_LEN {
        Err(KeyError::InvalidContentId("it is longer than 256 bytes"))
    } else if content_id.chars().any(char::is_control) {
        Err(KeyError::InvalidContentId("it contains control characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids_are_bounded() {
        assert!(check_content_id("asset-1").is_ok());
        assert!(check_content_id("").is_err());
        assert!(check_content_id(&"a".repeat(257)).is_err());
        assert!(check_content_id("a\nb").is_err());
    }
}
