//! Subsamples of a NAL-structured video sample (ISO/IEC 23001-7, 9.5; ISO/IEC 14496-15):
//! the length field and NAL header of every NAL unit stay clear so that a player can
//! walk the sample, non-VCL NAL units (parameter sets, SEI, delimiters) stay clear whole,
//! and the rest of each slice is protected in whole 16-byte blocks.

use crate::sample_bytes::{past_the_end, InMemory, SampleBytes};
use crate::{Error, Result};

/// One `senc` subsample entry: clear bytes followed by protected bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// Which NAL syntax a video track uses: H.264 has a 1-byte NAL header, H.265 2 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalSyntax {
    Avc,
    Hevc,
}

impl NalSyntax {
    fn header_len(self) -> usize {
        match self {
            NalSyntax::Avc => 1,
            NalSyntax::Hevc => 2,
        }
    }

    /// Whether a NAL unit carries slice data (VCL): H.264 types 1-5 (ISO/IEC 14496-10,
    /// table 7-1), H.265 types 0-31 (ISO/IEC 23008-2, table 7-1).
    fn is_vcl(self, first: u8) -> bool {
        match self {
            NalSyntax::Avc => (1..=5).contains(&(first & 0x1f)),
            NalSyntax::Hevc => (first >> 1) & 0x3f < 32,
        }
    }
}

/// Splits a sample of length-prefixed NAL units into subsamples.
pub fn video_subsamples(
    sample: &[u8],
    syntax: NalSyntax,
    length_size: u8,
) -> Result<Vec<Subsample>> {
    let mut out = Vec::new();
    video_subsamples_into(sample, syntax, length_size, &mut out)?;
    Ok(out)
}

/// [`video_subsamples`] into a buffer the caller reuses from sample to sample (cleared
/// first).
pub fn video_subsamples_into(
    sample: &[u8],
    syntax: NalSyntax,
    length_size: u8,
    out: &mut Vec<Subsample>,
) -> Result<()> {
    walk_nal_units(&mut InMemory(sample), syntax, length_size, out)
}

/// Splits a sample into subsamples (cleared first), reading each NAL unit's length field
/// and header byte through `sample`.
pub(super) fn walk_nal_units(
    sample: &mut impl SampleBytes,
    syntax: NalSyntax,
    length_size: u8,
    out: &mut Vec<Subsample>,
) -> Result<()> {
    out.clear();
    let ls = usize::from(length_size);
    if !(1..=4).contains(&ls) {
        return Err(Error::Unsupported(format!(
            "NAL length field of {ls} bytes"
        )));
    }
    let size = sample.len();
    let hdr = syntax.header_len();
    let mut clear = 0usize;
    let mut pos = 0usize;
    while pos < size {
        if pos + ls > size {
            return Err(past_the_end("NAL unit", pos, size));
        }
        let len = sample
            .get(pos, ls)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let end = pos
            .checked_add(ls + len)
            .filter(|&e| e <= size)
            .ok_or_else(|| past_the_end("NAL unit", pos, size))?;
        if len > hdr && syntax.is_vcl(sample.get(pos + ls, 1)?[0]) {
            let protected = (len - hdr) & !15;
            clear += ls + len - protected;
            if protected > 0 {
                push(out, clear, protected);
                clear = 0;
            }
        } else {
            clear += ls + len;
        }
        pos = end;
    }
    finish(out, clear)
}

/// Ends a sample's subsamples with its trailing clear bytes, and refuses more entries
/// than `senc` can count (16 bits, ISO/IEC 23001-7, 7.2.1).
pub(super) fn finish(out: &mut Vec<Subsample>, clear: usize) -> Result<()> {
    if clear > 0 {
        push(out, clear, 0);
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(Error::Unsupported(format!(
            "a sample of {} subsamples (senc holds at most 65535)",
            out.len()
        )));
    }
    Ok(())
}

/// Adds an entry, splitting a clear run longer than the 16-bit field into clear-only
/// entries first.
pub(super) fn push(out: &mut Vec<Subsample>, mut clear: usize, protected: usize) {
    while clear > usize::from(u16::MAX) {
        out.push(Subsample {
            clear: u16::MAX,
            protected: 0,
        });
        clear -= usize::from(u16::MAX);
    }
    out.push(Subsample {
        clear: clear as u16,
        protected: protected as u32,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmff::ByteSource;
    use crate::sample_bytes::{SampleWindow, WINDOW};

    fn nal(kind: u8, body: usize) -> Vec<u8> {
        let mut v = ((1 + body) as u32).to_be_bytes().to_vec();
        v.push(kind);
        v.extend(std::iter::repeat_n(0xab, body));
        v
    }

    #[test]
    fn slices_are_protected_in_whole_blocks_after_clear_headers() {
        // AUD (9), SPS (7), then an IDR slice (5) of 1 + 100 bytes.
        let mut s = nal(9, 1);
        s.extend(nal(7, 20));
        s.extend(nal(0x65, 100));
        let subs = video_subsamples(&s, NalSyntax::Avc, 4).unwrap();
        // 6 + 25 bytes of AUD and SPS, 5 of slice header, 4 of remainder: 40 clear, 96.
        assert_eq!(
            subs,
            vec![Subsample {
                clear: 40,
                protected: 96
            }]
        );
        let total: usize = subs
            .iter()
            .map(|x| usize::from(x.clear) + x.protected as usize)
            .sum();
        assert_eq!(total, s.len());
    }

    #[test]
    fn long_clear_runs_are_split_and_truncated_nals_refused() {
        let s = nal(6, 70_000);
        let subs = video_subsamples(&s, NalSyntax::Avc, 4).unwrap();
        assert_eq!(subs[0].clear, u16::MAX);
        assert!(subs.iter().all(|x| x.protected == 0));
        let mut bad = nal(5, 40);
        bad.truncate(20);
        assert!(video_subsamples(&bad, NalSyntax::Avc, 4).is_err());
    }

    /// A source that counts the bytes read from it.
    struct Counted<'a>(&'a [u8], std::cell::Cell<usize>);

    impl ByteSource for Counted<'_> {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }

        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            self.1.set(self.1.get() + buf.len());
            self.0.read_exact_at(offset, buf)
        }
    }

    #[test]
    fn a_sample_read_through_windows_splits_as_in_memory_without_reading_payloads() {
        // Small units in a run, one that crosses a window's end, slices of every size
        // around a block, a large SEI and a slice whose payload is far larger than a window.
        let mut s = nal(9, 1);
        s.extend(nal(7, 20));
        s.extend(nal(8, 4));
        s.extend(nal(6, WINDOW - 10));
        for body in [0, 1, 15, 16, 17, 300] {
            s.extend(nal(0x41, body));
        }
        s.extend(nal(6, 3 * WINDOW));
        s.extend(nal(0x65, 200_000));
        let offset = 7u64;
        let mut file = vec![0u8; offset as usize];
        file.extend(&s);
        let src = Counted(&file, std::cell::Cell::new(0));
        let mut window = SampleWindow::new(&src, offset, s.len(), Vec::new());
        let mut sparse = Vec::new();
        walk_nal_units(&mut window, NalSyntax::Avc, 4, &mut sparse).unwrap();
        assert_eq!(sparse, video_subsamples(&s, NalSyntax::Avc, 4).unwrap());
        assert!(src.1.get() < 8 * WINDOW, "read {} bytes", src.1.get());
        // A unit whose length runs past the sample is refused in both.
        let mut cut = s.clone();
        cut.truncate(s.len() - 1);
        let mut window = SampleWindow::new(&src, offset, cut.len(), Vec::new());
        assert!(walk_nal_units(&mut window, NalSyntax::Avc, 4, &mut sparse).is_err());
        assert!(video_subsamples(&cut, NalSyntax::Avc, 4).is_err());
    }

    #[test]
    fn hevc_headers_are_two_bytes() {
        // Type 19 (IDR_W_RADL) is VCL; the header byte is type << 1.
        let mut s = ((2 + 64) as u32).to_be_bytes().to_vec();
        s.extend([19 << 1, 1]);
        s.extend([0u8; 64]);
        let subs = video_subsamples(&s, NalSyntax::Hevc, 4).unwrap();
        assert_eq!(
            subs,
            vec![Subsample {
                clear: 6,
                protected: 64
            }]
        );
    }
}
