//! The preview: one rendition with its audio muxed in, published segment by segment
//! while the ladder encodes, so that an asset plays seconds after its upload.
//!
//! Its media playlist is an EVENT playlist (RFC 8216bis, 4.4.3.5): segments are only
//! ever appended, and `EXT-X-ENDLIST` closes it when the preview's encode ends.
//! `EXT-X-START:TIME-OFFSET=0` (4.4.2.2) asks players to start at the beginning rather
//! than at the live edge, as they would for a playlist without `EXT-X-ENDLIST`. Objects
//! live under [`PREVIEW_FOLDER`], a name no rendition may take.

use std::fmt::Write;

/// The folder of the preview's objects, under an asset's root.
pub const PREVIEW_FOLDER: &str = "preview";

/// The most segments a preview lists (a 10-hour title in 2 s segments, with room).
pub const MAX_PREVIEW_SEGMENTS: u32 = 100_000;

/// An object of the preview, by its path under the asset's root (`preview/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewObject {
    /// `preview/master.m3u8`: the multivariant playlist naming the one variant.
    Multivariant,
    /// `preview/index.m3u8`: the media playlist, growing.
    Playlist,
    /// `preview/init.mp4`: the CMAF header.
    Init,
    /// `preview/N.m4s`, N from 1.
    Segment(u32),
}

impl PreviewObject {
    /// The object `path` names, or `None` when it names none of the preview's.
    pub fn parse(path: &str) -> Option<PreviewObject> {
        let file = path.strip_prefix(PREVIEW_FOLDER)?.strip_prefix('/')?;
        Some(match file {
            "master.m3u8" => PreviewObject::Multivariant,
            "index.m3u8" => PreviewObject::Playlist,
            "init.mp4" => PreviewObject::Init,
            _ => {
                let digits = file.strip_suffix(".m4s")?;
                if digits.is_empty()
                    || digits.len() > 6
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let n: u32 = digits.parse().ok()?;
                if n > MAX_PREVIEW_SEGMENTS {
                    return None;
                }
                PreviewObject::Segment(n)
            }
        })
    }

    /// Its file name in the preview's folder.
    pub fn file_name(self) -> String {
        match self {
            PreviewObject::Multivariant => "master.m3u8".into(),
            PreviewObject::Playlist => "index.m3u8".into(),
            PreviewObject::Init => "init.mp4".into(),
            PreviewObject::Segment(n) => format!("{n}.m4s"),
        }
    }

    pub fn is_manifest(self) -> bool {
        matches!(self, PreviewObject::Multivariant | PreviewObject::Playlist)
    }

    /// The HTTP `Content-Type` of the object.
    pub fn content_type(self) -> &'static str {
        match self {
            PreviewObject::Multivariant | PreviewObject::Playlist => {
                "application/vnd.apple.mpegurl"
            }
            PreviewObject::Init => "video/mp4",
            PreviewObject::Segment(_) => "video/iso.segment",
        }
    }
}

/// The preview's media playlist over `segments` (their durations in seconds, segment N
/// being `segments[N - 1]`), closed with `EXT-X-ENDLIST` when `ended`.
pub fn media_playlist(segments: &[f64], ended: bool) -> String {
    // 4.4.3.1: every EXTINF rounded to the nearest integer is at most the target.
    let target = segments
        .iter()
        .map(|d| d.round() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut s = String::with_capacity(256 + segments.len() * 24);
    s.push_str("#EXTM3U\n#EXT-X-VERSION:7\n");
    let _ = writeln!(s, "#EXT-X-TARGETDURATION:{target}");
    s.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n");
    s.push_str("#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    s.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    for (i, d) in segments.iter().enumerate() {
        let _ = writeln!(s, "#EXTINF:{d:.5},\n{}.m4s", i + 1);
    }
    if ended {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    s
}

/// What the multivariant playlist says of the preview's one variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewVariant {
    /// `BANDWIDTH`: the encode's peak, bits per second.
    pub bandwidth: u64,
    /// `CODECS`: the video's and the audio's codec strings, as their sample entries say.
    pub codecs: Vec<String>,
    pub width: u32,
    pub height: u32,
}

/// The multivariant playlist of the preview, naming `media` (the media playlist's URI
/// from where this playlist is served).
pub fn multivariant(variant: &PreviewVariant, media: &str) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let _ = writeln!(
        s,
        "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{}\n{media}",
        variant.bandwidth,
        variant.codecs.join(","),
        variant.width,
        variant.height
    );
    s
}

/// The preview's multivariant playlist as served from the asset's root (its
/// `master.m3u8` while the asset is `playable`): each URI line gains the preview's
/// folder. The stored one names `index.m3u8`, relative to the folder (RFC 3986, 5.2).
pub fn multivariant_at_root(stored: &str) -> String {
    let mut out = String::with_capacity(stored.len() + 16);
    for line in stored.lines() {
        if !line.is_empty() && !line.starts_with('#') {
            out.push_str(PREVIEW_FOLDER);
            out.push('/');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_only_the_previews_objects() {
        for (path, object) in [
            ("preview/master.m3u8", PreviewObject::Multivariant),
            ("preview/index.m3u8", PreviewObject::Playlist),
            ("preview/init.mp4", PreviewObject::Init),
            ("preview/1.m4s", PreviewObject::Segment(1)),
            ("preview/100000.m4s", PreviewObject::Segment(100_000)),
        ] {
            assert_eq!(PreviewObject::parse(path), Some(object), "{path}");
            assert_eq!(format!("preview/{}", object.file_name()), path);
        }
        for path in [
            "preview/0.m4s",
            "preview/01.m4s",
            "preview/100001.m4s",
            "preview/-1.m4s",
            "preview/1.mp4",
            "preview/.m4s",
            "preview/../keys/1",
            "preview/a/index.m3u8",
            "preview",
            "previewx/index.m3u8",
            "720p/index.m3u8",
            "cenc/preview/index.m3u8",
        ] {
            assert_eq!(PreviewObject::parse(path), None, "{path}");
        }
    }

    #[test]
    fn a_growing_playlist_starts_at_the_beginning_and_ends_when_told() {
        let open = media_playlist(&[2.0, 2.0, 1.52], false);
        assert!(open.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
        assert!(open.contains("#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n"));
        assert!(open.contains("#EXT-X-TARGETDURATION:2\n"));
        assert!(open.contains("#EXTINF:1.52000,\n3.m4s\n"));
        assert!(!open.contains("ENDLIST"));
        let closed = media_playlist(&[2.0, 2.0, 1.52], true);
        assert!(closed.starts_with(&open));
        assert!(closed.ends_with("#EXT-X-ENDLIST\n"));
        // A segment rounding up raises the target duration (RFC 8216bis, 4.4.3.1).
        assert!(media_playlist(&[2.6], false).contains("#EXT-X-TARGETDURATION:3\n"));
    }

    #[test]
    fn the_variant_names_its_codecs_and_size() {
        let text = multivariant(
            &PreviewVariant {
                bandwidth: 900_000,
                codecs: vec!["avc1.64001e".into(), "mp4a.40.2".into()],
                width: 640,
                height: 360,
            },
            "index.m3u8",
        );
        assert!(text.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360\nindex.m3u8\n"
        ));
        let root = multivariant_at_root(&text);
        assert_eq!(root, text.replace("\nindex.m3u8", "\npreview/index.m3u8"));
        assert_eq!(
            PreviewObject::parse("preview/index.m3u8"),
            Some(PreviewObject::Playlist)
        );
    }
}
