//! Protected sample entries (ISO/IEC 23001-7, 8.12 `tenc`; ISO/IEC 14496-12, 8.12
//! `sinf`, `frma`, `schm`, `schi`).
//!
//! The source's `stsd` is kept byte for byte (see [`crate::cmaf::init_segment`]); to
//! protect it the sample entry's type becomes `encv`/`enca`, and a `sinf` naming the
//! original format, the scheme and the track's default KID is appended to its children.
//! With a clear lead the original entry follows as a second one, and clear fragments
//! name it in `tfhd` (ISO/IEC 14496-12, 8.8.7): every reader knows a clear sample entry,
//! while a `seig` sample group is ignored by several (ffmpeg, Shaka Packager).

use super::{NalSyntax, TrackProtection};
use crate::bmff::{write_box, write_full_box, Put};
use crate::{Error, Result, TrackKind};

/// Bytes from the start of a sample entry to its first child box: the SampleEntry
/// header (16) plus the VisualSampleEntry fields (70), or the AudioSampleEntry fields
/// (20, more in QuickTime's versions 1 and 2).
fn children_offset(entry: &[u8], kind: TrackKind) -> Option<usize> {
    match kind {
        TrackKind::Video => Some(86),
        TrackKind::Audio => match u16::from_be_bytes([*entry.get(16)?, *entry.get(17)?]) {
            0 => Some(36),
            1 => Some(52),
            2 => Some(72),
            _ => None,
        },
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The first sample entry of an `stsd` box: its offset and size.
fn first_entry(stsd: &[u8]) -> Option<(usize, usize)> {
    if stsd.get(4..8)? != b"stsd" || be32(stsd, 12)? == 0 {
        return None;
    }
    let size = be32(stsd, 16)? as usize;
    (size >= 8 && 16 + size <= stsd.len()).then_some((16, size))
}

/// Finds a child box of a sample entry by type; returns its body.
fn child<'a>(entry: &'a [u8], kind: TrackKind, fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    let mut pos = children_offset(entry, kind)?;
    while pos + 8 <= entry.len() {
        let size = be32(entry, pos)? as usize;
        if size < 8 || pos + size > entry.len() {
            return None;
        }
        if &entry[pos + 4..pos + 8] == fourcc {
            return Some(&entry[pos + 8..pos + size]);
        }
        pos += size;
    }
    None
}

/// How a video track's samples are structured, from its sample entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoSyntax<'a> {
    /// Length-prefixed NAL units, from `avcC` (ISO/IEC 14496-15, 5.3.3.1) or `hvcC`
    /// (8.3.3.1): the NAL syntax and the size of the length field.
    Nal(NalSyntax, u8),
    /// AV1 OBUs (`av01`), with the configOBUs of `av1C` (AV1-ISOBMFF 2.3.3), which follow
    /// its four bytes of fixed fields.
    Av1 { config_obus: &'a [u8] },
}

/// The [`VideoSyntax`] of the first sample entry of `stsd`: `None` for codecs other than
/// H.264, H.265 and AV1.
pub fn video_syntax(stsd: &[u8]) -> Option<VideoSyntax<'_>> {
    let (at, size) = first_entry(stsd)?;
    let entry = &stsd[at..at + size];
    match &entry[4..8] {
        b"avc1" | b"avc3" => {
            let c = child(entry, TrackKind::Video, b"avcC")?;
            Some(VideoSyntax::Nal(NalSyntax::Avc, (c.get(4)? & 3) + 1))
        }
        b"hvc1" | b"hev1" => {
            let c = child(entry, TrackKind::Video, b"hvcC")?;
            Some(VideoSyntax::Nal(NalSyntax::Hevc, (c.get(21)? & 3) + 1))
        }
        b"av01" => {
            let c = child(entry, TrackKind::Video, b"av1C")?;
            Some(VideoSyntax::Av1 {
                config_obus: c.get(4..)?,
            })
        }
        _ => None,
    }
}

/// The decoder configuration record of the first sample entry of `stsd` (`avcC`,
/// ISO/IEC 14496-15 5.3.3.1; `hvcC`, 8.3.3.1; `av1C`, AV1-ISOBMFF 2.3.3), whole:
/// `None` for other codecs. Two runs of samples can share one sample entry only when
/// these bytes are the same.
pub fn decoder_config(stsd: &[u8]) -> Option<&[u8]> {
    let (at, size) = first_entry(stsd)?;
    let entry = &stsd[at..at + size];
    let fourcc: &[u8; 4] = match &entry[4..8] {
        b"avc1" | b"avc3" => b"avcC",
        b"hvc1" | b"hev1" => b"hvcC",
        b"av01" => b"av1C",
        _ => return None,
    };
    child(entry, TrackKind::Video, fourcc)
}

/// The `stsd` of a protected track: the first entry renamed `encv`/`enca` with a `sinf`
/// appended, then, with a clear lead, the original entry as a second one for the clear
/// fragments to select (ISO/IEC 23001-7, 9.4: unprotected samples in a protected track).
pub fn protected_sample_description(
    stsd: &[u8],
    kind: TrackKind,
    p: &TrackProtection,
    clear_lead: bool,
) -> Result<Vec<u8>> {
    let (at, size) = first_entry(stsd).ok_or_else(|| Error::Malformed {
        kind: "stsd".into(),
        offset: 0,
        reason: "no sample entry".into(),
    })?;
    // One entry only: further entries would stay clear in a track marked protected.
    if be32(stsd, 12) != Some(1) {
        return Err(Error::Unsupported(
            "protecting a track with several sample entries".into(),
        ));
    }
    let entry = &stsd[at..at + size];
    if children_offset(entry, kind).is_none_or(|o| o > entry.len()) {
        return Err(Error::Unsupported(
            "a sample entry this packager cannot protect".into(),
        ));
    }
    let mut original = [0u8; 4];
    original.copy_from_slice(&entry[4..8]);
    if kind == TrackKind::Video && video_syntax(stsd).is_none() {
        return Err(Error::Unsupported(format!(
            "encryption of '{}' video (H.264, H.265 and AV1 can be encrypted)",
            String::from_utf8_lossy(&original)
        )));
    }
    let mut sinf = Vec::with_capacity(96);
    write_box(&mut sinf, b"sinf", |o| {
        write_box(o, b"frma", |o| o.extend_from_slice(&original));
        write_full_box(o, b"schm", 0, 0, |o| {
            o.extend_from_slice(&p.scheme.fourcc());
            o.put_u32(0x0001_0000);
        });
        write_box(o, b"schi", |o| write_tenc(o, kind, p));
    });

    let mut out = Vec::with_capacity(stsd.len() + size + sinf.len());
    out.extend_from_slice(&stsd[..at]);
    out.put_u32((size + sinf.len()) as u32);
    out.extend_from_slice(match kind {
        TrackKind::Video => b"encv",
        TrackKind::Audio => b"enca",
    });
    out.extend_from_slice(&entry[8..]);
    out.extend_from_slice(&sinf);
    out.extend_from_slice(&stsd[at + size..]);
    if clear_lead {
        out.extend_from_slice(entry);
        out[12..16].copy_from_slice(&2u32.to_be_bytes());
    }
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_be_bytes());
    Ok(out)
}

/// 8.2 Track Encryption Box: version 1 carries the pattern (`cbcs`); a constant IV
/// follows when samples carry none.
fn write_tenc(o: &mut Vec<u8>, kind: TrackKind, p: &TrackProtection) {
    let (crypt, skip) = p.scheme.pattern(kind == TrackKind::Video);
    let iv_size = p.scheme.per_sample_iv_size();
    let version = u8::from(p.scheme == super::Scheme::Cbcs);
    write_full_box(o, b"tenc", version, 0, |o| {
        o.put_u8(0);
        o.put_u8(if version == 1 { (crypt << 4) | skip } else { 0 });
        o.put_u8(1); // default_isProtected
        o.put_u8(iv_size);
        o.extend_from_slice(p.key.kid.as_bytes());
        if iv_size == 0 {
            o.put_u8(16);
            o.extend_from_slice(&p.iv);
        }
    });
}
