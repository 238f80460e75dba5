//! A presentation: renditions cut on one set of instants, with everything needed to write
//! the CMAF files, the HLS playlists and the DASH MPD over the same segments.
//!
//! Files of a presentation, relative to its root:
//!
//! ```text
//! master.m3u8  manifest.mpd
//! NAME/init.mp4  NAME/1.m4s  NAME/2.m4s ...  NAME/index.m3u8  [NAME/iframes.m3u8]
//! ```

use crate::bmff::ByteSource;
use crate::cmaf::{self, FragmentPlace, Part, SegmentLayout};
use crate::crypt::{self, Scheme, TrackProtection};

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

/// How a DRM system is signalled for one rendition. Built by the key provider (the
/// system-specific data is its business); this crate only places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSignal {
    /// The DRM system ID (ISO/IEC 23001-7, 8.1.2).
    pub system_id: [u8; 16],
    /// The whole `pssh` box, for the init segment and DASH `cenc:pssh`; `None` for
    /// systems signalled in HLS only (FairPlay).
    pub pssh: Option<Vec<u8>>,
    /// This system's DASH `ContentProtection` element, as XML; `None` when the system
    /// is not signalled in DASH.
    pub dash_descriptor: Option<String>,
    /// The whole `#EXT-X-KEY` line of media playlists, when signalled in HLS.
    pub hls_key: Option<String>,
    /// The whole `#EXT-X-SESSION-KEY` line of the multivariant playlist.
    pub hls_session_key: Option<String>,
}

/// The keys and signalling of one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionKeys {
    pub track: TrackProtection,
    pub systems: Vec<SystemSignal>,
    /// `METHOD=AES-128` only: the key URI written into `EXT-X-KEY`.
    pub key_uri: String,
}

/// How a presentation's output is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// CENC in the fMP4 (DASH `ContentProtection`; HLS `SAMPLE-AES` for `cbcs`,
    /// `SAMPLE-AES-CTR` for `cenc`).
    Sample(Scheme),
    /// HLS whole-segment AES-128 over clear CMAF segments.
    Aes128,
}

/// Protection of every rendition of a presentation, in rendition order.
#[derive(Debug, Clone, PartialEq)]
pub struct Protection {
    pub method: Method,
    pub renditions: Vec<RenditionKeys>,
}

impl Protection {
    /// `EXT-X-KEY` lines of rendition `r`, or with `session` its `EXT-X-SESSION-KEY`
    /// lines.
    fn hls_keys(&self, r: usize, session: bool) -> Vec<String> {
        let Some(k) = self.renditions.get(r) else {
            return Vec::new();
        };
        match self.method {
            // The key URI is relative to the media playlist, so it cannot be repeated
            // in the multivariant playlist, and EXT-X-SESSION-KEY is optional.
            Method::Aes128 if session => Vec::new(),
            Method::Aes128 => vec![format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{}\"", k.key_uri)],
            Method::Sample(_) => k
                .systems
                .iter()
                .filter_map(|s| {
                    if session {
                        s.hls_session_key.clone()
                    } else {
                        s.hls_key.clone()
                    }
                })
                .collect(),
        }
    }

    /// The DASH `ContentProtection` elements of rendition `r` (ISO/IEC 23001-7, 11.2):
    /// the `mp4protection` descriptor with the default KID, then one per DRM system.
    fn dash_descriptors(&self, r: usize) -> Vec<String> {
        let (Method::Sample(scheme), Some(k)) = (self.method, self.renditions.get(r)) else {
            return Vec::new();
        };
        let mut out = vec![format!(
            "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{}\" cenc:default_KID=\"{}\"/>",
            scheme.as_str(),
            crypt::kid_uuid(&k.track.key.kid)
        )];
        out.extend(k.systems.iter().filter_map(|s| s.dash_descriptor.clone()));
        out
    }
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

    /// The init segment of rendition `r` under `protection` (AES-128 leaves it clear).
    pub fn protected_init_segment(&self, r: usize, protection: &Protection) -> Result<Vec<u8>> {
        match (protection.method, protection.renditions.get(r)) {
            (Method::Aes128, _) => Ok(self.init_segment(r)),
            (Method::Sample(_), Some(k)) => {
                cmaf::protected_init_segment(&self.renditions[r].track, &k.track)
            }
            (Method::Sample(_), None) => Err(missing_keys(r)),
        }
    }

    /// Media segment `index` of rendition `r` under `protection`, its samples read
    /// through `src`.
    pub fn protected_media_segment<S: ByteSource + ?Sized>(
        &self,
        r: usize,
        index: usize,
        protection: &Protection,
        src: &S,
    ) -> Result<SegmentLayout> {
        let p = &self.renditions[r];
        let k = protection
            .renditions
            .get(r)
            .ok_or_else(|| missing_keys(r))?;
        match protection.method {
            Method::Sample(_) => cmaf::protected_media_segment(
                &p.track,
                &p.segments[index],
                p.first_sequence[index],
                &k.track,
                src,
            ),
            Method::Aes128 => {
                let clear = self.media_segment(r, index);
                let bytes = clear.read(src)?;
                // The media sequence of segment `index` is `index` (the playlists start
                // at EXT-X-MEDIA-SEQUENCE 0), which is also its IV.
                let sealed = crypt::aes128_segment(&k.track.key.key, index as u64, &bytes);
                Ok(SegmentLayout {
                    parts: vec![Part::Bytes(sealed)],
                    fragments: clear.fragments,
                })
            }
        }
    }

    /// Records the size and fragments each segment of rendition `r` was written with,
    /// when they differ from the clear layout's (protected segments are larger), so that
    /// sizes, bit rates and I-frame byte ranges describe the files as written.
    pub fn record_segments(&mut self, r: usize, written: Vec<(u64, Vec<FragmentPlace>)>) {
        let target = self.target.segment_seconds;
        let p = &mut self.renditions[r];
        for (index, (size, fragments)) in written.into_iter().enumerate() {
            p.segment_sizes[index] = size;
            p.fragments[index] = fragments;
        }
        let secs = p.segment_seconds();
        p.peak_bandwidth = hls::peak_bit_rate(&secs, target);
        p.average_bandwidth = hls::average_bit_rate(&secs);
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
        self.protected_hls_media_playlist(r, None)
    }

    /// The media playlist of rendition `r` with the `EXT-X-KEY` tags of `protection`.
    pub fn protected_hls_media_playlist(
        &self,
        r: usize,
        protection: Option<&Protection>,
    ) -> String {
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
            keys: protection.map_or_else(Vec::new, |k| k.hls_keys(r, false)),
        }
        .render()
    }

    /// The I-frame playlist of video rendition `r` (`NAME/iframes.m3u8`).
    pub fn hls_iframe_playlist(&self, r: usize) -> Option<String> {
        self.protected_hls_iframe_playlist(r, None)
    }

    /// The I-frame playlist under `protection`; none for AES-128, whose byte ranges
    /// would cut CBC blocks of the whole-segment ciphertext.
    pub fn protected_hls_iframe_playlist(
        &self,
        r: usize,
        protection: Option<&Protection>,
    ) -> Option<String> {
        let p = &self.renditions[r];
        if protection.is_some_and(|k| k.method == Method::Aes128) {
            return None;
        }
        (p.track.kind == TrackKind::Video).then(|| {
            hls::MediaPlaylist {
                init_uri: "init.mp4".into(),
                entries: p.iframe_entries(),
                iframes_only: true,
                keys: protection.map_or_else(Vec::new, |k| k.hls_keys(r, false)),
            }
            .render()
        })
    }

    /// The multivariant playlist (`master.m3u8`).
    pub fn hls_multivariant_playlist(&self) -> String {
        self.protected_hls_multivariant_playlist(None)
    }

    /// The multivariant playlist with `EXT-X-SESSION-KEY` tags for `protection`.
    pub fn protected_hls_multivariant_playlist(&self, protection: Option<&Protection>) -> String {
        let mut m = hls::MultivariantPlaylist::default();
        if let Some(k) = protection {
            for r in 0..self.renditions.len() {
                for line in k.hls_keys(r, true) {
                    if !m.session_keys.contains(&line) {
                        m.session_keys.push(line);
                    }
                }
            }
        }
        let iframes = protection.is_none_or(|k| k.method != Method::Aes128);
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
            if !iframes {
                continue;
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
        self.protected_dash_mpd(None)
    }

    /// The DASH MPD with the `ContentProtection` descriptors of `protection`.
    pub fn protected_dash_mpd(&self, protection: Option<&Protection>) -> String {
        let mut sets: Vec<dash::AdaptationSet> = Vec::new();
        let mut kids: Vec<Option<[u8; 16]>> = Vec::new();
        for (i, r) in self.renditions.iter().enumerate() {
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
                content_protection: protection.map_or_else(Vec::new, |k| k.dash_descriptors(i)),
            };
            // DASH-IF IOP (7.7.2): the Representations of an AdaptationSet share one
            // default KID. With a key per track type, each key gets its own set, and
            // the video sets are declared switchable (ISO/IEC 23009-1, 5.3.3.5).
            let kid = protection
                .and_then(|k| k.renditions.get(i))
                .map(|k| k.track.key.kid);
            match sets.iter_mut().zip(&kids).find(|(s, k)| {
                s.content_type == content_type && s.language == language && **k == kid
            }) {
                Some((set, _)) => set.representations.push(rep),
                None => {
                    kids.push(kid);
                    sets.push(dash::AdaptationSet {
                        content_type,
                        mime_type,
                        language,
                        content_protection: Vec::new(),
                        switchable_with: Vec::new(),
                        representations: vec![rep],
                    })
                }
            }
        }
        let video_sets: Vec<usize> = (0..sets.len())
            .filter(|&i| sets[i].content_type == "video")
            .collect();
        if video_sets.len() > 1 {
            for &i in &video_sets {
                sets[i].switchable_with = video_sets.iter().copied().filter(|&j| j != i).collect();
            }
        }
        // Descriptors shared by every Representation of a set move up to the
        // AdaptationSet, where players look for the DRM systems; what differs (the
        // default KID, with a key per track type) stays on each Representation.
        for set in &mut sets {
            let common: Vec<String> = set.representations[0]
                .content_protection
                .iter()
                .filter(|cp| {
                    set.representations
                        .iter()
                        .all(|r| r.content_protection.contains(cp))
                })
                .cloned()
                .collect();
            for r in &mut set.representations {
                r.content_protection.retain(|cp| !common.contains(cp));
            }
            set.content_protection = common;
        }
        dash::Mpd {
            duration_seconds: self.duration_seconds(),
            min_buffer_seconds: self.target.segment_seconds,
            adaptation_sets: sets,
        }
        .render()
    }
}

fn missing_keys(r: usize) -> Error {
    Error::Settings(format!("no keys were given for rendition {r}"))
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
