//! `text::parse`, the reading of subtitle files users upload (WebVTT and SubRip).
//!
//! Input: one byte choosing the format (even: WebVTT, odd: SubRip), then the file.
//!
//! Beyond not panicking: every cue ends at or after its start and comes out sorted; the
//! WebVTT written from the cues reads back as the same cues; and a segment holds only
//! cues that show during it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::text::{parse, parse_written, write_segment, TextFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let format = if which % 2 == 0 {
        TextFormat::WebVtt
    } else {
        TextFormat::SubRip
    };
    let Ok(cues) = parse(file, format) else {
        return;
    };
    assert!(
        cues.iter().all(|c| c.end_ms >= c.start_ms),
        "cues end after they start"
    );
    assert!(
        cues.windows(2).all(|w| w[0].start_ms <= w[1].start_ms),
        "cues are sorted"
    );
    let whole = write_segment(&cues, 0, u64::MAX, None);
    // A cue whose text holds a blank line or a timing arrow does not survive a round
    // trip in any WebVTT writer; what parse accepted never holds either.
    assert_eq!(
        parse_written(whole.as_bytes()).ok().as_ref(),
        Some(&cues),
        "written cues read back"
    );
    let (from, to) = (1000, 5000);
    let segment = write_segment(&cues, from, to, Some(900));
    if let Ok(inside) = parse_written(segment.as_bytes()) {
        assert!(inside
            .iter()
            .all(|c| c.start_ms < to && (c.end_ms > from || c.start_ms >= from)));
    }
});
