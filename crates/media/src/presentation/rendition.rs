//! One rendition after cutting: its track, its segments, and where it starts.

use crate::path::RenditionName;
use crate::segment::{plan_segments, CutList, SegmentSpec};
use crate::Track;

use super::Rendition;

/// A rendition after cutting.
#[derive(Debug, Clone)]
pub struct PackagedRendition {
    name: RenditionName,
    source: usize,
    track: Track,
    segments: Vec<SegmentSpec>,
    /// `mfhd` sequence number of each segment's first fragment.
    first_sequence: Vec<u32>,
    /// Media time (track timescale) at which the presentation starts; see
    /// [`align_starts`].
    presentation_offset: u64,
}

impl PackagedRendition {
    pub(super) fn new(r: Rendition, cuts: &CutList, presentation_offset: u64) -> PackagedRendition {
        let segments = plan_segments(&r.track, cuts);
        let mut first_sequence = Vec::with_capacity(segments.len());
        let mut seq = 1u32;
        for s in &segments {
            first_sequence.push(seq);
            seq += s.fragments.len() as u32;
        }
        PackagedRendition {
            name: r.name,
            source: r.source,
            track: r.track,
            segments,
            first_sequence,
            presentation_offset,
        }
    }

    pub fn name(&self) -> &RenditionName {
        &self.name
    }

    /// Index of the source its samples are read from.
    pub fn source(&self) -> usize {
        self.source
    }

    pub fn track(&self) -> &Track {
        &self.track
    }

    pub fn segments(&self) -> &[SegmentSpec] {
        &self.segments
    }

    /// The `mfhd` sequence number of segment `n`'s first fragment.
    pub fn first_sequence(&self, n: usize) -> u32 {
        self.first_sequence[n]
    }

    pub fn presentation_offset(&self) -> u64 {
        self.presentation_offset
    }

    pub fn codec_string(&self) -> String {
        self.track.codec.codec_string()
    }
}

/// The BCP 47 tag (RFC 5646) for a track's ISO 639-2 code, as HLS `LANGUAGE` and DASH
/// `@lang` want it: the two-letter ISO 639-1 code where there is one (RFC 5646, 2.2.1),
/// the three-letter code otherwise (a private-use `qaa` too), nothing for "und".
pub fn language_tag(iso639_2: &str) -> Option<String> {
    match crate::Language::from_code(iso639_2) {
        Some(l) => Some(l.bcp47().to_string()),
        None => crate::language::unknown_code(iso639_2),
    }
}

/// The name a player shows for each audio rendition (HLS `NAME`, DASH `Label`), in
/// rendition order, `None` for video: the language's English name, or "Audio" without
/// one, with the layout when it is not stereo ("English 5.1"), and a number after the
/// first where two would read the same (`NAME` is unique in its group: RFC 8216bis,
/// 4.4.6.1.1).
pub(super) fn audio_labels(renditions: &[PackagedRendition]) -> Vec<Option<String>> {
    let mut labels: Vec<Option<String>> = Vec::with_capacity(renditions.len());
    for r in renditions {
        let track = r.track();
        if track.kind != crate::TrackKind::Audio {
            labels.push(None);
            continue;
        }
        let language = crate::Language::from_code(&track.language).map_or("Audio", |l| l.name());
        let layout = match track.codec.channels() {
            Some(1) => " (mono)".to_string(),
            None | Some(2) => String::new(),
            Some(6) => " 5.1".to_string(),
            Some(8) => " 7.1".to_string(),
            Some(n) => format!(" ({n} channels)"),
        };
        let label = crate::path::first_free(&format!("{language}{layout}"), " ", |l| {
            labels.iter().flatten().any(|o| o == l)
        });
        labels.push(Some(label));
    }
    labels
}

/// Delays every track by the composition delay of the most reordered video track, so
/// that no composition offset is negative and all tracks start together.
///
/// The reader leaves video with signed composition offsets, its first frame presented at
/// time 0. Readers disagree about negative offsets: browsers (MSE) present that frame at
/// 0, while ffmpeg shifts the whole track later by the largest negative offset. Written
/// with offsets that are never negative and with audio delayed by the same amount, every
/// reader sees audio and video start at the same instant. DASH maps that instant back to
/// period time 0 with `presentationTimeOffset` (ISO/IEC 23009-1, 5.3.9.2); HLS players
/// align renditions on their first timestamps (RFC 8216bis, 6.3.3).
pub(super) fn align_starts(renditions: &mut [Rendition]) -> Vec<u64> {
    let needed = |t: &Track| {
        t.samples
            .iter()
            .map(|s| -i64::from(s.cts))
            .max()
            .unwrap_or(0)
            .max(0)
    };
    let delay = renditions
        .iter()
        .map(|r| needed(&r.track) as f64 / f64::from(r.track.timescale))
        .fold(0.0, f64::max);
    renditions
        .iter_mut()
        .map(|r| {
            let t = &mut r.track;
            let own = needed(t);
            let d = ((delay * f64::from(t.timescale)).round() as i64).max(own);
            if t.samples.iter().any(|s| s.cts != 0) {
                let d = i32::try_from(d).unwrap_or(i32::MAX);
                for s in &mut t.samples {
                    s.cts = s.cts.saturating_add(d);
                }
            } else {
                for s in &mut t.samples {
                    s.dts = s.dts.saturating_add(d as u64);
                }
            }
            d as u64
        })
        .collect()
}

/// FrameRateType (ISO/IEC 23009-1, 5.3.12.2): an integer or `num/den`.
pub(crate) fn dash_frame_rate(track: &Track) -> Option<String> {
    let fps = track.frame_rate()?;
    let mut d: Vec<u32> = track.samples.iter().map(|s| s.duration).collect();
    d.sort_unstable();
    let dur = d[d.len() / 2];
    let (num, den) = (track.timescale, dur);
    let g = gcd(num, den);
    let (num, den) = (num / g, den / g);
    Some(if den == 1 {
        num.to_string()
    } else if fps.is_finite() {
        format!("{num}/{den}")
    } else {
        return None;
    })
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}
