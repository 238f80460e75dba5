//! Properties of the parsers of outside bytes and text, over generated inputs: they never
//! panic, and what they accept reads back the same.

use openvod_media::crypt::{video_subsamples, NalSyntax, SubsampleCounts};
use openvod_media::index::{decode_track, encode_track};
use openvod_media::{Limits, ObjectPath};
use proptest::prelude::*;

/// Paths made of the pieces real paths have, so that many of them parse.
fn path_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("cenc".to_string()),
        Just("aes128".to_string()),
        Just("keys".to_string()),
        Just("master.m3u8".to_string()),
        Just("manifest.mpd".to_string()),
        Just("index.m3u8".to_string()),
        Just("iframes.m3u8".to_string()),
        Just("init.mp4".to_string()),
        "s[0-9]{1,3}",
        "[0-9]{1,11}\\.m4s",
        "[0-9a-f]{32}",
        "[A-Za-z0-9._-]{0,70}",
        ".{0,8}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.join("/"))
}

proptest! {
    #[test]
    fn object_paths_round_trip_or_are_refused(path in path_like()) {
        if let Ok(parsed) = ObjectPath::parse(&path) {
            prop_assert_eq!(parsed.to_string(), path.clone());
            prop_assert_eq!(ObjectPath::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn subsamples_cover_the_sample_or_are_refused(
        sample in prop::collection::vec(any::<u8>(), 0..400),
        hevc in any::<bool>(),
        length_size in 0u8..6,
    ) {
        let syntax = if hevc { NalSyntax::Hevc } else { NalSyntax::Avc };
        if let Ok(map) = video_subsamples(&sample, syntax, length_size) {
            let total: usize = map.iter().map(|s| usize::from(s.clear) + s.protected as usize).sum();
            prop_assert_eq!(total, sample.len());
            prop_assert!(map.iter().all(|s| s.protected % 16 == 0));
        }
    }

    #[test]
    fn indexes_decode_only_what_encodes_back(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let limits = Limits { max_samples: 64, ..Limits::default() };
        if let Ok(track) = decode_track(&bytes, &limits) {
            prop_assert_eq!(encode_track(&track), bytes);
        }
    }
}

fn sample() -> impl Strategy<Value = openvod_media::Sample> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(offset, size, duration, dts, cts, sync)| openvod_media::Sample {
                offset,
                size,
                duration,
                dts,
                cts,
                sync,
            },
        )
}

proptest! {
    #[test]
    fn every_track_round_trips_through_its_index(
        samples in prop::collection::vec(sample(), 0..50),
        measured in 0..3u8,
        language in "[a-z]{1,8}",
        description in prop::collection::vec(any::<u8>(), 0..64),
        timescale in any::<u32>(),
    ) {
        let counts: Vec<u16> = samples.iter().map(|s| (s.size % 9) as u16).collect();
        let subsamples = match measured {
            0 => None,
            1 => Some(SubsampleCounts::uniform(counts)),
            // AV1: cbcs counts of their own.
            _ => Some(
                SubsampleCounts::per_scheme(counts.clone(), counts.iter().map(|c| c + 1).collect())
                    .unwrap(),
            ),
        };
        let track = openvod_media::Track {
            track_id: 7,
            kind: openvod_media::TrackKind::Video,
            timescale,
            language,
            sample_description: description,
            codec: openvod_media::codec::CodecInfo::Av1 { profile: 0, level_idx: 8, tier: false, bit_depth: 8 },
            width: 64,
            height: 48,
            samples,
            subsamples,
        };
        let back = decode_track(&encode_track(&track), &Limits::default()).unwrap();
        prop_assert_eq!(&back.samples, &track.samples);
        prop_assert_eq!(&back.subsamples, &track.subsamples);
        prop_assert_eq!(&back.language, &track.language);
        prop_assert_eq!(&back.sample_description, &track.sample_description);
        prop_assert_eq!(back.timescale, track.timescale);
    }
}
