//! Writing CMAF headers and segments (ISO/IEC 23000-19) in ISO-BMFF boxes
//! (ISO/IEC 14496-12).
//!
//! A media segment is returned as a [`SegmentLayout`]: the generated boxes (`styp`,
//! `sidx`, `moof`, the `mdat` header) interleaved with byte ranges of the source that hold
//! the sample data. The caller copies the ranges; this crate never touches media bytes.

use std::ops::Range;

use crate::bmff::{write_box, write_full_box, ByteSource, Put};
use crate::crypt::{self, Subsample, TrackProtection};
use crate::segment::SegmentSpec;
use crate::{Error, Sample, Track, TrackKind};

/// Index of the clear sample entry of a protected track with a clear lead.
const CLEAR_SAMPLE_ENTRY: u32 = 2;

/// Sample flags (ISO/IEC 14496-12, 8.8.3.1): `sample_depends_on` = 2 (an I-frame or any
/// audio frame).
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_depends_on` = 1 and `sample_is_non_sync_sample` = 1.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// Writes the CMAF header (init segment) of one track: `ftyp` and a `moov` with an empty
/// sample table, the source's sample description, and `mvex`/`trex`.
pub fn init_segment(track: &Track) -> Vec<u8> {
    init_segment_with(track, &track.sample_description, &[])
}

/// The init segment of a protected track: a protected sample entry (`encv`/`enca` with
/// `sinf`) and the `pssh` boxes of every DRM system in the `moov` (ISO/IEC 23001-7, 8.1).
pub fn protected_init_segment(track: &Track, p: &TrackProtection) -> crate::Result<Vec<u8>> {
    let stsd = crypt::protected_sample_description(&track.sample_description, track.kind, p)?;
    Ok(init_segment_with(track, &stsd, &p.pssh))
}

fn init_segment_with(track: &Track, stsd: &[u8], pssh: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + stsd.len());
    write_box(&mut out, b"ftyp", |o| {
        o.extend_from_slice(b"iso6");
        o.put_u32(0);
        for brand in [b"iso6", b"cmfc", b"mp41"] {
            o.extend_from_slice(brand);
        }
    });
    write_box(&mut out, b"moov", |o| {
        // 8.2.2 Movie Header: durations are 0, the fragments carry the timing.
        write_full_box(o, b"mvhd", 0, 0, |o| {
            o.put_u32(0); // creation_time
            o.put_u32(0); // modification_time
            o.put_u32(track.timescale);
            o.put_u32(0); // duration
            o.put_u32(0x0001_0000); // rate 1.0
            o.put_u16(0x0100); // volume 1.0
            o.extend_from_slice(&[0; 10]);
            put_identity_matrix(o);
            o.extend_from_slice(&[0; 24]); // pre_defined
            o.put_u32(track.track_id + 1); // next_track_ID
        });
        write_box(o, b"trak", |o| {
            // 8.3.2 Track Header: enabled and in movie.
            write_full_box(o, b"tkhd", 0, 0x3, |o| {
                o.put_u32(0);
                o.put_u32(0);
                o.put_u32(track.track_id);
                o.put_u32(0);
                o.put_u32(0); // duration
                o.extend_from_slice(&[0; 8]);
                o.put_u16(0); // layer
                o.put_u16(0); // alternate_group
                o.put_u16(if track.kind == TrackKind::Audio {
                    0x0100
                } else {
                    0
                });
                o.put_u16(0);
                put_identity_matrix(o);
                o.put_u32(track.width << 16);
                o.put_u32(track.height << 16);
            });
            write_box(o, b"mdia", |o| {
                // 8.4.2 Media Header.
                write_full_box(o, b"mdhd", 0, 0, |o| {
                    o.put_u32(0);
                    o.put_u32(0);
                    o.put_u32(track.timescale);
                    o.put_u32(0);
                    o.put_u16(packed_language(&track.language));
                    o.put_u16(0);
                });
                // 8.4.3 Handler Reference.
                write_full_box(o, b"hdlr", 0, 0, |o| {
                    o.put_u32(0);
                    o.extend_from_slice(match track.kind {
                        TrackKind::Video => b"vide",
                        TrackKind::Audio => b"soun",
                    });
                    o.extend_from_slice(&[0; 12]);
                    o.extend_from_slice(match track.kind {
                        TrackKind::Video => b"openvod video\0",
                        TrackKind::Audio => b"openvod audio\0",
                    });
                });
                write_box(o, b"minf", |o| {
                    match track.kind {
                        // 12.1.2 Video media header, flags = 1.
                        TrackKind::Video => write_full_box(o, b"vmhd", 0, 1, |o| {
                            o.extend_from_slice(&[0; 8]);
                        }),
                        // 12.2.2 Sound media header.
                        TrackKind::Audio => write_full_box(o, b"smhd", 0, 0, |o| {
                            o.put_u32(0);
                        }),
                    }
                    // 8.7.1 Data Information: the media is in this file (flags = 1).
                    write_box(o, b"dinf", |o| {
                        write_full_box(o, b"dref", 0, 0, |o| {
                            o.put_u32(1);
                            write_full_box(o, b"url ", 0, 1, |_| {});
                        });
                    });
                    write_box(o, b"stbl", |o| {
                        o.extend_from_slice(stsd);
                        for kind in [b"stts", b"stsc", b"stco"] {
                            write_full_box(o, kind, 0, 0, |o| o.put_u32(0));
                        }
                        write_full_box(o, b"stsz", 0, 0, |o| {
                            o.put_u32(0);
                            o.put_u32(0);
                        });
                    });
                });
            });
        });
        // 8.8.1 Movie Extends: the samples are in fragments.
        write_box(o, b"mvex", |o| {
            write_full_box(o, b"trex", 0, 0, |o| {
                o.put_u32(track.track_id);
                o.put_u32(1); // default_sample_description_index
                o.put_u32(0);
                o.put_u32(0);
                o.put_u32(0);
            });
        });
        for b in pssh {
            o.extend_from_slice(b);
        }
    });
    out
}

fn put_identity_matrix(o: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        o.put_u32(v);
    }
}

/// ISO 639-2/T code packed as three 5-bit letters (8.4.2.3); "und" when not a code.
fn packed_language(lang: &str) -> u16 {
    let b = lang.as_bytes();
    let code = if b.len() == 3 && b.iter().all(u8::is_ascii_lowercase) {
        b
    } else {
        b"und"
    };
    code.iter()
        .fold(0u16, |acc, &c| (acc << 5) | u16::from(c - 0x60))
}

/// One part of a media segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Generated bytes (boxes and box headers).
    Bytes(Vec<u8>),
    /// `len` bytes of the source at `offset`.
    Source { offset: u64, len: u64 },
}

/// Where a fragment lies in its segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentPlace {
    /// Offset of the fragment's `moof` in the segment file.
    pub offset: u64,
    /// Bytes of `moof` + `mdat`.
    pub size: u64,
    /// Bytes from the `moof` to the end of the first sample's data: the range an I-frame
    /// playlist points at when the fragment starts with a sync sample.
    pub first_sample_end: u64,
    /// Whether the fragment starts with a sync sample.
    pub starts_with_sync: bool,
    /// Earliest presentation time, in the track timescale.
    pub start: i64,
    /// Duration in the track timescale.
    pub duration: u64,
}

/// A media segment as generated bytes and source byte ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentLayout {
    pub parts: Vec<Part>,
    pub fragments: Vec<FragmentPlace>,
}

impl SegmentLayout {
    /// Size of the segment file.
    pub fn len(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len() as u64,
                Part::Source { len, .. } => *len,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Assembles the segment, reading its source ranges through `src`: for a caller that
    /// wants the bytes in memory (an origin answering from memory, whole-segment
    /// encryption) rather than copying ranges file to file.
    pub fn read<S: ByteSource + ?Sized>(&self, src: &S) -> crate::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for p in &self.parts {
            match p {
                Part::Bytes(b) => out.extend_from_slice(b),
                Part::Source { offset, len } => {
                    let at = out.len();
                    out.resize(at + *len as usize, 0);
                    src.read_exact_at(*offset, &mut out[at..])
                        .map_err(|source| Error::Read {
                            offset: *offset,
                            source,
                        })?;
                }
            }
        }
        Ok(out)
    }
}

/// Builds media segment `number` (1-based, also the base of the `mfhd` sequence numbers)
/// of `track`: `styp`, a `sidx` indexing the fragments, then `moof` + `mdat` per fragment.
pub fn media_segment(track: &Track, spec: &SegmentSpec, first_sequence: u32) -> SegmentLayout {
    let moofs = spec
        .fragments
        .iter()
        .enumerate()
        .map(|(k, range)| moof(track, range.clone(), first_sequence + k as u32, None))
        .collect();
    assemble(track, spec, moofs, None)
}

/// Builds a media segment of a protected track. The sample data is read through `src`
/// and encrypted here, because the `senc` subsample map depends on the NAL units of each
/// sample; the layout holds generated bytes only.
pub fn protected_media_segment<S: ByteSource + ?Sized>(
    track: &Track,
    spec: &SegmentSpec,
    first_sequence: u32,
    p: &TrackProtection,
    src: &S,
) -> crate::Result<SegmentLayout> {
    let clear = (spec.start as f64) < p.clear_lead_seconds * f64::from(track.timescale);
    let video = track.kind == TrackKind::Video;
    let nal = if video && !clear {
        Some(
            crypt::nal_length_size(&track.sample_description)
                .ok_or_else(|| Error::Unsupported("encryption of this video codec".into()))?,
        )
    } else {
        None
    };
    let pattern = p.scheme.pattern(video);
    let mut moofs = Vec::with_capacity(spec.fragments.len());
    let mut payloads = Vec::with_capacity(spec.fragments.len());
    for (k, range) in spec.fragments.iter().enumerate() {
        let samples = &track.samples[range.clone()];
        let total: usize = samples.iter().map(|s| s.size as usize).sum();
        let mut data = vec![0u8; total];
        // One read per run of samples that are adjacent in the source (usually the
        // whole fragment), not one per sample.
        let mut at = 0usize;
        let mut n = 0usize;
        while n < samples.len() {
            let start = samples[n].offset;
            let mut len = samples[n].size as usize;
            n += 1;
            while n < samples.len() && samples[n].offset == start + len as u64 {
                len += samples[n].size as usize;
                n += 1;
            }
            src.read_exact_at(start, &mut data[at..at + len])
                .map_err(|source| Error::Read {
                    offset: start,
                    source,
                })?;
            at += len;
        }
        let aux = if clear {
            FragmentAux::Clear
        } else {
            let mut ivs = Vec::with_capacity(samples.len());
            let mut maps = Vec::with_capacity(samples.len());
            let mut at = 0usize;
            for (i, s) in samples.iter().enumerate() {
                let buf = &mut data[at..at + s.size as usize];
                at += s.size as usize;
                let map = match nal {
                    Some((syntax, len)) => crypt::video_subsamples(buf, syntax, len)?,
                    None => Vec::new(),
                };
                let iv = p.sample_iv(range.start + i);
                crypt::encrypt_sample(p.scheme, &p.key.key, &iv, pattern, buf, &map)?;
                ivs.push(iv);
                maps.push(map);
            }
            FragmentAux::Encrypted {
                iv_size: p.scheme.per_sample_iv_size(),
                ivs,
                subsamples: nal.map(|_| maps),
            }
        };
        moofs.push(moof(
            track,
            range.clone(),
            first_sequence + k as u32,
            Some(&aux),
        ));
        payloads.push(data);
    }
    Ok(assemble(track, spec, moofs, Some(payloads)))
}

/// Sample auxiliary information of a protected fragment.
enum FragmentAux {
    /// Encrypted samples: `senc` (ISO/IEC 23001-7, 7.2) with `saiz`/`saio`
    /// (ISO/IEC 14496-12, 8.7.8-8.7.9) pointing at it.
    Encrypted {
        iv_size: u8,
        ivs: Vec<[u8; 16]>,
        /// Per sample, for NAL-structured video; `None` for whole-sample encryption.
        subsamples: Option<Vec<Vec<Subsample>>>,
    },
    /// Samples left clear in a protected track (the clear lead): they take the clear
    /// sample entry, the second one (see [`crypt::protected_sample_description`]).
    Clear,
}

/// `styp`, `sidx`, then each `moof` with its `mdat`: sample data from the source ranges,
/// or `payloads` (one buffer per fragment) when given.
fn assemble(
    track: &Track,
    spec: &SegmentSpec,
    moofs: Vec<Vec<u8>>,
    payloads: Option<Vec<Vec<u8>>>,
) -> SegmentLayout {
    let mdat_sizes: Vec<u64> = spec
        .fragments
        .iter()
        .map(|r| {
            8 + track.samples[r.clone()]
                .iter()
                .map(|s| u64::from(s.size))
                .sum::<u64>()
        })
        .collect();

    let mut head = Vec::with_capacity(128);
    // 8.16.2 Segment Type: a media segment of the DASH "simple" and "index" kinds and a
    // CMAF segment.
    write_box(&mut head, b"styp", |o| {
        o.extend_from_slice(b"msdh");
        o.put_u32(0);
        for brand in [b"msdh", b"msix", b"cmfs"] {
            o.extend_from_slice(brand);
        }
    });
    let fragments: Vec<FragmentPlace> = spec
        .fragments
        .iter()
        .zip(moofs.iter().zip(&mdat_sizes))
        .map(|(r, (m, &mdat))| {
            let samples = &track.samples[r.clone()];
            let start = samples.iter().map(Sample::pts).min().unwrap_or(0);
            let end = samples
                .iter()
                .map(|s| s.pts() + i64::from(s.duration))
                .max()
                .unwrap_or(start);
            FragmentPlace {
                offset: 0,
                size: m.len() as u64 + mdat,
                first_sample_end: m.len() as u64 + 8 + u64::from(samples[0].size),
                starts_with_sync: samples[0].sync,
                start,
                duration: (end - start).max(0) as u64,
            }
        })
        .collect();
    // 8.16.3 Segment Index: one reference per fragment, each starting with a SAP of
    // type 1 (the fragments are cut at sync samples).
    write_full_box(&mut head, b"sidx", 1, 0, |o| {
        o.put_u32(track.track_id);
        o.put_u32(track.timescale);
        o.put_u64(spec.start.max(0) as u64);
        o.put_u64(0); // first_offset
        o.put_u16(0);
        o.put_u16(fragments.len() as u16);
        for (k, f) in fragments.iter().enumerate() {
            let duration = fragments
                .get(k + 1)
                .map_or(spec.start + spec.duration as i64 - f.start, |n| {
                    n.start - f.start
                });
            o.put_u32((f.size as u32) & 0x7fff_ffff);
            o.put_u32(duration.max(0) as u32);
            o.put_u32(if f.starts_with_sync { 0x9000_0000 } else { 0 });
        }
    });

    let mut parts = Vec::with_capacity(2 + 3 * moofs.len());
    let mut offset = head.len() as u64;
    parts.push(Part::Bytes(head));
    let mut placed = Vec::with_capacity(fragments.len());
    let mut payloads = payloads.map(Vec::into_iter);
    for ((range, mut m), (f, mdat)) in spec
        .fragments
        .iter()
        .zip(moofs)
        .zip(fragments.into_iter().zip(mdat_sizes))
    {
        placed.push(FragmentPlace { offset, ..f });
        offset += f.size;
        write_box_header(&mut m, mdat, b"mdat");
        match payloads.as_mut().and_then(Iterator::next) {
            Some(data) => {
                parts.push(Part::Bytes(m));
                parts.push(Part::Bytes(data));
            }
            None => {
                parts.push(Part::Bytes(m));
                push_sample_ranges(&mut parts, &track.samples[range.clone()]);
            }
        }
    }
    SegmentLayout {
        parts,
        fragments: placed,
    }
}

fn write_box_header(out: &mut Vec<u8>, size: u64, kind: &[u8; 4]) {
    out.put_u32(u32::try_from(size).unwrap_or(1));
    out.extend_from_slice(kind);
}

/// Adds the byte ranges of `samples`, merging samples that are adjacent in the source.
fn push_sample_ranges(parts: &mut Vec<Part>, samples: &[Sample]) {
    for s in samples {
        let len = u64::from(s.size);
        if let Some(Part::Source { offset, len: prev }) = parts.last_mut() {
            if *offset + *prev == s.offset {
                *prev += len;
                continue;
            }
        }
        parts.push(Part::Source {
            offset: s.offset,
            len,
        });
    }
}

/// Writes a `moof` (8.8.4) for the samples `range` of `track`, with the `trun` data offset
/// pointing just past the `mdat` header that follows it.
fn moof(track: &Track, range: Range<usize>, sequence: u32, aux: Option<&FragmentAux>) -> Vec<u8> {
    let samples = &track.samples[range];
    let first = &samples[0];
    let same_duration = samples.iter().all(|s| s.duration == first.duration);
    let has_cts = samples.iter().any(|s| s.cts != 0);
    let negative_cts = samples.iter().any(|s| s.cts < 0);
    let rest_sync: Vec<bool> = samples[1..].iter().map(|s| s.sync).collect();
    // Flags in tfhd/trun: a common default, with the first sample's own flags when only
    // it differs (the usual video fragment: one I-frame, then dependent frames).
    let (default_flags, first_flags, per_sample_flags) = if rest_sync.iter().all(|&s| s) {
        let f = if first.sync {
            None
        } else {
            Some(NON_SYNC_SAMPLE_FLAGS)
        };
        (SYNC_SAMPLE_FLAGS, f, false)
    } else if rest_sync.iter().all(|&s| !s) {
        let f = if first.sync {
            Some(SYNC_SAMPLE_FLAGS)
        } else {
            None
        };
        (NON_SYNC_SAMPLE_FLAGS, f, false)
    } else {
        (NON_SYNC_SAMPLE_FLAGS, None, true)
    };

    let mut out = Vec::with_capacity(64 + samples.len() * 16);
    let mut data_offset_at = 0;
    write_box(&mut out, b"moof", |o| {
        // 8.8.5 Movie Fragment Header.
        write_full_box(o, b"mfhd", 0, 0, |o| o.put_u32(sequence));
        write_box(o, b"traf", |o| {
            // 8.8.7 Track Fragment Header: default-base-is-moof (0x020000),
            // default-sample-duration (0x08), default-sample-flags (0x20).
            let mut flags = 0x02_0000 | 0x20;
            if same_duration {
                flags |= 0x08;
            }
            let clear_entry = matches!(aux, Some(FragmentAux::Clear));
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
            match aux {
                // With a constant IV and whole-sample encryption (`cbcs` audio) there is
                // no auxiliary information at all, so no `senc` (ISO/IEC 23001-7, 7.2).
                Some(FragmentAux::Encrypted {
                    iv_size: 0,
                    subsamples: None,
                    ..
                }) => {}
                Some(FragmentAux::Encrypted {
                    iv_size,
                    ivs,
                    subsamples,
                }) => write_sample_encryption(o, *iv_size, ivs, subsamples.as_deref()),
                Some(FragmentAux::Clear) | None => {}
            }
        });
    });
    let data_offset = out.len() as i32 + 8;
    out[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    out
}

/// `saiz`, `saio` and `senc` of an encrypted fragment. `saio` points at the first
/// sample's entry in `senc`, relative to the `moof` (the base offset with
/// default-base-is-moof), so it is patched once `senc` is placed.
fn write_sample_encryption(
    o: &mut Vec<u8>,
    iv_size: u8,
    ivs: &[[u8; 16]],
    subsamples: Option<&[Vec<Subsample>]>,
) {
    let info_size =
        |i: usize| -> usize { usize::from(iv_size) + subsamples.map_or(0, |m| 2 + 6 * m[i].len()) };
    let sizes: Vec<usize> = (0..ivs.len()).map(info_size).collect();
    let common = sizes
        .first()
        .copied()
        .filter(|&f| f <= 255 && sizes.iter().all(|&s| s == f));
    // 8.7.8 Sample Auxiliary Information Sizes.
    write_full_box(o, b"saiz", 0, 0, |o| match common {
        Some(size) => {
            o.put_u8(size as u8);
            o.put_u32(ivs.len() as u32);
        }
        None => {
            o.put_u8(0);
            o.put_u32(ivs.len() as u32);
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
    let flags = if subsamples.is_some() { 0x2 } else { 0 };
    let mut first_entry = 0;
    write_full_box(o, b"senc", 0, flags, |o| {
        o.put_u32(ivs.len() as u32);
        first_entry = o.len();
        for (i, iv) in ivs.iter().enumerate() {
            o.extend_from_slice(&iv[..usize::from(iv_size)]);
            if let Some(m) = subsamples {
                o.put_u16(m[i].len() as u16);
                for s in &m[i] {
                    o.put_u16(s.clear);
                    o.put_u32(s.protected);
                }
            }
        }
    });
    o[offset_at..offset_at + 4].copy_from_slice(&(first_entry as u32).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_is_packed_in_five_bit_letters() {
        // "und" = 0x55c4, the value every MP4 writer uses.
        assert_eq!(packed_language("und"), 0x55c4);
        assert_eq!(packed_language("English"), 0x55c4);
        assert_eq!(packed_language("eng"), 0x15c7);
    }
}
