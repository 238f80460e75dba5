//! Subsamples of a video track's samples, whatever the codec: length-prefixed NAL units
//! (H.264, H.265: [`super::subsample`]) or AV1 OBUs ([`super::av1`]). One path serves
//! measuring a track ([`subsample_counts`]) and encrypting a segment
//! ([`VideoSubsampler::subsamples_into`]), so both always find the same subsamples.
//!
//! AV1 needs the state of earlier frames to read a frame header. That state is restarted
//! at every sync sample, which AV1-ISOBMFF requires to be a random access point (a shown
//! key frame after a sequence header, 2.4): a sample's subsamples then depend only on the
//! samples since the last sync sample, the same whether a whole track is walked or a
//! segment alone, which always starts at a sync sample.

use super::av1::av1_subsamples;
use super::sample_entry::{video_syntax, VideoSyntax};
use super::subsample::walk_nal_units;
use super::{NalSyntax, Scheme, Subsample};
use crate::av1::{Av1Stream, TileSpan};
use crate::bmff::ByteSource;
use crate::sample_bytes::{InMemory, SampleBytes, SampleWindow, WINDOW};
use crate::{Error, Result, Track, TrackKind};

/// Splits the samples of one video track, taken in decode order, into subsamples.
#[derive(Debug, Clone)]
pub struct VideoSubsampler {
    walker: Walker,
}

#[derive(Debug, Clone)]
enum Walker {
    Nal {
        syntax: NalSyntax,
        length_size: u8,
    },
    Av1 {
        stream: Box<Av1Stream>,
        /// The tiles of the last sample read.
        tiles: Vec<TileSpan>,
    },
}

impl VideoSubsampler {
    /// The subsampler of a track with this `stsd`: H.264, H.265 or AV1, refused as
    /// unsupported otherwise.
    pub fn new(stsd: &[u8]) -> Result<VideoSubsampler> {
        match video_syntax(stsd) {
            Some(VideoSyntax::Nal(syntax, length_size)) => Ok(VideoSubsampler {
                walker: Walker::Nal {
                    syntax,
                    length_size,
                },
            }),
            Some(VideoSyntax::Av1 { config_obus }) => VideoSubsampler::av1(config_obus),
            None => Err(Error::Unsupported(
                "encryption of this video codec (H.264, H.265 and AV1 can be encrypted)".into(),
            )),
        }
    }

    /// The subsampler of an AV1 track whose `av1C` carries `config_obus` (empty when it
    /// has none).
    pub fn av1(config_obus: &[u8]) -> Result<VideoSubsampler> {
        Ok(VideoSubsampler {
            walker: Walker::Av1 {
                stream: Box::new(Av1Stream::new(config_obus)?),
                tiles: Vec::new(),
            },
        })
    }

    /// The subsamples (`out`, cleared first) of the next sample, under `scheme`; `sync`
    /// says whether it is a sync sample.
    pub fn subsamples_into(
        &mut self,
        sample: &[u8],
        sync: bool,
        scheme: Scheme,
        out: &mut Vec<Subsample>,
    ) -> Result<()> {
        self.split(&mut InMemory(sample), sync, scheme, out)
    }

    fn split(
        &mut self,
        sample: &mut impl SampleBytes,
        sync: bool,
        scheme: Scheme,
        out: &mut Vec<Subsample>,
    ) -> Result<()> {
        match &mut self.walker {
            Walker::Nal {
                syntax,
                length_size,
            } => walk_nal_units(sample, *syntax, *length_size, out),
            Walker::Av1 { stream, tiles } => {
                if sync {
                    stream.restart();
                }
                stream.walk(sample, tiles)?;
                av1_subsamples(sample.len(), tiles, scheme, out)
            }
        }
    }

    /// The subsamples of the sample [`VideoSubsampler::split`] last read, under another
    /// scheme, where they can differ from the first (AV1); `false` when they cannot.
    fn split_again(&self, len: usize, scheme: Scheme, out: &mut Vec<Subsample>) -> Result<bool> {
        match &self.walker {
            Walker::Nal { .. } => Ok(false),
            Walker::Av1 { tiles, .. } => av1_subsamples(len, tiles, scheme, out).map(|()| true),
        }
    }
}

/// The `senc` subsample entries each sample of a video track takes (ISO/IEC 23001-7,
/// 7.2.1), per scheme. They depend on the sample data, not on the key, and fix the size
/// of every protected fragment: measured once, they let a presentation know the size,
/// bit rate and I-frame byte ranges of its protected copies before any sample is
/// encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsampleCounts {
    cenc: Vec<u16>,
    /// Where `cbcs` counts differ from `cenc` ones (AV1, where a tile under 16 bytes is
    /// a subsample of its own only in `cbcs`); `None` when they are the same.
    cbcs: Option<Vec<u16>>,
}

impl SubsampleCounts {
    /// Counts that are the same under every scheme.
    pub fn uniform(counts: Vec<u16>) -> SubsampleCounts {
        SubsampleCounts {
            cenc: counts,
            cbcs: None,
        }
    }

    /// Counts per scheme; `cbcs` equal to `cenc` is kept once. Both must count the same
    /// samples.
    pub fn per_scheme(cenc: Vec<u16>, cbcs: Vec<u16>) -> Result<SubsampleCounts> {
        if cenc.len() != cbcs.len() {
            return Err(Error::Internal(format!(
                "{} cenc subsample counts against {} cbcs ones",
                cenc.len(),
                cbcs.len()
            )));
        }
        let cbcs = (cbcs != cenc).then_some(cbcs);
        Ok(SubsampleCounts { cenc, cbcs })
    }

    /// The counts under `scheme`, one per sample.
    pub fn scheme(&self, scheme: Scheme) -> &[u16] {
        match (scheme, &self.cbcs) {
            (Scheme::Cbcs, Some(cbcs)) => cbcs,
            _ => &self.cenc,
        }
    }

    /// Whether the counts differ by scheme.
    pub fn differ_by_scheme(&self) -> bool {
        self.cbcs.is_some()
    }

    /// Samples counted.
    pub fn len(&self) -> usize {
        self.cenc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cenc.is_empty()
    }
}

/// Measures the [`SubsampleCounts`] of a video track whose samples `src` holds. Only what
/// placing subsamples needs is read (NAL length fields and header bytes; AV1 OBU headers,
/// frame headers and tile sizes), never the coded picture data.
pub fn subsample_counts<S: ByteSource + ?Sized>(track: &Track, src: &S) -> Result<SubsampleCounts> {
    if track.kind == TrackKind::Audio {
        return Err(Error::Settings(
            "audio samples are encrypted whole and have no subsamples".into(),
        ));
    }
    let mut subsampler = VideoSubsampler::new(&track.sample_description).map_err(|e| match e {
        Error::Unsupported(_) => Error::Unsupported(format!(
            "encryption of '{}' video (H.264, H.265 and AV1 can be encrypted)",
            track.codec.codec_string()
        )),
        other => other,
    })?;
    let mut cenc = Vec::with_capacity(track.samples.len());
    let mut cbcs = Vec::new();
    let mut map = Vec::new();
    let mut window = Vec::with_capacity(WINDOW);
    for (i, s) in track.samples.iter().enumerate() {
        let mut sample = SampleWindow::new(src, s.offset, s.size as usize, window);
        subsampler
            .split(&mut sample, s.sync, Scheme::Cenc, &mut map)
            .map_err(|e| in_sample(e, i))?;
        window = sample.into_buffer();
        // The walks refuse more than u16::MAX entries.
        cenc.push(map.len() as u16);
        if subsampler.split_again(s.size as usize, Scheme::Cbcs, &mut map)? {
            cbcs.push(map.len() as u16);
        }
    }
    if cbcs.is_empty() {
        Ok(SubsampleCounts::uniform(cenc))
    } else {
        SubsampleCounts::per_scheme(cenc, cbcs)
    }
}

/// Names the sample a malformed sample error is about.
fn in_sample(e: Error, index: usize) -> Error {
    match e {
        Error::Malformed {
            kind,
            offset,
            reason,
        } => Error::Malformed {
            kind,
            offset,
            reason: format!("{reason} (sample {}, offset within the sample)", index + 1),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::av1::test_bits::*;
    use crate::codec::CodecInfo;
    use crate::crypt::{protected_sample_description, TrackProtection};
    use crate::{ContentKey, Kid, Sample};

    /// An AV1 track of six samples, two segments' worth: a key frame (a sync sample) of
    /// four tiles, one of them under 16 bytes, then inter frames of four tiles that take
    /// their size from it; then the same again.
    fn av1_track() -> (Track, Vec<u8>) {
        let config = sequence_header(2048, 1024);
        let key = frame(FrameKind::Key, Size::Explicit(1280, 720), (20, 12), (1, 1));
        let key_tiles = vec![vec![1; 100], vec![2; 10], vec![3; 64], vec![4; 33]];
        let mut bytes = Vec::new();
        let mut samples = Vec::new();
        for (i, order_hint) in [0, 1, 2, 0, 1, 2].into_iter().enumerate() {
            let at = bytes.len();
            let mut sample = obu(OBU_TEMPORAL_DELIMITER, &[]);
            if order_hint == 0 {
                push_frame(&mut sample, &key, &key_tiles);
            } else {
                let mut inter = frame(FrameKind::Inter, Size::FirstRef, (20, 12), (1, 1));
                inter.order_hint = order_hint;
                push_frame(&mut sample, &inter, &tile_bytes(4));
            }
            bytes.extend(sample);
            samples.push(Sample {
                offset: at as u64,
                size: (bytes.len() - at) as u32,
                duration: 1,
                dts: i as u64,
                cts: 0,
                sync: order_hint == 0,
            });
        }
        let track = Track {
            track_id: 1,
            kind: TrackKind::Video,
            timescale: 30,
            language: "und".into(),
            sample_description: av01_stsd(&config),
            codec: CodecInfo::Av1 {
                profile: 0,
                level_idx: 8,
                tier: false,
                bit_depth: 8,
            },
            width: 1280,
            height: 720,
            samples,
            subsamples: None,
        };
        (track, bytes)
    }

    #[test]
    fn av1_counts_differ_by_scheme_and_a_segment_walked_alone_agrees() {
        let (track, bytes) = av1_track();
        let counts = subsample_counts(&track, &bytes[..]).unwrap();
        // The 10-byte tile of each key frame is clear in cenc, a subsample in cbcs.
        assert_eq!(counts.scheme(Scheme::Cenc), &[3, 4, 4, 3, 4, 4]);
        assert_eq!(counts.scheme(Scheme::Cbcs), &[4, 4, 4, 4, 4, 4]);
        let mut map = Vec::new();
        let mut alone = Vec::new();
        for scheme in [Scheme::Cenc, Scheme::Cbcs] {
            // One walk of the whole track without restarts, and a fresh walk from each
            // sync sample as a segment starts, find the subsamples that were counted.
            let mut whole = VideoSubsampler::new(&track.sample_description).unwrap();
            let mut segment = None;
            for (i, s) in track.samples.iter().enumerate() {
                let data = &bytes[s.offset as usize..][..s.size as usize];
                whole
                    .subsamples_into(data, i == 0, scheme, &mut map)
                    .unwrap();
                assert_eq!(map.len(), usize::from(counts.scheme(scheme)[i]));
                if s.sync {
                    segment = Some(VideoSubsampler::new(&track.sample_description).unwrap());
                }
                let segment = segment.as_mut().unwrap();
                segment
                    .subsamples_into(data, s.sync, scheme, &mut alone)
                    .unwrap();
                assert_eq!(alone, map, "sample {i} under {scheme}");
                let covered: usize = map
                    .iter()
                    .map(|m| usize::from(m.clear) + m.protected as usize)
                    .sum();
                assert_eq!(covered, data.len());
            }
        }
        // An inter frame read from a restart, with no key frame since, is refused.
        let mut lost = VideoSubsampler::new(&track.sample_description).unwrap();
        let s = track.samples[1];
        let data = &bytes[s.offset as usize..][..s.size as usize];
        assert!(lost
            .subsamples_into(data, true, Scheme::Cenc, &mut map)
            .is_err());
    }

    #[test]
    fn av01_sample_entries_can_be_protected() {
        let (track, _) = av1_track();
        let p = TrackProtection {
            scheme: Scheme::Cbcs,
            key: ContentKey {
                kid: Kid([0x11; 16]),
                key: [7; 16],
            },
            iv: [9; 16],
        };
        let stsd =
            protected_sample_description(&track.sample_description, TrackKind::Video, &p, false)
                .unwrap();
        assert_eq!(&stsd[20..24], b"encv");
        let frma = stsd.windows(4).position(|w| w == b"frma").unwrap();
        assert_eq!(&stsd[frma + 4..frma + 8], b"av01");
        // VP9 is not among the codecs this packager can encrypt.
        let mut vp9 = track.sample_description.clone();
        vp9[20..24].copy_from_slice(b"vp09");
        assert!(protected_sample_description(&vp9, TrackKind::Video, &p, false).is_err());
        assert!(VideoSubsampler::new(&vp9).is_err());
    }
}
