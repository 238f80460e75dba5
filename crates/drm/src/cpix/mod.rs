//! CPIX 2.3 documents (DASH-IF "Content Protection Information Exchange Format" 2.3) as
//! SPEKE v2.0 exchanges them: the encryptor sends the document with KIDs, DRM systems and
//! usage rules but no values; the key provider returns the same document with the keys
//! (`pskc:PlainValue`) and each system's signalling filled in.
//!
//! Reading is namespace-aware: elements are matched by namespace URI and local name, so
//! any prefix (or a default namespace) is accepted. Documents over 1 MiB are refused
//! before parsing. Key encryption (`DeliveryDataList`, `pskc:EncryptedValue`) is not
//! supported: keys travel in the clear inside HTTPS, as SPEKE allows.
//!
//! The document types and errors are here; `write` makes the request and response
//! documents, `read` parses them and checks a response against its request.

mod read;
mod write;

use crate::keys::{ContentKey, Kid, Scheme, TrackType};
use crate::pssh::DrmSystem;
use crate::signaling::DrmSignaling;

/// The CPIX namespace.
pub const CPIX_NS: &str = "urn:dashif:org:cpix";
/// The PSKC namespace (RFC 6030), for the key values.
pub const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
/// The CPIX version SPEKE v2.0 uses (`CPIX@version`).
pub const CPIX_VERSION: &str = "2.3";
/// Largest CPIX document read.
pub const MAX_DOCUMENT_LEN: usize = 1024 * 1024;
/// Most content keys in one document.
pub const MAX_KEYS: usize = 64;
/// Most `DRMSystem` elements in one document (every key for every system, and spare).
pub const MAX_DRM_SYSTEMS: usize = 1024;
/// Most usage rules and key periods in one document, each.
pub const MAX_RULES: usize = 1024;

/// Video filter bounds written for our track types. openvod classes renditions by their
/// short side (`TrackType::for_video`); CPIX filters count pixels, so these are the
/// classes' 16:9 sizes: SD below 1280x720, HD up to 1920x1080, UHD above.
const HD_MIN_PIXELS: u64 = 1280 * 720;
const HD_MAX_PIXELS: u64 = 1920 * 1080;

/// What is wrong with a CPIX document. Each names the element or KID at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpixError {
    #[error("CPIX document of {len} bytes is over the {MAX_DOCUMENT_LEN}-byte limit")]
    TooLarge { len: usize },
    #[error("CPIX document is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the root element is not cpix:CPIX in namespace {CPIX_NS}")]
    NotCpix,
    #[error("CPIX@version is {0:?}; SPEKE v2.0 uses CPIX 2.3")]
    UnsupportedVersion(Option<String>),
    #[error("CPIX@contentId is missing")]
    MissingContentId,
    #[error("CPIX@contentId: {0}")]
    InvalidContentId(&'static str),
    #[error("the response is for content id {got:?}, the request for {expected:?}")]
    ContentIdMismatch { expected: String, got: String },
    #[error("encrypted key delivery (cpix:DeliveryDataList) is not supported; keys travel in pskc:PlainValue over HTTPS")]
    DeliveryDataUnsupported,
    #[error("cpix:ContentKeyList is missing")]
    MissingContentKeyList,
    #[error("cpix:ContentKeyList has no cpix:ContentKey")]
    NoContentKeys,
    #[error("more than {MAX_KEYS} content keys in one document")]
    TooManyKeys,
    #[error("too many {0} elements")]
    TooManyElements(&'static str),
    #[error("cpix:{element} has no {attribute} attribute")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("cpix:{element}@{attribute} {value:?} is not a UUID")]
    InvalidUuid {
        element: &'static str,
        attribute: &'static str,
        value: String,
    },
    #[error("KID {0} appears twice in cpix:ContentKeyList")]
    DuplicateKid(Kid),
    #[error("content key {kid}: commonEncryptionScheme {value:?} is not supported (cenc or cbcs)")]
    UnsupportedScheme { kid: Kid, value: String },
    #[error(
        "content key {kid}: the response says scheme {got}, the request asked for {requested}"
    )]
    SchemeMismatch {
        kid: Kid,
        requested: Scheme,
        got: String,
    },
    #[error("the request carries a key value for KID {0}; the key provider makes the keys")]
    KeyValueInRequest(Kid),
    #[error("the response has no key for requested KID {0}")]
    MissingKid(Kid),
    #[error("the response has a key for KID {0}, which was not requested")]
    UnexpectedKid(Kid),
    #[error("the key for KID {0} has no pskc:PlainValue")]
    MissingKeyValue(Kid),
    #[error("the key for KID {0} is encrypted (pskc:EncryptedValue), which is not supported")]
    EncryptedKey(Kid),
    #[error("the key for KID {0} is not base64")]
    KeyNotBase64(Kid),
    #[error("the key for KID {kid} is {len} bytes, not 16")]
    KeyLength { kid: Kid, len: usize },
    #[error("cpix:DRMSystem for KID {0}, which has no cpix:ContentKey")]
    DrmSystemForUnknownKid(Kid),
    #[error("DRM system {0} is not supported (widevine, playready, fairplay, clearkey)")]
    UnsupportedSystem(String),
    #[error("cpix:DRMSystem for KID {kid} and {system} appears twice")]
    DuplicateDrmSystem { kid: Kid, system: DrmSystem },
    #[error("the response has no cpix:DRMSystem for KID {kid} and {system}")]
    MissingDrmSystem { kid: Kid, system: DrmSystem },
    #[error("cpix:DRMSystem for KID {kid} and {system}: {element} is missing")]
    MissingSignaling {
        kid: Kid,
        system: DrmSystem,
        element: &'static str,
    },
    #[error("cpix:DRMSystem for KID {kid} and {system}: {element} is not base64")]
    NotBase64 {
        kid: Kid,
        system: DrmSystem,
        element: &'static str,
    },
    #[error("cpix:DRMSystem for KID {kid} and {system}: {element} is not UTF-8 text")]
    NotUtf8 {
        kid: Kid,
        system: DrmSystem,
        element: &'static str,
    },
    #[error("cpix:DRMSystem for KID {kid} and {system}: PSSH is not a pssh box ({reason})")]
    NotPsshBox {
        kid: Kid,
        system: DrmSystem,
        reason: String,
    },
    #[error("cpix:HLSSignalingData@playlist {0:?} is neither media nor master")]
    InvalidPlaylist(String),
    #[error("cpix:ContentKeyUsageRule for KID {0}, which has no cpix:ContentKey")]
    UsageRuleForUnknownKid(Kid),
    #[error("cpix:{element}@{attribute} {value:?} is not a valid value")]
    InvalidAttribute {
        element: &'static str,
        attribute: &'static str,
        value: String,
    },
}

/// `cpix:VideoFilter` (CPIX 2.3 clause 5.3.8.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoFilter {
    pub min_pixels: Option<u64>,
    pub max_pixels: Option<u64>,
    pub hdr: Option<bool>,
    pub min_fps: Option<u32>,
    pub max_fps: Option<u32>,
}

/// `cpix:AudioFilter` (CPIX 2.3 clause 5.3.8.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioFilter {
    pub min_channels: Option<u32>,
    pub max_channels: Option<u32>,
}

/// One filter of a usage rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageFilter {
    Video(VideoFilter),
    Audio(AudioFilter),
    /// `cpix:KeyPeriodFilter@periodId` (key rotation).
    KeyPeriod(String),
}

/// `cpix:ContentKeyPeriod`, kept so a key provider can echo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPeriod {
    pub id: String,
    pub index: Option<u64>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// One key the encryptor asks for, with its usage rule (the SPEKE v2 encryption
/// contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedKey {
    pub kid: Kid,
    pub scheme: Scheme,
    /// `ContentKeyUsageRule@intendedTrackType`, e.g. "AUDIO", "HD", "ALL".
    pub intended_track_type: Option<String>,
    pub filters: Vec<UsageFilter>,
}

impl RequestedKey {
    /// A key for one of openvod's track types, with the matching filter.
    pub fn for_track(kid: Kid, track: TrackType, scheme: Scheme) -> RequestedKey {
        let filter = match track {
            TrackType::Audio => UsageFilter::Audio(AudioFilter::default()),
            TrackType::Sd => UsageFilter::Video(VideoFilter {
                max_pixels: Some(HD_MIN_PIXELS - 1),
                ..VideoFilter::default()
            }),
            TrackType::Hd => UsageFilter::Video(VideoFilter {
                min_pixels: Some(HD_MIN_PIXELS),
                max_pixels: Some(HD_MAX_PIXELS),
                ..VideoFilter::default()
            }),
            TrackType::Uhd => UsageFilter::Video(VideoFilter {
                min_pixels: Some(HD_MAX_PIXELS + 1),
                ..VideoFilter::default()
            }),
        };
        RequestedKey {
            kid,
            scheme,
            intended_track_type: Some(track.as_str().to_string()),
            filters: vec![filter],
        }
    }

    /// One key for every audio and video track: "ALL" with an unbounded filter of each
    /// kind (SPEKE v2 encryption contract).
    pub fn for_all_tracks(kid: Kid, scheme: Scheme) -> RequestedKey {
        RequestedKey {
            kid,
            scheme,
            intended_track_type: Some("ALL".to_string()),
            filters: vec![
                UsageFilter::Video(VideoFilter::default()),
                UsageFilter::Audio(AudioFilter::default()),
            ],
        }
    }

    /// The track type a key provider files this key under.
    pub fn track_type(&self) -> TrackType {
        TrackType::from_intended_track_type(self.intended_track_type.as_deref())
    }
}

/// A SPEKE v2.0 request: which keys, for which DRM systems. Every key is asked for every
/// system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpixRequest {
    pub content_id: String,
    pub keys: Vec<RequestedKey>,
    pub systems: Vec<DrmSystem>,
    pub periods: Vec<KeyPeriod>,
}

/// A SPEKE v2.0 response: the request with the keys and the signalling filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpixResponse {
    pub request: CpixRequest,
    /// One per requested key, in the request's order.
    pub keys: Vec<ContentKey>,
    /// Per KID and requested system.
    pub signaling: Vec<DrmSignaling>,
}

impl CpixResponse {
    pub fn key(&self, kid: Kid) -> Option<&ContentKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn signaling(&self, kid: Kid, system: DrmSystem) -> Option<&DrmSignaling> {
        self.signaling
            .iter()
            .find(|s| s.kid == kid && s.system == system)
    }
}
