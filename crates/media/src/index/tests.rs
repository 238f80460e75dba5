use super::*;

fn video_track() -> Track {
    // 1000 frames at 25 fps in a 12800 timescale with B-frame reordering: negative
    // composition offsets after the edit, a sync sample every 50 frames.
    let samples = (0..1000u32)
        .map(|i| Sample {
            offset: 0x1_0000_0000 + u64::from(i) * 4096,
            size: 1000 + i * 7,
            duration: 512,
            dts: u64::from(i) * 512,
            cts: match i % 3 {
                0 => 1024,
                1 => -512,
                _ => i32::MIN + i as i32,
            },
            sync: i % 50 == 0,
        })
        .collect();
    Track {
        track_id: 1,
        kind: TrackKind::Video,
        timescale: 12800,
        language: "und".into(),
        sample_description: (0..=255u8).cycle().take(700).collect(),
        codec: CodecInfo::H264 {
            entry: *b"avc1",
            profile_idc: 100,
            constraint_flags: 0x40,
            level_idc: 40,
        },
        width: 1920,
        height: 1080,
        samples,
        subsamples: Some(SubsampleCounts::uniform(
            (0..1000u16).map(|i| 1 + i % 7).collect(),
        )),
    }
}

fn audio_track() -> Track {
    let samples = (0..5000u64)
        .map(|i| Sample {
            offset: u64::MAX - 10_000_000 + i * 300,
            size: 300,
            duration: 1024,
            dts: i * 1024,
            cts: 0,
            sync: true,
        })
        .collect();
    Track {
        track_id: u32::MAX,
        kind: TrackKind::Audio,
        timescale: 48000,
        language: "eng".into(),
        sample_description: vec![0, 0, 0, 16, b's', b't', b's', b'd'],
        codec: CodecInfo::Mp4Audio {
            object_type_indication: 0x40,
            audio_object_type: 2,
            channels: 6,
            sample_rate: 48000,
        },
        width: 0,
        height: 0,
        samples,
        subsamples: None,
    }
}

fn other_codecs() -> Vec<CodecInfo> {
    vec![
        CodecInfo::H265 {
            entry: *b"hvc1",
            profile_space: 2,
            tier_flag: true,
            profile_idc: 1,
            compatibility_flags: 0x6000_0001,
            constraint_flags: [0xb0, 1, 2, 3, 4, 5],
            level_idc: 93,
        },
        CodecInfo::Av1 {
            profile: 0,
            level_idx: 8,
            tier: true,
            bit_depth: 10,
        },
    ]
}

fn assert_same(a: &Track, b: &Track) {
    assert_eq!(a.track_id, b.track_id);
    assert_eq!(a.kind, b.kind);
    assert_eq!(a.timescale, b.timescale);
    assert_eq!(a.language, b.language);
    assert_eq!(a.sample_description, b.sample_description);
    assert_eq!(a.codec, b.codec);
    assert_eq!(a.width, b.width);
    assert_eq!(a.height, b.height);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.subsamples, b.subsamples);
}

fn small_track() -> Track {
    let mut t = video_track();
    t.samples.truncate(3);
    t.subsamples = None;
    t.sample_description.truncate(20);
    t
}

#[test]
fn subsample_counts_round_trip_and_mismatched_counts_are_dropped() {
    let mut track = small_track();
    track.subsamples = Some(SubsampleCounts::uniform(vec![1, 65535, 7]));
    let bytes = encode_track(&track);
    assert_eq!(bytes.len(), encode_track(&small_track()).len() + 6);
    let back = decode_track(&bytes, &Limits::default()).expect("decodes");
    assert_same(&back, &track);
    // Counts per scheme take two more bytes a sample.
    track.subsamples = Some(SubsampleCounts::per_scheme(vec![1, 3, 7], vec![2, 3, 9]).unwrap());
    let bytes = encode_track(&track);
    assert_eq!(bytes.len(), encode_track(&small_track()).len() + 12);
    let back = decode_track(&bytes, &Limits::default()).expect("decodes");
    assert_same(&back, &track);
    assert_eq!(back.subsamples.unwrap().scheme(Scheme::Cbcs), &[2, 3, 9]);
    track.subsamples = Some(SubsampleCounts::uniform(vec![1, 2]));
    let back = decode_track(&encode_track(&track), &Limits::default()).expect("decodes");
    assert_eq!(back.subsamples, None);
    // A flag other than 0, 1 and 2 is refused.
    let mut bad = encode_track(&small_track());
    let flag = count_at(&small_track()) + 4;
    bad[flag] = 3;
    assert!(decode_track(&bad, &Limits::default()).is_err());
    // Flag 2 with the same counts under both schemes is refused: the writer stores those
    // once, under flag 1. This holds with no samples at all, too.
    let mut empty = small_track();
    empty.samples.clear();
    let mut bad = encode_track(&empty);
    let flag = count_at(&empty) + 4;
    bad[flag] = 2;
    assert!(decode_track(&bad, &Limits::default()).is_err());
    let mut track = small_track();
    track.subsamples = Some(SubsampleCounts::per_scheme(vec![1, 3, 7], vec![2, 3, 9]).unwrap());
    let mut bad = encode_track(&track);
    let records = count_at(&small_track()) + 5;
    for (i, cenc) in [1u16, 3, 7].into_iter().enumerate() {
        let cbcs_at = records + i * SAMPLE_RECORD_WITH_SCHEME_SUBSAMPLES + SAMPLE_RECORD + 2;
        bad[cbcs_at..cbcs_at + 2].copy_from_slice(&cenc.to_be_bytes());
    }
    let err = decode_track(&bad, &Limits::default()).expect_err("equal counts under flag 2");
    assert!(err.to_string().contains("same counts"), "{err}");
}

#[test]
fn video_and_audio_tracks_round_trip() {
    for track in [video_track(), audio_track()] {
        let bytes = encode_track(&track);
        let codec_len = match track.codec {
            CodecInfo::H264 { .. } => 7,
            _ => 8,
        };
        assert_eq!(
            bytes.len(),
            24 + codec_len
                + 1
                + track.language.len()
                + 4
                + track.sample_description.len()
                + 4
                + 1
                + track.samples.len()
                    * if track.subsamples.is_some() {
                        SAMPLE_RECORD_WITH_SUBSAMPLES
                    } else {
                        SAMPLE_RECORD
                    }
        );
        let back = decode_track(&bytes, &Limits::default()).expect("decodes");
        assert_same(&back, &track);
        assert_eq!(encode_track(&back), bytes);
    }
}

#[test]
fn every_codec_round_trips() {
    for codec in other_codecs() {
        let mut track = small_track();
        track.codec = codec;
        let back = decode_track(&encode_track(&track), &Limits::default()).expect("decodes");
        assert_same(&back, &track);
    }
}

#[test]
fn a_track_without_samples_round_trips() {
    let mut track = audio_track();
    track.samples.clear();
    let back = decode_track(&encode_track(&track), &Limits::default()).expect("decodes");
    assert_same(&back, &track);
}

#[test]
fn every_truncation_is_an_error() {
    let mut codecs = other_codecs();
    codecs.push(small_track().codec);
    codecs.push(audio_track().codec);
    for codec in codecs {
        let mut track = small_track();
        track.codec = codec;
        let bytes = encode_track(&track);
        for len in 0..bytes.len() {
            let err = decode_track(&bytes[..len], &Limits::default())
                .expect_err("a truncated index is refused");
            assert!(matches!(err, Error::Malformed { .. }), "{len}: {err}");
        }
    }
}

#[test]
fn wrong_magic_or_version_is_refused() {
    let bytes = encode_track(&small_track());
    for at in 0..MAGIC.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let err = decode_track(&bad, &Limits::default()).expect_err("wrong magic");
        assert!(matches!(err, Error::Malformed { offset: 0, .. }), "{err}");
    }
    for version in [0, 1, 0xff] {
        let mut bad = bytes.clone();
        bad[MAGIC.len()] = version;
        let err = decode_track(&bad, &Limits::default()).expect_err("unknown version");
        assert!(matches!(err, Error::Malformed { offset: 5, .. }), "{err}");
    }
}

#[test]
fn unknown_tags_and_booleans_are_refused() {
    let bytes = encode_track(&small_track());
    // Kind at byte 10, codec tag at byte 23.
    for (at, value) in [(10, 2), (23, 4), (23, 0xff)] {
        let mut bad = bytes.clone();
        bad[at] = value;
        let err = decode_track(&bad, &Limits::default()).expect_err("unknown tag");
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
    // The sync flag of the last sample is the last byte.
    let mut bad = bytes.clone();
    *bad.last_mut().expect("samples") = 2;
    let err = decode_track(&bad, &Limits::default()).expect_err("sync of 2");
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn languages_other_than_one_to_eight_letters_are_refused() {
    for language in ["", "abcdefghi", "en-US", "e1g", "ünd", "```"] {
        let mut track = small_track();
        track.language = language.into();
        let err =
            decode_track(&encode_track(&track), &Limits::default()).expect_err("bad language");
        assert!(
            matches!(err, Error::Malformed { .. }),
            "{language:?}: {err}"
        );
    }
    let mut track = small_track();
    track.language = "abcdefgh".into();
    let back = decode_track(&encode_track(&track), &Limits::default()).expect("8 letters");
    assert_eq!(back.language, "abcdefgh");
}

#[test]
fn an_oversized_sample_description_is_refused() {
    let mut track = small_track();
    track.sample_description = vec![0; MAX_SAMPLE_DESCRIPTION as usize];
    assert!(decode_track(&encode_track(&track), &Limits::default()).is_ok());
    track.sample_description.push(0);
    let err = decode_track(&encode_track(&track), &Limits::default()).expect_err("over");
    assert!(matches!(err, Error::Limit { .. }), "{err}");

    // A declared length over the limit is refused before the bytes are looked for.
    let bytes = encode_track(&small_track());
    let at = 24 + 7 + 1 + 3;
    let mut bad = bytes[..at].to_vec();
    bad.put_u32(u32::MAX);
    let err = decode_track(&bad, &Limits::default()).expect_err("huge");
    assert!(matches!(err, Error::Limit { .. }), "{err}");
}

/// Byte position of the sample count in an index of `track`.
fn count_at(track: &Track) -> usize {
    encode_track(track).len() - 4 - 1 - track.samples.len() * SAMPLE_RECORD
}

#[test]
fn a_huge_sample_count_is_refused_before_allocating() {
    let track = small_track();
    let bytes = encode_track(&track);
    let at = count_at(&track);
    let mut bad = bytes[..at].to_vec();
    bad.put_u32(u32::MAX);
    bad.put_u8(0);
    bad.extend_from_slice(&[0; SAMPLE_RECORD]);
    let err = decode_track(&bad, &Limits::default()).expect_err("huge count");
    assert!(
        matches!(err, Error::Limit { value, .. } if value == u64::from(u32::MAX)),
        "{err}"
    );

    // Under a limit that lets it through, the count is still checked against the bytes
    // present before the sample table is allocated.
    let limits = Limits {
        max_samples: u64::MAX,
        ..Limits::default()
    };
    let err = decode_track(&bad, &limits).expect_err("huge count");
    assert!(matches!(err, Error::Malformed { .. }), "{err}");

    // The limit applies at its exact value.
    let limits = Limits {
        max_samples: 2,
        ..Limits::default()
    };
    let err = decode_track(&bytes, &limits).expect_err("3 samples over 2");
    assert!(
        matches!(
            err,
            Error::Limit {
                value: 3,
                limit: 2,
                ..
            }
        ),
        "{err}"
    );
    let limits = Limits {
        max_samples: 3,
        ..Limits::default()
    };
    assert!(decode_track(&bytes, &limits).is_ok());
}

#[test]
fn trailing_bytes_are_refused() {
    let bytes = encode_track(&small_track());
    for garbage in [&[0u8][..], &[0; SAMPLE_RECORD], b"OVIDX"] {
        let mut bad = bytes.clone();
        bad.extend_from_slice(garbage);
        let err = decode_track(&bad, &Limits::default()).expect_err("trailing bytes");
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
}

#[test]
fn the_layout_is_as_documented() {
    let track = small_track();
    let bytes = encode_track(&track);
    assert_eq!(&bytes[..6], b"OVIDX\x02");
    assert_eq!(&bytes[6..10], &1u32.to_be_bytes());
    assert_eq!(bytes[10], KIND_VIDEO);
    assert_eq!(&bytes[11..15], &12800u32.to_be_bytes());
    assert_eq!(&bytes[15..19], &1920u32.to_be_bytes());
    assert_eq!(&bytes[19..23], &1080u32.to_be_bytes());
    assert_eq!(
        &bytes[23..31],
        &[CODEC_H264, b'a', b'v', b'c', b'1', 100, 0x40, 40]
    );
    assert_eq!(&bytes[31..35], b"\x03und");
    assert_eq!(&bytes[35..39], &20u32.to_be_bytes());
    assert_eq!(&bytes[59..63], &3u32.to_be_bytes());
    assert_eq!(bytes[63], 0, "no subsample counts");
    let second = &bytes[64 + SAMPLE_RECORD..64 + 2 * SAMPLE_RECORD];
    let s = track.samples[1];
    assert_eq!(&second[..8], &s.offset.to_be_bytes());
    assert_eq!(&second[8..12], &s.size.to_be_bytes());
    assert_eq!(&second[12..16], &s.duration.to_be_bytes());
    assert_eq!(&second[16..24], &s.dts.to_be_bytes());
    assert_eq!(&second[24..28], &(-512i32).to_be_bytes());
    assert_eq!(second[28], 0);
}
