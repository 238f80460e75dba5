//! Content keys and what names them: the KID (ISO/IEC 23001-7 `default_KID`), the
//! 16-byte AES-128 key, the track type a key protects (SPEKE v2 / CPIX usage rules), and
//! how a template shares keys between tracks.
//!
//! These are the one definition every crate uses: the packager writes KIDs into `tenc`
//! and manifests, the key store seals keys by KID, the origin serves keys by KID.
//! Making keys (randomness) is the key store's business, not this crate's.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A KID, a key, a track type or a DRM system could not be read from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {shown:?} is not {expected}")]
pub struct ParseIdError {
    what: &'static str,
    /// The input, cut to 48 characters.
    shown: String,
    expected: &'static str,
}

impl ParseIdError {
    pub fn new(what: &'static str, input: &str, expected: &'static str) -> ParseIdError {
        ParseIdError {
            what,
            shown: input.chars().take(48).collect(),
            expected,
        }
    }
}

/// 16 bytes as 32 lowercase hex digits.
pub fn hex16(bytes: &[u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// 16 bytes in the UUID form 8-4-4-4-12 (RFC 9562), lowercase.
pub fn uuid_string(bytes: &[u8; 16]) -> String {
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
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
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
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
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
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// 32 lowercase hex digits (the database, `skd://` URIs, AES-128 key paths).
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

/// A content key and its KID. `Debug` prints the KID only, so that no log line can leak
/// the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: Kid,
    /// AES-128 key: never log it.
    pub key: [u8; 16],
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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

/// A DRM system, as named in configuration ("widevine", "playready", "fairplay",
/// "clearkey").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrmSystem {
    Widevine,
    PlayReady,
    FairPlay,
    ClearKey,
}

impl DrmSystem {
    pub const ALL: [DrmSystem; 4] = [
        DrmSystem::Widevine,
        DrmSystem::PlayReady,
        DrmSystem::FairPlay,
        DrmSystem::ClearKey,
    ];

    /// The system ID registered with DASH-IF (dashif.org/identifiers/content_protection).
    pub fn system_id(self) -> [u8; 16] {
        match self {
            DrmSystem::Widevine => [
                0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d,
                0x21, 0xed,
            ],
            DrmSystem::PlayReady => [
                0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88,
                0x5f, 0x95,
            ],
            DrmSystem::FairPlay => [
                0x94, 0xce, 0x86, 0xfb, 0x07, 0xff, 0x4f, 0x43, 0xad, 0xb8, 0x93, 0xd2, 0xfa, 0x96,
                0x8c, 0xa2,
            ],
            DrmSystem::ClearKey => [
                0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2,
                0xfb, 0x4b,
            ],
        }
    }

    /// The system ID in UUID form.
    pub fn system_id_uuid(self) -> String {
        uuid_string(&self.system_id())
    }

    pub fn from_system_id(id: &[u8; 16]) -> Option<DrmSystem> {
        DrmSystem::ALL.into_iter().find(|s| s.system_id() == *id)
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            DrmSystem::Widevine => "widevine",
            DrmSystem::PlayReady => "playready",
            DrmSystem::FairPlay => "fairplay",
            DrmSystem::ClearKey => "clearkey",
        }
    }
}

impl fmt::Display for DrmSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DrmSystem {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<DrmSystem, ParseIdError> {
        let name = s.trim();
        DrmSystem::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                ParseIdError::new(
                    "unknown DRM system",
                    name,
                    "widevine, playready, fairplay or clearkey",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_forms_round_trip() {
        let kid = Kid([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10,
        ]);
        assert_eq!(kid.to_hex(), "0123456789abcdeffedcba9876543210");
        assert_eq!(kid.to_uuid(), "01234567-89ab-cdef-fedc-ba9876543210");
        assert_eq!(Kid::from_hex(&kid.to_hex()), Ok(kid));
        assert_eq!(Kid::from_hex("0123456789ABCDEFFEDCBA9876543210"), Ok(kid));
        assert_eq!(Kid::from_uuid(&kid.to_uuid()), Ok(kid));
        assert_eq!(Kid::from_base64url(&kid.to_base64url()), Ok(kid));
        assert!(Kid::from_hex("0123").is_err());
        assert!(Kid::from_hex("zz23456789abcdeffedcba9876543210").is_err());
        assert!(Kid::from_uuid("0123456789abcdeffedcba9876543210").is_err());
        assert!(Kid::from_base64url("AAAA").is_err());
    }

    #[test]
    fn system_ids_are_the_registered_uuids() {
        assert_eq!(
            DrmSystem::Widevine.system_id_uuid(),
            "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
        );
        assert_eq!(
            DrmSystem::PlayReady.system_id_uuid(),
            "9a04f079-9840-4286-ab92-e65be0885f95"
        );
        assert_eq!(
            DrmSystem::FairPlay.system_id_uuid(),
            "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"
        );
        assert_eq!(
            DrmSystem::ClearKey.system_id_uuid(),
            "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"
        );
        for s in DrmSystem::ALL {
            assert_eq!(DrmSystem::from_system_id(&s.system_id()), Some(s));
            assert_eq!(s.name().parse::<DrmSystem>(), Ok(s));
        }
        assert_eq!(" PlayReady ".parse::<DrmSystem>(), Ok(DrmSystem::PlayReady));
        let err = "primetime".parse::<DrmSystem>().unwrap_err().to_string();
        assert!(
            err.contains("primetime") && err.contains("widevine"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = ContentKey {
            kid: Kid([1; 16]),
            key: [0xab; 16],
        };
        let shown = format!("{k:?}");
        assert!(
            !shown.contains("ab, ") && !shown.contains("abab"),
            "{shown}"
        );
        assert!(shown.contains("01010101-"));
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
}
