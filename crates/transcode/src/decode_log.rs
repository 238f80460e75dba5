//! What ffmpeg's log says about decoding the source: error messages per source stream,
//! packets read and frames decoded.
//!
//! ffmpeg exits 0 when a decoder gives up on a stream part-way (it only fails when more
//! than two thirds of all decode calls fail, audio included), so its log is read line by
//! line while it runs. The encode runs with `-loglevel repeat+level+verbose`: `level` tags
//! every line with its severity (`[error]`), `repeat` prints repeated lines instead of
//! "Last message repeated N times", and `verbose` adds the two sections read here:
//!
//! ```text
//! [info]   Stream #0:0 (h264) -> fps:default (graph 0)            decoder of stream 0
//! [info]   Stream #0:1 -> #4:0 (mp3 (mp3float) -> aac (native))   decoder of stream 1
//! [h264 @ 0x55d4169a0d40] [error] no frame!                       an error of stream 0
//! [error] Error while decoding stream #0:0: Invalid data found    an error of stream 0
//! [verbose]   Input stream #0:0 (video): 129 packets read (458120 bytes); 100 frames decoded;
//! ```
//!
//! Decoder and parser errors logged before the stream mapping come from ffmpeg probing
//! the input (`avformat_find_stream_info` decodes the first frames, which are decoded
//! again later) and are not counted. The demuxer's are counted once ffmpeg has named it
//! ("Input #0, mpegts, from ..."): it reads each packet once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest message kept (ffmpeg's own lines are far shorter).
const MESSAGE_KEEP: usize = 300;
/// Most source streams tracked; a file with more is still read, its extra streams are
/// not encoded anyway.
const STREAMS_KEEP: usize = 64;

/// Error messages of one kind: how many, and the first (with its position in the log).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorTally {
    pub count: u64,
    first: Option<(u64, String)>,
}

impl ErrorTally {
    /// Adds `later`'s messages, whose positions follow this tally's log by `shift` lines.
    fn merge(&mut self, later: ErrorTally, shift: u64) {
        self.count += later.count;
        if self.first.is_none() {
            self.first = later.first.map(|(seq, m)| (seq + shift, m));
        }
    }

    fn add(&mut self, seq: u64, message: &str) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((seq, message.chars().take(MESSAGE_KEEP).collect()));
        }
    }

    /// The first message.
    pub fn first(&self) -> Option<&str> {
        self.first.as_ref().map(|(_, m)| m.as_str())
    }
}

/// What the log says about one source stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamLog {
    /// From ffmpeg's final statistics; `None` when it did not print them.
    pub packets_read: Option<u64>,
    pub frames_decoded: Option<u64>,
    /// Messages of the stream's decoder at level error or worse, and ffmpeg's own
    /// "Error while decoding stream #0:N" (a packet the decoder refused).
    pub errors: ErrorTally,
}

/// What the log of one encode says about decoding its source.
/// Serialized so that the parts of a chunked encode, run by several workers, can hand
/// theirs to the join, which [merges](DecodeLog::merge) them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeLog {
    /// The input's demuxer, as ffmpeg names its log lines ("mov,mp4,m4a,3gp,3g2,mj2").
    demuxer: Option<String>,
    /// Decoder name by source stream index, from the stream mapping.
    decoders: Vec<(u32, String)>,
    /// Whether the stream mapping was printed (decoding proper has begun).
    decoding: bool,
    streams: BTreeMap<u32, StreamLog>,
    /// Errors of the demuxer and of bitstream parsers (logged as "NULL"): damage not
    /// tied to one stream.
    container: ErrorTally,
    /// The last message at level error or worse, from anything (for failure messages).
    last_error: Option<String>,
    /// The input's format, when the demuxer allow-list refused it.
    refused_format: Option<String>,
    lines: u64,
}

/// A log line split into its parts.
struct Line<'a> {
    /// The log context's name ("h264", "mpegts", "libx264"); `None` for ffmpeg itself.
    context: Option<&'a str>,
    error: bool,
    message: &'a str,
}

fn split(line: &str) -> Line<'_> {
    let mut rest = line;
    let mut context = None;
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((head, tail)) = inner.split_once("] ") {
            if let Some((name, _address)) = head.split_once(" @ ") {
                context = Some(name);
                rest = tail;
            }
        }
    }
    let mut error = false;
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((level, tail)) = inner.split_once("] ") {
            if matches!(
                level,
                "panic" | "fatal" | "error" | "warning" | "info" | "verbose" | "debug" | "trace"
            ) {
                error = matches!(level, "panic" | "fatal" | "error");
                rest = tail;
            }
        }
    }
    Line {
        context,
        error,
        message: rest,
    }
}

/// Leading decimal digits of `s` as a number, and what follows them.
fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

impl DecodeLog {
    /// Takes one line of ffmpeg's log (without its line break).
    pub fn record(&mut self, line: &str) {
        self.lines += 1;
        let seq = self.lines;
        let Line {
            context,
            error,
            message,
        } = split(line);
        let text = message.trim();
        if context.is_none() && !error {
            self.record_info(text);
            return;
        }
        if !error {
            return;
        }
        self.last_error = Some(text.chars().take(MESSAGE_KEEP).collect());
        match context {
            None => {
                if let Some(rest) = text.strip_prefix("Error while decoding stream #0:") {
                    if let Some((index, reason)) = number(rest) {
                        let reason = reason.trim_start_matches(':').trim();
                        if let Some(s) = self.stream_mut(index as u32) {
                            s.errors.add(seq, reason);
                        }
                    }
                }
            }
            Some(name) => {
                if text.starts_with(crate::source::REFUSED_MESSAGE) {
                    self.refused_format = Some(name.chars().take(MESSAGE_KEEP).collect());
                } else if Some(name) == self.demuxer.as_deref() {
                    self.container.add(seq, text);
                } else if !self.decoding {
                    // Decoding during ffmpeg's probe of the input: done again later.
                } else if name == "NULL" {
                    self.container.add(seq, text);
                } else {
                    let index = self
                        .decoders
                        .iter()
                        .find(|(_, decoder)| decoder == name)
                        .map(|(i, _)| *i);
                    if let Some(s) = index.and_then(|i| self.stream_mut(i)) {
                        s.errors.add(seq, text);
                    }
                }
            }
        }
    }

    fn stream_mut(&mut self, index: u32) -> Option<&mut StreamLog> {
        if self.streams.len() >= STREAMS_KEEP && !self.streams.contains_key(&index) {
            return None;
        }
        Some(self.streams.entry(index).or_default())
    }

    /// ffmpeg's own lines: the input's format, the stream mapping, the final statistics.
    fn record_info(&mut self, text: &str) {
        if let Some(rest) = text.strip_prefix("Input #0, ") {
            if let Some((format, _)) = rest.split_once(", from ") {
                self.demuxer = Some(format.chars().take(MESSAGE_KEEP).collect());
            }
        } else if text == "Stream mapping:" {
            self.decoding = true;
        } else if let Some(rest) = text.strip_prefix("Stream #0:") {
            // Mapping lines have an arrow; the input and output descriptions do not.
            if rest.contains(" -> ") {
                self.record_mapping(rest);
            }
        } else if let Some(rest) = text.strip_prefix("Input stream #0:") {
            self.record_statistics(rest);
        }
    }

    /// `0 (h264) -> fps:default (graph 0)` or `1 -> #4:0 (mp3 (mp3float) -> aac (native))`.
    fn record_mapping(&mut self, rest: &str) {
        if !self.decoding || self.decoders.len() >= STREAMS_KEEP {
            return;
        }
        let Some((index, rest)) = number(rest) else {
            return;
        };
        let decoder = if let Some(filtered) = rest.strip_prefix(" (") {
            filtered.split(')').next().map(str::to_string)
        } else if let Some((_, coding)) = rest.split_once(" (") {
            // "mp3 (mp3float) -> aac (native))": the codec, then the decoder, "native"
            // meaning ffmpeg's own decoder of the codec's name. "(copy)" decodes nothing.
            match coding.split_once(" (") {
                Some((codec, after)) => {
                    let decoder = after.split(')').next().unwrap_or("");
                    Some(if decoder == "native" { codec } else { decoder }.to_string())
                }
                None => None,
            }
        } else {
            None
        };
        if let Some(decoder) = decoder.filter(|d| !d.is_empty()) {
            self.decoders.push((index as u32, decoder));
        }
    }

    /// `0 (video): 129 packets read (458120 bytes); 100 frames decoded; `
    fn record_statistics(&mut self, rest: &str) {
        let Some((index, rest)) = number(rest) else {
            return;
        };
        let Some((_, counts)) = rest.split_once("): ") else {
            return;
        };
        let mut packets = None;
        let mut frames = None;
        for part in counts.split(';') {
            let part = part.trim();
            if let Some((n, tail)) = number(part) {
                if tail.starts_with(" packets read") {
                    packets = Some(n);
                } else if tail.starts_with(" frames decoded") {
                    frames = Some(n);
                }
            }
        }
        if let Some(s) = self.stream_mut(index as u32) {
            s.packets_read = packets;
            s.frames_decoded = frames;
        }
    }

    /// Adds the log of another run over a later part of the same source (a chunk of a
    /// chunked encode): error counts add up, first messages keep the earliest, and the
    /// final statistics add up where both runs printed them.
    pub fn merge(&mut self, later: DecodeLog) {
        let shift = self.lines;
        self.lines += later.lines;
        self.demuxer = self.demuxer.take().or(later.demuxer);
        for (index, decoder) in later.decoders {
            if self.decoders.len() < STREAMS_KEEP && !self.decoders.iter().any(|(i, _)| *i == index)
            {
                self.decoders.push((index, decoder));
            }
        }
        self.decoding |= later.decoding;
        for (index, stream) in later.streams {
            if self.streams.len() >= STREAMS_KEEP && !self.streams.contains_key(&index) {
                continue;
            }
            let own = self.streams.entry(index).or_default();
            let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            own.packets_read = add(own.packets_read, stream.packets_read);
            own.frames_decoded = add(own.frames_decoded, stream.frames_decoded);
            own.errors.merge(stream.errors, shift);
        }
        self.container.merge(later.container, shift);
        self.last_error = later.last_error.or(self.last_error.take());
        self.refused_format = self.refused_format.take().or(later.refused_format);
    }

    /// What the log says about source stream `index`.
    pub fn stream(&self, index: u32) -> Option<&StreamLog> {
        self.streams.get(&index)
    }

    /// Error messages about the source: every stream's and the container's.
    pub fn source_errors(&self) -> u64 {
        self.streams.values().map(|s| s.errors.count).sum::<u64>() + self.container.count
    }

    /// The first error about stream `index`, or about the container if that came first
    /// (a parser's message usually says more than the decoder's "no frame!").
    pub fn first_error_of(&self, index: u32) -> Option<&str> {
        let own = self
            .streams
            .get(&index)
            .and_then(|s| s.errors.first.as_ref());
        earliest([own, self.container.first.as_ref()])
    }

    /// The first error about the source, of any stream or the container.
    pub fn first_source_error(&self) -> Option<&str> {
        earliest(
            self.streams
                .values()
                .map(|s| s.errors.first.as_ref())
                .chain([self.container.first.as_ref()]),
        )
    }

    /// The last message at level error or worse.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The input's format, when the demuxer allow-list refused it.
    pub fn refused_format(&self) -> Option<&str> {
        self.refused_format.as_deref()
    }
}

fn earliest<'a>(firsts: impl IntoIterator<Item = Option<&'a (u64, String)>>) -> Option<&'a str> {
    firsts
        .into_iter()
        .flatten()
        .min_by_key(|(seq, _)| *seq)
        .map(|(_, m)| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[h264 @ 0x55d416972240] [error] no frame!
[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/tmp/bad.mp4':
[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p
[info] Stream mapping:
[info]   Stream #0:0 (h264) -> fps:default (graph 0)
[info]   split (graph 0) -> Stream #0:0 (libx264)
[info]   Stream #0:1 -> #1:0 (mp3 (mp3float) -> aac (native))
[info]   Stream #0:2 -> #2:0 (copy)
[NULL @ 0x55d416950000] [error] missing picture in access unit with size 2388
[h264 @ 0x55d416972240] [error] no frame!
[error] Error while decoding stream #0:0: Invalid data found when processing input
[mp3float @ 0x55d416972241] [error] Header missing
[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d416950001] [error] stream 1, offset 0x30: partial file
[libx264 @ 0x55d4169a0d40] [info] using SAR=1/1
[info]   Stream #0:0: Video: h264 (avc1 / 0x31637661), yuv420p(progressive, left), 128x96
[mp4 @ 0x55d4169a0d41] [error] muxing went wrong
[verbose] Input file #0 (file:/tmp/bad.mp4):
[verbose]   Input stream #0:0 (video): 120 packets read (458120 bytes); 1 frames decoded; 
[verbose]   Input stream #0:1 (audio): 189 packets read (48983 bytes); 188 frames decoded (192512 samples); 
";

    #[test]
    fn reads_errors_and_statistics_per_stream() {
        let mut log = DecodeLog::default();
        for line in LOG.lines() {
            log.record(line);
        }
        let video = log.stream(0).unwrap();
        // The "no frame!" before the stream mapping is ffmpeg probing the input.
        assert_eq!(video.errors.count, 2);
        assert_eq!(
            (video.packets_read, video.frames_decoded),
            (Some(120), Some(1))
        );
        assert_eq!(
            log.first_error_of(0),
            Some("missing picture in access unit with size 2388")
        );
        let audio = log.stream(1).unwrap();
        assert_eq!(audio.errors.count, 1);
        assert_eq!(audio.errors.first(), Some("Header missing"));
        assert_eq!(audio.frames_decoded, Some(188));
        // Two of the container (the parser's and the demuxer's), the muxer's is not the
        // source's.
        assert_eq!(log.source_errors(), 2 + 1 + 2);
        assert_eq!(log.last_error(), Some("muxing went wrong"));
        assert!(log.stream(2).is_none());
        assert_eq!(
            log.decoders,
            vec![(0, "h264".to_string()), (1, "mp3float".to_string())]
        );
    }

    #[test]
    fn the_logs_of_a_chunked_encode_merge_through_their_stored_form() {
        let read = |text: &str| {
            let mut log = DecodeLog::default();
            for line in text.lines() {
                log.record(line);
            }
            // As the encode parts store them and the join reads them back.
            serde_json::from_value::<DecodeLog>(serde_json::to_value(&log).unwrap()).unwrap()
        };
        let clean = read("[info] Stream mapping:\n[info]   Stream #0:0 (h264) -> fps:default (graph 0)\n[verbose]   Input stream #0:0 (video): 50 packets read (1000 bytes); 50 frames decoded; ");
        let mut whole = clean.clone();
        whole.merge(read(LOG));
        whole.merge(clean);
        assert_eq!(whole.source_errors(), 2 + 1 + 2);
        assert_eq!(whole.stream(0).unwrap().errors.count, 2);
        assert_eq!(
            (
                whole.stream(0).unwrap().packets_read,
                whole.stream(0).unwrap().frames_decoded
            ),
            (Some(220), Some(101))
        );
        assert_eq!(
            whole.first_error_of(0),
            Some("missing picture in access unit with size 2388")
        );
        assert_eq!(whole.last_error(), Some("muxing went wrong"));
    }

    #[test]
    fn a_clean_log_has_no_errors() {
        let mut log = DecodeLog::default();
        log.record("[info] Stream mapping:");
        log.record("[libx264 @ 0x1] [info] profile High, level 3.0");
        assert_eq!(log.source_errors(), 0);
        assert_eq!(log.first_source_error(), None);
        assert_eq!(log.last_error(), None);
    }
}
