//! Reading CPIX documents. The XML is first read into a [`Document`] (bounded: size,
//! keys, systems, rules; elements matched by namespace URI and local name), which is then
//! checked as a request, or as the response to a given request.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use super::{
    AudioFilter, CpixError, CpixRequest, CpixResponse, KeyPeriod, RequestedKey, UsageFilter,
    VideoFilter, CPIX_NS, CPIX_VERSION, MAX_DOCUMENT_LEN, MAX_DRM_SYSTEMS, MAX_KEYS, MAX_RULES,
    PSKC_NS,
};
use crate::keys::{parse_uuid, uuid_string, ContentKey, Kid, Scheme, MAX_CONTENT_ID_LEN};
use crate::pssh::{parse_pssh_box, DrmSystem};
use crate::signaling::DrmSignaling;

impl CpixError {
    fn not_xml(e: impl std::fmt::Display) -> CpixError {
        CpixError::NotXml(e.to_string())
    }
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

impl CpixRequest {
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
