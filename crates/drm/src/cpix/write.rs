//! Writing CPIX documents: the request an encryptor sends (keys without values, the
//! `DRMSystem` children to fill) and the response a key provider returns (keys in
//! `pskc:PlainValue`, each system's signalling base64-encoded). Attribute values and text
//! are XML-escaped.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use quick_xml::escape::escape;

use super::{CpixRequest, CpixResponse, RequestedKey, UsageFilter, CPIX_NS, CPIX_VERSION, PSKC_NS};
use crate::pssh::DrmSystem;

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
}

impl CpixResponse {
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
}
