//! HLS playlists (RFC 8216bis, protocol version 7): multivariant ("master") playlists,
//! media playlists over CMAF segments, and I-frame playlists with byte ranges.

use std::fmt::Write;

/// One entry of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistEntry {
    pub uri: String,
    pub duration: f64,
    /// `(length, offset)` for `EXT-X-BYTERANGE`.
    pub byte_range: Option<(u64, u64)>,
}

/// A VOD media playlist (4.4.3): every segment is listed, and it ends with `EXT-X-ENDLIST`.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// `EXT-X-MAP` (fMP4 segments); `None` for WebVTT segments, which have none.
    pub init_uri: Option<String>,
    pub entries: Vec<PlaylistEntry>,
    /// An I-frame playlist (4.4.3.6) rather than a playlist of whole segments.
    pub iframes_only: bool,
    /// `EXT-X-KEY` tags (whole lines), written after `EXT-X-MAP` so that the init
    /// segment stays clear (RFC 8216bis, 4.4.4.4-4.4.4.5).
    pub keys: Vec<String>,
}

impl MediaPlaylist {
    /// `EXT-X-TARGETDURATION`: every `EXTINF` rounded to the nearest integer must not
    /// exceed it (4.4.3.1).
    pub fn target_duration(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| e.duration.round() as u64)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    pub fn render(&self) -> String {
        let mut s = String::with_capacity(64 + self.entries.len() * 40);
        s.push_str("#EXTM3U\n#EXT-X-VERSION:7\n");
        let _ = writeln!(s, "#EXT-X-TARGETDURATION:{}", self.target_duration());
        s.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n");
        if self.iframes_only {
            s.push_str("#EXT-X-I-FRAMES-ONLY\n");
        } else {
            s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        if let Some(init) = &self.init_uri {
            let _ = writeln!(s, "#EXT-X-MAP:URI=\"{init}\"");
        }
        for k in &self.keys {
            s.push_str(k);
            s.push('\n');
        }
        for e in &self.entries {
            let _ = writeln!(s, "#EXTINF:{:.5},", e.duration);
            if let Some((len, offset)) = e.byte_range {
                let _ = writeln!(s, "#EXT-X-BYTERANGE:{len}@{offset}");
            }
            s.push_str(&e.uri);
            s.push('\n');
        }
        s.push_str("#EXT-X-ENDLIST\n");
        s
    }
}

/// An audio rendition in an `EXT-X-MEDIA` group (4.4.6.1).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub channels: Option<u16>,
    pub default: bool,
    /// `AUTOSELECT`: NO on a rendition whose language another one of its group already
    /// offers (a 5.1 beside stereo, a commentary), since renditions a player may choose
    /// on its own must differ in language or characteristics (4.4.6.1.1).
    pub autoselect: bool,
    pub uri: String,
}

/// A subtitle rendition in an `EXT-X-MEDIA` group (4.4.6.1).
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleRendition {
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub default: bool,
    pub forced: bool,
    /// `CHARACTERISTICS` (4.4.6.1.1): captions say that they transcribe dialogue and
    /// describe sounds.
    pub characteristics: Option<&'static str>,
    pub uri: String,
}

/// A variant stream (4.4.6.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub uri: String,
    /// Peak segment bit rate of the variant, audio included.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub audio_group: Option<String>,
    pub subtitles_group: Option<String>,
    /// The `CLOSED-CAPTIONS` group of a video variant whose picture carries CEA-608
    /// captions; `None`: `CLOSED-CAPTIONS=NONE` (4.4.6.2).
    pub closed_captions_group: Option<String>,
}

/// An I-frame variant (4.4.6.3).
#[derive(Debug, Clone, PartialEq)]
pub struct IFrameVariant {
    pub uri: String,
    pub bandwidth: u64,
    pub codecs: String,
    pub resolution: (u32, u32),
}

/// The multivariant playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultivariantPlaylist {
    pub audio: Vec<AudioRendition>,
    pub subtitles: Vec<SubtitleRendition>,
    pub variants: Vec<Variant>,
    pub iframe_variants: Vec<IFrameVariant>,
    /// `EXT-X-SESSION-KEY` tags (whole lines, RFC 8216bis 4.4.6.5), so that a player can
    /// start fetching licences before it loads a media playlist.
    pub session_keys: Vec<String>,
    /// The group of CEA-608 captions carried in the video (channel 1), when any variant
    /// carries them: one `EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS` with `INSTREAM-ID="CC1"` and
    /// no URI (4.4.6.1).
    pub closed_captions_group: Option<String>,
}

impl MultivariantPlaylist {
    pub fn render(&self) -> String {
        let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for k in &self.session_keys {
            s.push_str(k);
            s.push('\n');
        }
        for a in &self.audio {
            let _ = write!(
                s,
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\",NAME=\"{}\"",
                a.group_id, a.name
            );
            if let Some(lang) = &a.language {
                let _ = write!(s, ",LANGUAGE=\"{lang}\"");
            }
            let yes_no = |b: bool| if b { "YES" } else { "NO" };
            let _ = write!(
                s,
                ",DEFAULT={},AUTOSELECT={}",
                yes_no(a.default),
                yes_no(a.autoselect || a.default)
            );
            if let Some(ch) = a.channels {
                let _ = write!(s, ",CHANNELS=\"{ch}\"");
            }
            let _ = writeln!(s, ",URI=\"{}\"", a.uri);
        }
        for t in &self.subtitles {
            let _ = write!(
                s,
                "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{}\",NAME=\"{}\"",
                t.group_id, t.name
            );
            if let Some(lang) = &t.language {
                let _ = write!(s, ",LANGUAGE=\"{lang}\"");
            }
            let yes_no = |b: bool| if b { "YES" } else { "NO" };
            // AUTOSELECT must be YES where FORCED is (4.4.6.1.1).
            let _ = write!(
                s,
                ",DEFAULT={},AUTOSELECT=YES,FORCED={}",
                yes_no(t.default),
                yes_no(t.forced)
            );
            if let Some(c) = t.characteristics {
                let _ = write!(s, ",CHARACTERISTICS=\"{c}\"");
            }
            let _ = writeln!(s, ",URI=\"{}\"", t.uri);
        }
        if let Some(g) = &self.closed_captions_group {
            let _ = writeln!(
                s,
                "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"{g}\",NAME=\"Captions\",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"CC1\""
            );
        }
        for v in &self.variants {
            let _ = write!(
                s,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
                v.bandwidth,
                v.average_bandwidth,
                v.codecs.join(",")
            );
            if let Some((w, h)) = v.resolution {
                let _ = write!(s, ",RESOLUTION={w}x{h}");
            }
            if let Some(fps) = v.frame_rate {
                let _ = write!(s, ",FRAME-RATE={fps:.3}");
            }
            if let Some(g) = &v.audio_group {
                let _ = write!(s, ",AUDIO=\"{g}\"");
            }
            if let Some(g) = &v.subtitles_group {
                let _ = write!(s, ",SUBTITLES=\"{g}\"");
            }
            match (&v.closed_captions_group, v.resolution) {
                (Some(g), _) => {
                    let _ = write!(s, ",CLOSED-CAPTIONS=\"{g}\"");
                }
                (None, Some(_)) => s.push_str(",CLOSED-CAPTIONS=NONE"),
                (None, None) => {}
            }
            s.push('\n');
            s.push_str(&v.uri);
            s.push('\n');
        }
        for v in &self.iframe_variants {
            let _ = writeln!(
                s,
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{},URI=\"{}\"",
                v.bandwidth, v.codecs, v.resolution.0, v.resolution.1, v.uri
            );
        }
        s
    }
}

/// Peak segment bit rate (4.4.6.2): the largest bit rate of any contiguous run of
/// segments whose total duration is between 0.5 and 1.5 times the target duration.
/// `segments` are `(bytes, seconds)`.
pub fn peak_bit_rate(segments: &[(u64, f64)], target_duration: f64) -> u64 {
    let mut peak = 0f64;
    for i in 0..segments.len() {
        let (mut bytes, mut secs) = (0u64, 0f64);
        for &(b, d) in &segments[i..] {
            bytes += b;
            secs += d;
            if secs > 1.5 * target_duration {
                break;
            }
            if secs >= 0.5 * target_duration && secs > 0.0 {
                peak = peak.max(bytes as f64 * 8.0 / secs);
            }
        }
    }
    if peak == 0.0 {
        // Every segment shorter than half the target (a very short asset): the whole.
        peak = average_bit_rate(segments) as f64;
    }
    peak.ceil() as u64
}

/// Average bit rate over all segments.
pub fn average_bit_rate(segments: &[(u64, f64)]) -> u64 {
    let bytes: u64 = segments.iter().map(|s| s.0).sum();
    let secs: f64 = segments.iter().map(|s| s.1).sum();
    if secs > 0.0 {
        (bytes as f64 * 8.0 / secs).ceil() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_duration_rounds_each_extinf() {
        let p = MediaPlaylist {
            init_uri: Some("init.mp4".into()),
            entries: vec![
                PlaylistEntry {
                    uri: "1.m4s".into(),
                    duration: 4.004,
                    byte_range: None,
                },
                PlaylistEntry {
                    uri: "2.m4s".into(),
                    duration: 4.6,
                    byte_range: None,
                },
            ],
            iframes_only: false,
            keys: Vec::new(),
        };
        assert_eq!(p.target_duration(), 5);
        let text = p.render();
        assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\"\n"));
        assert!(text.ends_with("2.m4s\n#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn peak_uses_windows_around_the_target() {
        // A 1 MB spike in one 4 s segment among 100 kB ones.
        let segs = [(100_000, 4.0), (1_000_000, 4.0), (100_000, 4.0)];
        assert_eq!(peak_bit_rate(&segs, 4.0), 2_000_000);
        assert_eq!(average_bit_rate(&segs), 800_000);
    }
}
