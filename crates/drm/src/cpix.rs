//! CPIX 2.3 documents (DASH-IF "Content Protection Information Exchange Format" 2.3) as
//! SPEKE v2.0 exchanges them: the encryptor sends the document with KIDs, DRM systems and
//! usage rules but no values; the key provider returns the same document with the keys
//! (`pskc:PlainValue`) and each system's signalling filled in.
//!
//! Reading is namespace-aware: elements are matched by namespace URI and local name, so
//! any prefix (or a default namespace) is accepted. Documents over 1 MiB are refused
//! before parsing. Key encryption (`DeliveryDataList`, `pskc:EncryptedValue`) is not
//! supported: keys travel in the clear inside HTTPS, as SPEKE allows.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use crate::keys::{
    parse_uuid, uuid_string, ContentKey, Kid, Scheme, TrackType, MAX_CONTENT_ID_LEN,
};
use crate::pssh::{parse_pssh_box, DrmSystem};
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

impl CpixError {
    fn not_xml(e: impl std::fmt::Display) -> CpixError {
        CpixError::NotXml(e.to_string())
    }
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

fn check_content_id(id: &str) -> Result<(), CpixError> {
    if id.is_empty() {
        Err(CpixError::MissingContentId)
    } else if id.len() > MAX_CONTENT_ID_LEN {
        Err(CpixError::InvalidContentId("longer than 256 bytes"))
    } else if id.chars().any(char::is_control) {
        Err(CpixError::InvalidContentId("contains control characters"))
    } else {
        Ok(())
    }
}

/// The `DRMSystem` children a request asks to be filled for a system, as
/// (element, HLS playlist).
fn requested_parts(system: DrmSystem) -> &'static [(&'static str, Option<&'static str>)] {
    const PSSH: (&str, Option<&str>) = ("PSSH", None);
    const CPD: (&str, Option<&str>) = ("ContentProtectionData", None);
    const HLS_MEDIA: (&str, Option<&str>) = ("HLSSignalingData", Some("media"));
    const HLS_MASTER: (&str, Option<&str>) = ("HLSSignalingData", Some("master"));
    match system {
        DrmSystem::FairPlay => &[HLS_MEDIA, HLS_MASTER],
        DrmSystem::Widevine | DrmSystem::PlayReady => &[PSSH, CPD, HLS_MEDIA, HLS_MASTER],
        DrmSystem::ClearKey => &[PSSH, CPD],
    }
}

// ---- writing ----

fn open_document(out: &mut String, content_id: &str) {
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\" contentId=\"{}\" version=\"{CPIX_VERSION}\">",
        escape(content_id)
    );
}

fn write_filter(out: &mut String, filter: &UsageFilter) {
    fn attr<T: std::fmt::Display>(out: &mut String, name: &str, value: Option<T>) {
        if let Some(v) = value {
            let _ = write!(out, " {name}=\"{}\"", escape(v.to_string()));
        }
    }
    match filter {
        UsageFilter::Video(v) => {
            out.push_str("      <cpix:VideoFilter");
            attr(out, "minPixels", v.min_pixels);
            attr(out, "maxPixels", v.max_pixels);
            attr(out, "hdr", v.hdr);
            attr(out, "minFps", v.min_fps);
            attr(out, "maxFps", v.max_fps);
            out.push_str("/>\n");
        }
        UsageFilter::Audio(a) => {
            out.push_str("      <cpix:AudioFilter");
            attr(out, "minChannels", a.min_channels);
            attr(out, "maxChannels", a.max_channels);
            out.push_str("/>\n");
        }
        UsageFilter::KeyPeriod(id) => {
            let _ = writeln!(
                out,
                "      <cpix:KeyPeriodFilter periodId=\"{}\"/>",
                escape(id.as_str())
            );
        }
    }
}

/// The period and usage rule lists, the same in request and response.
fn write_rules(out: &mut String, request: &CpixRequest) {
    if !request.periods.is_empty() {
        out.push_str("  <cpix:ContentKeyPeriodList>\n");
        for p in &request.periods {
            let _ = write!(
                out,
                "    <cpix:ContentKeyPeriod id=\"{}\"",
                escape(p.id.as_str())
            );
            if let Some(index) = p.index {
                let _ = write!(out, " index=\"{index}\"");
            }
            if let Some(start) = &p.start {
                let _ = write!(out, " start=\"{}\"", escape(start.as_str()));
            }
            if let Some(end) = &p.end {
                let _ = write!(out, " end=\"{}\"", escape(end.as_str()));
            }
            out.push_str("/>\n");
        }
        out.push_str("  </cpix:ContentKeyPeriodList>\n");
    }
    let rules: Vec<&RequestedKey> = request
        .keys
        .iter()
        .filter(|k| k.intended_track_type.is_some() || !k.filters.is_empty())
        .collect();
    if rules.is_empty() {
        return;
    }
    out.push_str("  <cpix:ContentKeyUsageRuleList>\n");
    for key in rules {
        let _ = write!(out, "    <cpix:ContentKeyUsageRule kid=\"{}\"", key.kid);
        if let Some(t) = &key.intended_track_type {
            let _ = write!(out, " intendedTrackType=\"{}\"", escape(t.as_str()));
        }
        out.push_str(">\n");
        for filter in &key.filters {
            write_filter(out, filter);
        }
        out.push_str("    </cpix:ContentKeyUsageRule>\n");
    }
    out.push_str("  </cpix:ContentKeyUsageRuleList>\n");
}

impl CpixRequest {
    /// The request document: keys without values, and for every key and system the
    /// `DRMSystem` children to fill.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        open_document(&mut out, &self.content_id);
        out.push_str("  <cpix:ContentKeyList>\n");
        for key in &self.keys {
            let _ = writeln!(
                out,
                "    <cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"{}\"/>",
                key.kid, key.scheme
            );
        }
        out.push_str("  </cpix:ContentKeyList>\n");
        if !self.systems.is_empty() {
            out.push_str("  <cpix:DRMSystemList>\n");
            for key in &self.keys {
                for system in &self.systems {
                    let _ = writeln!(
                        out,
                        "    <cpix:DRMSystem kid=\"{}\" systemId=\"{}\">",
                        key.kid,
                        system.system_id_uuid()
                    );
                    for (element, playlist) in requested_parts(*system) {
                        match playlist {
                            Some(p) => {
                                let _ = writeln!(out, "      <cpix:{element} playlist=\"{p}\"/>");
                            }
                            None => {
                                let _ = writeln!(out, "      <cpix:{element}/>");
                            }
                        }
                    }
                    out.push_str("    </cpix:DRMSystem>\n");
                }
            }
            out.push_str("  </cpix:DRMSystemList>\n");
        }
        write_rules(&mut out, self);
        out.push_str("</cpix:CPIX>\n");
        out
    }

    /// Reads a request (the key provider's side): CPIX 2.3, plain keys only, every
    /// `DRMSystem` and usage rule for a listed KID, every system one openvod supports.
    pub fn parse(xml: &[u8]) -> Result<CpixRequest, CpixError> {
        let doc = Document::parse(xml)?;
        doc.check_header()?;
        let content_id = doc.content_id.clone().unwrap_or_default();
        let mut keys: Vec<RequestedKey> = Vec::with_capacity(doc.keys.len());
        for k in &doc.keys {
            if keys.iter().any(|r| r.kid == k.kid) {
                return Err(CpixError::DuplicateKid(k.kid));
            }
            if k.has_data {
                return Err(CpixError::KeyValueInRequest(k.kid));
            }
            let scheme = k.scheme(None)?;
            keys.push(RequestedKey {
                kid: k.kid,
                scheme,
                intended_track_type: None,
                filters: Vec::new(),
            });
        }
        let mut systems: Vec<DrmSystem> = Vec::new();
        for s in &doc.systems {
            if !keys.iter().any(|k| k.kid == s.kid) {
                return Err(CpixError::DrmSystemForUnknownKid(s.kid));
            }
            let system = DrmSystem::from_system_id(&s.system_id)
                .ok_or_else(|| CpixError::UnsupportedSystem(uuid_string(&s.system_id)))?;
            if !systems.contains(&system) {
                systems.push(system);
            }
        }
        for rule in &doc.rules {
            let key = keys
                .iter_mut()
                .find(|k| k.kid == rule.kid)
                .ok_or(CpixError::UsageRuleForUnknownKid(rule.kid))?;
            if key.intended_track_type.is_none() {
                key.intended_track_type = rule.intended_track_type.clone();
            }
            key.filters.extend(rule.filters.iter().cloned());
        }
        Ok(CpixRequest {
            content_id,
            keys,
            systems,
            periods: doc.periods,
        })
    }
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

    /// The response document (the key provider's side).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        open_document(&mut out, &self.request.content_id);
        out.push_str("  <cpix:ContentKeyList>\n");
        for requested in &self.request.keys {
            let _ = write!(
                out,
                "    <cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"{}\">",
                requested.kid, requested.scheme
            );
            if let Some(key) = self.key(requested.kid) {
                let _ = write!(
                    out,
                    "<cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data>",
                    BASE64.encode(key.key)
                );
            }
            out.push_str("</cpix:ContentKey>\n");
        }
        out.push_str("  </cpix:ContentKeyList>\n");
        if !self.signaling.is_empty() {
            out.push_str("  <cpix:DRMSystemList>\n");
            for s in &self.signaling {
                let _ = writeln!(
                    out,
                    "    <cpix:DRMSystem kid=\"{}\" systemId=\"{}\">",
                    s.kid,
                    s.system.system_id_uuid()
                );
                if let Some(pssh) = &s.pssh {
                    let _ = writeln!(out, "      <cpix:PSSH>{}</cpix:PSSH>", BASE64.encode(pssh));
                }
                if let Some(cpd) = &s.content_protection_data {
                    let _ = writeln!(
                        out,
                        "      <cpix:ContentProtectionData>{}</cpix:ContentProtectionData>",
                        BASE64.encode(cpd)
                    );
                }
                for (playlist, line) in [("media", &s.hls_media), ("master", &s.hls_master)] {
                    if let Some(line) = line {
                        let _ = writeln!(
                            out,
                            "      <cpix:HLSSignalingData playlist=\"{playlist}\">{}</cpix:HLSSignalingData>",
                            BASE64.encode(line)
                        );
                    }
                }
                if let Some(header) = &s.smooth_streaming_header {
                    let _ = writeln!(
                        out,
                        "      <cpix:SmoothStreamingProtectionHeaderData>{}</cpix:SmoothStreamingProtectionHeaderData>",
                        escape(header.as_str())
                    );
                }
                out.push_str("    </cpix:DRMSystem>\n");
            }
            out.push_str("  </cpix:DRMSystemList>\n");
        }
        write_rules(&mut out, &self.request);
        out.push_str("</cpix:CPIX>\n");
        out
    }

    /// Reads a key provider's response to `request`: the same content id, exactly the
    /// requested KIDs, each with a 16-byte key, and for every requested system the
    /// signalling a packager cannot do without (the `pssh` box; for FairPlay the media
    /// playlist key line). Systems that were not requested are ignored.
    pub fn parse(xml: &[u8], request: &CpixRequest) -> Result<CpixResponse, CpixError> {
        let doc = Document::parse(xml)?;
        doc.check_header()?;
        let content_id = doc.content_id.clone().unwrap_or_default();
        if content_id != request.content_id {
            return Err(CpixError::ContentIdMismatch {
                expected: request.content_id.clone(),
                got: content_id,
            });
        }
        let mut keys: Vec<ContentKey> = Vec::with_capacity(request.keys.len());
        for k in &doc.keys {
            let Some(requested) = request.keys.iter().find(|r| r.kid == k.kid) else {
                return Err(CpixError::UnexpectedKid(k.kid));
            };
            if keys.iter().any(|have| have.kid == k.kid) {
                return Err(CpixError::DuplicateKid(k.kid));
            }
            k.scheme(Some(requested.scheme))?;
            keys.push(k.key_value()?);
        }
        let keys: Vec<ContentKey> = request
            .keys
            .iter()
            .map(|r| {
                keys.iter()
                    .find(|k| k.kid == r.kid)
                    .cloned()
                    .ok_or(CpixError::MissingKid(r.kid))
            })
            .collect::<Result<_, _>>()?;

        let mut signaling: Vec<DrmSignaling> = Vec::new();
        for s in &doc.systems {
            if !keys.iter().any(|k| k.kid == s.kid) {
                return Err(CpixError::DrmSystemForUnknownKid(s.kid));
            }
            let Some(system) = DrmSystem::from_system_id(&s.system_id) else {
                continue;
            };
            if !request.systems.contains(&system) {
                continue;
            }
            if signaling
                .iter()
                .any(|d| d.kid == s.kid && d.system == system)
            {
                return Err(CpixError::DuplicateDrmSystem { kid: s.kid, system });
            }
            signaling.push(s.decode(system)?);
        }
        for key in &request.keys {
            for &system in &request.systems {
                let Some(s) = signaling
                    .iter()
                    .find(|d| d.kid == key.kid && d.system == system)
                else {
                    return Err(CpixError::MissingDrmSystem {
                        kid: key.kid,
                        system,
                    });
                };
                let (present, element) = match system {
                    DrmSystem::FairPlay => {
                        (s.hls_media.is_some(), "HLSSignalingData playlist=\"media\"")
                    }
                    _ => (s.pssh.is_some(), "PSSH"),
                };
                if !present {
                    return Err(CpixError::MissingSignaling {
                        kid: key.kid,
                        system,
                        element,
                    });
                }
            }
        }
        Ok(CpixResponse {
            request: request.clone(),
            keys,
            signaling,
        })
    }
}

// ---- reading ----

/// One `cpix:ContentKey` as read.
#[derive(Debug)]
struct DocKey {
    kid: Kid,
    scheme: Option<String>,
    has_data: bool,
    plain_value: Option<String>,
    encrypted: bool,
}

impl DocKey {
    /// The scheme, which must match `requested` when there is one (a response may leave
    /// it out).
    fn scheme(&self, requested: Option<Scheme>) -> Result<Scheme, CpixError> {
        let Some(value) = &self.scheme else {
            return requested.ok_or(CpixError::MissingAttribute {
                element: "ContentKey",
                attribute: "commonEncryptionScheme",
            });
        };
        let scheme = value
            .parse::<Scheme>()
            .map_err(|_| CpixError::UnsupportedScheme {
                kid: self.kid,
                value: value.chars().take(32).collect(),
            })?;
        match requested {
            Some(r) if r != scheme => Err(CpixError::SchemeMismatch {
                kid: self.kid,
                requested: r,
                got: value.clone(),
            }),
            _ => Ok(scheme),
        }
    }

    fn key_value(&self) -> Result<ContentKey, CpixError> {
        if self.encrypted {
            return Err(CpixError::EncryptedKey(self.kid));
        }
        let text = match &self.plain_value {
            Some(t) if !t.is_empty() => t,
            _ => return Err(CpixError::MissingKeyValue(self.kid)),
        };
        let bytes = decode_base64(text).ok_or(CpixError::KeyNotBase64(self.kid))?;
        let key = <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| CpixError::KeyLength {
            kid: self.kid,
            len: bytes.len(),
        })?;
        Ok(ContentKey { kid: self.kid, key })
    }
}

/// One `cpix:DRMSystem` as read, values still base64.
#[derive(Debug)]
struct DocSystem {
    kid: Kid,
    system_id: [u8; 16],
    pssh: Option<String>,
    content_protection_data: Option<String>,
    hls_media: Option<String>,
    hls_master: Option<String>,
    smooth_streaming_header: Option<String>,
}

impl DocSystem {
    fn decode(&self, system: DrmSystem) -> Result<DrmSignaling, CpixError> {
        let kid = self.kid;
        let bytes =
            |text: &Option<String>, element: &'static str| -> Result<Option<Vec<u8>>, CpixError> {
                match text.as_deref() {
                    None | Some("") => Ok(None),
                    Some(t) => decode_base64(t).map(Some).ok_or(CpixError::NotBase64 {
                        kid,
                        system,
                        element,
                    }),
                }
            };
        let text =
            |value: &Option<String>, element: &'static str| -> Result<Option<String>, CpixError> {
                bytes(value, element)?
                    .map(|b| {
                        String::from_utf8(b).map_err(|_| CpixError::NotUtf8 {
                            kid,
                            system,
                            element,
                        })
                    })
                    .transpose()
            };
        let pssh = bytes(&self.pssh, "PSSH")?;
        if let Some(b) = &pssh {
            parse_pssh_box(b).map_err(|e| CpixError::NotPsshBox {
                kid,
                system,
                reason: e.to_string(),
            })?;
        }
        let smooth_streaming_header = match self.smooth_streaming_header.as_deref() {
            None | Some("") => None,
            Some(t) => {
                decode_base64(t).ok_or(CpixError::NotBase64 {
                    kid,
                    system,
                    element: "SmoothStreamingProtectionHeaderData",
                })?;
                Some(t.chars().filter(|c| !c.is_ascii_whitespace()).collect())
            }
        };
        Ok(DrmSignaling {
            kid,
            system,
            pssh,
            content_protection_data: text(&self.content_protection_data, "ContentProtectionData")?,
            hls_media: text(&self.hls_media, "HLSSignalingData playlist=\"media\"")?,
            hls_master: text(&self.hls_master, "HLSSignalingData playlist=\"master\"")?,
            smooth_streaming_header,
        })
    }
}

#[derive(Debug)]
struct DocRule {
    kid: Kid,
    intended_track_type: Option<String>,
    filters: Vec<UsageFilter>,
}

/// Where the text of the element being read goes.
#[derive(Debug, Clone, Copy)]
enum TextTarget {
    PlainValue(usize),
    Pssh(usize),
    ContentProtectionData(usize),
    HlsMedia(usize),
    HlsMaster(usize),
    SmoothStreaming(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Cpix,
    Pskc,
    Other,
}

/// The parts of a CPIX document openvod reads, before any check against a request.
#[derive(Debug, Default)]
struct Document {
    content_id: Option<String>,
    version: Option<String>,
    has_key_list: bool,
    has_delivery_data: bool,
    keys: Vec<DocKey>,
    systems: Vec<DocSystem>,
    periods: Vec<KeyPeriod>,
    rules: Vec<DocRule>,
}

/// Base64 (standard alphabet, padded), ignoring the whitespace XML may wrap it in.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok()
}

/// The unprefixed attributes of an element, unescaped.
fn attributes(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, CpixError> {
    let mut out = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(CpixError::not_xml)?;
        let name = attr.key.as_ref();
        if name.contains(&b':') || name == b"xmlns" {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::default())
            .map_err(CpixError::not_xml)?;
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(out)
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim())
}

fn required_uuid(
    attrs: &[(String, String)],
    element: &'static str,
    attribute: &'static str,
) -> Result<[u8; 16], CpixError> {
    let value = attr(attrs, attribute).ok_or(CpixError::MissingAttribute { element, attribute })?;
    parse_uuid(value).ok_or_else(|| CpixError::InvalidUuid {
        element,
        attribute,
        value: value.chars().take(48).collect(),
    })
}

fn number<T: std::str::FromStr>(
    attrs: &[(String, String)],
    element: &'static str,
    attribute: &'static str,
) -> Result<Option<T>, CpixError> {
    attr(attrs, attribute)
        .map(|v| {
            v.parse::<T>().map_err(|_| CpixError::InvalidAttribute {
                element,
                attribute,
                value: v.chars().take(32).collect(),
            })
        })
        .transpose()
}

fn boolean(
    attrs: &[(String, String)],
    element: &'static str,
    attribute: &'static str,
) -> Result<Option<bool>, CpixError> {
    attr(attrs, attribute)
        .map(|v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(CpixError::InvalidAttribute {
                element,
                attribute,
                value: v.chars().take(32).collect(),
            }),
        })
        .transpose()
}

impl Document {
    fn check_header(&self) -> Result<(), CpixError> {
        if self.version.as_deref() != Some(CPIX_VERSION) {
            return Err(CpixError::UnsupportedVersion(self.version.clone()));
        }
        check_content_id(self.content_id.as_deref().unwrap_or(""))?;
        if self.has_delivery_data {
            return Err(CpixError::DeliveryDataUnsupported);
        }
        if !self.has_key_list {
            return Err(CpixError::MissingContentKeyList);
        }
        if self.keys.is_empty() {
            return Err(CpixError::NoContentKeys);
        }
        Ok(())
    }

    fn parse(xml: &[u8]) -> Result<Document, CpixError> {
        if xml.len() > MAX_DOCUMENT_LEN {
            return Err(CpixError::TooLarge { len: xml.len() });
        }
        let text = std::str::from_utf8(xml).map_err(|_| CpixError::NotXml("not UTF-8".into()))?;
        let mut reader = NsReader::from_str(text);
        let mut doc = Document::default();
        let mut stack: Vec<(Ns, String)> = Vec::new();
        let mut root_seen = false;
        let mut capture: Option<(usize, TextTarget)> = None;
        let mut buffer = String::new();
        loop {
            let event = reader.read_event().map_err(CpixError::not_xml)?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let ns = match reader.resolver().resolve_element(e.name()).0 {
                        ResolveResult::Bound(Namespace(n)) if n == CPIX_NS.as_bytes() => Ns::Cpix,
                        ResolveResult::Bound(Namespace(n)) if n == PSKC_NS.as_bytes() => Ns::Pskc,
                        _ => Ns::Other,
                    };
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if stack.is_empty() {
                        if root_seen {
                            return Err(CpixError::NotXml("more than one root element".into()));
                        }
                        root_seen = true;
                    }
                    let target = doc.start(&stack, ns, &local, &attributes(e)?)?;
                    let empty = matches!(event, Event::Empty(_));
                    if let Some(target) = target {
                        if empty {
                            doc.set_text(target, String::new());
                        } else {
                            capture = Some((stack.len(), target));
                            buffer.clear();
                        }
                    }
                    if !empty {
                        stack.push((ns, local));
                    }
                }
                Event::End(_) => {
                    stack.pop();
                    if let Some((depth, target)) = capture {
                        if depth == stack.len() {
                            doc.set_text(target, buffer.trim().to_string());
                            capture = None;
                        }
                    }
                }
                Event::Text(t) => {
                    if capture.is_some() {
                        buffer.push_str(&t.decode().map_err(CpixError::not_xml)?);
                    }
                }
                Event::CData(t) => {
                    if capture.is_some() {
                        buffer.push_str(&t.decode().map_err(CpixError::not_xml)?);
                    }
                }
                Event::GeneralRef(r) => {
                    let c = if r.is_char_ref() {
                        r.resolve_char_ref().map_err(CpixError::not_xml)?
                    } else {
                        match r.decode().map_err(CpixError::not_xml)?.as_ref() {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        }
                    };
                    let c =
                        c.ok_or_else(|| CpixError::NotXml("unknown entity reference".into()))?;
                    if capture.is_some() {
                        buffer.push(c);
                    }
                }
                Event::DocType(_) => {
                    return Err(CpixError::NotXml("a DOCTYPE is not allowed".into()));
                }
                Event::Eof => break,
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
        if !stack.is_empty() {
            return Err(CpixError::NotXml(
                "the document ends inside an element".into(),
            ));
        }
        if !root_seen {
            return Err(CpixError::NotXml("no root element".into()));
        }
        Ok(doc)
    }

    /// Handles a start tag under `parents`; returns where its text goes, if anywhere.
    fn start(
        &mut self,
        parents: &[(Ns, String)],
        ns: Ns,
        local: &str,
        attrs: &[(String, String)],
    ) -> Result<Option<TextTarget>, CpixError> {
        let path: Vec<(Ns, &str)> = parents.iter().map(|(n, l)| (*n, l.as_str())).collect();
        use Ns::{Cpix, Pskc};
        const ROOT: (Ns, &str) = (Cpix, "CPIX");
        match (path.as_slice(), ns, local) {
            ([], Cpix, "CPIX") => {
                self.content_id = attr(attrs, "contentId").map(str::to_string);
                self.version = attr(attrs, "version").map(str::to_string);
            }
            ([], _, _) => return Err(CpixError::NotCpix),
            ([ROOT], Cpix, "ContentKeyList") => self.has_key_list = true,
            ([ROOT], Cpix, "DeliveryDataList") => self.has_delivery_data = true,
            ([ROOT, (Cpix, "ContentKeyList")], Cpix, "ContentKey") => {
                if self.keys.len() == MAX_KEYS {
                    return Err(CpixError::TooManyKeys);
                }
                let kid = Kid(required_uuid(attrs, "ContentKey", "kid")?);
                self.keys.push(DocKey {
                    kid,
                    scheme: attr(attrs, "commonEncryptionScheme").map(str::to_string),
                    has_data: false,
                    plain_value: None,
                    encrypted: false,
                });
            }
            ([ROOT, (Cpix, "ContentKeyList"), (Cpix, "ContentKey")], Cpix, "Data") => {
                if let Some(key) = self.keys.last_mut() {
                    key.has_data = true;
                }
            }
            (
                [ROOT, (Cpix, "ContentKeyList"), (Cpix, "ContentKey"), (Cpix, "Data"), (Pskc, "Secret")],
                Pskc,
                name,
            ) => match name {
                "PlainValue" => {
                    return Ok(self.keys.len().checked_sub(1).map(TextTarget::PlainValue));
                }
                "EncryptedValue" => {
                    if let Some(key) = self.keys.last_mut() {
                        key.encrypted = true;
                    }
                }
                _ => {}
            },
            ([ROOT, (Cpix, "DRMSystemList")], Cpix, "DRMSystem") => {
                if self.systems.len() == MAX_DRM_SYSTEMS {
                    return Err(CpixError::TooManyElements("cpix:DRMSystem"));
                }
                let kid = Kid(required_uuid(attrs, "DRMSystem", "kid")?);
                let system_id = required_uuid(attrs, "DRMSystem", "systemId")?;
                self.systems.push(DocSystem {
                    kid,
                    system_id,
                    pssh: None,
                    content_protection_data: None,
                    hls_media: None,
                    hls_master: None,
                    smooth_streaming_header: None,
                });
            }
            ([ROOT, (Cpix, "DRMSystemList"), (Cpix, "DRMSystem")], Cpix, name) => {
                let Some(i) = self.systems.len().checked_sub(1) else {
                    return Ok(None);
                };
                return Ok(match name {
                    "PSSH" => Some(TextTarget::Pssh(i)),
                    "ContentProtectionData" => Some(TextTarget::ContentProtectionData(i)),
                    "SmoothStreamingProtectionHeaderData" => Some(TextTarget::SmoothStreaming(i)),
                    "HLSSignalingData" => match attr(attrs, "playlist") {
                        None | Some("media") => Some(TextTarget::HlsMedia(i)),
                        Some("master") => Some(TextTarget::HlsMaster(i)),
                        Some(other) => {
                            return Err(CpixError::InvalidPlaylist(
                                other.chars().take(32).collect(),
                            ))
                        }
                    },
                    _ => None,
                });
            }
            ([ROOT, (Cpix, "ContentKeyPeriodList")], Cpix, "ContentKeyPeriod") => {
                if self.periods.len() == MAX_RULES {
                    return Err(CpixError::TooManyElements("cpix:ContentKeyPeriod"));
                }
                let id = attr(attrs, "id").ok_or(CpixError::MissingAttribute {
                    element: "ContentKeyPeriod",
                    attribute: "id",
                })?;
                self.periods.push(KeyPeriod {
                    id: id.to_string(),
                    index: number(attrs, "ContentKeyPeriod", "index")?,
                    start: attr(attrs, "start").map(str::to_string),
                    end: attr(attrs, "end").map(str::to_string),
                });
            }
            ([ROOT, (Cpix, "ContentKeyUsageRuleList")], Cpix, "ContentKeyUsageRule") => {
                if self.rules.len() == MAX_RULES {
                    return Err(CpixError::TooManyElements("cpix:ContentKeyUsageRule"));
                }
                let kid = Kid(required_uuid(attrs, "ContentKeyUsageRule", "kid")?);
                self.rules.push(DocRule {
                    kid,
                    intended_track_type: attr(attrs, "intendedTrackType").map(str::to_string),
                    filters: Vec::new(),
                });
            }
            (
                [ROOT, (Cpix, "ContentKeyUsageRuleList"), (Cpix, "ContentKeyUsageRule")],
                Cpix,
                name,
            ) => {
                let filter = match name {
                    "VideoFilter" => UsageFilter::Video(VideoFilter {
                        min_pixels: number(attrs, "VideoFilter", "minPixels")?,
                        max_pixels: number(attrs, "VideoFilter", "maxPixels")?,
                        hdr: boolean(attrs, "VideoFilter", "hdr")?,
                        min_fps: number(attrs, "VideoFilter", "minFps")?,
                        max_fps: number(attrs, "VideoFilter", "maxFps")?,
                    }),
                    "AudioFilter" => UsageFilter::Audio(AudioFilter {
                        min_channels: number(attrs, "AudioFilter", "minChannels")?,
                        max_channels: number(attrs, "AudioFilter", "maxChannels")?,
                    }),
                    "KeyPeriodFilter" => UsageFilter::KeyPeriod(
                        attr(attrs, "periodId")
                            .ok_or(CpixError::MissingAttribute {
                                element: "KeyPeriodFilter",
                                attribute: "periodId",
                            })?
                            .to_string(),
                    ),
                    _ => return Ok(None),
                };
                if let Some(rule) = self.rules.last_mut() {
                    if rule.filters.len() == MAX_RULES {
                        return Err(CpixError::TooManyElements("usage rule filter"));
                    }
                    rule.filters.push(filter);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn set_text(&mut self, target: TextTarget, text: String) {
        let slot = match target {
            TextTarget::PlainValue(i) => self.keys.get_mut(i).map(|k| &mut k.plain_value),
            TextTarget::Pssh(i) => self.systems.get_mut(i).map(|s| &mut s.pssh),
            TextTarget::ContentProtectionData(i) => self
                .systems
                .get_mut(i)
                .map(|s| &mut s.content_protection_data),
            TextTarget::HlsMedia(i) => self.systems.get_mut(i).map(|s| &mut s.hls_media),
            TextTarget::HlsMaster(i) => self.systems.get_mut(i).map(|s| &mut s.hls_master),
            TextTarget::SmoothStreaming(i) => self
                .systems
                .get_mut(i)
                .map(|s| &mut s.smooth_streaming_header),
        };
        if let Some(slot) = slot {
            *slot = Some(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signaling::signaling_for;

    const KID_A: Kid = Kid([0xa0; 16]);
    const KID_V: Kid = Kid([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);

    fn request() -> CpixRequest {
        CpixRequest {
            content_id: "asset <1> & co".into(),
            keys: vec![
                RequestedKey::for_track(KID_A, TrackType::Audio, Scheme::Cbcs),
                RequestedKey::for_track(KID_V, TrackType::Hd, Scheme::Cbcs),
            ],
            systems: vec![DrmSystem::Widevine, DrmSystem::FairPlay],
            periods: Vec::new(),
        }
    }

    fn response() -> CpixResponse {
        let request = request();
        let keys = vec![
            ContentKey {
                kid: KID_A,
                key: [1; 16],
            },
            ContentKey {
                kid: KID_V,
                key: [2; 16],
            },
        ];
        let mut signaling = Vec::new();
        for k in &request.keys {
            for &s in &request.systems {
                signaling
                    .push(signaling_for(s, k.kid, k.scheme, &request.content_id, None).unwrap());
            }
        }
        CpixResponse {
            request,
            keys,
            signaling,
        }
    }

    #[test]
    fn a_request_reads_back_as_written() {
        let mut request = request();
        request.periods.push(KeyPeriod {
            id: "p1".into(),
            index: Some(3),
            start: None,
            end: None,
        });
        request.keys[1]
            .filters
            .push(UsageFilter::KeyPeriod("p1".into()));
        request
            .keys
            .push(RequestedKey::for_all_tracks(Kid([7; 16]), Scheme::Cenc));
        let xml = request.to_xml();
        assert!(
            xml.contains("contentId=\"asset &lt;1&gt; &amp; co\" version=\"2.3\""),
            "{xml}"
        );
        assert!(
            xml.contains("<cpix:ContentKey kid=\"00112233-4455-6677-8899-aabbccddeeff\" commonEncryptionScheme=\"cbcs\"/>"),
            "{xml}"
        );
        assert!(xml.contains("intendedTrackType=\"HD\""), "{xml}");
        assert!(
            xml.contains("<cpix:VideoFilter minPixels=\"921600\" maxPixels=\"2073600\"/>"),
            "{xml}"
        );
        assert_eq!(CpixRequest::parse(xml.as_bytes()).unwrap(), request);
    }

    #[test]
    fn any_prefix_or_default_namespace_is_read() {
        let xml = r#"<?xml version="1.0"?>
            <CPIX xmlns="urn:dashif:org:cpix" xmlns:k="urn:ietf:params:xml:ns:keyprov:pskc"
                  contentId="c1" version="2.3">
              <!-- comment -->
              <ContentKeyList>
                <ContentKey kid="00112233-4455-6677-8899-AABBCCDDEEFF" commonEncryptionScheme="cenc"/>
              </ContentKeyList>
              <x:DRMSystemList xmlns:x="urn:dashif:org:cpix">
                <x:DRMSystem kid="00112233-4455-6677-8899-aabbccddeeff"
                             systemId="EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED"><x:PSSH/></x:DRMSystem>
              </x:DRMSystemList>
              <ContentKeyUsageRuleList>
                <ContentKeyUsageRule kid="00112233-4455-6677-8899-aabbccddeeff" intendedTrackType="SD+HD1">
                  <VideoFilter maxPixels="2073600" hdr="false"/>
                </ContentKeyUsageRule>
              </ContentKeyUsageRuleList>
              <Extra xmlns="urn:example"><ContentKeyList/></Extra>
            </CPIX>"#;
        let request = CpixRequest::parse(xml.as_bytes()).unwrap();
        assert_eq!(request.content_id, "c1");
        assert_eq!(request.keys.len(), 1);
        assert_eq!(request.keys[0].kid, KID_V);
        assert_eq!(request.keys[0].scheme, Scheme::Cenc);
        assert_eq!(request.keys[0].track_type(), TrackType::Hd);
        assert_eq!(
            request.keys[0].filters,
            vec![UsageFilter::Video(VideoFilter {
                max_pixels: Some(2_073_600),
                hdr: Some(false),
                ..VideoFilter::default()
            })]
        );
        assert_eq!(request.systems, vec![DrmSystem::Widevine]);

        let wrong_ns = xml.replace(
            "xmlns=\"urn:dashif:org:cpix\"",
            "xmlns=\"urn:dashif:org:cpix:v1\"",
        );
        assert_eq!(
            CpixRequest::parse(wrong_ns.as_bytes()),
            Err(CpixError::NotCpix)
        );
    }

    #[test]
    fn a_response_reads_back_as_written() {
        let response = response();
        let xml = response.to_xml();
        assert!(
            xml.contains("<pskc:PlainValue>AQEBAQEBAQEBAQEBAQEBAQ==</pskc:PlainValue>"),
            "{xml}"
        );
        let parsed = CpixResponse::parse(xml.as_bytes(), &response.request).unwrap();
        assert_eq!(parsed, response);
        let fairplay = parsed.signaling(KID_V, DrmSystem::FairPlay).unwrap();
        assert!(fairplay
            .hls_media
            .as_deref()
            .unwrap()
            .contains("skd://00112233445566778899aabbccddeeff"));
    }

    #[test]
    fn base64_may_be_wrapped_and_other_systems_are_ignored() {
        let response = response();
        let key = "<pskc:PlainValue>AQEBAQEBAQEBAQEBAQEBAQ==</pskc:PlainValue>";
        let xml = response
            .to_xml()
            .replace(key, "<pskc:PlainValue>\n  AQEBAQEBAQEB\n  AQEBAQEBAQ==\n</pskc:PlainValue>")
            .replace(
                "</cpix:DRMSystemList>",
                "<cpix:DRMSystem kid=\"a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0\" systemId=\"81376844-f976-481e-a84e-cc25d39b0b33\"><cpix:PSSH>!!</cpix:PSSH></cpix:DRMSystem></cpix:DRMSystemList>",
            );
        let parsed = CpixResponse::parse(xml.as_bytes(), &response.request).unwrap();
        assert_eq!(parsed, response);
    }

    fn parse_changed(from: &str, to: &str) -> Result<CpixResponse, CpixError> {
        let response = response();
        let xml = response.to_xml();
        assert!(xml.contains(from), "{from} not in {xml}");
        CpixResponse::parse(xml.replacen(from, to, 1).as_bytes(), &response.request)
    }

    #[test]
    fn bad_responses_name_what_is_wrong() {
        let a = "a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0";
        let plain_a = "<pskc:PlainValue>AQEBAQEBAQEBAQEBAQEBAQ==</pskc:PlainValue>";
        let cases: Vec<(String, String, CpixError)> = vec![
            (
                format!("<cpix:ContentKey kid=\"{a}\" commonEncryptionScheme=\"cbcs\">"),
                format!(
                    "<cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"cbcs\">",
                    Kid([0xb0; 16])
                ),
                CpixError::UnexpectedKid(Kid([0xb0; 16])),
            ),
            (
                plain_a.into(),
                "<pskc:PlainValue>AQEBAQEBAQEB*QEBAQEBAQ==</pskc:PlainValue>".into(),
                CpixError::KeyNotBase64(KID_A),
            ),
            (
                plain_a.into(),
                "<pskc:PlainValue>AQEBAQEBAQEBAQEBAQE=</pskc:PlainValue>".into(),
                CpixError::KeyLength {
                    kid: KID_A,
                    len: 14,
                },
            ),
            (
                plain_a.into(),
                "<pskc:EncryptedValue>AQEBAQEBAQEBAQEBAQEBAQ==</pskc:EncryptedValue>".into(),
                CpixError::EncryptedKey(KID_A),
            ),
            (
                plain_a.into(),
                "<pskc:PlainValue></pskc:PlainValue>".into(),
                CpixError::MissingKeyValue(KID_A),
            ),
            (
                "contentId=\"asset &lt;1&gt; &amp; co\"".into(),
                "contentId=\"other\"".into(),
                CpixError::ContentIdMismatch {
                    expected: "asset <1> & co".into(),
                    got: "other".into(),
                },
            ),
            (
                " version=\"2.3\"".into(),
                String::new(),
                CpixError::UnsupportedVersion(None),
            ),
            (
                format!("<cpix:DRMSystem kid=\"{a}\""),
                format!("<cpix:DRMSystem kid=\"{}\"", Kid([0xc0; 16])),
                CpixError::DrmSystemForUnknownKid(Kid([0xc0; 16])),
            ),
            (
                "commonEncryptionScheme=\"cbcs\"".into(),
                "commonEncryptionScheme=\"cenc\"".into(),
                CpixError::SchemeMismatch {
                    kid: KID_A,
                    requested: Scheme::Cbcs,
                    got: "cenc".into(),
                },
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(parse_changed(&from, &to), Err(expected), "{from} -> {to}");
        }
    }

    #[test]
    fn missing_parts_of_a_response_are_named() {
        let response = response();
        let xml = response.to_xml();
        // Drop the whole ContentKey of KID_V.
        let start = xml.find("<cpix:ContentKey kid=\"00112233").unwrap();
        let end =
            start + xml[start..].find("</cpix:ContentKey>").unwrap() + "</cpix:ContentKey>".len();
        let without_v = format!("{}{}", &xml[..start], &xml[end..]);
        assert_eq!(
            CpixResponse::parse(without_v.as_bytes(), &response.request),
            Err(CpixError::MissingKid(KID_V))
        );

        let list_start = xml.find("  <cpix:ContentKeyList>").unwrap();
        let list_end =
            xml.find("</cpix:ContentKeyList>\n").unwrap() + "</cpix:ContentKeyList>\n".len();
        let without_list = format!("{}{}", &xml[..list_start], &xml[list_end..]);
        assert_eq!(
            CpixResponse::parse(without_list.as_bytes(), &response.request),
            Err(CpixError::MissingContentKeyList)
        );

        let pssh_start = xml.find("<cpix:PSSH>").unwrap();
        let pssh_end = xml.find("</cpix:PSSH>").unwrap();
        let bad_pssh = format!(
            "{}<cpix:PSSH>AAAA%%%{}",
            &xml[..pssh_start],
            &xml[pssh_end..]
        );
        assert_eq!(
            CpixResponse::parse(bad_pssh.as_bytes(), &response.request),
            Err(CpixError::NotBase64 {
                kid: KID_A,
                system: DrmSystem::Widevine,
                element: "PSSH"
            })
        );
        let not_a_box = format!(
            "{}<cpix:PSSH>AAAAAAAA{}",
            &xml[..pssh_start],
            &xml[pssh_end..]
        );
        assert!(matches!(
            CpixResponse::parse(not_a_box.as_bytes(), &response.request),
            Err(CpixError::NotPsshBox { .. })
        ));
        let no_pssh = format!(
            "{}{}",
            &xml[..pssh_start],
            &xml[pssh_end + "</cpix:PSSH>".len()..]
        );
        assert_eq!(
            CpixResponse::parse(no_pssh.as_bytes(), &response.request),
            Err(CpixError::MissingSignaling {
                kid: KID_A,
                system: DrmSystem::Widevine,
                element: "PSSH"
            })
        );

        let fairplay = DrmSystem::FairPlay.system_id_uuid();
        let sys_start = xml.find(&format!("systemId=\"{fairplay}\"")).unwrap();
        let open = xml[..sys_start].rfind("    <cpix:DRMSystem").unwrap();
        let close = sys_start
            + xml[sys_start..].find("</cpix:DRMSystem>\n").unwrap()
            + "</cpix:DRMSystem>\n".len();
        let without_fairplay = format!("{}{}", &xml[..open], &xml[close..]);
        assert_eq!(
            CpixResponse::parse(without_fairplay.as_bytes(), &response.request),
            Err(CpixError::MissingDrmSystem {
                kid: KID_A,
                system: DrmSystem::FairPlay
            })
        );
    }

    #[test]
    fn documents_are_bounded_and_must_be_xml() {
        let request = request();
        let mut big = request.to_xml().into_bytes();
        big.resize(MAX_DOCUMENT_LEN + 1, b' ');
        assert_eq!(
            CpixRequest::parse(&big),
            Err(CpixError::TooLarge {
                len: MAX_DOCUMENT_LEN + 1
            })
        );
        assert_eq!(
            CpixResponse::parse(&big, &request),
            Err(CpixError::TooLarge {
                len: MAX_DOCUMENT_LEN + 1
            })
        );
        for not_xml in [
            &b"{\"keys\": []}"[..],
            b"",
            b"<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\">",
            b"<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"></cpix:CPIx>",
            b"<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"/><cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"/>",
            b"<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\" contentId=\"&unknown;\"/>",
            b"\xff\xfe<",
            b"<!DOCTYPE x [<!ENTITY e \"e\">]><x/>",
        ] {
            assert!(
                matches!(CpixRequest::parse(not_xml), Err(CpixError::NotXml(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(not_xml),
                CpixRequest::parse(not_xml)
            );
        }
        let many_keys: String = (0..=MAX_KEYS)
            .map(|i| {
                format!(
                    "<cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"cenc\"/>",
                    Kid([i as u8; 16])
                )
            })
            .collect();
        let xml = format!(
            "<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" contentId=\"c\" version=\"2.3\"><cpix:ContentKeyList>{many_keys}</cpix:ContentKeyList></cpix:CPIX>"
        );
        assert_eq!(
            CpixRequest::parse(xml.as_bytes()),
            Err(CpixError::TooManyKeys)
        );
    }

    #[test]
    fn bad_requests_name_what_is_wrong() {
        let xml = request().to_xml();
        let cases: Vec<(&str, String, CpixError)> = vec![
            (
                "commonEncryptionScheme=\"cbcs\"/>",
                "commonEncryptionScheme=\"cens\"/>".into(),
                CpixError::UnsupportedScheme {
                    kid: KID_A,
                    value: "cens".into(),
                },
            ),
            (
                " commonEncryptionScheme=\"cbcs\"/>",
                "/>".into(),
                CpixError::MissingAttribute {
                    element: "ContentKey",
                    attribute: "commonEncryptionScheme",
                },
            ),
            (
                "commonEncryptionScheme=\"cbcs\"/>",
                "commonEncryptionScheme=\"cbcs\"><cpix:Data><pskc:Secret><pskc:PlainValue>AQEBAQEBAQEBAQEBAQEBAQ==</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>".into(),
                CpixError::KeyValueInRequest(KID_A),
            ),
            (
                "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
                "81376844-f976-481e-a84e-cc25d39b0b33".into(),
                CpixError::UnsupportedSystem("81376844-f976-481e-a84e-cc25d39b0b33".into()),
            ),
            (
                "<cpix:DRMSystem kid=\"a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0\"",
                format!("<cpix:DRMSystem kid=\"{}\"", Kid([0xc0; 16])),
                CpixError::DrmSystemForUnknownKid(Kid([0xc0; 16])),
            ),
            (
                "<cpix:ContentKeyUsageRule kid=\"a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0\"",
                format!("<cpix:ContentKeyUsageRule kid=\"{}\"", Kid([0xc0; 16])),
                CpixError::UsageRuleForUnknownKid(Kid([0xc0; 16])),
            ),
            (
                "<cpix:ContentKey kid=\"a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0\"",
                "<cpix:ContentKey kid=\"a0a0a0a0\"".into(),
                CpixError::InvalidUuid {
                    element: "ContentKey",
                    attribute: "kid",
                    value: "a0a0a0a0".into(),
                },
            ),
            (
                "maxPixels=\"2073600\"",
                "maxPixels=\"lots\"".into(),
                CpixError::InvalidAttribute {
                    element: "VideoFilter",
                    attribute: "maxPixels",
                    value: "lots".into(),
                },
            ),
            (
                "playlist=\"master\"",
                "playlist=\"both\"".into(),
                CpixError::InvalidPlaylist("both".into()),
            ),
            (
                "contentId=\"asset &lt;1&gt; &amp; co\"",
                "contentId=\"\"".into(),
                CpixError::MissingContentId,
            ),
            (
                "<cpix:ContentKeyList>",
                "<cpix:DeliveryDataList/><cpix:ContentKeyList>".into(),
                CpixError::DeliveryDataUnsupported,
            ),
        ];
        for (from, to, expected) in cases {
            assert!(xml.contains(from), "{from}");
            assert_eq!(
                CpixRequest::parse(xml.replacen(from, &to, 1).as_bytes()),
                Err(expected),
                "{from} -> {to}"
            );
        }
        let twice = xml.replacen(
            "<cpix:ContentKey kid=\"00112233-4455-6677-8899-aabbccddeeff\"",
            "<cpix:ContentKey kid=\"a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0\"",
            1,
        );
        assert_eq!(
            CpixRequest::parse(twice.as_bytes()),
            Err(CpixError::DuplicateKid(KID_A))
        );
    }
}
