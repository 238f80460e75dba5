use super::*;
use crate::ffmpeg::{part_arguments, EncodePart};
use crate::template::{H264Profile, Preset};

fn plan(duration: f64, frame_rate: (u32, u32), gop_frames: u32) -> EncodePlan {
    EncodePlan {
        video_stream_index: 0,
        rungs: Vec::new(),
        audio: Vec::new(),
        text: Vec::new(),
        frame_rate,
        gop_frames,
        gop_seconds: 2.0,
        deinterlace: false,
        profile: H264Profile::default(),
        preset: Preset::default(),
        av1_preset: 8,
        duration,
    }
}

#[test]
fn a_title_is_cut_on_whole_gops_and_the_last_chunk_takes_the_rest() {
    // 65 s at 30 fps: 1950 frames in chunks of 300, the last 450 long.
    let p = plan(65.0, (30, 1), 60);
    let grid = ChunkGrid::of(&p, 10.0).unwrap();
    assert_eq!(
        grid,
        ChunkGrid {
            chunk_frames: 300,
            count: 6
        }
    );
    let ranges = grid.ranges();
    assert_eq!(ranges[1].first_frame, 300);
    assert_eq!(ranges[1].frames, Some(300));
    assert_eq!(ranges[5].first_frame, 1500);
    assert_eq!(ranges[5].frames, None);
    assert!((ranges[5].seconds(&p) - 15.0).abs() < 1e-9);
    assert_eq!(grid.range(5), Some(ranges[5]));
    assert_eq!(grid.range(6), None);
    // Every chunk but the first seeks a millisecond before its first frame.
    assert_eq!(ranges[0].seek_seconds(&p), None);
    let seek = ranges[1].seek_seconds(&p).unwrap();
    assert!((seek - 9.999).abs() < 1e-9, "{seek}");
    // At 1000 fps, a quarter frame.
    let fast = plan(65.0, (1000, 1), 2000);
    let seek = ChunkGrid::of(&fast, 10.0).unwrap().ranges()[1]
        .seek_seconds(&fast)
        .unwrap();
    assert!((seek - (10.0 - 0.00025)).abs() < 1e-9, "{seek}");
}

#[test]
fn a_title_shorter_than_two_chunks_is_not_cut() {
    assert_eq!(ChunkGrid::of(&plan(19.9, (30, 1), 60), 10.0), None);
    assert!(ChunkGrid::of(&plan(20.0, (30, 1), 60), 10.0).is_some());
    assert_eq!(ChunkGrid::of(&plan(0.0, (30, 1), 60), 10.0), None);
    assert_eq!(ChunkGrid::of(&plan(f64::NAN, (30, 1), 60), 10.0), None);
}

#[test]
fn a_long_title_gets_longer_chunks_rather_than_more() {
    // A day at 25 fps in 2 s chunks would be 43 200 chunks.
    let grid = ChunkGrid::of(&plan(86_400.0, (25, 1), 50), 2.0).unwrap();
    assert!(u64::from(grid.count) <= MAX_CHUNKS, "{grid:?}");
    assert_eq!(grid.chunk_frames % 50, 0, "whole GOPs: {grid:?}");
}

#[test]
fn ntsc_rates_keep_chunks_on_frames() {
    // 29.97 fps: a 2 s GOP is 60 frames, a chunk of 5 GOPs 300 frames (10.01 s).
    let p = plan(60.0, (30000, 1001), 60);
    let grid = ChunkGrid::of(&p, 10.0).unwrap();
    assert_eq!(grid.chunk_frames, 300);
    assert!((grid.ranges()[1].start_seconds(&p) - 10.01).abs() < 1e-9);
}

#[test]
fn chunk_lengths_must_be_whole_gops_in_bounds() {
    assert!(check_chunk_seconds(10.0, 2.0).is_ok());
    assert!(check_chunk_seconds(3.0, 1.5).is_ok());
    let e = check_chunk_seconds(5.0, 2.0).unwrap_err();
    assert!(e.contains("not a whole number of GOPs"), "{e}");
    assert!(check_chunk_seconds(1.0, 0.5)
        .unwrap_err()
        .contains("outside"));
    assert!(check_chunk_seconds(601.0, 1.0)
        .unwrap_err()
        .contains("outside"));
    assert!(check_chunk_seconds(f64::NAN, 2.0).is_err());
    let mut t = crate::JobTemplate::default_ladder();
    t.video.chunk_seconds = Some(7.0);
    let e = t.validate().unwrap_err();
    assert!(e.contains("video.chunk_seconds"), "{e}");
    t.video.chunk_seconds = Some(8.0);
    assert!(t.validate().is_ok());
}

#[test]
fn a_chunk_run_encodes_its_frames_and_no_audio() {
    let mut p = plan(60.0, (30, 1), 60);
    p.rungs = vec![crate::ladder::PlannedRung {
        name: "360p".into(),
        codec: crate::template::VideoCodec::H264,
        width: 640,
        height: 360,
        max_bitrate: 800_000,
        crf: 23,
        ten_bit: false,
    }];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        b"not read: only its name goes on the command line",
    )
    .unwrap();
    let source = crate::SourceFile::open(file.path()).unwrap();
    let range = ChunkGrid::of(&p, 10.0).unwrap().ranges()[2];
    let args: Vec<String> = part_arguments(&source, &p, EncodePart::Video(range), Path::new("/o"))
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let at = |s: &str| args.iter().position(|a| a == s);
    let ss = at("-ss").unwrap();
    assert!(ss < at("-i").unwrap(), "input seeking: {args:?}");
    assert_eq!(args[ss + 1], "19.999000");
    assert_eq!(args[at("-frames:v").unwrap() + 1], "300");
    assert!(!args.iter().any(|a| a == "-c:a"), "{args:?}");
}
