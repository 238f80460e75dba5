//! What a packager writes for one key and one DRM system: the `pssh` box, the DASH
//! `ContentProtection` children, and the HLS key tags — the values CPIX carries in
//! `DRMSystem` (DASH-IF CPIX 2.3 clause 5.3.6), whether a SPEKE key provider returned
//! them or openvod made them itself.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::keys::{Kid, Scheme};
use crate::pssh::{self, DrmSystem, PsshError};

/// `KEYFORMAT` of FairPlay Streaming in HLS.
pub const FAIRPLAY_KEYFORMAT: &str = "com.apple.streamingkeydelivery";
/// `KEYFORMAT` of PlayReady in HLS.
pub const PLAYREADY_KEYFORMAT: &str = "com.microsoft.playready";
/// `KEYFORMAT` of W3C Clear Key in HLS: the EME key system name, which HLS itself does
/// not register but players that do EME in the browser (hls.js) take.
pub const CLEARKEY_KEYFORMAT: &str = "org.w3.clearkey";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalingError {
    #[error("FairPlay needs the cbcs scheme (HLS SAMPLE-AES), not {0}")]
    FairPlayNeedsCbcs(Scheme),
    #[error(transparent)]
    Pssh(#[from] PsshError),
}

/// The signalling of one KID for one DRM system. Each part is what the format carries,
/// decoded: CPIX base64-encodes all but the `pssh` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrmSignaling {
    pub kid: Kid,
    pub system: DrmSystem,
    /// The complete `pssh` box for the init segment (`cpix:PSSH`).
    pub pssh: Option<Vec<u8>>,
    /// XML elements to put inside the DASH `ContentProtection` element of this system
    /// (`cpix:ContentProtectionData`), e.g. `<cenc:pssh>..</cenc:pssh>`.
    pub content_protection_data: Option<String>,
    /// The `#EXT-X-KEY` line of media playlists (`cpix:HLSSignalingData playlist="media"`).
    pub hls_media: Option<String>,
    /// The `#EXT-X-SESSION-KEY` line of the multivariant playlist
    /// (`cpix:HLSSignalingData playlist="master"`).
    pub hls_master: Option<String>,
    /// Smooth Streaming's `ProtectionHeader` content, base64 as the manifest carries it
    /// (`cpix:SmoothStreamingProtectionHeaderData`; PlayReady only).
    pub smooth_streaming_header: Option<String>,
}

impl DrmSignaling {
    /// Nothing yet: the parts are filled from a CPIX document.
    pub fn empty(kid: Kid, system: DrmSystem) -> DrmSignaling {
        DrmSignaling {
            kid,
            system,
            pssh: None,
            content_protection_data: None,
            hls_media: None,
            hls_master: None,
            smooth_streaming_header: None,
        }
    }
}

/// The HLS key line body: `METHOD=..,URI="..",...` (RFC 8216bis 4.4.4.4 `EXT-X-KEY` and
/// 4.4.6.5 `EXT-X-SESSION-KEY` share their attributes).
fn hls_key_attributes(method: &str, uri: &str, kid: Option<&Kid>, keyformat: &str) -> String {
    let keyid = kid.map_or(String::new(), |k| format!(",KEYID=0x{}", k.to_hex()));
    format!(
        "METHOD={method},URI=\"{uri}\"{keyid},KEYFORMAT=\"{keyformat}\",KEYFORMATVERSIONS=\"1\""
    )
}

/// The signalling openvod writes for a key and a system.
///
/// - FairPlay: `skd://<KID hex>` key lines (SAMPLE-AES, so cbcs only); no `pssh`.
/// - Widevine, PlayReady, ClearKey: the `pssh` box, `<cenc:pssh>` for DASH (PlayReady
///   adds `<mspr:pro>`), and HLS key lines (SAMPLE-AES for cbcs, SAMPLE-AES-CTR for
///   cenc) carrying the init data in a data: URI: Widevine's `pssh`, PlayReady's
///   object, and for ClearKey the KID itself (its `keyids` init data names only KIDs).
pub fn signaling_for(
    system: DrmSystem,
    kid: Kid,
    scheme: Scheme,
    content_id: &str,
    playready_la_url: Option<&str>,
) -> Result<DrmSignaling, SignalingError> {
    let mut out = DrmSignaling::empty(kid, system);
    let method = match scheme {
        Scheme::Cbcs => "SAMPLE-AES",
        Scheme::Cenc => "SAMPLE-AES-CTR",
    };
    if system == DrmSystem::FairPlay {
        if scheme != Scheme::Cbcs {
            return Err(SignalingError::FairPlayNeedsCbcs(scheme));
        }
        let attributes = hls_key_attributes(
            method,
            &format!("skd://{}", kid.to_hex()),
            None,
            FAIRPLAY_KEYFORMAT,
        );
        out.hls_media = Some(format!("#EXT-X-KEY:{attributes}"));
        out.hls_master = Some(format!("#EXT-X-SESSION-KEY:{attributes}"));
        return Ok(out);
    }
    let pssh_box =
        pssh::pssh_for(system, &[kid], scheme, content_id, playready_la_url)?.unwrap_or_default();
    let pssh_b64 = BASE64.encode(&pssh_box);
    let mut cpd = format!("<cenc:pssh>{pssh_b64}</cenc:pssh>");
    match system {
        DrmSystem::PlayReady => {
            let pro = BASE64.encode(pssh::playready_object(&[kid], scheme, playready_la_url)?);
            cpd.push_str(&format!("<mspr:pro>{pro}</mspr:pro>"));
            let attributes = hls_key_attributes(
                method,
                &format!("data:text/plain;charset=UTF-16;base64,{pro}"),
                Some(&kid),
                PLAYREADY_KEYFORMAT,
            );
            out.hls_media = Some(format!("#EXT-X-KEY:{attributes}"));
            out.hls_master = Some(format!("#EXT-X-SESSION-KEY:{attributes}"));
            out.smooth_streaming_header = Some(pro);
        }
        DrmSystem::Widevine => {
            let attributes = hls_key_attributes(
                method,
                &format!("data:text/plain;base64,{pssh_b64}"),
                Some(&kid),
                &format!("urn:uuid:{}", system.system_id_uuid()),
            );
            out.hls_media = Some(format!("#EXT-X-KEY:{attributes}"));
            out.hls_master = Some(format!("#EXT-X-SESSION-KEY:{attributes}"));
        }
        DrmSystem::ClearKey => {
            let attributes = hls_key_attributes(
                method,
                &format!("data:text/plain;base64,{}", BASE64.encode(kid.as_bytes())),
                Some(&kid),
                CLEARKEY_KEYFORMAT,
            );
            out.hls_media = Some(format!("#EXT-X-KEY:{attributes}"));
            out.hls_master = Some(format!("#EXT-X-SESSION-KEY:{attributes}"));
        }
        DrmSystem::FairPlay => {}
    }
    out.pssh = Some(pssh_box);
    out.content_protection_data = Some(cpd);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pssh::parse_pssh_box;

    const KID: Kid = Kid([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);

    #[test]
    fn fairplay_is_an_skd_key_line() {
        let s = signaling_for(DrmSystem::FairPlay, KID, Scheme::Cbcs, "a", None).unwrap();
        assert_eq!(
            s.hls_media.as_deref(),
            Some("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://00112233445566778899aabbccddeeff\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"")
        );
        assert!(s
            .hls_master
            .as_deref()
            .unwrap()
            .starts_with("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://"));
        assert_eq!((s.pssh, s.content_protection_data), (None, None));
        assert_eq!(
            signaling_for(DrmSystem::FairPlay, KID, Scheme::Cenc, "a", None),
            Err(SignalingError::FairPlayNeedsCbcs(Scheme::Cenc))
        );
    }

    #[test]
    fn widevine_carries_its_pssh_everywhere() {
        let s = signaling_for(DrmSystem::Widevine, KID, Scheme::Cenc, "a", None).unwrap();
        let pssh = s.pssh.clone().unwrap();
        assert_eq!(parse_pssh_box(&pssh).unwrap().kids, vec![KID]);
        let b64 = BASE64.encode(&pssh);
        assert_eq!(
            s.content_protection_data.as_deref(),
            Some(format!("<cenc:pssh>{b64}</cenc:pssh>").as_str())
        );
        let media = s.hls_media.unwrap();
        assert!(
            media.starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,"),
            "{media}"
        );
        assert!(
            media.contains(&format!("URI=\"data:text/plain;base64,{b64}\"")),
            "{media}"
        );
        assert!(
            media.contains("KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\""),
            "{media}"
        );
    }

    #[test]
    fn playready_adds_its_object() {
        let s = signaling_for(DrmSystem::PlayReady, KID, Scheme::Cbcs, "a", None).unwrap();
        let cpd = s.content_protection_data.unwrap();
        assert!(
            cpd.starts_with("<cenc:pssh>") && cpd.contains("<mspr:pro>"),
            "{cpd}"
        );
        assert!(s
            .hls_media
            .unwrap()
            .contains("KEYFORMAT=\"com.microsoft.playready\""));
        let header = s.smooth_streaming_header.unwrap();
        assert_eq!(
            BASE64.decode(header).unwrap(),
            pssh::playready_object(&[KID], Scheme::Cbcs, None).unwrap()
        );
    }

    #[test]
    fn clearkey_hls_lines_carry_the_kid_as_the_init_data() {
        let s = signaling_for(DrmSystem::ClearKey, KID, Scheme::Cenc, "a", None).unwrap();
        assert!(s.pssh.is_some() && s.content_protection_data.is_some());
        let media = s.hls_media.unwrap();
        let uri = format!("data:text/plain;base64,{}", BASE64.encode(KID.as_bytes()));
        assert_eq!(
            media,
            format!(
                "#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"{uri}\",KEYID=0x{},\
                 KEYFORMAT=\"org.w3.clearkey\",KEYFORMATVERSIONS=\"1\"",
                KID.to_hex()
            )
        );
        assert_eq!(
            s.hls_master.unwrap(),
            media.replace("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:")
        );
    }
}
