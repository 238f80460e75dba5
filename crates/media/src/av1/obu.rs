//! OBU headers (AV1 spec 5.3.1 `open_bitstream_unit`, 5.3.2 `obu_header`, 5.3.3
//! `obu_extension_header`) and the `leb128()` sizes that follow them (4.10.5).

use super::bits::{invalid, Fault, Parsed};

/// `obu_type` (6.2.2, table in 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObuType {
    SequenceHeader,
    TemporalDelimiter,
    FrameHeader,
    TileGroup,
    Metadata,
    Frame,
    RedundantFrameHeader,
    TileList,
    Padding,
    Reserved(u8),
}

impl ObuType {
    fn from_code(code: u8) -> ObuType {
        match code {
            1 => ObuType::SequenceHeader,
            2 => ObuType::TemporalDelimiter,
            3 => ObuType::FrameHeader,
            4 => ObuType::TileGroup,
            5 => ObuType::Metadata,
            6 => ObuType::Frame,
            7 => ObuType::RedundantFrameHeader,
            8 => ObuType::TileList,
            15 => ObuType::Padding,
            other => ObuType::Reserved(other),
        }
    }
}

/// An OBU's header and where its payload lies, relative to the OBU's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Obu {
    pub(crate) kind: ObuType,
    /// `temporal_id` and `spatial_id` of the extension header, 0 without one.
    pub(crate) temporal_id: u8,
    pub(crate) spatial_id: u8,
    /// Bytes of the header and the size field: the payload starts here.
    pub(crate) payload_at: usize,
    /// `obu_size`: bytes of the payload.
    pub(crate) payload_len: usize,
}

/// Bytes an OBU header and its size field take at most: two of header, eight of
/// `leb128`.
pub(crate) const MAX_OBU_HEAD: usize = 2 + 8;

/// Reads the header and size of the OBU starting at `head[0]`; `remaining` is the number
/// of bytes from there to the end of the sample (`sz` of 5.3.1), which an OBU without a
/// size field fills. `head` holds at least `min(remaining, MAX_OBU_HEAD)` bytes.
pub(crate) fn read_obu(head: &[u8], remaining: usize) -> Parsed<Obu> {
    let first = *head.first().ok_or(Fault::Truncated)?;
    if first & 0x80 != 0 {
        return invalid("obu_forbidden_bit is set");
    }
    let kind = ObuType::from_code((first >> 3) & 0x0f);
    let extension = first & 0x04 != 0;
    let has_size = first & 0x02 != 0;
    let (mut at, temporal_id, spatial_id) = if extension {
        let ext = *head.get(1).ok_or(Fault::Truncated)?;
        (2, ext >> 5, (ext >> 3) & 3)
    } else {
        (1, 0, 0)
    };
    let payload_len = if has_size {
        let (size, len) = leb128(&head[at..])?;
        at += len;
        size as usize
    } else {
        remaining - at
    };
    if payload_len > remaining - at {
        return invalid(format!(
            "an OBU of {payload_len} bytes runs past the {} bytes left in the sample",
            remaining - at
        ));
    }
    Ok(Obu {
        kind,
        temporal_id,
        spatial_id,
        payload_at: at,
        payload_len,
    })
}

/// `leb128()` (4.10.5): the value and the bytes it took. At most eight bytes are read,
/// the eighth must end the number, and the value must fit 32 bits (both conformance
/// requirements of 4.10.5), so an oversized or unterminated size is refused rather than
/// wrapped.
pub(crate) fn leb128(bytes: &[u8]) -> Parsed<(u32, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *bytes.get(i).ok_or(Fault::Truncated)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value)
                .map(|v| (v, i + 1))
                .or_else(|_| invalid(format!("a leb128 value of {value} is over 2^32 - 1")));
        }
    }
    invalid("a leb128 value runs past eight bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_values_lengths_and_limits() {
        assert_eq!(leb128(&[0x05]), Ok((5, 1)));
        assert_eq!(leb128(&[0x80, 0x01]), Ok((128, 2)));
        // A padded encoding is allowed (the value is what counts).
        assert_eq!(leb128(&[0x85, 0x80, 0x00]), Ok((5, 3)));
        assert_eq!(leb128(&[0xff, 0xff, 0xff, 0xff, 0x0f]), Ok((u32::MAX, 5)));
        assert!(matches!(
            leb128(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
            Err(Fault::Invalid(_))
        ));
        assert!(matches!(leb128(&[0x80; 8]), Err(Fault::Invalid(_))));
        assert_eq!(leb128(&[0x80, 0x80]), Err(Fault::Truncated));
        assert_eq!(leb128(&[]), Err(Fault::Truncated));
    }

    #[test]
    fn headers_with_and_without_extension_and_size() {
        // OBU_FRAME (6) with a size field, 3 bytes of payload.
        let obu = read_obu(&[0x32, 0x03, 0, 0, 0], 5).unwrap();
        assert_eq!(obu.kind, ObuType::Frame);
        assert_eq!((obu.payload_at, obu.payload_len), (2, 3));
        // With an extension: temporal_id 2, spatial_id 1.
        let obu = read_obu(&[0x36, (2 << 5) | (1 << 3), 0x00], 3).unwrap();
        assert_eq!((obu.temporal_id, obu.spatial_id), (2, 1));
        assert_eq!((obu.payload_at, obu.payload_len), (3, 0));
        // Without a size field the OBU fills the rest of the sample.
        let obu = read_obu(&[0x20, 1, 2, 3], 4).unwrap();
        assert_eq!(obu.kind, ObuType::TileGroup);
        assert_eq!((obu.payload_at, obu.payload_len), (1, 3));
        // A size past the sample, the forbidden bit, a missing extension byte.
        assert!(matches!(
            read_obu(&[0x32, 0x09, 0], 3),
            Err(Fault::Invalid(_))
        ));
        assert!(matches!(read_obu(&[0x80], 1), Err(Fault::Invalid(_))));
        assert_eq!(read_obu(&[0x36], 1), Err(Fault::Truncated));
    }
}
