//! Protection system specific data: DRM system IDs and `pssh` boxes (ISO/IEC 23001-7
//! clause 8.1), with the data each system puts in them.
//!
//! - Widevine: a `WidevinePsshData` protobuf.
//! - PlayReady: a PlayReady Object holding a WRM header 4.3.0.0.
//! - W3C ClearKey: no data; the KIDs in a version 1 box are the whole "cenc" init data
//!   (W3C "ISO Common Encryption 'cenc' Protection Scheme for EME", clause 4.3).
//! - FairPlay has no `pssh`: it is signalled in HLS only (`skd://` URIs).

use base64::Engine as _;

pub use openvod_media::DrmSystem;

use crate::keys::{Kid, Scheme};

/// Most KIDs one `pssh` box or header carries (a rendition needs one; a whole
/// presentation a few).
pub const MAX_PSSH_KIDS: usize = 64;
/// Longest PlayReady licence acquisition URL written into a header.
pub const MAX_LA_URL_LEN: usize = 2048;
/// Largest `pssh` box read back (`parse_pssh_box`).
pub const MAX_PSSH_BOX_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsshError {
    #[error("{count} KIDs for one pssh box; at most {MAX_PSSH_KIDS}")]
    TooManyKids { count: usize },
    #[error("a pssh box needs at least one KID")]
    NoKids,
    #[error("pssh data of {len} bytes is too large")]
    DataTooLarge { len: usize },
    #[error(
        "PlayReady LA_URL must be an http:// or https:// URL of at most {MAX_LA_URL_LEN} bytes"
    )]
    InvalidLaUrl,
    #[error("not a pssh box: {0}")]
    NotPssh(&'static str),
}

fn check_kids(kids: &[Kid]) -> Result<(), PsshError> {
    if kids.is_empty() {
        Err(PsshError::NoKids)
    } else if kids.len() > MAX_PSSH_KIDS {
        Err(PsshError::TooManyKids { count: kids.len() })
    } else {
        Ok(())
    }
}

/// A complete `pssh` box, version 1 (ISO/IEC 23001-7 8.1.2): size, type, version 1 and
/// flags 0, SystemID, KID_count and KIDs, DataSize and Data.
pub fn pssh_box(system_id: &[u8; 16], kids: &[Kid], data: &[u8]) -> Result<Vec<u8>, PsshError> {
    check_kids(kids)?;
    let size = 8 + 4 + 16 + 4 + 16 * kids.len() + 4 + data.len();
    let (Ok(size32), Ok(data_len)) = (u32::try_from(size), u32::try_from(data.len())) else {
        return Err(PsshError::DataTooLarge { len: data.len() });
    };
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&size32.to_be_bytes());
    out.extend_from_slice(b"pssh");
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(system_id);
    // At most MAX_PSSH_KIDS, checked above.
    out.extend_from_slice(&(kids.len() as u32).to_be_bytes());
    for kid in kids {
        out.extend_from_slice(kid.as_bytes());
    }
    out.extend_from_slice(&data_len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

/// A `pssh` box read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsshBox {
    pub version: u8,
    pub system_id: [u8; 16],
    /// Empty in a version 0 box.
    pub kids: Vec<Kid>,
    pub data: Vec<u8>,
}

/// Reads one complete `pssh` box (version 0 or 1), every length checked against the bytes
/// there are; the box must fill `bytes` exactly.
pub fn parse_pssh_box(bytes: &[u8]) -> Result<PsshBox, PsshError> {
    if bytes.len() > MAX_PSSH_BOX_LEN {
        return Err(PsshError::NotPssh("larger than 64 KiB"));
    }
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], PsshError> {
        if rest.len() < n {
            return Err(PsshError::NotPssh("truncated"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let u32_at = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let size = u32_at(take(4)?);
    if take(4)? != b"pssh" {
        return Err(PsshError::NotPssh("the box type is not 'pssh'"));
    }
    if size != bytes.len() {
        return Err(PsshError::NotPssh("the box size does not match its bytes"));
    }
    let version = take(4)?[0];
    if version > 1 {
        return Err(PsshError::NotPssh("unknown version"));
    }
    let mut system_id = [0u8; 16];
    system_id.copy_from_slice(take(16)?);
    let mut kids = Vec::new();
    if version == 1 {
        let count = u32_at(take(4)?);
        if count > MAX_PSSH_KIDS {
            return Err(PsshError::NotPssh("too many KIDs"));
        }
        for _ in 0..count {
            let mut kid = [0u8; 16];
            kid.copy_from_slice(take(16)?);
            kids.push(Kid(kid));
        }
    }
    let data_len = u32_at(take(4)?);
    let data = take(data_len)?.to_vec();
    if !rest.is_empty() {
        return Err(PsshError::NotPssh("bytes after the data"));
    }
    Ok(PsshBox {
        version,
        system_id,
        kids,
        data,
    })
}

/// Appends a protobuf base-128 varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited protobuf field (wire type 2).
fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `WidevinePsshData`, written by hand: of its fields openvod needs only three, so a
/// protobuf code generator would add more than it saves. Field numbers are those of
/// Widevine's published `widevine_pssh_data.proto`:
/// `key_ids` (2, bytes, repeated), `content_id` (4, bytes) and `protection_scheme`
/// (9, uint32 four-character code, 'cenc' or 'cbcs').
pub fn widevine_pssh_data(
    kids: &[Kid],
    content_id: &[u8],
    scheme: Scheme,
) -> Result<Vec<u8>, PsshError> {
    check_kids(kids)?;
    if content_id.len() > 1024 {
        return Err(PsshError::DataTooLarge {
            len: content_id.len(),
        });
    }
    let mut out = Vec::with_capacity(kids.len() * 18 + content_id.len() + 16);
    for kid in kids {
        put_bytes_field(&mut out, 2, kid.as_bytes());
    }
    if !content_id.is_empty() {
        put_bytes_field(&mut out, 4, content_id);
    }
    put_varint(&mut out, 9 << 3);
    put_varint(&mut out, u64::from(u32::from_be_bytes(scheme.fourcc())));
    Ok(out)
}

/// A KID in PlayReady's byte order: a GUID whose first three fields (4, 2 and 2 bytes)
/// are little-endian.
pub fn playready_kid_bytes(kid: &Kid) -> [u8; 16] {
    let mut b = kid.0;
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// The PlayReady WRM header, version 4.3.0.0 (PlayReady Header Object specification):
/// one `KID` per key with its algorithm (AESCTR for 'cenc', AESCBC for 'cbcs') and the
/// KID in PlayReady byte order, base64; the licence URL when given.
pub fn playready_header(
    kids: &[Kid],
    scheme: Scheme,
    la_url: Option<&str>,
) -> Result<String, PsshError> {
    check_kids(kids)?;
    let algid = match scheme {
        Scheme::Cenc => "AESCTR",
        Scheme::Cbcs => "AESCBC",
    };
    let mut xml = String::from(
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS>",
    );
    for kid in kids {
        let value = base64::engine::general_purpose::STANDARD.encode(playready_kid_bytes(kid));
        xml.push_str(&format!("<KID ALGID=\"{algid}\" VALUE=\"{value}\"></KID>"));
    }
    xml.push_str("</KIDS></PROTECTINFO>");
    if let Some(url) = la_url {
        if url.len() > MAX_LA_URL_LEN
            || !(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_control)
        {
            return Err(PsshError::InvalidLaUrl);
        }
        xml.push_str(&format!("<LA_URL>{}</LA_URL>", xml_escape(url)));
    }
    xml.push_str("</DATA></WRMHEADER>");
    Ok(xml)
}

/// A PlayReady Object: its length (32-bit little-endian, the whole object), a record count
/// of 1 (16-bit), and one record of type 1 (rights management header) holding the WRM
/// header in UTF-16LE, with its 16-bit byte length.
pub fn playready_object(
    kids: &[Kid],
    scheme: Scheme,
    la_url: Option<&str>,
) -> Result<Vec<u8>, PsshError> {
    let header = playready_header(kids, scheme, la_url)?;
    let utf16: Vec<u8> = header.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let Ok(record_len) = u16::try_from(utf16.len()) else {
        return Err(PsshError::DataTooLarge { len: utf16.len() });
    };
    let total = 4 + 2 + 2 + 2 + utf16.len();
    let mut out = Vec::with_capacity(total);
    // At most 10 + 65535 bytes.
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&record_len.to_le_bytes());
    out.extend_from_slice(&utf16);
    Ok(out)
}

/// The `pssh` box a system needs for these KIDs, or `None` for FairPlay (HLS only).
pub fn pssh_for(
    system: DrmSystem,
    kids: &[Kid],
    scheme: Scheme,
    content_id: &str,
    playready_la_url: Option<&str>,
) -> Result<Option<Vec<u8>>, PsshError> {
    let data = match system {
        DrmSystem::Widevine => widevine_pssh_data(kids, content_id.as_bytes(), scheme)?,
        DrmSystem::PlayReady => playready_object(kids, scheme, playready_la_url)?,
        DrmSystem::ClearKey => Vec::new(),
        DrmSystem::FairPlay => return Ok(None),
    };
    pssh_box(&system.system_id(), kids, &data).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: Kid = Kid([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ]);
    const KID2: Kid = Kid([0x42; 16]);

    /// A protobuf field read back: (field number, wire type, varint value or bytes).
    #[derive(Debug, PartialEq)]
    enum Field {
        Varint(u64, u64),
        Bytes(u64, Vec<u8>),
    }

    fn read_varint(b: &[u8], at: &mut usize) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    /// A minimal protobuf decoder for the two wire types the Widevine data uses.
    fn decode_protobuf(b: &[u8]) -> Vec<Field> {
        let mut at = 0;
        let mut fields = Vec::new();
        while at < b.len() {
            let tag = read_varint(b, &mut at);
            match tag & 7 {
                0 => fields.push(Field::Varint(tag >> 3, read_varint(b, &mut at))),
                2 => {
                    let len = read_varint(b, &mut at) as usize;
                    fields.push(Field::Bytes(tag >> 3, b[at..at + len].to_vec()));
                    at += len;
                }
                other => panic!("unexpected wire type {other}"),
            }
        }
        fields
    }

    #[test]
    fn clearkey_pssh_is_known_bytes() {
        let b = pssh_for(DrmSystem::ClearKey, &[KID], Scheme::Cenc, "x", None)
            .unwrap()
            .unwrap();
        let mut expected = vec![0, 0, 0, 52];
        expected.extend_from_slice(b"pssh");
        expected.extend_from_slice(&[1, 0, 0, 0]);
        expected.extend_from_slice(&[
            0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2,
            0xfb, 0x4b,
        ]);
        expected.extend_from_slice(&[0, 0, 0, 1]);
        expected.extend_from_slice(&KID.0);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(b, expected);
        let parsed = parse_pssh_box(&b).unwrap();
        assert_eq!(
            parsed,
            PsshBox {
                version: 1,
                system_id: DrmSystem::ClearKey.system_id(),
                kids: vec![KID],
                data: vec![]
            }
        );
    }

    #[test]
    fn widevine_data_is_known_bytes_and_decodes() {
        let data = widevine_pssh_data(&[KID], b"abc", Scheme::Cenc).unwrap();
        let mut expected = vec![0x12, 0x10];
        expected.extend_from_slice(&KID.0);
        expected.extend_from_slice(&[0x22, 0x03, b'a', b'b', b'c']);
        // Field 9, varint: tag 0x48; 0x63656e63 as a varint.
        expected.extend_from_slice(&[0x48, 0xe3, 0xdc, 0x95, 0x9b, 0x06]);
        assert_eq!(data, expected);

        let data = widevine_pssh_data(&[KID, KID2], b"asset-7", Scheme::Cbcs).unwrap();
        assert_eq!(
            decode_protobuf(&data),
            vec![
                Field::Bytes(2, KID.0.to_vec()),
                Field::Bytes(2, KID2.0.to_vec()),
                Field::Bytes(4, b"asset-7".to_vec()),
                Field::Varint(9, 0x6362_6373),
            ]
        );
        let b = pssh_for(
            DrmSystem::Widevine,
            &[KID, KID2],
            Scheme::Cbcs,
            "asset-7",
            None,
        )
        .unwrap()
        .unwrap();
        let parsed = parse_pssh_box(&b).unwrap();
        assert_eq!(parsed.system_id, DrmSystem::Widevine.system_id());
        assert_eq!(parsed.kids, vec![KID, KID2]);
        assert_eq!(parsed.data, data);
    }

    #[test]
    fn playready_kids_are_little_endian_guids() {
        assert_eq!(
            playready_kid_bytes(&KID),
            [
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        let header = playready_header(&[KID], Scheme::Cenc, None).unwrap();
        assert_eq!(
            header,
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.3.0.0\">\
             <DATA><PROTECTINFO><KIDS><KID ALGID=\"AESCTR\" VALUE=\"MyIRAFVEd2aImaq7zN3u/w==\"></KID></KIDS></PROTECTINFO>\
             </DATA></WRMHEADER>"
        );
    }

    #[test]
    fn playready_object_decodes_to_its_header() {
        let url = "https://licence.example/pr?a=1&b=2";
        let pro = playready_object(&[KID, KID2], Scheme::Cbcs, Some(url)).unwrap();
        let total = u32::from_le_bytes(pro[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, pro.len());
        assert_eq!(u16::from_le_bytes([pro[4], pro[5]]), 1, "one record");
        assert_eq!(
            u16::from_le_bytes([pro[6], pro[7]]),
            1,
            "a rights management header"
        );
        let len = u16::from_le_bytes([pro[8], pro[9]]) as usize;
        assert_eq!(len, pro.len() - 10);
        let units: Vec<u16> = pro[10..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let header = String::from_utf16(&units).unwrap();
        assert!(header.contains("version=\"4.3.0.0\""), "{header}");
        assert_eq!(header.matches("ALGID=\"AESCBC\"").count(), 2, "{header}");
        let kid2 = base64::engine::general_purpose::STANDARD.encode(playready_kid_bytes(&KID2));
        assert!(header.contains(&format!("VALUE=\"{kid2}\"")), "{header}");
        assert!(
            header.contains("<LA_URL>https://licence.example/pr?a=1&amp;b=2</LA_URL>"),
            "{header}"
        );

        let b = pssh_for(DrmSystem::PlayReady, &[KID], Scheme::Cenc, "a", None)
            .unwrap()
            .unwrap();
        let parsed = parse_pssh_box(&b).unwrap();
        assert_eq!(parsed.system_id, DrmSystem::PlayReady.system_id());
        assert_eq!(
            parsed.data,
            playready_object(&[KID], Scheme::Cenc, None).unwrap()
        );
        for bad in ["ftp://x", "javascript:alert(1)", "https://a\n"] {
            assert_eq!(
                playready_header(&[KID], Scheme::Cenc, Some(bad)),
                Err(PsshError::InvalidLaUrl)
            );
        }
    }

    #[test]
    fn fairplay_has_no_pssh_and_kid_counts_are_bounded() {
        assert_eq!(
            pssh_for(DrmSystem::FairPlay, &[KID], Scheme::Cbcs, "a", None),
            Ok(None)
        );
        assert_eq!(pssh_box(&[0; 16], &[], &[]), Err(PsshError::NoKids));
        let many = vec![KID; MAX_PSSH_KIDS + 1];
        assert_eq!(
            pssh_box(&[0; 16], &many, &[]),
            Err(PsshError::TooManyKids { count: 65 })
        );
        assert!(pssh_box(&[0; 16], &many[1..], &[]).is_ok());
    }

    #[test]
    fn malformed_boxes_are_refused() {
        let good = pssh_for(DrmSystem::ClearKey, &[KID], Scheme::Cenc, "x", None)
            .unwrap()
            .unwrap();
        assert!(parse_pssh_box(&good[..good.len() - 1]).is_err());
        let mut longer = good.clone();
        longer.push(0);
        assert!(parse_pssh_box(&longer).is_err());
        let mut wrong_type = good.clone();
        wrong_type[4..8].copy_from_slice(b"moov");
        assert!(parse_pssh_box(&wrong_type).is_err());
        let mut huge_count = good.clone();
        huge_count[28..32].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_pssh_box(&huge_count).is_err());
        let mut huge_data = good;
        let n = huge_data.len();
        huge_data[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_pssh_box(&huge_data).is_err());
        assert!(parse_pssh_box(b"").is_err());
    }
}
