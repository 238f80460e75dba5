//! A presentation: renditions cut on one set of instants, and every object made from
//! them, for every copy (clear, `cenc`, `cbcs`, AES-128).
//!
//! [`Presentation`] is the one answer to "which objects does this presentation have, and
//! what are their bytes": packaging ahead of time walks [`Presentation::objects`] and
//! writes each one, and the origin resolves a request's [`ObjectPath`] and makes that one
//! object, so both give the same bytes by construction. Protection is a parameter of the
//! copy ([`CopyKeys`]), never a second method.
//!
//! Everything a manifest says about segments (sizes, bit rates, I-frame byte ranges) is
//! computed here from the sample table when the presentation is built, for every copy,
//! before anything is written.

mod mpd;
mod playlists;
mod rendition;
mod segment;
mod storyboard;
mod text;

use rendition::align_starts;
pub use rendition::{language_tag, PackagedRendition};
pub use segment::MediaSegment;
pub use text::TextRendition;

use crate::cmaf::{self, InitProtection, SampleCrypt, SegmentShape};
use crate::copy::Copy;
use crate::crypt::{aes128_sealed_len, TrackProtection};
use crate::key::ContentKey;
use crate::path::{Object, ObjectPath, RenditionName, SegmentLength};
use crate::segment::{CutList, SegmentTarget};
use crate::settings::Manifests;
use crate::{hls, Error, Result, Track, TrackKind};

/// One input track with the name its objects go under.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub name: RenditionName,
    /// Index of the source the samples are read from, for the caller.
    pub source: usize,
    pub track: Track,
}

/// Where the first video rendition of `renditions` ends, ms after its first sample: the
/// end of the title, past which no subtitle cue is shown (a text stream or a sidecar
/// can run longer than the picture). `None` without video.
pub fn video_end_ms(renditions: &[Rendition]) -> Option<u64> {
    renditions
        .iter()
        .find(|r| r.track.kind == TrackKind::Video)
        .map(|r| {
            let end = u128::from(r.track.end_time().max(0).unsigned_abs());
            (end * 1000 / u128::from(r.track.timescale.max(1))) as u64
        })
}

/// How a presentation is packaged: segment lengths, manifests, and the copies it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Packaging {
    pub target: SegmentTarget,
    pub manifests: Manifests,
    /// The copies, each once.
    pub copies: Vec<Copy>,
    /// Segments of the CENC copies that start before this many seconds are left clear.
    pub clear_lead_seconds: f64,
    /// The video renditions whose samples carry CEA-608 captions
    /// ([`crate::captions::carries_cea608`]), signalled in the manifests.
    pub captioned: Vec<crate::path::RenditionName>,
}

impl Default for Packaging {
    fn default() -> Self {
        Packaging {
            target: SegmentTarget::default(),
            manifests: Manifests::default(),
            copies: vec![Copy::Clear],
            clear_lead_seconds: 0.0,
            captioned: Vec::new(),
        }
    }
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

/// The key, IV and DRM signalling of one rendition in a protected copy.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionKeys {
    pub key: ContentKey,
    /// See [`TrackProtection::iv`]; [`crate::crypt::derived_iv`] makes a deterministic one.
    pub iv: [u8; 16],
    pub systems: Vec<SystemSignal>,
}

/// A copy with what protects it: nothing for the clear copy, a key per rendition (in
/// rendition order) for the others.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyKeys {
    pub copy: Copy,
    pub renditions: Vec<RenditionKeys>,
    /// AES-128 only: the key URI every media playlist names, as given. `None`: the
    /// origin's `keys/KID` path, relative to each playlist.
    pub aes128_key_uri: Option<String>,
}

impl CopyKeys {
    pub fn clear() -> CopyKeys {
        CopyKeys {
            copy: Copy::Clear,
            renditions: Vec::new(),
            aes128_key_uri: None,
        }
    }

    /// The CENC protection of rendition `r`'s samples, for the CENC copies.
    fn track(&self, r: usize) -> Result<Option<TrackProtection>> {
        let Some(scheme) = self.copy.sample_scheme() else {
            return Ok(None);
        };
        let k = self.rendition(r)?;
        Ok(Some(TrackProtection {
            scheme,
            key: k.key.clone(),
            iv: k.iv,
        }))
    }

    fn rendition(&self, r: usize) -> Result<&RenditionKeys> {
        self.renditions.get(r).ok_or_else(|| {
            Error::Settings(format!(
                "the {} copy was given no key for rendition {r}",
                self.copy
            ))
        })
    }
}

/// What an object is made of.
#[derive(Debug)]
pub enum Made<'a> {
    /// A manifest or an init segment.
    Bytes(Vec<u8>),
    /// A media segment, whose samples the caller reads.
    Segment(MediaSegment<'a>),
}

/// Segment sizes of one rendition in one copy, known before anything is written.
#[derive(Debug, Clone)]
struct RenditionSizes {
    /// The shape each segment is made with: for AES-128, the clear segment it seals.
    shapes: Vec<SegmentShape>,
    /// Size of each segment as served.
    sizes: Vec<u64>,
    /// Peak segment bit rate (RFC 8216bis 4.4.6.2), bits per second.
    peak_bandwidth: u64,
    average_bandwidth: u64,
}

/// Everything sized for one copy.
#[derive(Debug, Clone)]
struct CopySizes {
    copy: Copy,
    renditions: Vec<RenditionSizes>,
}

/// Renditions packaged together.
#[derive(Debug, Clone)]
pub struct Presentation {
    renditions: Vec<PackagedRendition>,
    /// Subtitles and captions, after every rendition in manifests.
    texts: Vec<TextRendition>,
    /// Bytes of each text track written whole, for the MPD's bandwidth.
    text_bytes: Vec<u64>,
    text_cuts: text::TextCuts,
    /// The storyboard, signalled in every MPD and served at the root.
    storyboard: Option<crate::images::StoryboardImages>,
    packaging: Packaging,
    length: SegmentLength,
    copies: Vec<CopySizes>,
}

impl Presentation {
    /// Cuts every rendition on the instants of the first video rendition (or the first
    /// rendition when there is no video), at `packaging`'s segment lengths (whose paths
    /// are at `length`), and sizes every segment of every copy.
    pub fn new(
        renditions: Vec<Rendition>,
        packaging: Packaging,
        length: SegmentLength,
    ) -> Result<Presentation> {
        packaging.target.validate()?;
        if renditions.is_empty() {
            return Err(Error::Settings(
                "nothing to package: no video or audio track".into(),
            ));
        }
        if packaging.copies.is_empty() {
            return Err(Error::Settings("no copy to package".into()));
        }
        for (i, r) in renditions.iter().enumerate() {
            if renditions[..i].iter().any(|o| o.name == r.name) {
                return Err(Error::Settings(format!(
                    "two renditions are named {:?}",
                    r.name.as_str()
                )));
            }
            if r.track.samples.is_empty() {
                return Err(Error::Settings(format!(
                    "rendition {:?} has no samples",
                    r.name.as_str()
                )));
            }
        }
        let mut renditions = renditions;
        let delays = align_starts(&mut renditions);
        let reference = renditions
            .iter()
            .find(|r| r.track.kind == TrackKind::Video)
            .unwrap_or(&renditions[0]);
        let cuts = CutList::from_reference(&reference.track, &packaging.target);
        let renditions: Vec<PackagedRendition> = renditions
            .into_iter()
            .zip(delays)
            .map(|(r, delay)| PackagedRendition::new(r, &cuts, delay))
            .collect();
        let mut copies = Vec::with_capacity(packaging.copies.len());
        let mut scratch = Vec::new();
        for &copy in &packaging.copies {
            if copies.iter().any(|c: &CopySizes| c.copy == copy) {
                continue;
            }
            let sized = renditions
                .iter()
                .map(|r| {
                    size_rendition(
                        r,
                        copy,
                        packaging.clear_lead_seconds,
                        packaging.target.segment_seconds,
                        &mut scratch,
                    )
                })
                .collect::<Result<_>>()
                .map_err(|e| Error::Settings(format!("the {copy} copy: {e}")))?;
            copies.push(CopySizes {
                copy,
                renditions: sized,
            });
        }
        let text_cuts =
            text::TextCuts::of(text::reference(&renditions).expect("renditions are not empty"));
        Ok(Presentation {
            renditions,
            texts: Vec::new(),
            text_bytes: Vec::new(),
            text_cuts,
            storyboard: None,
            packaging,
            length,
            copies,
        })
    }

    /// Adds subtitle and caption tracks. Their names must differ from every other
    /// rendition's.
    pub fn with_text(mut self, texts: Vec<TextRendition>) -> Result<Presentation> {
        for (i, t) in texts.iter().enumerate() {
            if self.rendition_index(&t.name).is_some()
                || texts[..i].iter().any(|o| o.name == t.name)
            {
                return Err(Error::Settings(format!(
                    "two renditions are named {:?}",
                    t.name.as_str()
                )));
            }
        }
        self.text_bytes = texts
            .iter()
            .map(|t| crate::text::write_segment(&t.cues, 0, u64::MAX, None).len() as u64)
            .collect();
        self.texts = texts;
        Ok(self)
    }

    /// Adds a storyboard: its sprite and cues at the root, and a thumbnail
    /// AdaptationSet in every MPD.
    pub fn with_storyboard(mut self, storyboard: crate::images::StoryboardImages) -> Presentation {
        self.storyboard = Some(storyboard);
        self
    }

    /// `(start, end)` of each segment of the reference rendition, ms on the
    /// presentation's timeline: where every rendition is cut.
    pub fn segment_spans_ms(&self) -> &[(u64, u64)] {
        &self.text_cuts.spans
    }

    /// The subtitle and caption tracks.
    pub fn texts(&self) -> &[TextRendition] {
        &self.texts
    }

    /// Bytes of text track `t` written whole (`TEXT/all.vtt`).
    pub fn text_bytes(&self, t: usize) -> u64 {
        self.text_bytes.get(t).copied().unwrap_or(0)
    }

    /// How many segments each text track has in HLS: one per segment of the reference
    /// rendition.
    pub fn text_segment_count(&self) -> usize {
        self.text_cuts.spans.len()
    }

    /// The index of the text track named `name`.
    pub fn text_index(&self, name: &RenditionName) -> Option<usize> {
        self.texts.iter().position(|t| &t.name == name)
    }

    pub fn renditions(&self) -> &[PackagedRendition] {
        &self.renditions
    }

    pub fn packaging(&self) -> &Packaging {
        &self.packaging
    }

    /// The copies this presentation has.
    pub fn copies(&self) -> impl Iterator<Item = Copy> + '_ {
        self.copies.iter().map(|c| c.copy)
    }

    /// Duration of the whole presentation in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.renditions
            .iter()
            .map(|r| r.track().end_time() as f64 / f64::from(r.track().timescale))
            .fold(0.0, f64::max)
    }

    /// The index of the rendition named `name`.
    pub fn rendition_index(&self, name: &RenditionName) -> Option<usize> {
        self.renditions.iter().position(|r| r.name() == name)
    }

    fn sizes(&self, copy: Copy) -> Option<&CopySizes> {
        self.copies.iter().find(|c| c.copy == copy)
    }

    /// `(peak, average)` bit rate of rendition `r` in `copy`, bits per second.
    pub fn bandwidth(&self, copy: Copy, r: usize) -> Option<(u64, u64)> {
        let s = self.sizes(copy)?.renditions.get(r)?;
        Some((s.peak_bandwidth, s.average_bandwidth))
    }

    /// Bytes of rendition `r`'s media segments in `copy`.
    pub fn media_bytes(&self, copy: Copy, r: usize) -> Option<u64> {
        Some(self.sizes(copy)?.renditions.get(r)?.sizes.iter().sum())
    }

    /// Every object `copy` has, manifests first. Empty for a copy it does not have.
    pub fn objects(&self, copy: Copy) -> Vec<ObjectPath> {
        let Some(sizes) = self.sizes(copy) else {
            return Vec::new();
        };
        let at = |object| ObjectPath {
            copy,
            length: self.length,
            object,
        };
        let m = self.packaging.manifests;
        let mut out = Vec::new();
        if m.hls {
            out.push(at(Object::MultivariantPlaylist));
        }
        if m.dash && copy.has_dash() {
            out.push(at(Object::Mpd));
        }
        for (r, s) in self.renditions.iter().zip(&sizes.renditions) {
            let name = r.name().clone();
            if m.hls {
                out.push(at(Object::MediaPlaylist(name.clone())));
                if r.track().kind == TrackKind::Video && copy.has_iframe_playlists() {
                    out.push(at(Object::IFramePlaylist(name.clone())));
                }
            }
            out.push(at(Object::InitSegment(name.clone())));
            for n in 0..s.sizes.len() {
                out.push(at(Object::MediaSegment(name.clone(), n)));
            }
        }
        for t in &self.texts {
            if m.hls {
                out.push(at(Object::MediaPlaylist(t.name.clone())));
                for n in 0..self.text_cuts.spans.len() {
                    out.push(at(Object::TextSegment(t.name.clone(), n)));
                }
            }
            if m.dash && copy.has_dash() {
                out.push(at(Object::TextFile(t.name.clone())));
            }
        }
        // The root objects go with the first copy, so that a writer of every copy
        // writes them once.
        if self.storyboard.is_some() && self.packaging.copies.first() == Some(&copy) {
            out.push(ObjectPath::new(Copy::Clear, Object::StoryboardSprite));
            out.push(ObjectPath::new(Copy::Clear, Object::StoryboardCues));
        }
        out
    }

    /// Makes the object at `path` of the copy `keys` protects: the bytes of a manifest or
    /// an init segment, or the media segment for the caller to read. An object this
    /// presentation does not have is [`Error::NoObject`].
    pub fn make(&self, keys: &CopyKeys, path: &ObjectPath) -> Result<Made<'_>> {
        let none = || Error::NoObject(path.to_string());
        match (&path.object, &self.storyboard) {
            (Object::StoryboardSprite, Some(s)) => return Ok(Made::Bytes(s.sprite.to_vec())),
            (Object::StoryboardCues, Some(s)) => {
                return Ok(Made::Bytes(storyboard::cues(s, path).into_bytes()))
            }
            (Object::StoryboardSprite | Object::StoryboardCues, None) => return Err(none()),
            _ => {}
        }
        if path.length != self.length || path.copy != keys.copy {
            return Err(Error::Settings(format!(
                "{path} asked of the {} copy of a presentation at {:?}",
                keys.copy, self.length
            )));
        }
        let copy = keys.copy;
        let sizes = self.sizes(copy).ok_or_else(none)?;
        let m = self.packaging.manifests;
        let rendition = |name: &RenditionName| self.rendition_index(name).ok_or_else(none);
        Ok(match &path.object {
            Object::MultivariantPlaylist if m.hls => {
                Made::Bytes(playlists::multivariant(self, sizes, keys, path)?.into_bytes())
            }
            Object::Mpd if m.dash && copy.has_dash() => {
                Made::Bytes(mpd::mpd(self, sizes, keys, path).into_bytes())
            }
            Object::MediaPlaylist(name) if m.hls && self.text_index(name).is_some() => {
                let t = self.text_index(name).ok_or_else(none)?;
                Made::Bytes(text::media_playlist(self, t, path).into_bytes())
            }
            Object::TextSegment(name, n) if m.hls => {
                let t = self.text_index(name).ok_or_else(none)?;
                Made::Bytes(text::segment(self, t, *n).ok_or_else(none)?.into_bytes())
            }
            Object::TextFile(name) if m.dash && copy.has_dash() => {
                let t = self.text_index(name).ok_or_else(none)?;
                Made::Bytes(text::whole(self, t).into_bytes())
            }
            Object::MediaPlaylist(name) if m.hls => {
                let r = rendition(name)?;
                Made::Bytes(playlists::media(self, r, keys, path)?.into_bytes())
            }
            Object::IFramePlaylist(name) if m.hls && copy.has_iframe_playlists() => {
                let r = rendition(name)?;
                if self.renditions[r].track().kind != TrackKind::Video {
                    return Err(none());
                }
                Made::Bytes(playlists::iframes(self, r, sizes, keys, path)?.into_bytes())
            }
            Object::InitSegment(name) => {
                let r = rendition(name)?;
                Made::Bytes(self.init_segment(keys, r)?)
            }
            Object::MediaSegment(name, n) => {
                let r = rendition(name)?;
                let s = &sizes.renditions[r];
                if *n >= s.sizes.len() {
                    return Err(none());
                }
                Made::Segment(MediaSegment::new(
                    self,
                    keys,
                    r,
                    *n,
                    &s.shapes[*n],
                    s.sizes[*n],
                )?)
            }
            _ => return Err(none()),
        })
    }

    /// The init segment of rendition `r` (AES-128 leaves it clear).
    fn init_segment(&self, keys: &CopyKeys, r: usize) -> Result<Vec<u8>> {
        let track = self.renditions[r].track();
        match keys.track(r)? {
            None => cmaf::init_segment(track, None),
            Some(tp) => {
                let pssh: Vec<Vec<u8>> = keys
                    .rendition(r)?
                    .systems
                    .iter()
                    .filter_map(|s| s.pssh.clone())
                    .collect();
                cmaf::init_segment(
                    track,
                    Some(InitProtection {
                        track: &tp,
                        clear_lead: self.packaging.clear_lead_seconds > 0.0,
                        pssh: &pssh,
                    }),
                )
            }
        }
    }

    /// How segment `n` of rendition `r` stores its samples in `copy`.
    fn sample_crypt(&self, copy: Copy, r: usize, n: usize) -> SampleCrypt {
        sample_crypt(
            &self.renditions[r],
            n,
            copy,
            self.packaging.clear_lead_seconds,
        )
    }
}

/// How segment `n` of `r` stores its samples in `copy`: CENC copies leave the segments
/// that start before the clear lead's end clear.
fn sample_crypt(
    r: &PackagedRendition,
    n: usize,
    copy: Copy,
    clear_lead_seconds: f64,
) -> SampleCrypt {
    match copy.sample_scheme() {
        None => SampleCrypt::Clear,
        Some(scheme) => {
            let track = r.track();
            let lead_end = clear_lead_seconds * f64::from(track.timescale);
            if (r.segments()[n].start as f64) < lead_end {
                SampleCrypt::ClearLead
            } else {
                SampleCrypt::Encrypted(scheme)
            }
        }
    }
}

/// Sizes every segment of `r` in `copy`, and the bit rates the manifests announce.
fn size_rendition(
    r: &PackagedRendition,
    copy: Copy,
    clear_lead_seconds: f64,
    target_seconds: f64,
    scratch: &mut Vec<u8>,
) -> Result<RenditionSizes> {
    let segments = r.segments();
    let mut shapes = Vec::with_capacity(segments.len());
    let mut sizes = Vec::with_capacity(segments.len());
    for (n, spec) in segments.iter().enumerate() {
        let crypt = sample_crypt(r, n, copy, clear_lead_seconds);
        let shape = cmaf::segment_shape(r.track(), spec, crypt, scratch)?;
        sizes.push(match copy {
            Copy::Aes128 => aes128_sealed_len(shape.len),
            _ => shape.len,
        });
        shapes.push(shape);
    }
    let scale = f64::from(r.track().timescale);
    let secs: Vec<(u64, f64)> = sizes
        .iter()
        .zip(segments)
        .map(|(&b, s)| (b, s.duration as f64 / scale))
        .collect();
    Ok(RenditionSizes {
        shapes,
        peak_bandwidth: hls::peak_bit_rate(&secs, target_seconds),
        average_bandwidth: hls::average_bit_rate(&secs),
        sizes,
    })
}

#[cfg(test)]
mod audio_tests;
#[cfg(test)]
pub(crate) mod tests;
