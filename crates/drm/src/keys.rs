//! Content keys: KIDs, track types, the encryption scheme, sealing keys with the master
//! key, and the key store over the database.
//!
//! A content key is 16 bytes (AES-128, ISO/IEC 23001-7) named by a 16-byte KID. The
//! database only ever holds keys sealed with the master key (AES-256-GCM, the content id
//! and KID as associated data), and no key is ever logged or printed: `ContentKey`'s
//! `Debug` shows the KID only.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use openvod_store::{Db, KidChosenBy, StoredContentKey};

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

/// A KID or a key could not be read from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {shown:?} is not {expected}")]
pub struct ParseIdError {
    what: &'static str,
    /// The input, cut to 48 characters.
    shown: String,
    expected: &'static str,
}

impl ParseIdError {
    fn new(what: &'static str, input: &str, expected: &'static str) -> ParseIdError {
        ParseIdError {
            what,
            shown: input.chars().take(48).collect(),
            expected,
        }
    }
}

/// Fills a buffer from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

/// 16 bytes as 32 lowercase hex digits.
pub(crate) fn hex16(bytes: &[u8; 16]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// 16 bytes in the UUID form 8-4-4-4-12 (RFC 9562), lowercase.
pub(crate) fn uuid_string(bytes: &[u8; 16]) -> String {
    let hex = hex16(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes of hex (either case).
pub(crate) fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(out)
}

/// Reads the UUID form 8-4-4-4-12 (either case), as CPIX writes KIDs and system IDs.
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    parse_hex::<16>(&hex)
}

/// A key identifier (ISO/IEC 23001-7 `default_KID`): 16 bytes. `Display` writes the UUID
/// form, as CPIX and DASH do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 16]);

impl Kid {
    /// A random KID.
    pub fn random() -> Result<Kid, KeyError> {
        random_bytes().map(Kid)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// 32 lowercase hex digits (the database, `skd://` URIs).
    pub fn to_hex(&self) -> String {
        hex16(&self.0)
    }

    /// The UUID form 8-4-4-4-12 (CPIX, DASH `cenc:default_KID`).
    pub fn to_uuid(&self) -> String {
        uuid_string(&self.0)
    }

    /// Base64url without padding (W3C EME ClearKey licences, JWK `kid`).
    pub fn to_base64url(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Kid, ParseIdError> {
        parse_hex(s)
            .map(Kid)
            .ok_or_else(|| ParseIdError::new("KID", s, "32 hex digits"))
    }

    pub fn from_uuid(s: &str) -> Result<Kid, ParseIdError> {
        parse_uuid(s)
            .map(Kid)
            .ok_or_else(|| ParseIdError::new("KID", s, "a UUID (8-4-4-4-12 hex digits)"))
    }

    /// Base64url without padding, exactly 16 bytes.
    pub fn from_base64url(s: &str) -> Result<Kid, ParseIdError> {
        let expected = "base64url (no padding) of 16 bytes";
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| ParseIdError::new("KID", s, expected))?;
        <[u8; 16]>::try_from(bytes.as_slice())
            .map(Kid)
            .map_err(|_| ParseIdError::new("KID", s, expected))
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uuid())
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.to_uuid())
    }
}

/// A content key and its KID. `Debug` prints the KID only.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: Kid,
    /// AES-128 key: never log it.
    pub key: [u8; 16],
}

impl ContentKey {
    /// A random key under a random KID.
    pub fn random() -> Result<ContentKey, KeyError> {
        ContentKey::random_for(Kid::random()?)
    }

    /// A random key under a KID chosen by the caller.
    pub fn random_for(kid: Kid) -> Result<ContentKey, KeyError> {
        Ok(ContentKey {
            kid,
            key: random_bytes()?,
        })
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Which tracks a key protects: audio, or video by resolution. The names are those of
/// SPEKE v2 / CPIX usage rules (`ContentKeyUsageRule@intendedTrackType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackType {
    Audio,
    Sd,
    Hd,
    Uhd,
}

impl TrackType {
    pub const ALL: [TrackType; 4] = [
        TrackType::Audio,
        TrackType::Sd,
        TrackType::Hd,
        TrackType::Uhd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackType::Audio => "AUDIO",
            TrackType::Sd => "SD",
            TrackType::Hd => "HD",
            TrackType::Uhd => "UHD",
        }
    }

    /// The class of a video rendition by its short side, so portrait video is classed
    /// like its landscape twin: under 720 SD, 720 to 1080 HD, above 1080 UHD.
    pub fn for_video(width: u32, height: u32) -> TrackType {
        match width.min(height) {
            0..=719 => TrackType::Sd,
            720..=1080 => TrackType::Hd,
            _ => TrackType::Uhd,
        }
    }

    /// The track type a key provider stores for a CPIX `intendedTrackType` (SPEKE v2
    /// encryption contract: labels such as "AUDIO", "STEREO_AUDIO", "SD", "HD", "UHD1",
    /// "VIDEO" or "ALL", combined with '+').
    ///
    /// The most demanding class named wins ("SD+HD1" is HD). Audio-only labels are
    /// AUDIO. Labels that name no resolution ("VIDEO", "ALL", none, anything unknown)
    /// are HD: such a key may protect HD renditions, so it must not get SD's laxer
    /// licence policy, while UHD's (hardware-backed DRM only) would stop it playing on
    /// most devices that play the rest of the content.
    pub fn from_intended_track_type(label: Option<&str>) -> TrackType {
        let Some(label) = label else {
            return TrackType::Hd;
        };
        let mut best: Option<TrackType> = None;
        let mut unknown = false;
        for part in label.split('+').map(str::trim) {
            let upper = part.to_ascii_uppercase();
            let class = if upper.starts_with("UHD") {
                Some(TrackType::Uhd)
            } else if upper.starts_with("HD") {
                Some(TrackType::Hd)
            } else if upper == "SD" {
                Some(TrackType::Sd)
            } else if upper.ends_with("AUDIO") {
                Some(TrackType::Audio)
            } else {
                None
            };
            match class {
                Some(c) => best = Some(best.map_or(c, |b| b.max(c))),
                None => unknown = true,
            }
        }
        match best {
            Some(TrackType::Audio) if unknown => TrackType::Hd,
            Some(class) => class,
            None => TrackType::Hd,
        }
    }
}

impl fmt::Display for TrackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrackType {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<TrackType, ParseIdError> {
        TrackType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseIdError::new("track type", s, "AUDIO, SD, HD or UHD"))
    }
}

/// How a template assigns keys: one per track type, or a single key for every track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyScope {
    #[default]
    PerTrackType,
    Single,
}

impl KeyScope {
    /// The track type whose key protects `track`. The single key lives in the HD slot,
    /// where `TrackType::from_intended_track_type` also puts a SPEKE "ALL" key.
    pub fn slot(self, track: TrackType) -> TrackType {
        match self {
            KeyScope::PerTrackType => track,
            KeyScope::Single => TrackType::Hd,
        }
    }
}

/// A Common Encryption protection scheme (ISO/IEC 23001-7 clause 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// AES-CTR, full samples and NAL subsamples.
    Cenc,
    /// AES-CBC with a 1:9 pattern (what FairPlay and HLS use).
    Cbcs,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }

    /// The four-character code as a big-endian integer (`schm` scheme_type).
    pub fn fourcc(self) -> u32 {
        u32::from_be_bytes(match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Scheme, ParseIdError> {
        match s {
            "cenc" => Ok(Scheme::Cenc),
            "cbcs" => Ok(Scheme::Cbcs),
            _ => Err(ParseIdError::new(
                "protection scheme",
                s,
                "cenc or cbcs (cens and cbc1 are not supported)",
            )),
        }
    }
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

/// What storing a key whose KID openvod chose came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The key is stored (now or before) under its KID.
    Stored,
    /// Another process stored a different KID for this content id and track type first;
    /// that KID is the one to use.
    TrackHasKid(Kid),
}

/// Content keys in the database, sealed with the master key.
#[derive(Debug, Clone)]
pub struct KeyStore {
    db: Db,
    master: MasterKey,
}

impl KeyStore {
    pub fn new(db: Db, master: MasterKey) -> KeyStore {
        KeyStore { db, master }
    }

    fn open_row(&self, row: &StoredContentKey) -> Result<(TrackType, ContentKey), KeyError> {
        let kid = Kid::from_hex(&row.kid).map_err(|e| KeyError::CorruptRecord {
            kid: row.kid.clone(),
            reason: e.to_string(),
        })?;
        let track_type =
            row.track_type
                .parse::<TrackType>()
                .map_err(|e| KeyError::CorruptRecord {
                    kid: row.kid.clone(),
                    reason: e.to_string(),
                })?;
        let key = self.master.open(&row.content_id, kid, &row.sealed)?;
        Ok((track_type, key))
    }

    /// The key of each track type of a content id, created on first use (a random KID
    /// and key). Two processes asking at once get the same keys: each inserts if absent,
    /// then reads back the one the database kept. One entry per distinct track type, in
    /// the order given.
    pub async fn keys_for(
        &self,
        content_id: &str,
        tracks: &[TrackType],
    ) -> Result<Vec<(TrackType, ContentKey)>, KeyError> {
        check_content_id(content_id)?;
        let mut keys: Vec<(TrackType, ContentKey)> = Vec::with_capacity(tracks.len());
        for &track in tracks {
            if keys.iter().any(|(t, _)| *t == track) {
                continue;
            }
            let row = match self
                .db
                .content_key_for_track(content_id, track.as_str())
                .await?
            {
                Some(row) => row,
                None => {
                    let key = ContentKey::random()?;
                    let sealed = self.master.seal(content_id, &key)?;
                    self.db
                        .insert_content_key(
                            &key.kid.to_hex(),
                            content_id,
                            track.as_str(),
                            KidChosenBy::Openvod,
                            &sealed,
                        )
                        .await?;
                    self.db
                        .content_key_for_track(content_id, track.as_str())
                        .await?
                        .ok_or_else(|| KeyError::Vanished {
                            content_id: content_id.to_string(),
                            track_type: track,
                        })?
                }
            };
            let (_, key) = self.open_row(&row)?;
            keys.push((track, key));
        }
        Ok(keys)
    }

    /// The KID openvod chose for a content id and track type, if there is one yet.
    pub async fn kid_for(
        &self,
        content_id: &str,
        track: TrackType,
    ) -> Result<Option<Kid>, KeyError> {
        check_content_id(content_id)?;
        let row = self
            .db
            .content_key_for_track(content_id, track.as_str())
            .await?;
        row.map(|row| {
            Kid::from_hex(&row.kid).map_err(|e| KeyError::CorruptRecord {
                kid: row.kid.clone(),
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// The key for a KID a SPEKE client chose, created on first use. A KID bound to
    /// another content id is refused; a KID already known for this content id returns
    /// its key whatever track type it was stored under.
    pub async fn key_for_kid(
        &self,
        content_id: &str,
        kid: Kid,
        track: TrackType,
    ) -> Result<ContentKey, KeyError> {
        check_content_id(content_id)?;
        let hex = kid.to_hex();
        let row = match self.db.content_key_by_kid(&hex).await? {
            Some(row) => row,
            None => {
                let key = ContentKey::random_for(kid)?;
                let sealed = self.master.seal(content_id, &key)?;
                self.db
                    .insert_content_key(
                        &hex,
                        content_id,
                        track.as_str(),
                        KidChosenBy::Client,
                        &sealed,
                    )
                    .await?;
                self.db
                    .content_key_by_kid(&hex)
                    .await?
                    .ok_or_else(|| KeyError::Vanished {
                        content_id: content_id.to_string(),
                        track_type: track,
                    })?
            }
        };
        if row.content_id != content_id {
            return Err(KeyError::KidTaken { kid });
        }
        self.open_row(&row).map(|(_, key)| key)
    }

    /// Stores a key whose KID openvod chose but a key provider generated (SPEKE), as the
    /// key of `track` for the content id, unless that track already has another KID.
    pub async fn store_chosen_key(
        &self,
        content_id: &str,
        track: TrackType,
        key: &ContentKey,
    ) -> Result<StoreOutcome, KeyError> {
        check_content_id(content_id)?;
        let hex = key.kid.to_hex();
        let sealed = self.master.seal(content_id, key)?;
        self.db
            .insert_content_key(
                &hex,
                content_id,
                track.as_str(),
                KidChosenBy::Openvod,
                &sealed,
            )
            .await?;
        if let Some(row) = self
            .db
            .content_key_for_track(content_id, track.as_str())
            .await?
        {
            let (_, stored) = self.open_row(&row)?;
            if stored.kid != key.kid {
                return Ok(StoreOutcome::TrackHasKid(stored.kid));
            }
            return if stored.key == key.key {
                Ok(StoreOutcome::Stored)
            } else {
                Err(KeyError::KeyMismatch { kid: key.kid })
            };
        }
        // The track has no KID of openvod's, so the insert met the KID itself: stored
        // before for a SPEKE client, or for another content id.
        let row = self
            .db
            .content_key_by_kid(&hex)
            .await?
            .ok_or_else(|| KeyError::Vanished {
                content_id: content_id.to_string(),
                track_type: track,
            })?;
        if row.content_id != content_id {
            return Err(KeyError::KidTaken { kid: key.kid });
        }
        let (_, stored) = self.open_row(&row)?;
        if stored.key == key.key {
            Ok(StoreOutcome::Stored)
        } else {
            Err(KeyError::KeyMismatch { kid: key.kid })
        }
    }

    /// The content id, track type and key a KID names (licence requests carry KIDs only).
    pub async fn key_by_kid(
        &self,
        kid: Kid,
    ) -> Result<Option<(String, TrackType, ContentKey)>, KeyError> {
        let Some(row) = self.db.content_key_by_kid(&kid.to_hex()).await? else {
            return Ok(None);
        };
        let (track, key) = self.open_row(&row)?;
        Ok(Some((row.content_id, track, key)))
    }

    /// Deletes every key of a content id; returns how many there were.
    pub async fn delete_content(&self, content_id: &str) -> Result<u64, KeyError> {
        Ok(self.db.delete_content_keys(content_id).await?)
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
    fn kids_are_written_and_read_in_every_form() {
        assert_eq!(KID.to_hex(), "00112233445566778899aabbccddeeff");
        assert_eq!(KID.to_uuid(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(KID.to_string(), KID.to_uuid());
        assert_eq!(KID.to_base64url(), "ABEiM0RVZneImaq7zN3u_w");
        assert_eq!(Kid::from_hex(&KID.to_hex()), Ok(KID));
        assert_eq!(
            Kid::from_uuid("00112233-4455-6677-8899-AABBCCDDEEFF"),
            Ok(KID)
        );
        assert_eq!(Kid::from_base64url("ABEiM0RVZneImaq7zN3u_w"), Ok(KID));
        for bad in ["", "0011", "00112233445566778899aabbccddeefg"] {
            assert!(Kid::from_hex(bad).is_err(), "{bad}");
        }
        for bad in [
            "00112233445566778899aabbccddeeff",
            "0011223-34455-6677-8899-aabbccddeeff",
            "00112233-4455-6677-8899-aabbccddeefz",
        ] {
            assert!(Kid::from_uuid(bad).is_err(), "{bad}");
        }
        for bad in [
            "ABEiM0RVZneImaq7zN3u_w==",
            "ABEiM0RVZneImaq7zN3u",
            "ABEiM0RVZneImaq7zN3u+w",
        ] {
            assert!(Kid::from_base64url(bad).is_err(), "{bad}");
        }
    }

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
    fn track_types_follow_the_short_side() {
        assert_eq!(TrackType::for_video(640, 360), TrackType::Sd);
        assert_eq!(TrackType::for_video(1280, 719), TrackType::Sd);
        assert_eq!(TrackType::for_video(1280, 720), TrackType::Hd);
        assert_eq!(TrackType::for_video(720, 1280), TrackType::Hd);
        assert_eq!(TrackType::for_video(1920, 1080), TrackType::Hd);
        assert_eq!(TrackType::for_video(2560, 1081), TrackType::Uhd);
        assert_eq!(TrackType::for_video(3840, 2160), TrackType::Uhd);
        for t in TrackType::ALL {
            assert_eq!(t.as_str().parse::<TrackType>(), Ok(t));
        }
        assert!("VIDEO".parse::<TrackType>().is_err());
    }

    #[test]
    fn intended_track_types_map_to_the_most_demanding_class() {
        let cases = [
            (Some("AUDIO"), TrackType::Audio),
            (Some("STEREO_AUDIO"), TrackType::Audio),
            (Some("STEREO_AUDIO+MULTICHANNEL_AUDIO"), TrackType::Audio),
            (Some("SD"), TrackType::Sd),
            (Some("HD"), TrackType::Hd),
            (Some("HD1"), TrackType::Hd),
            (Some("SD+HD1"), TrackType::Hd),
            (Some("UHD1"), TrackType::Uhd),
            (Some("HD+UHD2"), TrackType::Uhd),
            (Some("VIDEO"), TrackType::Hd),
            (Some("ALL"), TrackType::Hd),
            (Some("AUDIO+VIDEO"), TrackType::Hd),
            (Some("whatever"), TrackType::Hd),
            (None, TrackType::Hd),
        ];
        for (label, expected) in cases {
            assert_eq!(
                TrackType::from_intended_track_type(label),
                expected,
                "{label:?}"
            );
        }
        assert_eq!(KeyScope::Single.slot(TrackType::Audio), TrackType::Hd);
        assert_eq!(
            KeyScope::PerTrackType.slot(TrackType::Audio),
            TrackType::Audio
        );
    }

    #[test]
    fn schemes_have_their_fourcc() {
        assert_eq!(Scheme::Cenc.fourcc(), 0x6365_6e63);
        assert_eq!(Scheme::Cbcs.fourcc(), 0x6362_6373);
        assert_eq!("cbcs".parse::<Scheme>(), Ok(Scheme::Cbcs));
        assert!("cens".parse::<Scheme>().is_err());
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
        let key = ContentKey::random().unwrap();
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

    #[test]
    fn content_ids_are_bounded() {
        assert!(check_content_id("asset-1").is_ok());
        assert!(check_content_id("").is_err());
        assert!(check_content_id(&"a".repeat(257)).is_err());
        assert!(check_content_id("a\nb").is_err());
    }
}
