//! The CMAF header (ISO/IEC 23000-19, 7.3.1): `ftyp` and a `moov` describing one track
//! whose samples are all in fragments.

use crate::bmff::{write_box, write_full_box, Put};
use crate::crypt::{self, TrackProtection};
use crate::{Result, Track, TrackKind};

/// How a protected track's header is written.
#[derive(Debug, Clone, Copy)]
pub struct InitProtection<'a> {
    pub track: &'a TrackProtection,
    /// Whether some fragments are clear (the clear lead): they select a second, clear
    /// sample entry.
    pub clear_lead: bool,
    /// Whole `pssh` boxes (ISO/IEC 23001-7, 8.1), one per DRM system signalled.
    pub pssh: &'a [Vec<u8>],
}

/// Writes the CMAF header (init segment) of one track: `ftyp` and a `moov` with an empty
/// sample table, the sample description, and `mvex`/`trex`. A protected track gets a
/// protected sample entry (`encv`/`enca` with `sinf`) and the `pssh` boxes of every DRM
/// system in the `moov` (ISO/IEC 23001-7, 8.1).
pub fn init_segment(track: &Track, protection: Option<InitProtection<'_>>) -> Result<Vec<u8>> {
    Ok(match protection {
        None => init_segment_with(track, &track.sample_description, &[]),
        Some(p) => {
            let stsd = crypt::protected_sample_description(
                &track.sample_description,
                track.kind,
                p.track,
                p.clear_lead,
            )?;
            init_segment_with(track, &stsd, p.pssh)
        }
    })
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
                                           // next_track_ID; all 1s when no larger one exists (8.2.2.3).
            o.put_u32(track.track_id.saturating_add(1));
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

    #[test]
    fn the_largest_track_id_gets_a_header() {
        let track = Track {
            track_id: u32::MAX,
            kind: TrackKind::Audio,
            timescale: 48_000,
            language: "und".into(),
            sample_description: vec![0; 16],
            codec: crate::codec::CodecInfo::Mp4Audio {
                object_type_indication: 0x40,
                audio_object_type: 2,
                channels: 2,
                sample_rate: 48_000,
            },
            width: 0,
            height: 0,
            samples: Vec::new(),
            subsamples: None,
        };
        let init = init_segment(&track, None).expect("a header");
        let mvhd = init
            .windows(4)
            .position(|w| w == b"mvhd")
            .expect("an mvhd box");
        // next_track_ID is the last field of the mvhd box.
        let size = u32::from_be_bytes(init[mvhd - 4..mvhd].try_into().unwrap()) as usize;
        let next = &init[mvhd - 4 + size - 4..mvhd - 4 + size];
        assert_eq!(next, &u32::MAX.to_be_bytes());
    }
}
