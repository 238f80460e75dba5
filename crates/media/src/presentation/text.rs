//! Subtitle and caption tracks of a presentation: WebVTT cut on the segments of the
//! reference rendition for HLS (RFC 8216bis 3.1.4, `EXT-X-MEDIA:TYPE=SUBTITLES`), and
//! whole for DASH (a text AdaptationSet whose Representation names the file by
//! `BaseURL`, ISO/IEC 23009-1 5.3.3 and DASH-IF IOP 6.4.5).

use crate::dash;
use crate::hls;
use crate::path::{Object, ObjectPath, RenditionName};
use crate::text::{write_segment, Cue, TextKind, TextTrackInfo};
use crate::TrackKind;

use super::{PackagedRendition, Presentation};

/// A subtitle or caption track: cues on the presentation's timeline (zero is the first
/// frame shown).
#[derive(Debug, Clone, PartialEq)]
pub struct TextRendition {
    pub name: RenditionName,
    pub info: TextTrackInfo,
    pub cues: Vec<Cue>,
}

/// Where text segments start and end, in ms of the presentation timeline, and the
/// `X-TIMESTAMP-MAP` that puts WebVTT time zero on the media.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TextCuts {
    pub spans: Vec<(u64, u64)>,
    /// The 90 kHz media time of presentation time zero: the reference rendition's
    /// presentation offset (see `align_starts`).
    pub mpegts: u64,
}

impl TextCuts {
    /// The cuts of `reference`'s segments.
    pub(super) fn of(reference: &PackagedRendition) -> TextCuts {
        let scale = u128::from(reference.track().timescale.max(1));
        let offset = i128::from(reference.presentation_offset());
        let ms = |t: i128| -> u64 { ((t - offset).max(0) as u128 * 1000 / scale) as u64 };
        let spans = reference
            .segments()
            .iter()
            .map(|s| {
                let start = i128::from(s.start);
                (ms(start), ms(start + i128::from(s.duration)))
            })
            .collect();
        TextCuts {
            spans,
            mpegts: (offset.max(0) as u128 * 90_000 / scale) as u64,
        }
    }
}

/// The name a player shows for each text track: the language (or "Subtitles"), with
/// "(CC)" for captions and "(forced)" for forced subtitles, numbered where two would
/// read the same.
pub(super) fn labels(texts: &[TextRendition]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(texts.len());
    for t in texts {
        let mut base = t
            .info
            .language
            .map_or_else(|| "Subtitles".to_string(), |l| l.name().to_string());
        match t.info.kind {
            TextKind::Captions => base.push_str(" (CC)"),
            TextKind::Subtitles if t.info.forced => base.push_str(" (forced)"),
            TextKind::Subtitles => {}
        }
        let label = crate::path::first_free(&base, " ", |l| out.iter().any(|o| o == l));
        out.push(label);
    }
    out
}

/// The media playlist of text track `t` (`NAME/index.m3u8`).
pub(super) fn media_playlist(p: &Presentation, t: usize, at: &ObjectPath) -> String {
    let name = &p.texts[t].name;
    hls::MediaPlaylist {
        init_uri: None,
        entries: p
            .text_cuts
            .spans
            .iter()
            .enumerate()
            .map(|(n, (start, end))| hls::PlaylistEntry {
                uri: at
                    .sibling(Object::TextSegment(name.clone(), n))
                    .relative_to(at),
                duration: end.saturating_sub(*start) as f64 / 1000.0,
                byte_range: None,
            })
            .collect(),
        iframes_only: false,
        keys: Vec::new(),
    }
    .render()
}

/// Segment `n` of text track `t`, or `None` past the last segment.
pub(super) fn segment(p: &Presentation, t: usize, n: usize) -> Option<String> {
    let &(start, end) = p.text_cuts.spans.get(n)?;
    // The last segment takes every cue left, so that none is lost to rounding.
    let end = if n + 1 == p.text_cuts.spans.len() {
        u64::MAX
    } else {
        end
    };
    Some(write_segment(
        &p.texts[t].cues,
        start,
        end,
        Some(p.text_cuts.mpegts),
    ))
}

/// Text track `t` whole.
pub(super) fn whole(p: &Presentation, t: usize) -> String {
    write_segment(&p.texts[t].cues, 0, u64::MAX, None)
}

/// The `EXT-X-MEDIA:TYPE=SUBTITLES` entries of the multivariant playlist, in group
/// `group`.
pub(super) fn hls_renditions(
    p: &Presentation,
    group: &str,
    at: &ObjectPath,
) -> Vec<hls::SubtitleRendition> {
    p.texts
        .iter()
        .zip(labels(&p.texts))
        .map(|(t, name)| hls::SubtitleRendition {
            group_id: group.to_string(),
            name,
            language: t.info.language.map(|l| l.bcp47().to_string()),
            default: false,
            forced: t.info.forced,
            characteristics: (t.info.kind == TextKind::Captions).then_some(
                "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",
            ),
            uri: at
                .sibling(Object::MediaPlaylist(t.name.clone()))
                .relative_to(at),
        })
        .collect()
}

/// One AdaptationSet per text track, for the MPD at `at`.
pub(super) fn dash_sets(p: &Presentation, at: &ObjectPath) -> Vec<dash::AdaptationSet> {
    p.texts
        .iter()
        .zip(labels(&p.texts))
        .zip(&p.text_bytes)
        .map(|((t, label), &bytes)| {
            let seconds = p.duration_seconds().max(1.0);
            dash::AdaptationSet {
                content_type: "text",
                mime_type: "text/vtt",
                language: t.info.language.map(|l| l.bcp47().to_string()),
                content_protection: Vec::new(),
                switchable_with: Vec::new(),
                label: Some(label),
                // ISO/IEC 23009-1, 5.8.5.5: the roles of text.
                role: Some(match (t.info.kind, t.info.forced) {
                    (TextKind::Captions, _) => "caption",
                    (TextKind::Subtitles, true) => "forced-subtitle",
                    (TextKind::Subtitles, false) => "subtitle",
                }),
                cea608: None,
                representations: vec![dash::Representation {
                    id: t.name.to_string(),
                    bandwidth: ((bytes * 8) as f64 / seconds).ceil().max(1.0) as u64,
                    codecs: String::new(),
                    width: 0,
                    height: 0,
                    frame_rate: None,
                    audio_sampling_rate: None,
                    audio_channels: None,
                    timescale: 1000,
                    presentation_time_offset: 0,
                    initialization: String::new(),
                    media: String::new(),
                    timeline: Vec::new(),
                    content_protection: Vec::new(),
                    base_url: Some(at.sibling(Object::TextFile(t.name.clone())).relative_to(at)),
                    segment_duration: None,
                    essential_property: None,
                }],
            }
        })
        .collect()
}

/// The reference rendition the text is cut on: the first video rendition, or the first.
pub(super) fn reference(renditions: &[PackagedRendition]) -> Option<&PackagedRendition> {
    renditions
        .iter()
        .find(|r| r.track().kind == TrackKind::Video)
        .or(renditions.first())
}
