//! Clips of the presentation tests' fixture (10 s, 25 fps, a sync sample every 2 s, with
//! reordering; AAC at 48 kHz): the spans chosen, and clipped files read back sample for
//! sample.

use super::*;
use crate::presentation::tests::fixture;
use crate::{read_tracks, Limits};

/// The fixture's tracks, timed as the reader leaves a title's: the video's first frame
/// presented at zero.
fn tracks() -> (Vec<u8>, Track, Track) {
    let (bytes, renditions) = fixture();
    let mut it = renditions.into_iter().map(|r| r.track);
    let mut video = it.next().expect("video");
    let shift = video.samples[0].cts;
    for s in &mut video.samples {
        s.cts -= shift;
    }
    let audio = it.next().expect("audio");
    (bytes, video, audio)
}

/// Writes a layout out, the pieces' ranges read from `sources`.
fn write(parts: &[ClipPart], sources: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            ClipPart::Bytes(b) => out.extend_from_slice(b),
            ClipPart::Source {
                source,
                offset,
                len,
            } => out
                .extend_from_slice(&sources[*source][*offset as usize..(*offset + *len) as usize]),
        }
    }
    out
}

fn read_back(file: &[u8]) -> Track {
    let mut tracks = read_tracks(file, &Limits::default()).expect("the clip reads back");
    assert_eq!(tracks.len(), 1);
    tracks.remove(0)
}

fn sample_bytes<'a>(bytes: &'a [u8], s: &Sample) -> &'a [u8] {
    &bytes[s.offset as usize..s.offset as usize + s.size as usize]
}

#[test]
fn a_keyframe_span_widens_the_range_to_the_gops_around_it() {
    let (_, video, _) = tracks();
    let span = keyframe_span(&video, 3.0, 7.0).unwrap();
    assert_eq!((span.start, span.end), (2.0, 8.0));
    let span = keyframe_span(&video, 4.0, 10.0).unwrap();
    assert_eq!((span.start, span.end), (4.0, 10.0));
    let span = keyframe_span(&video, 0.0, 0.5).unwrap();
    assert_eq!((span.start, span.end), (0.0, 2.0));
}

#[test]
fn a_range_outside_the_title_is_refused() {
    let (_, video, _) = tracks();
    assert_eq!(
        keyframe_span(&video, 2.0, 12.0),
        Err(ClipError::PastEnd {
            end: 12.0,
            duration: 10.0
        })
    );
    for (a, b) in [(5.0, 5.0), (6.0, 5.0), (-1.0, 2.0), (f64::NAN, 2.0)] {
        assert!(matches!(
            frame_span(&video, a, b),
            Err(ClipError::Empty { .. })
        ));
    }
    let message = frame_span(&video, 0.0, 11.0).unwrap_err().to_string();
    assert!(
        message.contains("after the title's end at 10.000 s"),
        "{message}"
    );
}

#[test]
fn a_frame_span_copies_the_whole_gops_inside_and_encodes_the_rest() {
    let (_, video, _) = tracks();
    let s = frame_span(&video, 3.0, 7.03).unwrap();
    // 7.03 s falls inside a frame: the clip ends at the nearest frame boundary, 7.04 s.
    assert_eq!((s.clip.start, s.clip.end), (3.0, 7.04));
    assert_eq!(
        s.copied,
        Some(ClipSpan {
            start: 4.0,
            end: 6.0
        })
    );
    assert_eq!(
        s.head,
        Some(ClipSpan {
            start: 3.0,
            end: 4.0
        })
    );
    assert_eq!(
        s.tail,
        Some(ClipSpan {
            start: 6.0,
            end: 7.04
        })
    );
    // On the grid: nothing to encode.
    let s = frame_span(&video, 4.0, 10.0).unwrap();
    assert_eq!((s.copied, s.head, s.tail), (Some(s.clip), None, None));
    // Inside one GOP: all of it is encoded again.
    let s = frame_span(&video, 4.48, 5.0).unwrap();
    assert_eq!(s.copied, None);
    assert_eq!(
        s.head,
        Some(ClipSpan {
            start: 4.48,
            end: 5.0
        })
    );
}

#[test]
fn a_clipped_rendition_reads_back_as_the_samples_of_its_span() {
    let (bytes, video, audio) = tracks();
    let span = keyframe_span(&video, 3.0, 7.0).unwrap();
    for track in [&video, &audio] {
        let cut = cut_track(track, span).unwrap();
        let file = write(
            &clip_layout(
                track,
                &[ClipPiece {
                    track: cut.clone(),
                    source: 0,
                }],
            )
            .unwrap(),
            &[&bytes],
        );
        let back = read_back(&file);
        assert_eq!(back.samples.len(), cut.samples.len());
        assert_eq!(back.sample_description, track.sample_description);
        for (b, c) in back.samples.iter().zip(&cut.samples) {
            assert_eq!(sample_bytes(&file, b), sample_bytes(&bytes, c));
            assert_eq!((b.duration, b.sync), (c.duration, c.sync));
        }
        // Presented from zero, as long as the span (audio to within one frame).
        assert_eq!(back.start_time(), 0);
        let secs = back.duration_seconds();
        assert!((secs - span.duration()).abs() < 1024.0 / 48000.0, "{secs}");
    }
    // Video: the three GOPs from 2 s, whole.
    let cut = cut_track(&video, span).unwrap();
    assert_eq!(cut.samples.len(), 150);
    assert!(cut.samples[0].sync);
}

#[test]
fn pieces_join_into_one_continuous_track() {
    let (bytes, video, _) = tracks();
    let a = cut_track(
        &video,
        ClipSpan {
            start: 0.0,
            end: 2.0,
        },
    )
    .unwrap();
    let b = cut_track(
        &video,
        ClipSpan {
            start: 6.0,
            end: 10.0,
        },
    )
    .unwrap();
    let file = write(
        &clip_layout(
            &video,
            &[
                ClipPiece {
                    track: a.clone(),
                    source: 0,
                },
                ClipPiece {
                    track: b.clone(),
                    source: 1,
                },
            ],
        )
        .unwrap(),
        &[&bytes, &bytes],
    );
    let back = read_back(&file);
    assert_eq!(back.samples.len(), a.samples.len() + b.samples.len());
    for (i, w) in back.samples.windows(2).enumerate() {
        assert_eq!(w[1].dts, w[0].dts + u64::from(w[0].duration), "sample {i}");
    }
    let expected = a.samples.iter().chain(&b.samples);
    for (got, want) in back.samples.iter().zip(expected) {
        assert_eq!(sample_bytes(&file, got), sample_bytes(&bytes, want));
    }
    assert_eq!(back.duration_seconds(), 6.0);
}

#[test]
fn pieces_with_another_decoder_configuration_are_not_joined() {
    let (_, video, _) = tracks();
    let a = cut_track(
        &video,
        ClipSpan {
            start: 0.0,
            end: 2.0,
        },
    )
    .unwrap();
    let mut b = a.clone();
    let at = b
        .sample_description
        .windows(4)
        .position(|w| w == b"avcC")
        .unwrap();
    // AVCLevelIndication.
    b.sample_description[at + 7] ^= 1;
    let pieces = [
        ClipPiece {
            track: a,
            source: 0,
        },
        ClipPiece {
            track: b,
            source: 1,
        },
    ];
    let e = clip_layout(&video, &pieces).unwrap_err().to_string();
    assert!(e.contains("decoder configuration differs"), "{e}");
}

#[test]
fn a_cut_off_the_keyframe_grid_is_refused() {
    let (_, video, _) = tracks();
    let e = cut_track(
        &video,
        ClipSpan {
            start: 3.0,
            end: 6.0,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no keyframe at 3.000 s"), "{e}");
}
