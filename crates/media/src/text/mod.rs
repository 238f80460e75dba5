//! Timed text: subtitles and captions.
//!
//! Sidecar files arrive as WebVTT (W3C WebVTT) or SubRip; both are read into [`Cue`]s
//! ([`parse`]), and every output is WebVTT: whole (`NAME/all.vtt`, which DASH names) or
//! cut on the presentation's segments (`NAME/K.vtt`, which HLS lists, RFC 8216bis 3.1.4).
//! Nothing here opens a file: callers hand over bytes, bounded by [`MAX_TEXT_BYTES`].

mod srt;
mod vtt;

pub use vtt::write_segment;

use crate::Language;

/// The largest subtitle file read: a feature film's subtitles are a few hundred KB.
pub const MAX_TEXT_BYTES: usize = 4 << 20;
/// The largest WebVTT file read back that openvod wrote itself (a stored track, or
/// ffmpeg's conversion of a source's text stream): escaping (`&` as `&amp;`) and full
/// timestamps make a file written from [`MAX_TEXT_BYTES`] of input longer than that.
pub const MAX_WRITTEN_TEXT_BYTES: usize = 6 * MAX_TEXT_BYTES;
/// The most cues one file may hold.
pub const MAX_CUES: usize = 100_000;
/// The most text tracks one presentation carries.
pub const MAX_TEXT_TRACKS: usize = 32;
/// The latest time a cue may have (a cue past 100 hours is a mistake, not a film).
const MAX_MS: u64 = 100 * 3600 * 1000;

/// One cue: text shown from `start_ms` to `end_ms` of the presentation timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    /// WebVTT cue settings (`line:10% align:start`), as given; empty for SubRip.
    pub settings: String,
    /// The cue payload as WebVTT text: `&`, `<` and `>` escaped, `<i>`, `<b>` and `<u>`
    /// kept.
    pub text: String,
}

/// The format of a subtitle file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    WebVtt,
    SubRip,
}

impl TextFormat {
    /// The format a file name's extension says (`.vtt`, `.srt`).
    pub fn from_extension(name: &str) -> Option<TextFormat> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "vtt" | "webvtt" => Some(TextFormat::WebVtt),
            "srt" => Some(TextFormat::SubRip),
            _ => None,
        }
    }
}

/// What the text is for (RFC 8216bis 4.4.6.1: captions transcribe dialogue and sounds
/// for viewers who cannot hear them; subtitles translate dialogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    #[default]
    Subtitles,
    Captions,
}

/// A subtitle or caption track of a presentation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TextTrackInfo {
    pub language: Option<Language>,
    #[serde(default)]
    pub kind: TextKind,
    /// Shown even to viewers who chose no subtitles (foreign dialogue in a film):
    /// HLS `FORCED=YES`, DASH role `forced-subtitle`.
    #[serde(default)]
    pub forced: bool,
}

impl TextTrackInfo {
    /// A free rendition name for this track: `subs-en`, `cc-en`, `subs-fr-forced`, or
    /// `subs-und` without a language; numbered where `taken` has it.
    pub fn track_name(&self, taken: &[String]) -> String {
        let kind = match self.kind {
            TextKind::Subtitles => "subs",
            TextKind::Captions => "cc",
        };
        let language = self
            .language
            .map_or_else(|| "und".to_string(), |l| l.bcp47().to_string());
        let forced = if self.forced { "-forced" } else { "" };
        let base = format!("{kind}-{language}{forced}");
        crate::path::first_free(&base, "-", |name| taken.iter().any(|t| t == name))
    }
}

/// A file that is not usable timed text, with the line (1-based) that shows why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct TextError {
    pub line: usize,
    pub reason: String,
}

impl TextError {
    fn at(line: usize, reason: impl Into<String>) -> TextError {
        TextError {
            line,
            reason: reason.into(),
        }
    }
}

/// Reads a subtitle file a user gave (up to [`MAX_TEXT_BYTES`]). The text must be UTF-8
/// (a byte-order mark is skipped); cues come out sorted by start time. An empty file,
/// or one without cues, is an error: a track with nothing to show is a mistake worth
/// hearing about.
pub fn parse(bytes: &[u8], format: TextFormat) -> Result<Vec<Cue>, TextError> {
    let cues = parse_bounded(bytes, format, MAX_TEXT_BYTES)?;
    if cues.is_empty() {
        return Err(TextError::at(1, "the file has no cues"));
    }
    Ok(cues)
}

/// Reads WebVTT that openvod wrote (up to [`MAX_WRITTEN_TEXT_BYTES`]); a file without
/// cues is an empty track, not an error.
pub fn parse_written(bytes: &[u8]) -> Result<Vec<Cue>, TextError> {
    parse_bounded(bytes, TextFormat::WebVtt, MAX_WRITTEN_TEXT_BYTES)
}

fn parse_bounded(bytes: &[u8], format: TextFormat, limit: usize) -> Result<Vec<Cue>, TextError> {
    if bytes.len() > limit {
        return Err(TextError::at(
            0,
            format!(
                "the file is {} bytes; subtitle files are at most {limit}",
                bytes.len()
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        TextError::at(line, "not UTF-8 text; save the file as UTF-8")
    })?;
    // CR LF, a lone CR and LF all end a line (W3C WebVTT, 4.1); the parsers see LF only.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut cues = match format {
        TextFormat::WebVtt => vtt::parse(&text)?,
        TextFormat::SubRip => srt::parse(&text)?,
    };
    cues.sort_by_key(|c| (c.start_ms, c.end_ms));
    Ok(cues)
}

/// Drops the cues that start at or after `end_ms` and cuts those that run past it;
/// returns how many were dropped.
pub fn clip_to(cues: &mut Vec<Cue>, end_ms: u64) -> usize {
    let before = cues.len();
    cues.retain(|c| c.start_ms < end_ms);
    for c in cues.iter_mut() {
        c.end_ms = c.end_ms.min(end_ms);
    }
    before - cues.len()
}

/// A `H:MM:SS.mmm`, `MM:SS.mmm` (WebVTT) or `HH:MM:SS,mmm` (SubRip) time, in ms.
fn timestamp(s: &str, line: usize) -> Result<u64, TextError> {
    let bad = || {
        TextError::at(
            line,
            format!(
                "{:?} is not a time (HH:MM:SS.mmm)",
                s.chars().take(40).collect::<String>()
            ),
        )
    };
    let (clock, frac) = s.split_once(['.', ',']).ok_or_else(bad)?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let field = |p: &str, max: u64| -> Result<u64, TextError> {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let v: u64 = p.parse().map_err(|_| bad())?;
        (v <= max).then_some(v).ok_or_else(bad)
    };
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => (0, field(m, 59)?, field(s, 59)?),
        [h, m, s] => (field(h, 999)?, field(m, 59)?, field(s, 59)?),
        _ => return Err(bad()),
    };
    let ms = ((h * 60 + m) * 60 + sec) * 1000 + frac.parse::<u64>().map_err(|_| bad())?;
    if ms > MAX_MS {
        return Err(TextError::at(line, "a cue past 100 hours"));
    }
    Ok(ms)
}

/// A timing line, `START --> END[ settings]`: the times and the settings.
fn timing(line_text: &str, line: usize) -> Result<(u64, u64, String), TextError> {
    let (start, rest) = line_text
        .split_once("-->")
        .ok_or_else(|| TextError::at(line, "expected a timing line (START --> END)"))?;
    let rest = rest.trim_start();
    let (end, settings) = match rest.find([' ', '\t']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest.trim_end(), ""),
    };
    let (start, end) = (timestamp(start.trim(), line)?, timestamp(end, line)?);
    if end < start {
        return Err(TextError::at(line, "the cue ends before it starts"));
    }
    Ok((start, end, settings.to_string()))
}

/// Writes `ms` as a WebVTT timestamp, `HH:MM:SS.mmm`.
fn write_time(out: &mut String, ms: u64) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    );
}

#[cfg(test)]
mod tests;
