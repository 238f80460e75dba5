//! The DASH MPD of a presentation's copy (ISO/IEC 23009-1): one AdaptationSet per media
//! type, codec and language (and, with a key per track type, per key), SegmentTemplate
//! with a SegmentTimeline per Representation.

use crate::copy::Copy;
use crate::dash;
use crate::key::Kid;
use crate::path::{Object, ObjectPath};
use crate::TrackKind;

use super::rendition::dash_frame_rate;
use super::{language_tag, CopyKeys, CopySizes, Presentation};

/// The DASH `ContentProtection` elements of rendition `r` (ISO/IEC 23001-7, 11.2): the
/// `mp4protection` descriptor with the default KID, then one per DRM system.
fn descriptors(keys: &CopyKeys, r: usize) -> Vec<String> {
    let (Some(scheme), Some(k)) = (keys.copy.sample_scheme(), keys.renditions.get(r)) else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{}\" cenc:default_KID=\"{}\"/>",
        scheme.as_str(),
        k.key.kid.to_uuid()
    )];
    out.extend(k.systems.iter().filter_map(|s| s.dash_descriptor.clone()));
    out
}

/// The sample entry type that leads an RFC 6381 codecs string (`avc1`, `hvc1`, `av01`).
fn family_of(codecs: &str) -> &str {
    codecs.split('.').next().unwrap_or(codecs)
}

/// The MPD (`manifest.mpd`) at `at`.
pub(super) fn mpd(p: &Presentation, sizes: &CopySizes, keys: &CopyKeys, at: &ObjectPath) -> String {
    let mut sets: Vec<dash::AdaptationSet> = Vec::new();
    let mut kids: Vec<Option<Kid>> = Vec::new();
    let labels = super::rendition::audio_labels(&p.renditions);
    for (i, r) in p.renditions.iter().enumerate() {
        let track = r.track();
        let (content_type, mime_type, language) = match track.kind {
            TrackKind::Video => ("video", "video/mp4", None),
            TrackKind::Audio => ("audio", "audio/mp4", language_tag(&track.language)),
        };
        let name = r.name().clone();
        // SegmentTemplate@media is segment 1's path with its number replaced by the
        // `$Number$` identifier (ISO/IEC 23009-1, 5.3.9.4.4).
        let first = at
            .sibling(Object::MediaSegment(name.clone(), 0))
            .relative_to(at);
        let media = format!(
            "{}$Number$.m4s",
            first.strip_suffix("1.m4s").unwrap_or_default()
        );
        let rep = dash::Representation {
            id: name.to_string(),
            bandwidth: sizes.renditions[i].peak_bandwidth,
            codecs: r.codec_string(),
            width: track.width,
            height: track.height,
            frame_rate: dash_frame_rate(track),
            audio_sampling_rate: track.codec.sample_rate(),
            audio_channels: track.codec.channels(),
            timescale: track.timescale,
            presentation_time_offset: r.presentation_offset(),
            initialization: at.sibling(Object::InitSegment(name)).relative_to(at),
            media,
            timeline: r.segments().iter().map(|s| (s.start, s.duration)).collect(),
            content_protection: descriptors(keys, i),
            base_url: None,
            segment_duration: None,
            essential_property: None,
        };
        // DASH-IF IOP (7.7.2): the Representations of an AdaptationSet share one default
        // KID. With a key per track type, each key gets its own set, and the video sets
        // are declared switchable (ISO/IEC 23009-1, 5.3.3.5).
        let kid = match keys.copy {
            Copy::Cenc | Copy::Cbcs => keys.renditions.get(i).map(|k| k.key.kid),
            Copy::Clear | Copy::Aes128 => None,
        };
        // One set per codec as well (ISO/IEC 23009-1, 5.3.3.1: a player switches only
        // within a set, and Shaka cannot switch codecs inside one): the sample entry's
        // four-character code, which leads the codecs string, tells them apart.
        //
        // Each audio rendition is a set of its own, as each is an `EXT-X-MEDIA` choice of
        // its own in HLS: two streams of one language and layout (a film and its
        // commentary) are choices, never bit rates of one stream.
        let family = family_of(&rep.codecs);
        match sets.iter_mut().zip(&kids).find(|(s, k)| {
            s.content_type == content_type
                && track.kind == TrackKind::Video
                && **k == kid
                && family_of(&s.representations[0].codecs) == family
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
                    label: labels[i].clone(),
                    role: None,
                    cea608: None,
                    representations: vec![rep],
                })
            }
        }
    }
    // The first audio set is the main one (the plan puts the source's default stream,
    // or the language asked for, first); Shaka and dash.js start with it.
    let mut audio_sets = sets.iter_mut().filter(|s| s.content_type == "audio");
    if let Some(first) = audio_sets.next() {
        first.role = Some("main");
    }
    for other in audio_sets {
        other.role = Some("alternate");
    }
    let video_sets: Vec<usize> = (0..sets.len())
        .filter(|&i| sets[i].content_type == "video")
        .collect();
    // A set whose every picture carries CEA-608 captions says so.
    for &i in &video_sets {
        let captioned = |r: &dash::Representation| {
            p.packaging
                .captioned
                .iter()
                .any(|n| n.as_str() == r.id.as_str())
        };
        if sets[i].representations.iter().all(captioned) {
            sets[i].cea608 = Some("CC1");
        }
    }
    // Sets split by key only are switchable; sets of other codecs are not.
    for &i in &video_sets {
        let family = family_of(&sets[i].representations[0].codecs).to_string();
        sets[i].switchable_with = video_sets
            .iter()
            .copied()
            .filter(|&j| j != i && family_of(&sets[j].representations[0].codecs) == family)
            .collect();
    }
    // Descriptors shared by every Representation of a set move up to the AdaptationSet,
    // where players look for the DRM systems; what differs (the default KID, with a key
    // per track type) stays on each Representation.
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
    sets.extend(super::text::dash_sets(p, at));
    sets.extend(
        p.storyboard
            .as_ref()
            .map(|s| super::storyboard::dash_set(s, at)),
    );
    dash::Mpd {
        duration_seconds: p.duration_seconds(),
        min_buffer_seconds: p.packaging.target.segment_seconds,
        adaptation_sets: sets,
    }
    .render()
}
