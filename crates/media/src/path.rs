//! Object paths: the name of every object a presentation can have, relative to its root,
//! as it appears in URLs (`/play/ID/PATH`) and in the folder packaging ahead of time
//! writes. One type parses them and displays them back, so the origin, the static writer
//! and the manifests' own references can never disagree on a spelling.
//!
//! ```text
//! [COPY/][sN/]master.m3u8               multivariant playlist (RFC 8216bis, 4.4.6)
//! [COPY/][sN/]manifest.mpd              DASH MPD (ISO/IEC 23009-1)
//! [COPY/][sN/]NAME/index.m3u8           media playlist
//! [COPY/][sN/]NAME/iframes.m3u8         I-frame playlist (RFC 8216bis, 4.4.3.6)
//! [COPY/][sN/]NAME/init.mp4             CMAF header
//! [COPY/][sN/]NAME/K.m4s                CMAF segment K, from 1
//! keys/KID                              an AES-128 key (32 hex digits)
//! storyboard.jpg                        the storyboard's sprite (thumbnails in a grid)
//! storyboard.vtt                        where each thumbnail lies in it, and when
//! ```
//!
//! `COPY` is a protected copy's folder (`cenc`, `cbcs`, `aes128`; the clear copy is the
//! root) and `sN/` asks for N-second segments (1 to 30) instead of the template's.
//! Every path has exactly one spelling: parsing refuses anything `Display` would not
//! write (leading zeros, empty segments, unknown files).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::copy::Copy;
use crate::key::Kid;

/// Shortest and longest segment length a path may ask for, in seconds.
pub const REQUESTED_SEGMENT_SECONDS: std::ops::RangeInclusive<u32> = 1..=30;
/// Longest object path accepted: far above any real one, so parsing never looks at more.
const MAX_PATH_LEN: usize = 512;
/// The root folder of AES-128 keys.
const KEYS_FOLDER: &str = "keys";

/// Why a path names no object, or a rendition name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{0:?} is not an object of a presentation")]
    NoSuchObject(String),
    #[error("rendition name {0:?} must be 1-64 characters of A-Z a-z 0-9 - _ . (not . or ..)")]
    InvalidName(String),
    #[error("rendition name {0:?} is reserved (a copy's folder, keys/, preview/, or sN/)")]
    ReservedName(String),
}

/// A rendition's name: its folder, and its id in every manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RenditionName(String);

impl RenditionName {
    /// Checks `name`: 1-64 characters of `A-Z a-z 0-9 - _ .`, not `.` or `..`, and not a
    /// name the first folder of a path gives another meaning (a copy's folder, `keys`,
    /// `preview`, a segment length `sN`).
    pub fn new(name: &str) -> Result<RenditionName, PathError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(PathError::InvalidName(name.chars().take(80).collect()));
        }
        if name == KEYS_FOLDER
            || name == crate::preview::PREVIEW_FOLDER
            || Copy::from_folder(name).is_some()
            || is_length_folder(name)
        {
            return Err(PathError::ReservedName(name.to_string()));
        }
        Ok(RenditionName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RenditionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RenditionName {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, PathError> {
        RenditionName::new(&s)
    }
}

impl From<RenditionName> for String {
    fn from(n: RenditionName) -> String {
        n.0
    }
}

impl PartialEq<str> for RenditionName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// The first of `base`, `base{separator}2`, `base{separator}3`, ... that `taken` does not
/// hold: how two renditions, or two names a player shows, that would read the same are
/// told apart.
pub fn first_free(base: &str, separator: &str, taken: impl Fn(&str) -> bool) -> String {
    (1u32..)
        .map(|n| match n {
            1 => base.to_string(),
            n => format!("{base}{separator}{n}"),
        })
        .find(|name| !taken(name))
        .unwrap_or_else(|| base.to_string())
}

/// `s` followed by digits: a segment-length folder, whatever the number.
fn is_length_folder(s: &str) -> bool {
    s.len() > 1 && s.starts_with('s') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The segment length a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentLength {
    /// The template's segment and fragment lengths.
    Template,
    /// `sN/`: N-second segments, cut at the keyframes.
    Seconds(u32),
}

/// What a path names, within its copy and segment length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Object {
    /// `master.m3u8`.
    MultivariantPlaylist,
    /// `manifest.mpd`.
    Mpd,
    /// `NAME/index.m3u8`.
    MediaPlaylist(RenditionName),
    /// `NAME/iframes.m3u8`.
    IFramePlaylist(RenditionName),
    /// `NAME/init.mp4`.
    InitSegment(RenditionName),
    /// `NAME/K.m4s`, holding the 0-based index K - 1.
    MediaSegment(RenditionName, usize),
    /// `NAME/K.vtt`: the cues of a text track that show during segment K - 1 (HLS).
    TextSegment(RenditionName, usize),
    /// `NAME/all.vtt`: a text track whole (DASH).
    TextFile(RenditionName),
    /// `keys/KID`: only at the root of the clear copy at the template's length.
    Key(Kid),
    /// `storyboard.jpg`: at the root only; every copy's manifests name the one sprite.
    StoryboardSprite,
    /// `storyboard.vtt`: at the root only.
    StoryboardCues,
}

impl Object {
    /// The rendition the object belongs to, for the per-rendition objects.
    pub fn rendition(&self) -> Option<&RenditionName> {
        match self {
            Object::MediaPlaylist(n)
            | Object::IFramePlaylist(n)
            | Object::InitSegment(n)
            | Object::MediaSegment(n, _)
            | Object::TextSegment(n, _)
            | Object::TextFile(n) => Some(n),
            Object::MultivariantPlaylist
            | Object::Mpd
            | Object::Key(_)
            | Object::StoryboardSprite
            | Object::StoryboardCues => None,
        }
    }

    /// Whether the object is a manifest (changes when the presentation is packaged
    /// again, so it is cached briefly).
    pub fn is_manifest(&self) -> bool {
        matches!(
            self,
            Object::MultivariantPlaylist
                | Object::Mpd
                | Object::MediaPlaylist(_)
                | Object::IFramePlaylist(_)
        )
    }

    /// The HTTP `Content-Type` of the object.
    pub fn content_type(&self) -> &'static str {
        match self {
            Object::MultivariantPlaylist | Object::MediaPlaylist(_) | Object::IFramePlaylist(_) => {
                "application/vnd.apple.mpegurl"
            }
            Object::Mpd => "application/dash+xml",
            Object::InitSegment(_) => "video/mp4",
            Object::MediaSegment(..) => "video/iso.segment",
            Object::TextSegment(..) | Object::TextFile(_) | Object::StoryboardCues => {
                "text/vtt; charset=utf-8"
            }
            Object::Key(_) => "application/octet-stream",
            Object::StoryboardSprite => "image/jpeg",
        }
    }
}

/// The path of one object of a presentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    pub copy: Copy,
    pub length: SegmentLength,
    pub object: Object,
}

impl ObjectPath {
    /// An object of `copy` at the template's segment length.
    pub fn new(copy: Copy, object: Object) -> ObjectPath {
        ObjectPath {
            copy,
            length: SegmentLength::Template,
            object,
        }
    }

    /// Whether the object lives at the presentation's root, outside every copy and
    /// segment length (keys and the storyboard).
    pub fn is_root_only(&self) -> bool {
        matches!(
            self.object,
            Object::Key(_) | Object::StoryboardSprite | Object::StoryboardCues
        )
    }

    /// The path of an AES-128 key.
    pub fn key(kid: Kid) -> ObjectPath {
        ObjectPath::new(Copy::Clear, Object::Key(kid))
    }

    /// The object `object` beside this one: same copy and segment length.
    pub fn sibling(&self, object: Object) -> ObjectPath {
        ObjectPath {
            copy: self.copy,
            length: self.length,
            object,
        }
    }

    /// Reads a path relative to a presentation's root (no leading `/`, no query).
    pub fn parse(path: &str) -> Result<ObjectPath, PathError> {
        let bad = || PathError::NoSuchObject(path.chars().take(80).collect());
        if path.len() > MAX_PATH_LEN {
            return Err(bad());
        }
        let mut parts: Vec<&str> = path.split('/').collect();
        if parts.len() == 2 && parts[0] == KEYS_FOLDER {
            return Kid::from_hex(parts[1])
                // Lowercase only: one spelling per key, so one cache entry per key.
                .ok()
                .filter(|k| k.to_hex() == parts[1])
                .map(ObjectPath::key)
                .ok_or_else(bad);
        }
        let mut copy = Copy::Clear;
        if let Some(c) = parts.first().and_then(|p| Copy::from_folder(p)) {
            if parts.len() > 1 {
                copy = c;
                parts.remove(0);
            }
        }
        let mut length = SegmentLength::Template;
        if parts.len() > 1 && is_length_folder(parts[0]) {
            let digits = &parts[0][1..];
            let n: u32 = digits.parse().map_err(|_| bad())?;
            if digits.starts_with('0') || !REQUESTED_SEGMENT_SECONDS.contains(&n) {
                return Err(bad());
            }
            length = SegmentLength::Seconds(n);
            parts.remove(0);
        }
        let root = copy == Copy::Clear && length == SegmentLength::Template;
        let object = match parts.as_slice() {
            ["storyboard.jpg"] if root => Object::StoryboardSprite,
            ["storyboard.vtt"] if root => Object::StoryboardCues,
            ["master.m3u8"] => Object::MultivariantPlaylist,
            ["manifest.mpd"] => Object::Mpd,
            [name, file] => {
                let name = RenditionName::new(name).map_err(|_| bad())?;
                match *file {
                    "index.m3u8" => Object::MediaPlaylist(name),
                    "iframes.m3u8" => Object::IFramePlaylist(name),
                    "init.mp4" => Object::InitSegment(name),
                    "all.vtt" => Object::TextFile(name),
                    other => {
                        let (digits, text) = match other.strip_suffix(".m4s") {
                            Some(d) => (d, false),
                            None => (other.strip_suffix(".vtt").ok_or_else(bad)?, true),
                        };
                        if digits.is_empty()
                            || digits.starts_with('0')
                            || !digits.bytes().all(|b| b.is_ascii_digit())
                        {
                            return Err(bad());
                        }
                        let number: u32 = digits.parse().map_err(|_| bad())?;
                        let index = number as usize - 1;
                        if text {
                            Object::TextSegment(name, index)
                        } else {
                            Object::MediaSegment(name, index)
                        }
                    }
                }
            }
            _ => return Err(bad()),
        };
        Ok(ObjectPath {
            copy,
            length,
            object,
        })
    }

    /// The URI that names this object from a document at `base` (RFC 3986, 5.2: a
    /// relative reference resolved against the base's path), as manifests write them.
    pub fn relative_to(&self, base: &ObjectPath) -> String {
        let target = self.to_string();
        let base = base.to_string();
        let target: Vec<&str> = target.split('/').collect();
        let base_dirs: Vec<&str> = {
            let mut b: Vec<&str> = base.split('/').collect();
            b.pop();
            b
        };
        let target_dirs = &target[..target.len() - 1];
        let common = base_dirs
            .iter()
            .zip(target_dirs)
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = "../".repeat(base_dirs.len() - common);
        out.push_str(&target[common..].join("/"));
        out
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Object::Key(kid) => return write!(f, "{KEYS_FOLDER}/{}", kid.to_hex()),
            Object::StoryboardSprite => return f.write_str("storyboard.jpg"),
            Object::StoryboardCues => return f.write_str("storyboard.vtt"),
            _ => {}
        }
        if self.copy != Copy::Clear {
            write!(f, "{}/", self.copy.folder())?;
        }
        if let SegmentLength::Seconds(n) = self.length {
            write!(f, "s{n}/")?;
        }
        match &self.object {
            Object::MultivariantPlaylist => f.write_str("master.m3u8"),
            Object::Mpd => f.write_str("manifest.mpd"),
            Object::MediaPlaylist(n) => write!(f, "{n}/index.m3u8"),
            Object::IFramePlaylist(n) => write!(f, "{n}/iframes.m3u8"),
            Object::InitSegment(n) => write!(f, "{n}/init.mp4"),
            Object::MediaSegment(n, index) => write!(f, "{n}/{}.m4s", index.saturating_add(1)),
            Object::TextSegment(n, index) => write!(f, "{n}/{}.vtt", index.saturating_add(1)),
            Object::TextFile(n) => write!(f, "{n}/all.vtt"),
            Object::Key(_) | Object::StoryboardSprite | Object::StoryboardCues => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> RenditionName {
        RenditionName::new(s).unwrap()
    }

    fn every_kind() -> Vec<ObjectPath> {
        let mut out = Vec::new();
        for copy in Copy::ALL {
            for length in [
                SegmentLength::Template,
                SegmentLength::Seconds(1),
                SegmentLength::Seconds(30),
            ] {
                for object in [
                    Object::MultivariantPlaylist,
                    Object::Mpd,
                    Object::MediaPlaylist(name("720p")),
                    Object::IFramePlaylist(name("720p")),
                    Object::InitSegment(name("a.b-c_d")),
                    Object::MediaSegment(name("audio"), 0),
                    Object::MediaSegment(name("audio"), 4_000_000),
                    Object::TextSegment(name("subs-en"), 0),
                    Object::TextSegment(name("subs-en"), 99),
                    Object::TextFile(name("subs-en")),
                ] {
                    out.push(ObjectPath {
                        copy,
                        length,
                        object,
                    });
                }
            }
        }
        out.push(ObjectPath::key(Kid([0xa5; 16])));
        out.push(ObjectPath::new(Copy::Clear, Object::StoryboardSprite));
        out.push(ObjectPath::new(Copy::Clear, Object::StoryboardCues));
        out
    }

    #[test]
    fn every_path_round_trips() {
        for p in every_kind() {
            let text = p.to_string();
            assert_eq!(ObjectPath::parse(&text), Ok(p.clone()), "{text}");
            assert_eq!(ObjectPath::parse(&text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn spellings_match_the_layout() {
        let p = ObjectPath::parse("aes128/s6/720p/12.m4s").unwrap();
        assert_eq!(p.copy, Copy::Aes128);
        assert_eq!(p.length, SegmentLength::Seconds(6));
        assert_eq!(p.object, Object::MediaSegment(name("720p"), 11));
        assert_eq!(
            ObjectPath::parse("master.m3u8").unwrap(),
            ObjectPath::new(Copy::Clear, Object::MultivariantPlaylist)
        );
    }

    #[test]
    fn non_canonical_and_foreign_paths_are_refused() {
        for bad in [
            "",
            "/master.m3u8",
            "master.m3u8/",
            "720p/0.m4s",
            "720p/01.m4s",
            "720p/+1.m4s",
            "720p/1.mp4",
            "720p/4294967296.m4s",
            "subs/0.vtt",
            "subs/01.vtt",
            "subs/.vtt",
            "subs/All.vtt",
            "subs/all.vtt.vtt",
            "s0/master.m3u8",
            "s31/master.m3u8",
            "s06/master.m3u8",
            "cenc/cenc/master.m3u8",
            "s6/cenc/master.m3u8",
            "../720p/init.mp4",
            "720p/../init.mp4",
            "keys/ABABABABABABABABABABABABABABABAB",
            "keys/abab",
            "cenc/keys/abababababababababababababababab",
            "x/y/z.m4s",
            "manifest.mpd?x=1",
            "cenc/storyboard.jpg",
            "s6/storyboard.vtt",
            "720p/storyboard.jpg",
            "storyboard.png",
        ] {
            assert!(ObjectPath::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(ObjectPath::parse(&"a/".repeat(300)).is_err());
    }

    #[test]
    fn reserved_and_invalid_rendition_names() {
        for bad in [
            "", ".", "..", "keys", "cenc", "aes128", "s6", "s", "a/b", "é",
        ] {
            if bad == "s" {
                assert!(RenditionName::new(bad).is_ok());
                continue;
            }
            assert!(RenditionName::new(bad).is_err(), "{bad:?}");
        }
        assert!(RenditionName::new(&"a".repeat(65)).is_err());
        assert!(RenditionName::new("1080p").is_ok());
    }

    #[test]
    fn references_resolve_from_their_manifest() {
        let playlist = ObjectPath::parse("aes128/s6/720p/index.m3u8").unwrap();
        let key = ObjectPath::key(Kid([0xab; 16]));
        assert_eq!(
            key.relative_to(&playlist),
            format!("../../../keys/{}", "ab".repeat(16))
        );
        let root_playlist = ObjectPath::parse("aes128/720p/index.m3u8").unwrap();
        assert_eq!(
            key.relative_to(&root_playlist),
            format!("../../keys/{}", "ab".repeat(16))
        );
        let seg = playlist.sibling(Object::MediaSegment(name("720p"), 2));
        assert_eq!(seg.relative_to(&playlist), "3.m4s");
        let master = playlist.sibling(Object::MultivariantPlaylist);
        assert_eq!(playlist.relative_to(&master), "720p/index.m3u8");
        let clear = ObjectPath::parse("master.m3u8").unwrap();
        let clear_media = ObjectPath::parse("720p/index.m3u8").unwrap();
        assert_eq!(clear_media.relative_to(&clear), "720p/index.m3u8");
        let sprite = ObjectPath::new(Copy::Clear, Object::StoryboardSprite);
        let mpd = ObjectPath::parse("cbcs/s4/manifest.mpd").unwrap();
        assert_eq!(sprite.relative_to(&mpd), "../../storyboard.jpg");
    }
}
