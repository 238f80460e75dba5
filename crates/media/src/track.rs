//! A track as read from a file: what it is, and where and when each sample is.

use crate::codec::CodecInfo;
use crate::crypt::SubsampleCounts;

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
}

impl TrackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        }
    }
}

/// One access unit: its place in the source and its timing, in the track's timescale.
///
/// Times are on the presentation timeline after the edit list has been applied (see
/// [`crate::reader`]): `dts` starts at the track's start delay, and the presentation time
/// `dts + cts` of the first presented sample equals that delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Byte offset of the sample data in the source.
    pub offset: u64,
    pub size: u32,
    pub duration: u32,
    /// Decode time.
    pub dts: u64,
    /// Composition offset: presentation time minus decode time (may be negative).
    pub cts: i32,
    /// Whether decoding can start here (a sync sample: an IDR frame, or any audio frame).
    pub sync: bool,
}

impl Sample {
    /// Presentation (composition) time.
    pub fn pts(&self) -> i64 {
        (self.dts as i64).saturating_add(i64::from(self.cts))
    }
}

/// A video or audio track with its complete sample table.
#[derive(Debug, Clone)]
pub struct Track {
    pub track_id: u32,
    pub kind: TrackKind,
    /// Units per second of every time in this track.
    pub timescale: u32,
    /// ISO 639-2/T language code, "und" when unknown.
    pub language: String,
    /// The whole `stsd` box of the source, copied unchanged into init segments so that
    /// every codec configuration box (avcC, hvcC, av1C, esds, colr, pasp, btrt...) survives.
    pub sample_description: Vec<u8>,
    pub codec: CodecInfo,
    /// Display size for video (from the sample entry), 0 for audio.
    pub width: u32,
    pub height: u32,
    pub samples: Vec<Sample>,
    /// For video, the `senc` subsample entries each sample's encryption takes (see
    /// [`crate::crypt::subsample_counts`]), once measured from the sample data: protected
    /// copies of the track need it to know their sizes before writing.
    pub subsamples: Option<SubsampleCounts>,
}

impl Track {
    /// Presentation time at which the track ends.
    pub fn end_time(&self) -> i64 {
        self.samples
            .iter()
            .rev()
            .take(64)
            .map(|s| s.pts() + i64::from(s.duration))
            .max()
            .unwrap_or(0)
    }

    /// Earliest presentation time.
    pub fn start_time(&self) -> i64 {
        self.samples
            .iter()
            .take(64)
            .map(Sample::pts)
            .min()
            .unwrap_or(0)
    }

    /// Duration of the presentation in seconds.
    pub fn duration_seconds(&self) -> f64 {
        (self.end_time() - self.start_time()).max(0) as f64 / f64::from(self.timescale)
    }

    /// Nominal frame rate from the most common sample duration, for video.
    pub fn frame_rate(&self) -> Option<f64> {
        if self.kind != TrackKind::Video || self.samples.is_empty() {
            return None;
        }
        let mut durations: Vec<u32> = self.samples.iter().map(|s| s.duration).collect();
        durations.sort_unstable();
        let median = durations[durations.len() / 2];
        (median > 0).then(|| f64::from(self.timescale) / f64::from(median))
    }

    /// Total bytes of sample data.
    pub fn media_bytes(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.size)).sum()
    }
}
