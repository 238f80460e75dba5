//! Codec parameters read from sample entries, and the RFC 6381 codec strings that HLS
//! `CODECS` and DASH `@codecs` carry.

use std::fmt::Write;

use mp4_atom::Codec;

use crate::av1::{first_sequence_header, sequence_header_in, SequenceHeader};
use crate::bmff::ByteSource;
use crate::crypt::{video_syntax, VideoSyntax};
use crate::sample_bytes::SampleWindow;
use crate::{Error, Result, Track};

/// What a sample entry says about the coded stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecInfo {
    /// H.264 / AVC (`avc1`, `avc3`): the three bytes after the NAL header of the SPS
    /// (ISO/IEC 14496-10, 7.3.2.1.1).
    H264 {
        entry: [u8; 4],
        profile_idc: u8,
        constraint_flags: u8,
        level_idc: u8,
    },
    /// H.265 / HEVC (`hvc1`, `hev1`), from the `hvcC` box (ISO/IEC 14496-15, 8.3.3.1).
    H265 {
        entry: [u8; 4],
        profile_space: u8,
        tier_flag: bool,
        profile_idc: u8,
        compatibility_flags: u32,
        constraint_flags: [u8; 6],
        level_idc: u8,
    },
    /// AV1 (`av01`): from the sequence header (in `av1C`'s configOBUs, or else in the
    /// first sync sample), or from the fields of the `av1C` box (AV1 Codec ISO Media
    /// File Format Binding, 2.3) when there is none.
    Av1 {
        profile: u8,
        level_idx: u8,
        tier: bool,
        bit_depth: u8,
    },
    /// MPEG-4 audio in `mp4a` (ISO/IEC 14496-3): the object type indication of the
    /// decoder config, and the audio object type of the AudioSpecificConfig.
    Mp4Audio {
        object_type_indication: u8,
        audio_object_type: u8,
        channels: u16,
        sample_rate: u32,
    },
}

impl CodecInfo {
    /// The RFC 6381 `codecs` parameter, e.g. `avc1.64001f` or `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        match self {
            CodecInfo::H264 {
                entry,
                profile_idc,
                constraint_flags,
                level_idc,
            } => format!(
                "{}.{profile_idc:02x}{constraint_flags:02x}{level_idc:02x}",
                String::from_utf8_lossy(entry)
            ),
            CodecInfo::H265 {
                entry,
                profile_space,
                tier_flag,
                profile_idc,
                compatibility_flags,
                constraint_flags,
                level_idc,
            } => {
                // ISO/IEC 14496-15, Annex E.3: profile space letter, profile, the 32
                // compatibility flags bit-reversed in hex, tier and level, then the
                // constraint bytes with trailing zero bytes left out.
                let space = match profile_space {
                    1 => "A",
                    2 => "B",
                    3 => "C",
                    _ => "",
                };
                let mut s = format!(
                    "{}.{space}{profile_idc}.{:x}.{}{level_idc}",
                    String::from_utf8_lossy(entry),
                    compatibility_flags.reverse_bits(),
                    if *tier_flag { 'H' } else { 'L' }
                );
                let used = constraint_flags
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |i| i + 1);
                for b in &constraint_flags[..used] {
                    let _ = write!(s, ".{b:x}");
                }
                s
            }
            // AV1-ISOBMFF "Codecs Parameter String": the mandatory fields only. The
            // optional ones (monochrome, chroma subsampling, colour, range) are all or
            // none, are left out when they hold their defaults, and go by the `colr`
            // box when there is one; players choose AV1 renditions by profile, level,
            // tier and depth, so the short form says what they read.
            CodecInfo::Av1 {
                profile,
                level_idx,
                tier,
                bit_depth,
            } => format!(
                "av01.{profile}.{level_idx:02}{}.{bit_depth:02}",
                if *tier { 'H' } else { 'M' }
            ),
            CodecInfo::Mp4Audio {
                object_type_indication,
                audio_object_type,
                ..
            } => {
                if *object_type_indication == 0x40 {
                    format!("mp4a.40.{audio_object_type}")
                } else {
                    format!("mp4a.{object_type_indication:02X}")
                }
            }
        }
    }

    /// Audio channel count, for audio codecs.
    pub fn channels(&self) -> Option<u16> {
        match self {
            CodecInfo::Mp4Audio { channels, .. } => Some(*channels),
            _ => None,
        }
    }

    /// Audio sample rate in Hz, for audio codecs.
    pub fn sample_rate(&self) -> Option<u32> {
        match self {
            CodecInfo::Mp4Audio { sample_rate, .. } => Some(*sample_rate),
            _ => None,
        }
    }
}

/// Reads profile, constraint flags and level from an H.264 SPS NAL unit (with its one-byte
/// NAL header), ISO/IEC 14496-10, 7.3.2.1.1.
pub fn h264_sps_profile(sps: &[u8]) -> Option<(u8, u8, u8)> {
    match sps {
        [header, profile, constraints, level, ..] if header & 0x1f == 7 => {
            Some((*profile, *constraints, *level))
        }
        _ => None,
    }
}

/// The codec parameters of a sample entry (ISO/IEC 14496-12, 8.5.2) and, for video, its
/// coded width and height (0 for audio). Sample entries other than avc1/avc3, hvc1/hev1,
/// av01 and mp4a are refused as unsupported.
pub(crate) fn codec_info(codec: &Codec, track_id: u32) -> Result<(CodecInfo, u32, u32)> {
    let unsupported = |what: &str| {
        Error::Unsupported(format!(
            "track {track_id}: {what} sample entries are not supported"
        ))
    };
    Ok(match codec {
        Codec::Avc1(mp4_atom::Avc1 { visual, avcc, .. })
        | Codec::Avc3(mp4_atom::Avc3 { visual, avcc, .. }) => {
            let entry = if matches!(codec, Codec::Avc1(_)) {
                *b"avc1"
            } else {
                *b"avc3"
            };
            let (profile_idc, constraint_flags, level_idc) = avcc
                .sequence_parameter_sets
                .first()
                .and_then(|sps| h264_sps_profile(sps))
                .unwrap_or((
                    avcc.avc_profile_indication,
                    avcc.profile_compatibility,
                    avcc.avc_level_indication,
                ));
            (
                CodecInfo::H264 {
                    entry,
                    profile_idc,
                    constraint_flags,
                    level_idc,
                },
                u32::from(visual.width),
                u32::from(visual.height),
            )
        }
        Codec::Hvc1(mp4_atom::Hvc1 { visual, hvcc, .. })
        | Codec::Hev1(mp4_atom::Hev1 { visual, hvcc, .. }) => {
            let entry = if matches!(codec, Codec::Hvc1(_)) {
                *b"hvc1"
            } else {
                *b"hev1"
            };
            (
                CodecInfo::H265 {
                    entry,
                    profile_space: hvcc.general_profile_space,
                    tier_flag: hvcc.general_tier_flag,
                    profile_idc: hvcc.general_profile_idc,
                    compatibility_flags: u32::from_be_bytes(
                        hvcc.general_profile_compatibility_flags,
                    ),
                    constraint_flags: hvcc.general_constraint_indicator_flags,
                    level_idc: hvcc.general_level_idc,
                },
                u32::from(visual.width),
                u32::from(visual.height),
            )
        }
        Codec::Av01(av01) => {
            let c = &av01.av1c;
            // A malformed configOBUs leaves the av1C fields to say; encrypting the track
            // reads the configOBUs again and refuses it then.
            let info = match sequence_header_in(&c.config_obus) {
                Ok(Some(seq)) => av1_info(&seq),
                _ => {
                    let bit_depth = match (c.high_bitdepth, c.twelve_bit) {
                        (true, true) => 12,
                        (true, false) => 10,
                        _ => 8,
                    };
                    CodecInfo::Av1 {
                        profile: c.seq_profile,
                        level_idx: c.seq_level_idx_0,
                        tier: c.seq_tier_0,
                        bit_depth,
                    }
                }
            };
            (
                info,
                u32::from(av01.visual.width),
                u32::from(av01.visual.height),
            )
        }
        Codec::Mp4a(mp4a) => {
            let dc = &mp4a.esds.es_desc.dec_config;
            let (aot, channels, rate) = match &dc.dec_specific {
                Some(ds) => (
                    ds.profile,
                    match ds.chan_conf {
                        // AudioSpecificConfig channelConfiguration (ISO/IEC 14496-3,
                        // 1.6.3.5): 7 means 7.1, 0 means "in the stream": fall back.
                        7 => 8,
                        0 => mp4a.audio.channel_count,
                        n => u16::from(n),
                    },
                    aac_sample_rate(ds.freq_index)
                        .unwrap_or(u32::from(mp4a.audio.sample_rate.integer())),
                ),
                None => (
                    0,
                    mp4a.audio.channel_count,
                    u32::from(mp4a.audio.sample_rate.integer()),
                ),
            };
            (
                CodecInfo::Mp4Audio {
                    object_type_indication: dc.object_type_indication,
                    audio_object_type: aot,
                    channels,
                    sample_rate: rate,
                },
                0,
                0,
            )
        }
        Codec::Unknown(kind, _) => return Err(unsupported(&kind.to_string())),
        other => {
            return Err(unsupported(
                &format!("{other:?}").chars().take(8).collect::<String>(),
            ))
        }
    })
}

/// The codec parameters a sequence header gives (AV1-ISOBMFF "Codecs Parameter String":
/// `seq_profile`, `seq_level_idx[0]`, `seq_tier[0]`, `BitDepth`).
fn av1_info(seq: &SequenceHeader) -> CodecInfo {
    CodecInfo::Av1 {
        profile: seq.profile,
        level_idx: seq.level_idx,
        tier: seq.tier,
        bit_depth: seq.bit_depth,
    }
}

/// For an AV1 track whose `av1C` has no sequence header: the codec parameters of the one
/// in its first sync sample, which AV1-ISOBMFF (2.4) requires every sync sample to carry.
/// Only OBU headers are read up to it. `None` when the track is not such a track, or no
/// sequence header is found (the `av1C` fields then stand).
pub(crate) fn av1_info_from_samples<S: ByteSource + ?Sized>(
    track: &Track,
    src: &S,
) -> Option<CodecInfo> {
    let Some(VideoSyntax::Av1 { config_obus }) = video_syntax(&track.sample_description) else {
        return None;
    };
    if !matches!(sequence_header_in(config_obus), Ok(None)) {
        return None;
    }
    let first = track.samples.iter().find(|s| s.sync)?;
    let mut sample = SampleWindow::new(src, first.offset, first.size as usize, Vec::new());
    let seq = first_sequence_header(&mut sample).ok()??;
    Some(av1_info(&seq))
}

/// Sampling frequency index of an AudioSpecificConfig (ISO/IEC 14496-3, 1.6.3.4).
fn aac_sample_rate(index: u8) -> Option<u32> {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    RATES.get(usize::from(index)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_string_is_profile_constraints_level_in_hex() {
        let c = CodecInfo::H264 {
            entry: *b"avc1",
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 40,
        };
        assert_eq!(c.codec_string(), "avc1.640028");
    }

    #[test]
    fn hevc_string_follows_annex_e() {
        // Main profile, level 3.1, the example of ISO/IEC 14496-15 E.3.
        let c = CodecInfo::H265 {
            entry: *b"hvc1",
            profile_space: 0,
            tier_flag: false,
            profile_idc: 1,
            compatibility_flags: 0x6000_0000,
            constraint_flags: [0xb0, 0, 0, 0, 0, 0],
            level_idc: 93,
        };
        assert_eq!(c.codec_string(), "hvc1.1.6.L93.b0");
    }

    #[test]
    fn av1_and_aac_strings() {
        let av1 = CodecInfo::Av1 {
            profile: 0,
            level_idx: 8,
            tier: false,
            bit_depth: 8,
        };
        assert_eq!(av1.codec_string(), "av01.0.08M.08");
        let aac = CodecInfo::Mp4Audio {
            object_type_indication: 0x40,
            audio_object_type: 2,
            channels: 2,
            sample_rate: 48000,
        };
        assert_eq!(aac.codec_string(), "mp4a.40.2");
    }

    #[test]
    fn sps_profile_needs_an_sps_nal() {
        assert_eq!(
            h264_sps_profile(&[0x67, 100, 0, 31, 0xac]),
            Some((100, 0, 31))
        );
        assert_eq!(h264_sps_profile(&[0x68, 100, 0, 31]), None);
        assert_eq!(h264_sps_profile(&[0x67, 100]), None);
    }

    #[test]
    fn aac_sample_rate_indexes_stop_at_the_table() {
        assert_eq!(aac_sample_rate(3), Some(48000));
        assert_eq!(aac_sample_rate(12), Some(7350));
        // 13 and 14 are reserved, 15 means an explicit rate follows (ISO/IEC 14496-3,
        // 1.6.3.4): none is a table rate, so the sample entry's rate is used.
        assert_eq!(aac_sample_rate(13), None);
        assert_eq!(aac_sample_rate(15), None);
    }
}
