//! The Movie Fragment box (ISO/IEC 14496-12, 8.8.4) of one CMAF fragment, with the
//! sample auxiliary information of protected samples (`saiz`, `saio`, and `senc` of
//! ISO/IEC 23001-7, 7.2).
//!
//! The box is written from the sample table alone: a protected fragment's `senc` entries
//! are sized from the track's subsample counts and left zeroed, to be filled once the
//! samples are encrypted. So the size of every fragment is known before any sample is
//! read, and the bytes written later have exactly that size.

use std::ops::Range;

use crate::bmff::{write_box, write_full_box, Put};
use crate::{Sample, Track};

/// Index of the clear sample entry of a protected track with a clear lead.
const CLEAR_SAMPLE_ENTRY: u32 = 2;

/// Sample flags (ISO/IEC 14496-12, 8.8.3.1): `sample_depends_on` = 2 (an I-frame or any
/// audio frame).
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_depends_on` = 1 and `sample_is_non_sync_sample` = 1.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// How the samples of a fragment are stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FragmentAux<'a> {
    /// A clear track.
    Clear,
    /// Clear samples in a protected track (the clear lead): they take the second, clear
    /// sample entry.
    ClearLead,
    /// Encrypted samples with their `senc` entries.
    Encrypted(SencShape<'a>),
}

/// What fixes the size of a fragment's `senc` entries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SencShape<'a> {
    /// Bytes of IV per sample (8 for `cenc`, 0 for `cbcs`).
    pub iv_size: u8,
    /// Subsample entries per sample, for NAL video; `None` for whole-sample encryption.
    pub subsamples: Option<&'a [u16]>,
}

impl SencShape<'_> {
    /// Bytes of the `senc` entry of sample `i` of the fragment.
    pub fn entry_len(&self, i: usize) -> usize {
        usize::from(self.iv_size) + self.subsamples.map_or(0, |c| 2 + 6 * usize::from(c[i]))
    }

    /// With a constant IV and whole-sample encryption (`cbcs` audio) there is no
    /// auxiliary information at all, so no `senc` (ISO/IEC 23001-7, 7.2).
    fn is_empty(&self) -> bool {
        self.iv_size == 0 && self.subsamples.is_none()
    }
}

/// Writes a `moof` for the samples `range` of `track` at the end of `out`, with the
/// `trun` data offset pointing just past the `mdat` header that follows it. Returns the
/// position in `out` of the first `senc` entry, for a protected fragment that has one.
pub(crate) fn write_moof(
    out: &mut Vec<u8>,
    track: &Track,
    range: Range<usize>,
    sequence: u32,
    aux: FragmentAux<'_>,
) -> Option<usize> {
    let start = out.len();
    let samples = &track.samples[range];
    let first = &samples[0];
    let same_duration = samples.iter().all(|s| s.duration == first.duration);
    let has_cts = samples.iter().any(|s| s.cts != 0);
    let negative_cts = samples.iter().any(|s| s.cts < 0);
    let (default_flags, first_flags, per_sample_flags) = sample_flags(samples);

    let mut data_offset_at = 0;
    let mut senc_at = None;
    write_box(out, b"moof", |o| {
        // 8.8.5 Movie Fragment Header.
        write_full_box(o, b"mfhd", 0, 0, |o| o.put_u32(sequence));
        write_box(o, b"traf", |o| {
            // 8.8.7 Track Fragment Header: default-base-is-moof (0x020000),
            // default-sample-duration (0x08), default-sample-flags (0x20).
            let mut flags = 0x02_0000 | 0x20;
            if same_duration {
                flags |= 0x08;
            }
            let clear_entry = matches!(aux, FragmentAux::ClearLead);
            if clear_entry {
                flags |= 0x02; // sample-description-index-present
            }
            write_full_box(o, b"tfhd", 0, flags, |o| {
                o.put_u32(track.track_id);
                if clear_entry {
                    o.put_u32(CLEAR_SAMPLE_ENTRY);
                }
                if same_duration {
                    o.put_u32(first.duration);
                }
                o.put_u32(default_flags);
            });
            // 8.8.12 Track Fragment Decode Time.
            write_full_box(o, b"tfdt", 1, 0, |o| o.put_u64(first.dts));
            // 8.8.8 Track Run: version 1 only when a composition offset is negative.
            let mut flags = 0x001 | 0x200; // data-offset, sample-size
            if first_flags.is_some() {
                flags |= 0x004;
            }
            if !same_duration {
                flags |= 0x100;
            }
            if per_sample_flags {
                flags |= 0x400;
            }
            if has_cts {
                flags |= 0x800;
            }
            write_full_box(o, b"trun", u8::from(negative_cts), flags, |o| {
                o.put_u32(samples.len() as u32);
                data_offset_at = o.len();
                o.put_i32(0);
                if let Some(f) = first_flags {
                    o.put_u32(f);
                }
                for s in samples {
                    if !same_duration {
                        o.put_u32(s.duration);
                    }
                    o.put_u32(s.size);
                    if per_sample_flags {
                        o.put_u32(if s.sync {
                            SYNC_SAMPLE_FLAGS
                        } else {
                            NON_SYNC_SAMPLE_FLAGS
                        });
                    }
                    if has_cts {
                        o.put_i32(s.cts);
                    }
                }
            });
            if let FragmentAux::Encrypted(shape) = aux {
                if !shape.is_empty() {
                    senc_at = Some(write_sample_encryption(o, start, samples.len(), &shape));
                }
            }
        });
    });
    let data_offset = (out.len() - start) as i32 + 8;
    out[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    senc_at
}

/// Flags in tfhd/trun: a common default, with the first sample's own flags when only it
/// differs (the usual video fragment: one I-frame, then dependent frames).
fn sample_flags(samples: &[Sample]) -> (u32, Option<u32>, bool) {
    let rest = &samples[1..];
    let first = samples[0].sync;
    if rest.iter().all(|s| s.sync) {
        (
            SYNC_SAMPLE_FLAGS,
            (!first).then_some(NON_SYNC_SAMPLE_FLAGS),
            false,
        )
    } else if rest.iter().all(|s| !s.sync) {
        (
            NON_SYNC_SAMPLE_FLAGS,
            first.then_some(SYNC_SAMPLE_FLAGS),
            false,
        )
    } else {
        (NON_SYNC_SAMPLE_FLAGS, None, true)
    }
}

/// `saiz`, `saio` and a `senc` with zeroed entries of the sizes `shape` gives. `saio`
/// points at the first entry, relative to the `moof` at `moof_start` (the base offset
/// with default-base-is-moof). Returns the position of the first entry in `o`.
fn write_sample_encryption(
    o: &mut Vec<u8>,
    moof_start: usize,
    count: usize,
    shape: &SencShape<'_>,
) -> usize {
    let sizes: Vec<usize> = (0..count).map(|i| shape.entry_len(i)).collect();
    let common = sizes
        .first()
        .copied()
        .filter(|&f| f <= 255 && sizes.iter().all(|&s| s == f));
    // 8.7.8 Sample Auxiliary Information Sizes.
    write_full_box(o, b"saiz", 0, 0, |o| match common {
        Some(size) => {
            o.put_u8(size as u8);
            o.put_u32(count as u32);
        }
        None => {
            o.put_u8(0);
            o.put_u32(count as u32);
            for &s in &sizes {
                o.put_u8(u8::try_from(s).unwrap_or(u8::MAX));
            }
        }
    });
    // 8.7.9 Sample Auxiliary Information Offsets: one chunk (the fragment's run).
    let mut offset_at = 0;
    write_full_box(o, b"saio", 0, 0, |o| {
        o.put_u32(1);
        offset_at = o.len();
        o.put_u32(0);
    });
    // ISO/IEC 23001-7, 7.2 Sample Encryption: flag 0x2 when subsamples are listed.
    let flags = if shape.subsamples.is_some() { 0x2 } else { 0 };
    let mut first_entry = 0;
    write_full_box(o, b"senc", 0, flags, |o| {
        o.put_u32(count as u32);
        first_entry = o.len();
        o.resize(o.len() + sizes.iter().sum::<usize>(), 0);
    });
    o[offset_at..offset_at + 4].copy_from_slice(&((first_entry - moof_start) as u32).to_be_bytes());
    first_entry
}
