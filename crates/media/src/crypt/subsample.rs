//! Subsamples of a NAL-structured video sample (ISO/IEC 23001-7, 9.5; ISO/IEC 14496-15):
//! the length field and NAL header of every NAL unit stay clear so that a player can
//! walk the sample, non-VCL NAL units (parameter sets, SEI, delimiters) stay clear whole,
//! and the rest of each slice is protected in whole 16-byte blocks.

use crate::bmff::ByteSource;
use crate::{Error, Result, Track, TrackKind};

/// Most bytes read at once while measuring: runs of adjacent samples are read together up
/// to this size, so memory stays bounded whatever the track.
const MEASURE_CHUNK: usize = 8 << 20;

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
    out.clear();
    let ls = usize::from(length_size);
    if !(1..=4).contains(&ls) {
        return Err(Error::Unsupported(format!(
            "NAL length field of {ls} bytes"
        )));
    }
    let mut clear = 0usize;
    let mut pos = 0usize;
    while pos < sample.len() {
        let Some(len_bytes) = sample.get(pos..pos + ls) else {
            return Err(malformed(pos, sample.len()));
        };
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let end = pos
            .checked_add(ls + len)
            .filter(|&e| e <= sample.len())
            .ok_or_else(|| malformed(pos, sample.len()))?;
        let hdr = syntax.header_len();
        if len > hdr && syntax.is_vcl(sample[pos + ls]) {
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
    if clear > 0 {
        push(out, clear, 0);
    }
    if out.len() > usize::from(u16::MAX) {
        // `senc` counts subsamples in 16 bits (ISO/IEC 23001-7, 7.2.1).
        return Err(Error::Unsupported(format!(
            "a sample of {} subsamples (senc holds at most 65535)",
            out.len()
        )));
    }
    Ok(())
}

/// Adds an entry, splitting a clear run longer than the 16-bit field into clear-only
/// entries first.
fn push(out: &mut Vec<Subsample>, mut clear: usize, protected: usize) {
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

/// Counts, for each sample of a NAL-structured video track, the `senc` subsample entries
/// its encryption takes (ISO/IEC 23001-7, 7.2.1). The count depends on the sample's NAL
/// units, not on the scheme or key, and it fixes the size of every protected fragment:
/// measured once, it lets a presentation know the size, bit rate and I-frame byte ranges
/// of its protected copies before any sample is encrypted.
pub fn subsample_counts<S: ByteSource + ?Sized>(track: &Track, src: &S) -> Result<Vec<u16>> {
    let (syntax, length_size) = match track.kind {
        TrackKind::Video => super::nal_length_size(&track.sample_description).ok_or_else(|| {
            Error::Unsupported(format!(
                "encryption of '{}' video (H.264 and H.265 can be encrypted)",
                track.codec.codec_string()
            ))
        })?,
        TrackKind::Audio => {
            return Err(Error::Settings(
                "audio samples are encrypted whole and have no subsamples".into(),
            ))
        }
    };
    let samples = &track.samples;
    let mut counts = Vec::with_capacity(samples.len());
    let mut buf = Vec::new();
    let mut map = Vec::new();
    let mut n = 0usize;
    while n < samples.len() {
        // A run of samples adjacent in the source, read at once.
        let start = samples[n].offset;
        let mut end = n;
        let mut len = 0usize;
        while end < samples.len()
            && samples[end].offset == start + len as u64
            && (end == n || len + samples[end].size as usize <= MEASURE_CHUNK)
        {
            len += samples[end].size as usize;
            end += 1;
        }
        buf.resize(len, 0);
        src.read_exact_at(start, &mut buf)
            .map_err(|source| Error::Read {
                offset: start,
                source,
            })?;
        let mut at = 0usize;
        for s in &samples[n..end] {
            let data = &buf[at..at + s.size as usize];
            at += s.size as usize;
            video_subsamples_into(data, syntax, length_size, &mut map)?;
            // video_subsamples_into refuses more than u16::MAX entries.
            counts.push(map.len() as u16);
        }
        n = end;
    }
    Ok(counts)
}

fn malformed(pos: usize, len: usize) -> Error {
    Error::Malformed {
        kind: "NAL unit".into(),
        offset: pos as u64,
        reason: format!("a NAL unit runs past the end of its {len}-byte sample"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
