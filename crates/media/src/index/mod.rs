//! A compact binary "segment index" of a [`Track`]: everything the packager needs about a
//! track, including its full sample table, so that an origin can rebuild the track from a
//! small object stored beside the media file instead of parsing the MP4 again.
//!
//! The index is read with the same care as a media file: it comes from a store, not from
//! this process, so every count and length in it is bounded before it is used, and
//! anything that is not exactly what [`encode_track`] writes is refused.
//!
//! # Layout (version 2)
//!
//! All integers are big-endian; booleans are one byte, 0 or 1.
//!
//! | bytes      | field                                                         |
//! |------------|---------------------------------------------------------------|
//! | 5          | magic `OVIDX`                                                 |
//! | 1          | version, 2                                                    |
//! | 4          | `track_id`                                                    |
//! | 1          | `kind`: 0 video, 1 audio                                      |
//! | 4          | `timescale`                                                   |
//! | 4          | `width`                                                       |
//! | 4          | `height`                                                      |
//! | 1          | codec tag: 0 H.264, 1 H.265, 2 AV1, 3 MPEG-4 audio            |
//! | 7/18/4/8   | codec fields, in declaration order (see below)                |
//! | 1 + n      | `language`: length n (1..=8), then n ASCII letters            |
//! | 4 + n      | `sample_description`: length n (at most 1 MiB), then n bytes  |
//! | 4          | sample count                                                  |
//! | 1          | subsample counts: 0 none, 1 one per sample, 2 two per sample  |
//! | 29/31/33 × count | samples                                                 |
//!
//! Codec fields:
//! - H.264 (7 bytes): `entry` [4], `profile_idc` u8, `constraint_flags` u8, `level_idc` u8;
//! - H.265 (18 bytes): `entry` [4], `profile_space` u8, `tier_flag` bool, `profile_idc` u8,
//!   `compatibility_flags` u32, `constraint_flags` [6], `level_idc` u8;
//! - AV1 (4 bytes): `profile` u8, `level_idx` u8, `tier` bool, `bit_depth` u8;
//! - MPEG-4 audio (8 bytes): `object_type_indication` u8, `audio_object_type` u8,
//!   `channels` u16, `sample_rate` u32.
//!
//! A sample record (29 bytes): `offset` u64, `size` u32, `duration` u32, `dts` u64,
//! `cts` i32, `sync` bool; with subsample counts (video, see [`Track::subsamples`]) two
//! more bytes, the count as u16, the same under every scheme (H.264, H.265), or four,
//! the `cenc` then the `cbcs` count, where they differ (AV1).
//!
//! Indexes written before AV1 counts existed have flags 0 and 1 only, and read as they
//! did.
//!
//! The index ends with the last sample record; trailing bytes are refused, so a
//! concatenated or partly overwritten object is not taken for a valid index.

use crate::bmff::Put;
use crate::codec::CodecInfo;
use crate::crypt::{Scheme, SubsampleCounts};
use crate::{Error, Limits, Result, Sample, Track, TrackKind};

/// First bytes of every index.
const MAGIC: &[u8; 5] = b"OVIDX";
/// The only layout this module reads and writes.
const VERSION: u8 = 2;
/// Bytes of one sample record, without and with its subsample counts.
const SAMPLE_RECORD: usize = 8 + 4 + 4 + 8 + 4 + 1;
const SAMPLE_RECORD_WITH_SUBSAMPLES: usize = SAMPLE_RECORD + 2;
const SAMPLE_RECORD_WITH_SCHEME_SUBSAMPLES: usize = SAMPLE_RECORD + 4;

/// The subsample counts flag: none, one count per sample, a count per scheme.
const UNMEASURED: u8 = 0;
const MEASURED: u8 = 1;
const MEASURED_PER_SCHEME: u8 = 2;
/// Largest sample description accepted: a whole `stsd` box is a few hundred bytes, or a
/// few kilobytes with large parameter sets, so 1 MiB leaves room without letting an index
/// make the origin allocate at will.
const MAX_SAMPLE_DESCRIPTION: u32 = 1 << 20;
/// Longest language accepted: ISO 639-2 codes have three letters; eight leaves room for
/// the longest primary language subtag of BCP 47.
const MAX_LANGUAGE: usize = 8;

const KIND_VIDEO: u8 = 0;
const KIND_AUDIO: u8 = 1;

const CODEC_H264: u8 = 0;
const CODEC_H265: u8 = 1;
const CODEC_AV1: u8 = 2;
const CODEC_MP4_AUDIO: u8 = 3;

/// Serializes a track: everything in [`Track`] (track id, kind, timescale, language,
/// sample description bytes, codec info with all its fields, width, height, samples).
///
/// A track that [`decode_track`] would refuse (a language that is not 1 to 8 ASCII letters,
/// a sample description over 1 MiB) is still written, and its index is refused when read:
/// a length that does not fit its prefix is written as the prefix's maximum, which the
/// reader refuses, so no index is ever misread.
pub fn encode_track(track: &Track) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        64 + track.language.len()
            + track.sample_description.len()
            + track.samples.len() * SAMPLE_RECORD,
    );
    out.extend_from_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u32(track.track_id);
    out.put_u8(match track.kind {
        TrackKind::Video => KIND_VIDEO,
        TrackKind::Audio => KIND_AUDIO,
    });
    out.put_u32(track.timescale);
    out.put_u32(track.width);
    out.put_u32(track.height);
    put_codec(&mut out, &track.codec);

    // Saturated lengths: u8::MAX is over MAX_LANGUAGE and u32::MAX over
    // MAX_SAMPLE_DESCRIPTION, so an oversized field makes the index unreadable, not wrong.
    out.put_u8(u8::try_from(track.language.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(track.language.as_bytes());
    out.put_u32(u32::try_from(track.sample_description.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(&track.sample_description);

    // More than u32::MAX samples cannot be held in memory in practice; if it ever happens,
    // every record is still written, so the reader sees bytes after the declared count and
    // refuses the index.
    out.put_u32(u32::try_from(track.samples.len()).unwrap_or(u32::MAX));
    // Counts that do not match the samples one for one are not written: the track is
    // then stored as unmeasured, never with counts of other samples.
    let counts = track
        .subsamples
        .as_ref()
        .filter(|c| c.len() == track.samples.len());
    let (cenc, cbcs) = match counts {
        Some(c) if c.differ_by_scheme() => {
            (Some(c.scheme(Scheme::Cenc)), Some(c.scheme(Scheme::Cbcs)))
        }
        Some(c) => (Some(c.scheme(Scheme::Cenc)), None),
        None => (None, None),
    };
    out.put_u8(match (cenc, cbcs) {
        (Some(_), Some(_)) => MEASURED_PER_SCHEME,
        (Some(_), None) => MEASURED,
        _ => UNMEASURED,
    });
    for (i, s) in track.samples.iter().enumerate() {
        out.put_u64(s.offset);
        out.put_u32(s.size);
        out.put_u32(s.duration);
        out.put_u64(s.dts);
        out.put_i32(s.cts);
        out.put_u8(u8::from(s.sync));
        for c in [cenc, cbcs].into_iter().flatten() {
            out.put_u16(c[i]);
        }
    }
    out
}

fn put_codec(out: &mut Vec<u8>, codec: &CodecInfo) {
    match codec {
        CodecInfo::H264 {
            entry,
            profile_idc,
            constraint_flags,
            level_idc,
        } => {
            out.put_u8(CODEC_H264);
            out.extend_from_slice(entry);
            out.put_u8(*profile_idc);
            out.put_u8(*constraint_flags);
            out.put_u8(*level_idc);
        }
        CodecInfo::H265 {
            entry,
            profile_space,
            tier_flag,
            profile_idc,
            compatibility_flags,
            constraint_flags,
            level_idc,
        } => {
            out.put_u8(CODEC_H265);
            out.extend_from_slice(entry);
            out.put_u8(*profile_space);
            out.put_u8(u8::from(*tier_flag));
            out.put_u8(*profile_idc);
            out.put_u32(*compatibility_flags);
            out.extend_from_slice(constraint_flags);
            out.put_u8(*level_idc);
        }
        CodecInfo::Av1 {
            profile,
            level_idx,
            tier,
            bit_depth,
        } => {
            out.put_u8(CODEC_AV1);
            out.put_u8(*profile);
            out.put_u8(*level_idx);
            out.put_u8(u8::from(*tier));
            out.put_u8(*bit_depth);
        }
        CodecInfo::Mp4Audio {
            object_type_indication,
            audio_object_type,
            channels,
            sample_rate,
        } => {
            out.put_u8(CODEC_MP4_AUDIO);
            out.put_u8(*object_type_indication);
            out.put_u8(*audio_object_type);
            out.put_u16(*channels);
            out.put_u32(*sample_rate);
        }
    }
}

/// Reads an index written by [`encode_track`].
///
/// Refuses with [`Error::Malformed`] a wrong magic, an unknown version, a truncated index,
/// an unknown kind or codec tag, a boolean other than 0 or 1, a language that is not 1 to 8
/// ASCII letters, and bytes after the last sample; refuses with [`Error::Limit`] a sample
/// count over `limits.max_samples` and a sample description over 1 MiB, before anything
/// is allocated for them.
pub fn decode_track(bytes: &[u8], limits: &Limits) -> Result<Track> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(MAGIC.len(), "magic")? != MAGIC {
        return Err(malformed(0, "not a segment index: wrong magic".into()));
    }
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(malformed(
            MAGIC.len(),
            format!("unknown version {version}, expected {VERSION}"),
        ));
    }
    let track_id = r.u32("track id")?;
    let at = r.pos;
    let kind = match r.u8("kind")? {
        KIND_VIDEO => TrackKind::Video,
        KIND_AUDIO => TrackKind::Audio,
        other => return Err(malformed(at, format!("unknown track kind {other}"))),
    };
    let timescale = r.u32("timescale")?;
    let width = r.u32("width")?;
    let height = r.u32("height")?;
    let codec = read_codec(&mut r)?;

    let at = r.pos;
    let len = usize::from(r.u8("language length")?);
    if !(1..=MAX_LANGUAGE).contains(&len) {
        return Err(malformed(
            at,
            format!("language of {len} bytes, expected 1 to {MAX_LANGUAGE}"),
        ));
    }
    let language = r.take(len, "language")?;
    if !language.iter().all(u8::is_ascii_alphabetic) {
        return Err(malformed(
            at + 1,
            "the language is not made of ASCII letters".into(),
        ));
    }
    // ASCII letters are valid UTF-8 one byte each.
    let language: String = language.iter().map(|&b| char::from(b)).collect();

    let len = r.u32("sample description length")?;
    if len > MAX_SAMPLE_DESCRIPTION {
        return Err(Error::Limit {
            what: "sample description size in a segment index",
            value: u64::from(len),
            limit: u64::from(MAX_SAMPLE_DESCRIPTION),
        });
    }
    // `take` checks the length against the bytes present before anything is copied.
    let sample_description = r.take(len as usize, "sample description")?.to_vec();

    let at = r.pos;
    let count = r.u32("sample count")?;
    if u64::from(count) > limits.max_samples {
        return Err(Error::Limit {
            what: "number of samples in a segment index",
            value: u64::from(count),
            limit: limits.max_samples,
        });
    }
    // The records are all that is left: their size must match the rest exactly, which
    // also bounds the allocation below by the length of the index itself.
    let flag_at = r.pos;
    let (record, counts_per_sample) = match r.u8("subsample counts flag")? {
        UNMEASURED => (SAMPLE_RECORD, 0),
        MEASURED => (SAMPLE_RECORD_WITH_SUBSAMPLES, 1),
        MEASURED_PER_SCHEME => (SAMPLE_RECORD_WITH_SCHEME_SUBSAMPLES, 2),
        other => {
            return Err(malformed(
                flag_at,
                format!("subsample counts flag {other} (0, 1 or 2)"),
            ))
        }
    };
    let rest = bytes.len() - r.pos;
    let needed = (count as usize).checked_mul(record);
    if needed.is_none_or(|n| n > rest) {
        return Err(malformed(
            at,
            format!(
                "{count} samples need {} bytes but only {rest} remain: the index is truncated",
                u64::from(count) * record as u64
            ),
        ));
    }
    if needed.is_some_and(|n| n < rest) {
        return Err(malformed(
            at,
            format!("{count} samples are followed by trailing bytes"),
        ));
    }
    let mut samples = Vec::with_capacity(count as usize);
    let mut cenc = Vec::with_capacity(if counts_per_sample > 0 {
        count as usize
    } else {
        0
    });
    let mut cbcs = Vec::with_capacity(if counts_per_sample > 1 {
        count as usize
    } else {
        0
    });
    for _ in 0..count {
        let offset = r.u64("sample offset")?;
        let size = r.u32("sample size")?;
        let duration = r.u32("sample duration")?;
        let dts = r.u64("sample decode time")?;
        let cts = r.i32("sample composition offset")?;
        let sync = r.bool("sample sync flag")?;
        if counts_per_sample > 0 {
            cenc.push(r.u16("subsample count")?);
        }
        if counts_per_sample > 1 {
            cbcs.push(r.u16("cbcs subsample count")?);
        }
        samples.push(Sample {
            offset,
            size,
            duration,
            dts,
            cts,
            sync,
        });
    }
    debug_assert_eq!(r.pos, bytes.len());
    let subsamples = match counts_per_sample {
        0 => None,
        1 => Some(SubsampleCounts::uniform(cenc)),
        _ => {
            // The writer stores equal counts once (flag 1), so a flag 2 index whose two
            // lists agree (including an empty one) is not one it wrote.
            if cenc == cbcs {
                return Err(malformed(
                    flag_at,
                    "subsample counts flag 2 with the same counts under both schemes".into(),
                ));
            }
            Some(SubsampleCounts::per_scheme(cenc, cbcs)?)
        }
    };

    Ok(Track {
        track_id,
        kind,
        timescale,
        language,
        sample_description,
        codec,
        width,
        height,
        samples,
        subsamples,
    })
}

fn read_codec(r: &mut Reader<'_>) -> Result<CodecInfo> {
    let at = r.pos;
    Ok(match r.u8("codec tag")? {
        CODEC_H264 => CodecInfo::H264 {
            entry: r.array("codec entry")?,
            profile_idc: r.u8("profile_idc")?,
            constraint_flags: r.u8("constraint flags")?,
            level_idc: r.u8("level_idc")?,
        },
        CODEC_H265 => CodecInfo::H265 {
            entry: r.array("codec entry")?,
            profile_space: r.u8("profile_space")?,
            tier_flag: r.bool("tier_flag")?,
            profile_idc: r.u8("profile_idc")?,
            compatibility_flags: r.u32("compatibility flags")?,
            constraint_flags: r.array("constraint flags")?,
            level_idc: r.u8("level_idc")?,
        },
        CODEC_AV1 => CodecInfo::Av1 {
            profile: r.u8("profile")?,
            level_idx: r.u8("level_idx")?,
            tier: r.bool("tier")?,
            bit_depth: r.u8("bit depth")?,
        },
        CODEC_MP4_AUDIO => CodecInfo::Mp4Audio {
            object_type_indication: r.u8("object type indication")?,
            audio_object_type: r.u8("audio object type")?,
            channels: r.u16("channel count")?,
            sample_rate: r.u32("sample rate")?,
        },
        other => return Err(malformed(at, format!("unknown codec tag {other}"))),
    })
}

fn malformed(offset: usize, reason: String) -> Error {
    Error::Malformed {
        kind: "segment index".into(),
        offset: offset as u64,
        reason,
    }
}

/// Big-endian reads that never go past the end of the index.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let rest = &self.bytes[self.pos..];
        if n > rest.len() {
            return Err(malformed(
                self.pos,
                format!(
                    "truncated in the {what}: {n} bytes needed, {} remain",
                    rest.len()
                ),
            ));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        self.array(what).map(u16::from_be_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        self.array(what).map(i32::from_be_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// A boolean is exactly 0 or 1, so that every index has one reading.
    fn bool(&mut self, what: &str) -> Result<bool> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(malformed(at, format!("{what} is {other}, not 0 or 1"))),
        }
    }
}

#[cfg(test)]
mod tests;
