use std::fmt;

use super::ByteSource;
use crate::{Error, Result};

/// A four-character code naming a box type (ISO/IEC 14496-12, 4.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if (0x20..0x7f).contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc({self})")
    }
}

/// The header of one box (ISO/IEC 14496-12, 4.2 "Object structure"): where it starts, its
/// type, and its total size including the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub offset: u64,
    pub kind: FourCc,
    pub header_len: u64,
    pub size: u64,
}

impl BoxHeader {
    /// Reads the header of the box at `offset`, which must end at or before `end`.
    ///
    /// A size of 0 means "to the end of the enclosing space" and a size of 1 means a
    /// 64-bit `largesize` follows the type. The size is checked against `end` here, so a
    /// caller can trust `offset + size <= end`. A box that claims more than is left is
    /// reported as [`Error::Truncated`].
    pub fn read<S: ByteSource + ?Sized>(src: &S, offset: u64, end: u64) -> Result<Self> {
        let available = end.saturating_sub(offset);
        if available < 8 {
            return Err(Error::Truncated(format!(
                "{available} stray bytes at byte {offset} where a box header was expected"
            )));
        }
        let mut head = [0u8; 16];
        let want = if available >= 16 { 16 } else { 8 };
        src.read_exact_at(offset, &mut head[..want])
            .map_err(|source| Error::Read { offset, source })?;
        let kind = FourCc([head[4], head[5], head[6], head[7]]);
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let (header_len, size) = match size32 {
            0 => (8, available),
            1 => {
                if want < 16 {
                    return Err(Error::Truncated(format!(
                        "'{kind}' box at byte {offset} has no room for its 64-bit size"
                    )));
                }
                let large = u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"));
                (16, large)
            }
            n => (8, u64::from(n)),
        };
        if size < header_len {
            return Err(Error::Malformed {
                kind: kind.to_string(),
                offset,
                reason: format!("size {size} is smaller than its own header"),
            });
        }
        if size > available {
            return Err(Error::Truncated(format!(
                "'{kind}' box at byte {offset} claims {size} bytes but only {available} remain"
            )));
        }
        Ok(BoxHeader {
            offset,
            kind,
            header_len,
            size,
        })
    }

    /// First byte after this box.
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// First byte of the body.
    pub fn body_offset(&self) -> u64 {
        self.offset + self.header_len
    }
}

/// A child box held in memory: its type, the whole box, and its body.
pub(crate) type ChildBox<'a> = (FourCc, &'a [u8], &'a [u8]);

/// Finds the child boxes of a box held in memory.
pub(crate) fn children(body: &[u8]) -> Result<Vec<ChildBox<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    let end = body.len() as u64;
    while pos < end {
        let header = BoxHeader::read(body, pos, end)?;
        let start = header.offset as usize;
        let whole = &body[start..header.end() as usize];
        let inner = &body[header.body_offset() as usize..header.end() as usize];
        out.push((header.kind, whole, inner));
        pos = header.end();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compact_and_large_sizes() {
        let mut data = vec![0, 0, 0, 8, b'f', b'r', b'e', b'e'];
        data.extend_from_slice(&[0, 0, 0, 1, b'm', b'd', b'a', b't']);
        data.extend_from_slice(&20u64.to_be_bytes());
        data.extend_from_slice(&[1, 2, 3, 4]);
        let first = BoxHeader::read(&data[..], 0, data.len() as u64).unwrap();
        assert_eq!((first.kind.0, first.size), (*b"free", 8));
        let second = BoxHeader::read(&data[..], 8, data.len() as u64).unwrap();
        assert_eq!(
            (second.kind.0, second.header_len, second.size),
            (*b"mdat", 16, 20)
        );
    }

    #[test]
    fn refuses_box_larger_than_the_space_left() {
        let data = [0, 0, 1, 0, b'm', b'o', b'o', b'v', 0, 0];
        let err = BoxHeader::read(&data[..], 0, data.len() as u64).unwrap_err();
        assert!(matches!(err, Error::Truncated(_)), "{err}");
    }

    #[test]
    fn refuses_size_below_header() {
        let data = [0, 0, 0, 4, b'm', b'o', b'o', b'v'];
        let err = BoxHeader::read(&data[..], 0, 8).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
}
