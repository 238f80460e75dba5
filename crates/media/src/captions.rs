//! CEA-608 closed captions carried inside a video track: ATSC A/53 Part 4 `cc_data` in
//! an ITU-T T.35 registered user data SEI message (ISO/IEC 14496-10, D.1.6; ISO/IEC
//! 23008-2, D.2.6), as broadcast sources and encoders that pass captions through
//! (x264, x265) write them. The captions need no track of their own: manifests only say
//! they are there (HLS `CLOSED-CAPTIONS`, DASH `Accessibility`), which
//! [`carries_cea608`] finds out.

use crate::bmff::ByteSource;
use crate::crypt::{video_syntax, NalSyntax, VideoSyntax};
use crate::{Track, TrackKind};

/// The largest SEI NAL unit read whole: an A/53 message of 31 triples is under 120
/// bytes; larger SEI units (an encoder's version string) are skipped unread.
const MAX_SEI_BYTES: usize = 1024;

/// The T.35 header of ATSC A/53 caption data: country code United States, provider code
/// ATSC, user identifier "GA94", user_data_type_code 3 (`cc_data`).
const A53_CC: [u8; 8] = [0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03];

/// SEI payload type of registered user data (ITU-T T.35).
const USER_DATA_REGISTERED: u32 = 4;

/// Whether `track`, read through `source`, carries CEA-608 captions: some sample's SEI
/// holds A/53 `cc_data` with a valid 608 pair (field 1 or 2). Only the NAL units before
/// each sample's first slice are read, in a few bytes each; a video codec other than
/// H.264 and H.265, or audio, carries none.
pub fn carries_cea608<S: ByteSource + ?Sized>(track: &Track, source: &S) -> std::io::Result<bool> {
    if track.kind != TrackKind::Video {
        return Ok(false);
    }
    let Some(VideoSyntax::Nal(syntax, length_size)) = video_syntax(&track.sample_description)
    else {
        return Ok(false);
    };
    let ls = usize::from(length_size);
    let header = match syntax {
        NalSyntax::Avc => 1,
        NalSyntax::Hevc => 2,
    };
    let mut head = [0u8; 6];
    let mut unit = Vec::new();
    for sample in &track.samples {
        let size = sample.size as usize;
        let mut pos = 0usize;
        while pos + ls + header <= size {
            source.read_exact_at(sample.offset + pos as u64, &mut head[..ls + header])?;
            let len = head[..ls]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < header || pos + ls + len > size {
                // A malformed unit ends the look at this sample; the packager reports it.
                break;
            }
            let first = head[ls];
            let (vcl, sei) = match syntax {
                NalSyntax::Avc => ((1..=5).contains(&(first & 0x1f)), first & 0x1f == 6),
                // Prefix SEI (39); slices are types 0-31.
                NalSyntax::Hevc => ((first >> 1) & 0x3f < 32, (first >> 1) & 0x3f == 39),
            };
            if vcl {
                // SEI precedes the slices of its access unit (14496-10, 7.4.1.2.3).
                break;
            }
            if sei && len <= MAX_SEI_BYTES {
                unit.resize(len - header, 0);
                source.read_exact_at(sample.offset + (pos + ls + header) as u64, &mut unit)?;
                if sei_has_cea608(&unescape(&unit)) {
                    return Ok(true);
                }
            }
            pos += ls + len;
        }
    }
    Ok(false)
}

/// The RBSP of a NAL unit's payload: each emulation prevention byte (0x03 after two
/// zero bytes, 14496-10 7.4.1) removed.
fn unescape(ebsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ebsp.len());
    let mut zeros = 0;
    for &b in ebsp {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Whether an SEI RBSP holds an A/53 caption message with a valid 608 pair: each
/// `sei_message` is a payload type and size (sums of 0xFF bytes and a last byte,
/// 14496-10 7.3.2.3.1) and its payload.
fn sei_has_cea608(rbsp: &[u8]) -> bool {
    let mut at = 0usize;
    let number = |at: &mut usize| -> Option<u32> {
        let mut n = 0u32;
        loop {
            let b = *rbsp.get(*at)?;
            *at += 1;
            n = n.checked_add(u32::from(b))?;
            if b != 0xFF {
                return Some(n);
            }
        }
    };
    // Stops at the trailing bits (0x80) or at anything that does not parse.
    while at + 2 <= rbsp.len() && rbsp[at] != 0x80 {
        let (Some(kind), Some(size)) = (number(&mut at), number(&mut at)) else {
            return false;
        };
        let Some(payload) = rbsp.get(at..at + size as usize) else {
            return false;
        };
        if kind == USER_DATA_REGISTERED && a53_has_cea608(payload) {
            return true;
        }
        at += size as usize;
    }
    false
}

/// Whether an ITU-T T.35 payload is A/53 `cc_data` (A/53 Part 4, 6.2.3) with a valid
/// CEA-608 pair: `cc_count` triples after the flags and `em_data` bytes, each
/// `marker(5) cc_valid(1) cc_type(2)` then two bytes; types 0 and 1 are 608 fields 1
/// and 2 (2 and 3 are CEA-708).
fn a53_has_cea608(payload: &[u8]) -> bool {
    let Some(rest) = payload.strip_prefix(&A53_CC) else {
        return false;
    };
    let Some(&flags) = rest.first() else {
        return false;
    };
    if flags & 0x40 == 0 {
        return false;
    }
    let count = usize::from(flags & 0x1F);
    let triples = rest.get(2..2 + 3 * count).unwrap_or_default();
    triples
        .chunks_exact(3)
        .any(|t| t[0] & 0x04 != 0 && t[0] & 0x03 < 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An A/53 SEI message carrying `triples`, as an H.264 SEI RBSP.
    fn sei(triples: &[[u8; 3]]) -> Vec<u8> {
        let mut payload = A53_CC.to_vec();
        payload.push(0x40 | triples.len() as u8);
        payload.push(0xFF);
        for t in triples {
            payload.extend_from_slice(t);
        }
        payload.push(0xFF);
        let mut rbsp = vec![5, 1, 0xAA]; // a user_data_unregistered message first
        rbsp.push(4);
        rbsp.push(payload.len() as u8);
        rbsp.extend(payload);
        rbsp.push(0x80);
        rbsp
    }

    #[test]
    fn a53_caption_data_is_found_among_sei_messages() {
        assert!(sei_has_cea608(&sei(&[[0xFC, 0x94, 0x20]])));
        // 608 field 2, padding included: captions are there.
        assert!(sei_has_cea608(&sei(&[[0xFD, 0x80, 0x80]])));
        // CEA-708 only, or nothing valid: no 608 captions.
        assert!(!sei_has_cea608(&sei(&[[0xFE, 0x01, 0x02]])));
        assert!(!sei_has_cea608(&sei(&[[0xF8, 0x94, 0x20]])));
        assert!(!sei_has_cea608(&sei(&[])));
        // Another T.35 user, and truncated messages.
        let mut other = sei(&[[0xFC, 0x94, 0x20]]);
        other[6] = b'X';
        assert!(!sei_has_cea608(&other));
        let whole = sei(&[[0xFC, 0x94, 0x20]]);
        for cut in 0..whole.len() - 2 {
            assert!(!sei_has_cea608(&whole[..cut]), "{cut}");
        }
        assert!(!sei_has_cea608(&[0xFF; 64]));
    }

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(
            unescape(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            [0, 0, 1, 0, 0, 0, 3]
        );
        assert_eq!(unescape(&[0, 3, 0, 0]), [0, 3, 0, 0]);
    }
}
