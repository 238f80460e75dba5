//! A presentation: renditions cut on one set of instants, with everything needed to write
//! the CMAF files, the HLS playlists and the DASH MPD over the same segments.
//!
//! Files of a presentation, relative to its root:
//!
//! ```text
//! master.m3u8  manifest.mpd
//! NAME/init.mp4  NAME/1.m4s  NAME/2.m4s ...  NAME/index.m3u8  [NAME/iframes.m3u8]
//! ```

use crate::cmaf::{self, FragmentPlace, SegmentLayout};
use crate::dash;
use crate::hls;
use crate::segment::{plan_segments, CutList, SegmentSpec, SegmentTarget};
use crate::{Error, Result, Track, TrackKind};

/// One input track with the name its files go under.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub name: String,
    /// Index of the source the samples are read from, for the caller.
    pub source: usize,
    pub track: Track,
}

/// A rendition after cutting.
#[derive(Debug, Clone)]
pub struct PackagedRendition {
    pub name: String,
    pub source: usize,
    pub track: Track,
    pub segments: Vec<SegmentSpec>,
    /// Size of each media segment file.
    pub segment_sizes: Vec<u64>,
    /// Where each fragment lies, per segment.
    pub fragments: Vec<Vec<FragmentPlace>>,
    /// `mfhd` sequence number of each segment's first fragment.
    first_sequence: Vec<u32>,
    /// Media time (track timescale) at which the presentation starts; see
    /// [`align_starts`].
    pub presentation_offset: u64,
    /// Peak segment bit rate (RFC 8216bis 4.4.6.2), bits per second.
    pub peak_bandwidth: u64,
    pub average_bandwidth: u64,
}

impl PackagedRendition {
    pub fn codec_string(&self) -> String {
        self.track.codec.codec_string()
    }

    fn segment_seconds(&self) -> Vec<(u64, f64)> {
        let scale = f64::from(self.track.timescale);
        self.segments
            .iter()
            .zip(&self.segment_sizes)
            .map(|(s, &b)| (b, s.duration as f64 / scale))
            .collect()
    }

    /// Bit rate of the I-frame playlist: the largest of its entries.
    fn iframe_bandwidth(&self) -> u64 {
        self.iframe_entries()
            .iter()
            .filter(|e| e.duration > 0.0)
            .map(|e| (e.byte_range.map_or(0, |r| r.0) as f64 * 8.0 / e.duration).ceil() as u64)
            .max()
            .unwrap_or(0)
    }

    fn iframe_entries(&self) -> Vec<hls::PlaylistEntry> {
        let scale = f64::from(self.track.timescale);
        let mut out: Vec<(usize, FragmentPlace)> = Vec::new();
        for (n, frags) in self.fragments.iter().enumerate() {
            out.extend(frags.iter().filter(|f| f.starts_with_sync).map(|f| (n, *f)));
        }
        let end = self.track.end_time();
        (0..out.len())
            .map(|k| {
                let (n, f) = out[k];
                let next = out.get(k + 1).map_or(end, |x| x.1.start);
                hls::PlaylistEntry {
                    uri: format!("{}.m4s", n + 1),
                    duration: (next - f.start).max(0) as f64 / scale,
                    byte_range: Some((f.first_sample_end, f.offset)),
                }
            })
            .collect()
    }
}

/// Renditions packaged together.
#[derive(Debug, Clone)]
pub struct Presentation {
    pub renditions: Vec<PackagedRendition>,
    pub target: SegmentTarget,
}

/// Checks a rendition name used as a folder name and in URLs.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Settings(format!(
            "rendition name {name:?} must be 1-64 characters of A-Z a-z 0-9 - _ ."
        )))
    }
}

impl Presentation {
    /// Cuts every rendition on the instants of the first video rendition (or the first
    /// rendition when there is no video).
    pub fn new(renditions: Vec<Rendition>, target: SegmentTarget) -> Result<Presentation> {
        target.validate()?;
        if renditions.is_empty() {
            return Err(Error::Settings(
                "nothing to package: no video or audio track".into(),
            ));
        }
        for (i, r) in renditions.iter().enumerate() {
            check_name(&r.name)?;
            if renditions[..i].iter().any(|o| o.name == r.name) {
                return Err(Error::Settings(format!(
                    "two renditions are named {:?}",
                    r.name
                )));
            }
            if r.track.samples.is_empty() {
                return Err(Error::Settings(format!(
                    "rendition {:?} has no samples",
                    r.name
                )));
            }
        }
        let mut renditions = renditions;
        let delays = align_starts(&mut renditions);
        let reference = renditions
            .iter()
            .find(|r| r.track.kind == TrackKind::Video)
            .unwrap_or(&renditions[0]);
        let cuts = CutList::from_reference(&reference.track, &target);
        let mut out = Vec::with_capacity(renditions.len());
        for (r, presentation_offset) in renditions.into_iter().zip(delays) {
            let segments = plan_segments(&r.track, &cuts);
            let mut first_sequence = Vec::with_capacity(segments.len());
            let mut seq = 1u32;
            for s in &segments {
                first_sequence.push(seq);
                seq += s.fragments.len() as u32;
            }
            let mut segment_sizes = Vec::with_capacity(segments.len());
            let mut fragments = Vec::with_capacity(segments.len());
            for (s, &seq) in segments.iter().zip(&first_sequence) {
                let layout = cmaf::media_segment(&r.track, s, seq);
                segment_sizes.push(layout.len());
                fragments.push(layout.fragments);
            }
            let mut p = PackagedRendition {
                name: r.name,
                source: r.source,
                track: r.track,
                segments,
                segment_sizes,
                fragments,
                first_sequence,
                presentation_offset,
                peak_bandwidth: 0,
                average_bandwidth: 0,
            };
            let secs = p.segment_seconds();
            p.peak_bandwidth = hls::peak_bit_rate(&secs, target.segment_seconds);
            p.average_bandwidth = hls::average_bit_rate(&secs);
            out.push(p);
        }
        Ok(Presentation {
            renditions: out,
            target,
        })
    }

    /// The init segment of rendition `r`.
    pub fn init_segment(&self, r: usize) -> Vec<u8> {
        cmaf::init_segment(&self.renditions[r].track)
    }

    /// Media segment `index` (0-based) of rendition `r`.
    pub fn media_segment(&self, r: usize, index: usize) -> SegmentLayout {
        let p = &self.renditions[r];
        cmaf::media_segment(&p.track, &p.segments[index], p.first_sequence[index])
    }

    /// Path of the init segment of rendition `r`.
    pub fn init_path(&self, r: usize) -> String {
        format!("{}/init.mp4", self.renditions[r].name)
    }

    /// Path of media segment `index` (0-based) of rendition `r`; files are numbered from 1.
    pub fn segment_path(&self, r: usize, index: usize) -> String {
        format!("{}/{}.m4s", self.renditions[r].name, index + 1)
    }

    /// Duration of the whole presentation in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.renditions
            .iter()
            .map(|r| r.track.end_time() as f64 / f64::from(r.track.timescale))
            .fold(0.0, f64::max)
    }

    /// The media playlist of rendition `r` (`NAME/index.m3u8`).
    pub fn hls_media_playlist(&self, r: usize) -> String {
        let p = &self.renditions[r];
        let scale = f64::from(p.track.timescale);
        hls::MediaPlaylist {
            init_uri: "init.mp4".into(),
            entries: p
                .segments
                .iter()
                .enumerate()
                .map(|(n, s)| hls::PlaylistEntry {
                    uri: format!("{}.m4s", n + 1),
                    duration: s.duration as f64 / scale,
                    byte_range: None,
                })
                .collect(),
            iframes_only: false,
        }
        .render()
    }

    /// The I-frame playlist of video rendition `r` (`NAME/iframes.m3u8`).
    pub fn hls_iframe_playlist(&self, r: usize) -> Option<String> {
        let p = &self.renditions[r];
        (p.track.kind == TrackKind::Video).then(|| {
            hls::MediaPlaylist {
                init_uri: "init.mp4".into(),
                entries: p.iframe_entries(),
                iframes_only: true,
            }
            .render()
        })
    }

    /// The multivariant playlist (`master.m3u8`).
    pub fn hls_multivariant_playlist(&self) -> String {
        let mut m = hls::MultivariantPlaylist::default();
        // One audio group per audio codec, so that a variant's CODECS is exact.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, r) in self.renditions.iter().enumerate() {
            if r.track.kind == TrackKind::Audio {
                let codec = r.codec_string();
                match groups.iter_mut().find(|g| g.0 == codec) {
                    Some(g) => g.1.push(i),
                    None => groups.push((codec, vec![i])),
                }
            }
        }
        for (g, (_, members)) in groups.iter().enumerate() {
            for (k, &i) in members.iter().enumerate() {
                let r = &self.renditions[i];
                m.audio.push(hls::AudioRendition {
                    group_id: format!("audio{g}"),
                    name: r.name.clone(),
                    language: language_tag(&r.track.language),
                    channels: r.track.codec.channels(),
                    default: k == 0,
                    uri: format!("{}/index.m3u8", r.name),
                });
            }
        }
        let videos: Vec<&PackagedRendition> = self
            .renditions
            .iter()
            .filter(|r| r.track.kind == TrackKind::Video)
            .collect();
        for v in &videos {
            if groups.is_empty() {
                m.variants.push(variant(v, None, None));
            }
            for (g, (codec, members)) in groups.iter().enumerate() {
                let peak = members
                    .iter()
                    .map(|&i| self.renditions[i].peak_bandwidth)
                    .max();
                let avg = members
                    .iter()
                    .map(|&i| self.renditions[i].average_bandwidth)
                    .max();
                let mut var = variant(v, Some(format!("audio{g}")), Some(codec.clone()));
                var.bandwidth += peak.unwrap_or(0);
                var.average_bandwidth += avg.unwrap_or(0);
                m.variants.push(var);
            }
            m.iframe_variants.push(hls::IFrameVariant {
                uri: format!("{}/iframes.m3u8", v.name),
                bandwidth: v.iframe_bandwidth(),
                codecs: v.codec_string(),
                resolution: (v.track.width, v.track.height),
            });
        }
        if videos.is_empty() {
            // Audio only: each audio rendition is a variant of its own.
            m.audio.clear();
            for r in self
                .renditions
                .iter()
                .filter(|r| r.track.kind == TrackKind::Audio)
            {
                m.variants.push(variant(r, None, None));
            }
        }
        m.render()
    }

    /// The DASH MPD (`manifest.mpd`).
    pub fn dash_mpd(&self) -> String {
        let mut sets: Vec<dash::AdaptationSet> = Vec::new();
        for r in &self.renditions {
            let (content_type, mime_type, language) = match r.track.kind {
                TrackKind::Video => ("video", "video/mp4", None),
                TrackKind::Audio => ("audio", "audio/mp4", language_tag(&r.track.language)),
            };
            let rep = dash::Representation {
                id: r.name.clone(),
                bandwidth: r.peak_bandwidth,
                codecs: r.codec_string(),
                width: r.track.width,
                height: r.track.height,
                frame_rate: dash_frame_rate(&r.track),
                audio_sampling_rate: r.track.codec.sample_rate(),
                audio_channels: r.track.codec.channels(),
                timescale: r.track.timescale,
                presentation_time_offset: r.presentation_offset,
                initialization: format!("{}/init.mp4", r.name),
                media: format!("{}/$Number$.m4s", r.name),
                timeline: r.segments.iter().map(|s| (s.start, s.duration)).collect(),
            };
            match sets
                .iter_mut()
                .find(|s| s.content_type == content_type && s.language == language)
            {
                Some(set) => set.representations.push(rep),
                None => sets.push(dash::AdaptationSet {
                    content_type,
                    mime_type,
                    language,
                    representations: vec![rep],
                }),
            }
        }
        dash::Mpd {
            duration_seconds: self.duration_seconds(),
            min_buffer_seconds: self.target.segment_seconds,
            adaptation_sets: sets,
        }
        .render()
    }
}

/// The BCP 47 tag (RFC 5646) for an ISO 639-2 code, as HLS `LANGUAGE` and DASH `@lang`
/// want it: the two-letter ISO 639-1 code where there is one (RFC 5646, 2.2.1), the
/// three-letter code otherwise, nothing for "und".
pub fn language_tag(iso639_2: &str) -> Option<String> {
    const TWO_LETTER: [(&str, &str); 32] = [
        ("ara", "ar"),
        ("ben", "bn"),
        ("chi", "zh"),
        ("zho", "zh"),
        ("ces", "cs"),
        ("cze", "cs"),
        ("dan", "da"),
        ("deu", "de"),
        ("ger", "de"),
        ("ell", "el"),
        ("gre", "el"),
        ("eng", "en"),
        ("spa", "es"),
        ("fin", "fi"),
        ("fra", "fr"),
        ("fre", "fr"),
        ("heb", "he"),
        ("hin", "hi"),
        ("hun", "hu"),
        ("ind", "id"),
        ("ita", "it"),
        ("jpn", "ja"),
        ("kor", "ko"),
        ("nld", "nl"),
        ("dut", "nl"),
        ("nor", "no"),
        ("pol", "pl"),
        ("por", "pt"),
        ("rus", "ru"),
        ("swe", "sv"),
        ("tur", "tr"),
        ("ukr", "uk"),
    ];
    if iso639_2 == "und" || iso639_2.is_empty() {
        return None;
    }
    Some(
        TWO_LETTER
            .iter()
            .find(|(three, _)| *three == iso639_2)
            .map_or(iso639_2, |(_, two)| two)
            .to_string(),
    )
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
fn align_starts(renditions: &mut [Rendition]) -> Vec<u64> {
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

fn variant(
    r: &PackagedRendition,
    audio_group: Option<String>,
    audio_codec: Option<String>,
) -> hls::Variant {
    let video = r.track.kind == TrackKind::Video;
    let mut codecs = vec![r.codec_string()];
    codecs.extend(audio_codec);
    hls::Variant {
        uri: format!("{}/index.m3u8", r.name),
        bandwidth: r.peak_bandwidth,
        average_bandwidth: r.average_bandwidth,
        codecs,
        resolution: video.then_some((r.track.width, r.track.height)),
        frame_rate: r.track.frame_rate(),
        audio_group,
    }
}

/// FrameRateType (ISO/IEC 23009-1, 5.3.12.2): an integer or `num/den`.
fn dash_frame_rate(track: &Track) -> Option<String> {
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
