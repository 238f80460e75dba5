//! CPIX documents through the public API: requests and responses read back as written,
//! any namespace prefix is read, and every kind of bad document is refused with an error
//! that names what is wrong.

use openvod_drm::cpix::{
    CpixError, CpixRequest, CpixResponse, KeyPeriod, RequestedKey, UsageFilter, VideoFilter,
    CPIX_NS, MAX_DOCUMENT_LEN, MAX_KEYS,
};
use openvod_drm::{signaling_for, ContentKey, DrmSystem, Kid, Scheme, TrackType};

const KID_A: Kid = Kid([0xa0; 16]);
const KID_V: Kid = Kid([
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
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
            signaling.push(signaling_for(s, k.kid, k.scheme, &request.content_id, None).unwrap());
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
    let end = start + xml[start..].find("</cpix:ContentKey>").unwrap() + "</cpix:ContentKey>".len();
    let without_v = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(
        CpixResponse::parse(without_v.as_bytes(), &response.request),
        Err(CpixError::MissingKid(KID_V))
    );

    let list_start = xml.find("  <cpix:ContentKeyList>").unwrap();
    let list_end = xml.find("</cpix:ContentKeyList>\n").unwrap() + "</cpix:ContentKeyList>\n".len();
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
