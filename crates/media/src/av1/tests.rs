//! The reader on hand-made OBU sequences (see `test_bits`): where tiles are found, the
//! state frames leave for later ones, and malformed samples refused with an offset.

use super::test_bits::*;
use super::{Av1Stream, TileSpan};
use crate::Error;

fn tiles_of(stream: &mut Av1Stream, sample: &[u8]) -> Result<Vec<TileSpan>, Error> {
    let mut tiles = Vec::new();
    stream.tiles(sample, &mut tiles).map(|()| tiles)
}

fn malformed_at(result: Result<Vec<TileSpan>, Error>) -> u64 {
    match result {
        Err(Error::Malformed { offset, .. }) => offset,
        other => panic!("expected a malformed sample, got {other:?}"),
    }
}

#[test]
fn a_key_frame_with_one_tile() {
    let mut sample = obu(OBU_TEMPORAL_DELIMITER, &[]);
    sample.extend(sequence_header(640, 360));
    let f = frame(FrameKind::Key, Size::Max, (10, 6), (0, 0));
    let want = push_frame(&mut sample, &f, &tile_bytes(1));
    let mut stream = Av1Stream::new(&[]).unwrap();
    let got = tiles_of(&mut stream, &sample).unwrap();
    assert_eq!(got, want);
    assert_eq!(got[0].start + got[0].len, sample.len());
    let seq = stream.sequence_header().unwrap();
    assert_eq!(
        (seq.profile, seq.level_idx, seq.tier, seq.bit_depth),
        (0, 8, false, 8)
    );
}

#[test]
fn a_key_frame_with_four_tiles_and_metadata_around_it() {
    let mut sample = sequence_header(2048, 1024);
    sample.extend(obu(OBU_METADATA, &[1, 2, 3, 4]));
    // 1280x720: 20 x 12 superblocks, 2 x 2 tiles.
    let f = frame(FrameKind::Key, Size::Explicit(1280, 720), (20, 12), (1, 1));
    let want = push_frame(&mut sample, &f, &tile_bytes(4));
    sample.extend(obu(OBU_PADDING, &[0; 9]));
    let got = tiles_of(&mut Av1Stream::new(&[]).unwrap(), &sample).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got, want);
    for (i, span) in got.iter().enumerate() {
        assert!(sample[span.start..span.start + span.len]
            .iter()
            .all(|&b| b == 0xa0 + i as u8));
    }
}

#[test]
fn a_frame_header_with_tile_groups_finds_the_same_tiles() {
    let f = frame(FrameKind::Key, Size::Explicit(1280, 720), (20, 12), (1, 1));
    let tiles = tile_bytes(4);
    // The sequence header comes from av1C's configOBUs.
    let config = sequence_header(2048, 1024);
    let mut w = BitWriter::default();
    frame_header(&mut w, &f);
    w.trailing();
    let header = obu(OBU_FRAME_HEADER, &w.bytes());
    let mut sample = header.clone();
    let mut want = Vec::new();
    for (range, part) in [((0, 1), &tiles[..2]), ((2, 3), &tiles[2..])] {
        // A redundant copy of the header between tile groups changes nothing.
        if range.0 == 2 {
            sample.extend(obu(OBU_REDUNDANT_FRAME_HEADER, &w.bytes()));
        }
        let payload = tile_group_payload(&f, Some(range), part);
        let at = sample.len() + 1 + leb128(payload.len() as u64).len();
        want.extend(spans(at, &f, Some(range), part));
        sample.extend(obu(OBU_TILE_GROUP, &payload));
    }
    let mut stream = Av1Stream::new(&config).unwrap();
    assert_eq!(tiles_of(&mut stream, &sample).unwrap(), want);
    assert_eq!(want.len(), 4);
    // The frame is complete: another tile group has no frame header before it.
    let stray = obu(
        OBU_TILE_GROUP,
        &tile_group_payload(&f, Some((0, 0)), &tiles[..1]),
    );
    assert_eq!(malformed_at(tiles_of(&mut stream, &stray)), 1 + 1);
}

#[test]
fn an_inter_frame_takes_its_size_from_its_reference() {
    // A 64x64 key frame (one superblock: no tile increments coded) in a stream of up to
    // 2048x1024 (where a frame of the maximum size codes a stop bit per direction). An
    // inter frame that finds its size in slot 0 codes none either: reading it with the
    // maximum size would misplace its tile.
    let mut key = sequence_header(2048, 1024);
    let k = frame(FrameKind::Key, Size::Explicit(64, 64), (1, 1), (0, 0));
    push_frame(&mut key, &k, &tile_bytes(1));
    let mut inter_frame = frame(FrameKind::Inter, Size::FirstRef, (1, 1), (0, 0));
    inter_frame.order_hint = 1;
    let mut inter = Vec::new();
    let want = push_frame(&mut inter, &inter_frame, &tile_bytes(1));

    let mut stream = Av1Stream::new(&[]).unwrap();
    tiles_of(&mut stream, &key).unwrap();
    assert_eq!(tiles_of(&mut stream, &inter).unwrap(), want);
    // From a restart (no key frame since), slot 0 holds nothing: refused, not guessed.
    stream.restart();
    assert!(tiles_of(&mut stream, &inter).is_err());
}

#[test]
fn a_shown_existing_key_frame_refreshes_every_slot() {
    let mut sample = sequence_header(2048, 1024);
    let mut hidden = frame(FrameKind::Key, Size::Explicit(64, 64), (1, 1), (0, 0));
    hidden.show_frame = false;
    hidden.refresh_frame_flags = 0x01;
    push_frame(&mut sample, &hidden, &tile_bytes(1));
    let mut inter_frame = frame(FrameKind::Inter, Size::FirstRef, (1, 1), (0, 0));
    inter_frame.ref_slot = 5;
    inter_frame.order_hint = 1;
    let mut inter = Vec::new();
    let want = push_frame(&mut inter, &inter_frame, &tile_bytes(1));

    let mut stream = Av1Stream::new(&[]).unwrap();
    tiles_of(&mut stream, &sample).unwrap();
    // Slot 5 is empty until the hidden key frame is shown.
    assert!(tiles_of(&mut stream.clone(), &inter).is_err());
    let mut w = BitWriter::default();
    w.flag(true).put(3, 0).trailing(); // show_existing_frame of slot 0
    let show = obu(OBU_FRAME_HEADER, &w.bytes());
    assert_eq!(tiles_of(&mut stream, &show).unwrap(), vec![]);
    assert_eq!(tiles_of(&mut stream, &inter).unwrap(), want);
    // Showing an empty slot is refused.
    stream.restart();
    tiles_of(&mut stream, &sequence_header(2048, 1024)).unwrap();
    assert!(tiles_of(&mut stream, &show).is_err());
}

#[test]
fn malformed_samples_are_refused_with_their_offset() {
    let seq = sequence_header(640, 360);
    let f = frame(FrameKind::Key, Size::Max, (10, 6), (0, 0));
    let mut stream = Av1Stream::new(&seq).unwrap();

    // A size field that never ends, and one over 2^32 - 1.
    let mut sample = seq.clone();
    sample.extend([(OBU_PADDING << 3) | 2, 0x80, 0x80]);
    assert_eq!(
        malformed_at(tiles_of(&mut stream, &sample)),
        seq.len() as u64
    );
    let mut sample = seq.clone();
    sample.extend([(OBU_PADDING << 3) | 2, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(
        malformed_at(tiles_of(&mut stream, &sample)),
        seq.len() as u64
    );
    // An OBU longer than what is left of the sample.
    let mut sample = seq.clone();
    sample.extend([(OBU_PADDING << 3) | 2, 10, 0, 0]);
    assert_eq!(
        malformed_at(tiles_of(&mut stream, &sample)),
        seq.len() as u64
    );
    // A frame header cut short.
    let mut w = BitWriter::default();
    frame_header(&mut w, &f);
    let cut = obu(OBU_FRAME, &w.bytes()[..3]);
    assert!((2..5).contains(&malformed_at(tiles_of(&mut stream, &cut))));
    // A frame header before any sequence header.
    let mut sample = Vec::new();
    push_frame(&mut sample, &f, &tile_bytes(1));
    assert_eq!(
        malformed_at(tiles_of(&mut Av1Stream::new(&[]).unwrap(), &sample)),
        2
    );
    // A tile size running past its tile group: the first of four tiles says 0xffff + 1.
    let four = frame(FrameKind::Key, Size::Explicit(1280, 720), (20, 12), (1, 1));
    let mut stream = Av1Stream::new(&sequence_header(2048, 1024)).unwrap();
    let mut sample = Vec::new();
    let spans = push_frame(&mut sample, &four, &tile_bytes(4));
    let field = spans[0].start - 2;
    sample[field..field + 2].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(malformed_at(tiles_of(&mut stream, &sample)), field as u64);
    // A reserved profile in the sequence header.
    let mut bad = sequence_header_payload(640, 360);
    bad[0] |= 0xe0;
    assert!(Av1Stream::new(&obu(OBU_SEQUENCE_HEADER, &bad)).is_err());
}

#[test]
fn cut_samples_never_panic() {
    // Every prefix of a valid sample, and every single-byte change of its headers, is
    // read or refused, never a panic.
    let mut sample = sequence_header(2048, 1024);
    let f = frame(FrameKind::Key, Size::Explicit(1280, 720), (20, 12), (1, 1));
    push_frame(&mut sample, &f, &tile_bytes(4));
    for end in 0..sample.len() {
        let _ = tiles_of(&mut Av1Stream::new(&[]).unwrap(), &sample[..end]);
    }
    for at in 0..40.min(sample.len()) {
        for value in [0x00, 0x7f, 0x80, 0xff] {
            let mut changed = sample.clone();
            changed[at] = value;
            let _ = tiles_of(&mut Av1Stream::new(&[]).unwrap(), &changed);
        }
    }
}
