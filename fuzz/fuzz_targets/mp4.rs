//! The MP4 reader, progressive and fragmented, with the codec parsing of sample entries,
//! the subsample walks over video samples, the search for CEA-608 captions in their
//! SEI, and clips of the tracks read (spans, cuts, and the layout of the clipped file).
//!
//! Beyond not panicking: every sample read lies inside the input, every track read
//! survives its stored index (encode, decode, encode again gives the same bytes), and a
//! clip's layout reads only ranges of the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::clip::{self, ClipPart, ClipPiece};
use openvod_media::crypt::subsample_counts;
use openvod_media::index::{decode_track, encode_track};
use openvod_media::{read_tracks, Limits, TrackKind};

fuzz_target!(|data: &[u8]| {
    // Small limits so a fuzzed box cannot make one run allocate far past the input.
    let limits = Limits {
        max_moov_bytes: 1 << 20,
        max_moof_bytes: 1 << 20,
        max_samples: 1 << 16,
        max_top_level_boxes: 1 << 16,
    };
    let Ok(tracks) = read_tracks(data, &limits) else {
        return;
    };
    for track in &tracks {
        assert!(
            !track.samples.is_empty(),
            "a track without samples is skipped"
        );
        assert_ne!(track.timescale, 0);
        for s in &track.samples {
            let end = s.offset.checked_add(u64::from(s.size));
            assert!(
                end.is_some_and(|end| end <= data.len() as u64),
                "sample at {}+{} past the end of {} bytes",
                s.offset,
                s.size,
                data.len()
            );
        }
        let _ = track.codec.codec_string();
        // The subsample walks (NAL units, AV1 OBUs) over the file's own samples.
        if track.kind == TrackKind::Video {
            if let Ok(counts) = subsample_counts(track, data) {
                assert_eq!(counts.len(), track.samples.len(), "a count per sample");
            }
            let _ = openvod_media::captions::carries_cea608(track, data);
        }
        let _ = track.frame_rate();
        let _ = track.duration_seconds();
        // A clip of its middle: the layout reads only the samples of the input.
        let seconds = track.duration_seconds();
        let video = tracks
            .iter()
            .find(|t| t.kind == TrackKind::Video)
            .unwrap_or(track);
        for span in [
            clip::keyframe_span(video, seconds / 3.0, seconds * 2.0 / 3.0).ok(),
            clip::frame_span(video, seconds / 3.0, seconds * 2.0 / 3.0)
                .ok()
                .and_then(|f| f.copied),
        ]
        .into_iter()
        .flatten()
        {
            let Ok(cut) = clip::cut_track(track, span) else {
                continue;
            };
            let piece = ClipPiece {
                track: cut,
                source: 0,
            };
            if let Ok(parts) = clip::clip_layout(track, &[piece]) {
                for p in parts {
                    if let ClipPart::Source { offset, len, .. } = p {
                        assert!(offset
                            .checked_add(len)
                            .is_some_and(|e| e <= data.len() as u64));
                    }
                }
            }
        }
        let index = encode_track(track);
        if let Ok(back) = decode_track(&index, &limits) {
            assert_eq!(encode_track(&back), index, "index round trip");
        }
    }
});
