//! The HLS playlists of a presentation's copy (RFC 8216bis): the multivariant playlist,
//! a media playlist per rendition, an I-frame playlist per video rendition. Every URI is
//! the target's [`ObjectPath`] relative to the playlist's own.

use crate::copy::Copy;
use crate::hls;
use crate::path::{Object, ObjectPath};
use crate::{Result, TrackKind};

use super::{CopyKeys, CopySizes, PackagedRendition, Presentation};

/// `EXT-X-KEY` lines of rendition `r` in a media playlist at `at`, or with `session` its
/// `EXT-X-SESSION-KEY` lines.
fn key_lines(keys: &CopyKeys, r: usize, session: bool, at: &ObjectPath) -> Result<Vec<String>> {
    Ok(match keys.copy {
        Copy::Clear => Vec::new(),
        // The key URI is relative to the media playlist, so it cannot be repeated in the
        // multivariant playlist, and EXT-X-SESSION-KEY is optional.
        Copy::Aes128 if session => Vec::new(),
        Copy::Aes128 => {
            let uri = match &keys.aes128_key_uri {
                Some(uri) => uri.clone(),
                None => ObjectPath::key(keys.rendition(r)?.key.kid).relative_to(at),
            };
            vec![format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{uri}\"")]
        }
        Copy::Cenc | Copy::Cbcs => keys
            .rendition(r)?
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
    })
}

/// The media playlist of rendition `r` (`NAME/index.m3u8`).
pub(super) fn media(
    p: &Presentation,
    r: usize,
    keys: &CopyKeys,
    at: &ObjectPath,
) -> Result<String> {
    let rendition = &p.renditions[r];
    let name = rendition.name();
    let scale = f64::from(rendition.track().timescale);
    Ok(hls::MediaPlaylist {
        init_uri: Some(
            at.sibling(Object::InitSegment(name.clone()))
                .relative_to(at),
        ),
        entries: rendition
            .segments()
            .iter()
            .enumerate()
            .map(|(n, s)| hls::PlaylistEntry {
                uri: at
                    .sibling(Object::MediaSegment(name.clone(), n))
                    .relative_to(at),
                duration: s.duration as f64 / scale,
                byte_range: None,
            })
            .collect(),
        iframes_only: false,
        keys: key_lines(keys, r, false, at)?,
    }
    .render())
}

/// The entries of rendition `r`'s I-frame playlist: one per fragment that starts with a
/// sync sample, pointing at its `moof` and first sample (RFC 8216bis, 4.4.3.6).
fn iframe_entries(
    rendition: &PackagedRendition,
    sizes: &super::RenditionSizes,
    at: &ObjectPath,
) -> Vec<hls::PlaylistEntry> {
    let scale = f64::from(rendition.track().timescale);
    let syncs: Vec<(usize, &crate::cmaf::FragmentPlace)> = sizes
        .shapes
        .iter()
        .enumerate()
        .flat_map(|(n, shape)| {
            shape
                .fragments
                .iter()
                .filter(|f| f.starts_with_sync)
                .map(move |f| (n, f))
        })
        .collect();
    let end = rendition.track().end_time();
    syncs
        .iter()
        .enumerate()
        .map(|(k, &(n, f))| {
            let next = syncs.get(k + 1).map_or(end, |x| x.1.start);
            hls::PlaylistEntry {
                uri: at
                    .sibling(Object::MediaSegment(rendition.name().clone(), n))
                    .relative_to(at),
                duration: (next - f.start).max(0) as f64 / scale,
                byte_range: Some((f.first_sample_end, f.offset)),
            }
        })
        .collect()
}

/// Bit rate of an I-frame playlist: the largest of its entries.
fn iframe_bandwidth(entries: &[hls::PlaylistEntry]) -> u64 {
    entries
        .iter()
        .filter(|e| e.duration > 0.0)
        .map(|e| (e.byte_range.map_or(0, |r| r.0) as f64 * 8.0 / e.duration).ceil() as u64)
        .max()
        .unwrap_or(0)
}

/// The I-frame playlist of video rendition `r` (`NAME/iframes.m3u8`).
pub(super) fn iframes(
    p: &Presentation,
    r: usize,
    sizes: &CopySizes,
    keys: &CopyKeys,
    at: &ObjectPath,
) -> Result<String> {
    let rendition = &p.renditions[r];
    Ok(hls::MediaPlaylist {
        init_uri: Some(
            at.sibling(Object::InitSegment(rendition.name().clone()))
                .relative_to(at),
        ),
        entries: iframe_entries(rendition, &sizes.renditions[r], at),
        iframes_only: true,
        keys: key_lines(keys, r, false, at)?,
    }
    .render())
}

fn variant(
    p: &Presentation,
    sizes: &CopySizes,
    r: usize,
    at: &ObjectPath,
    audio_group: Option<String>,
    audio_codec: Option<String>,
) -> hls::Variant {
    let rendition = &p.renditions[r];
    let track = rendition.track();
    let video = track.kind == TrackKind::Video;
    let mut codecs = vec![rendition.codec_string()];
    codecs.extend(audio_codec);
    let s = &sizes.renditions[r];
    hls::Variant {
        uri: at
            .sibling(Object::MediaPlaylist(rendition.name().clone()))
            .relative_to(at),
        bandwidth: s.peak_bandwidth,
        average_bandwidth: s.average_bandwidth,
        codecs,
        resolution: video.then_some((track.width, track.height)),
        frame_rate: track.frame_rate(),
        audio_group,
        subtitles_group: None,
        closed_captions_group: (video && p.packaging.captioned.contains(rendition.name()))
            .then(|| CLOSED_CAPTIONS_GROUP.to_string()),
    }
}

/// The group of the captions a video rendition carries in its picture.
const CLOSED_CAPTIONS_GROUP: &str = "cc";

/// The multivariant playlist (`master.m3u8`).
pub(super) fn multivariant(
    p: &Presentation,
    sizes: &CopySizes,
    keys: &CopyKeys,
    at: &ObjectPath,
) -> Result<String> {
    let mut m = hls::MultivariantPlaylist::default();
    for r in 0..p.renditions.len() {
        for line in key_lines(keys, r, true, at)? {
            if !m.session_keys.contains(&line) {
                m.session_keys.push(line);
            }
        }
    }
    // One audio group per audio codec, so that a variant's CODECS is exact.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in p.renditions.iter().enumerate() {
        if r.track().kind == TrackKind::Audio {
            let codec = r.codec_string();
            match groups.iter_mut().find(|g| g.0 == codec) {
                Some(g) => g.1.push(i),
                None => groups.push((codec, vec![i])),
            }
        }
    }
    let labels = super::rendition::audio_labels(&p.renditions);
    for (g, (_, members)) in groups.iter().enumerate() {
        // The first audio rendition of each group is its default: renditions come in the
        // order the plan gave them, the source's default stream (or the one asked for)
        // first.
        for (k, &i) in members.iter().enumerate() {
            let r = &p.renditions[i];
            let language = super::language_tag(&r.track().language);
            let repeated = members[..k]
                .iter()
                .any(|&o| super::language_tag(&p.renditions[o].track().language) == language);
            m.audio.push(hls::AudioRendition {
                group_id: format!("audio{g}"),
                name: labels[i].clone().unwrap_or_else(|| r.name().to_string()),
                autoselect: !repeated,
                language,
                channels: r.track().codec.channels(),
                default: k == 0,
                uri: at
                    .sibling(Object::MediaPlaylist(r.name().clone()))
                    .relative_to(at),
            });
        }
    }
    let subtitles = (!p.texts.is_empty()).then(|| "subs".to_string());
    if let Some(group) = &subtitles {
        m.subtitles = super::text::hls_renditions(p, group, at);
    }
    let videos: Vec<usize> = (0..p.renditions.len())
        .filter(|&i| p.renditions[i].track().kind == TrackKind::Video)
        .collect();
    for &v in &videos {
        if groups.is_empty() {
            m.variants.push(variant(p, sizes, v, at, None, None));
        }
        for (g, (codec, members)) in groups.iter().enumerate() {
            let peak = members
                .iter()
                .map(|&i| sizes.renditions[i].peak_bandwidth)
                .max();
            let avg = members
                .iter()
                .map(|&i| sizes.renditions[i].average_bandwidth)
                .max();
            let mut var = variant(
                p,
                sizes,
                v,
                at,
                Some(format!("audio{g}")),
                Some(codec.clone()),
            );
            var.bandwidth += peak.unwrap_or(0);
            var.average_bandwidth += avg.unwrap_or(0);
            m.variants.push(var);
        }
        if !keys.copy.has_iframe_playlists() {
            continue;
        }
        let rendition = &p.renditions[v];
        let iframes = at.sibling(Object::IFramePlaylist(rendition.name().clone()));
        m.iframe_variants.push(hls::IFrameVariant {
            uri: iframes.relative_to(at),
            bandwidth: iframe_bandwidth(&iframe_entries(rendition, &sizes.renditions[v], &iframes)),
            codecs: rendition.codec_string(),
            resolution: (rendition.track().width, rendition.track().height),
        });
    }
    if videos.is_empty() {
        // Audio only: each audio rendition is a variant of its own.
        m.audio.clear();
        for r in 0..p.renditions.len() {
            if p.renditions[r].track().kind == TrackKind::Audio {
                m.variants.push(variant(p, sizes, r, at, None, None));
            }
        }
    }
    for v in &mut m.variants {
        v.subtitles_group = subtitles.clone();
    }
    if m.variants.iter().any(|v| v.closed_captions_group.is_some()) {
        m.closed_captions_group = Some(CLOSED_CAPTIONS_GROUP.to_string());
    }
    Ok(m.render())
}
