//! Cutting tracks into CMAF segments and fragments (ISO/IEC 23000-19, 7.3).
//!
//! One reference track (the first video track) decides the cut instants: a fragment
//! starts at the first sync sample at or after each multiple of the fragment length, a
//! segment at the first one at or after each multiple of the segment length. Every other
//! track is cut at the same instants (at its first sync sample at or after each instant,
//! within half a sample), so that renditions switch cleanly and audio segments line up
//! with video segments.

use std::ops::Range;

use crate::{Error, Result, Track, TrackKind};

/// Target segment and fragment lengths.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentTarget {
    pub segment_seconds: f64,
    pub fragment_seconds: f64,
}

impl Default for SegmentTarget {
    fn default() -> Self {
        SegmentTarget {
            segment_seconds: 4.0,
            fragment_seconds: 2.0,
        }
    }
}

impl SegmentTarget {
    /// Checks that the lengths are sane and that a segment is a whole number of fragments.
    pub fn validate(&self) -> Result<()> {
        let (s, f) = (self.segment_seconds, self.fragment_seconds);
        if !(0.1..=60.0).contains(&s) || !s.is_finite() {
            return Err(Error::Settings(format!(
                "segment length {s} s is outside 0.1..60 s"
            )));
        }
        if !(0.1..=60.0).contains(&f) || !f.is_finite() || f > s {
            return Err(Error::Settings(format!(
                "fragment length {f} s must be between 0.1 s and the segment length ({s} s)"
            )));
        }
        let n = s / f;
        if (n - n.round()).abs() > 1e-6 {
            return Err(Error::Settings(format!(
                "segment length {s} s is not a whole number of {f} s fragments"
            )));
        }
        Ok(())
    }
}

/// Where a track is cut: every fragment start, and whether it also starts a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct CutList {
    /// Presentation times in seconds, ascending; the first is the start of the track.
    pub cuts: Vec<(f64, bool)>,
}

impl CutList {
    /// Derives the cut instants from the sync samples of `reference`.
    pub fn from_reference(reference: &Track, target: &SegmentTarget) -> CutList {
        let scale = f64::from(reference.timescale);
        let half = half_sample(reference);
        let mut cuts = Vec::new();
        let Some(first) = reference.samples.first() else {
            return CutList { cuts };
        };
        let t0 = first.pts() as f64 / scale;
        cuts.push((t0, true));
        let next_after = |t: f64, step: f64| t0 + step * (((t - t0 + half) / step).floor() + 1.0);
        let mut next_fragment = next_after(t0, target.fragment_seconds);
        let mut next_segment = next_after(t0, target.segment_seconds);
        for s in reference.samples.iter().skip(1).filter(|s| s.sync) {
            let t = s.pts() as f64 / scale;
            if t + half < next_fragment {
                continue;
            }
            let starts_segment = t + half >= next_segment;
            cuts.push((t, starts_segment));
            next_fragment = next_after(t, target.fragment_seconds);
            if starts_segment {
                next_segment = next_after(t, target.segment_seconds);
            }
        }
        CutList { cuts }
    }
}

/// Half the typical sample duration, in seconds: the tolerance when matching instants.
fn half_sample(track: &Track) -> f64 {
    let d = track
        .samples
        .get(1)
        .or(track.samples.first())
        .map_or(0, |s| s.duration);
    f64::from(d) / f64::from(track.timescale) / 2.0
}

/// The samples of one media segment, grouped in fragments.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    /// Sample index ranges, one per fragment, contiguous.
    pub fragments: Vec<Range<usize>>,
    /// Earliest presentation time, in the track timescale.
    pub start: i64,
    /// Time until the next segment starts (or the track ends), in the track timescale.
    pub duration: u64,
}

impl SegmentSpec {
    pub fn samples(&self) -> Range<usize> {
        self.fragments[0].start..self.fragments[self.fragments.len() - 1].end
    }
}

/// Cuts `track` at the instants of `cuts`.
pub fn plan_segments(track: &Track, cuts: &CutList) -> Vec<SegmentSpec> {
    let scale = f64::from(track.timescale);
    let half = half_sample(track);
    let samples = &track.samples;
    // Sample index where each cut falls in this track.
    let mut points: Vec<(usize, bool)> = Vec::with_capacity(cuts.cuts.len());
    let mut i = 0;
    for (n, &(t, seg)) in cuts.cuts.iter().enumerate() {
        if n == 0 {
            points.push((0, true));
            continue;
        }
        while i < samples.len()
            && (!(samples[i].sync || track.kind == TrackKind::Audio)
                || (samples[i].pts() as f64 / scale) + half < t)
        {
            i += 1;
        }
        if i >= samples.len() {
            break;
        }
        match points.last_mut() {
            Some(last) if last.0 == i => last.1 |= seg,
            _ => points.push((i, seg)),
        }
    }
    if points.is_empty() && !samples.is_empty() {
        points.push((0, true));
    }
    let mut segments: Vec<SegmentSpec> = Vec::new();
    for (k, &(start, seg)) in points.iter().enumerate() {
        let end = points.get(k + 1).map_or(samples.len(), |p| p.0);
        if seg || segments.is_empty() {
            let mut fragments = Vec::with_capacity(4);
            fragments.push(start..end);
            segments.push(SegmentSpec {
                fragments,
                start: 0,
                duration: 0,
            });
        } else if let Some(last) = segments.last_mut() {
            last.fragments.push(start..end);
        }
    }
    for s in &mut segments {
        s.start = samples[s.samples()]
            .iter()
            .map(|x| x.pts())
            .min()
            .unwrap_or(0);
    }
    let end = track.end_time();
    for k in 0..segments.len() {
        let next = segments.get(k + 1).map_or(end, |n| n.start);
        segments[k].duration = (next - segments[k].start).max(0) as u64;
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecInfo;
    use crate::Sample;

    fn track(kind: TrackKind, timescale: u32, n: usize, dur: u32, gop: usize) -> Track {
        Track {
            track_id: 1,
            kind,
            timescale,
            language: "und".into(),
            sample_description: Vec::new(),
            codec: CodecInfo::Av1 {
                profile: 0,
                level_idx: 0,
                tier: false,
                bit_depth: 8,
            },
            width: 0,
            height: 0,
            samples: (0..n)
                .map(|i| Sample {
                    offset: i as u64 * 10,
                    size: 10,
                    duration: dur,
                    dts: i as u64 * u64::from(dur),
                    cts: 0,
                    sync: i % gop == 0,
                })
                .collect(),
            subsamples: None,
        }
    }

    #[test]
    fn segments_of_two_fragments_at_gop_boundaries() {
        // 30 fps, 2 s GOPs, 10 s.
        let v = track(TrackKind::Video, 15360, 300, 512, 60);
        let cuts = CutList::from_reference(&v, &SegmentTarget::default());
        let segs = plan_segments(&v, &cuts);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0].fragments, vec![0..60, 60..120]);
        assert_eq!(segs[2].fragments, vec![240..300]);
        assert_eq!(segs[0].duration, 4 * 15360);
        assert_eq!(segs[2].duration, 2 * 15360);
    }

    #[test]
    fn audio_follows_the_video_cuts() {
        let v = track(TrackKind::Video, 15360, 300, 512, 60);
        let a = track(TrackKind::Audio, 48000, 469, 1024, 1);
        let cuts = CutList::from_reference(&v, &SegmentTarget::default());
        let segs = plan_segments(&a, &cuts);
        assert_eq!(segs.len(), 3);
        // 4 s = 187.5 frames of 1024 at 48 kHz: the cut is the frame nearest 4 s.
        let second = segs[1].start as f64 / 48000.0;
        assert!(
            (second - 4.0).abs() <= 1024.0 / 48000.0 / 2.0 + 1e-9,
            "{second}"
        );
    }

    #[test]
    fn segment_must_be_whole_fragments() {
        let bad = SegmentTarget {
            segment_seconds: 5.0,
            fragment_seconds: 2.0,
        };
        assert!(bad.validate().is_err());
        assert!(SegmentTarget::default().validate().is_ok());
    }
}
