//! WebVTT (W3C WebVTT: The Web Video Text Tracks Format): reading cues, and writing a
//! file or a segment of one.

use super::{timing, write_time, Cue, TextError, MAX_CUES};

/// Reads the cues of a WebVTT file (section 4.1 of the W3C format). `NOTE`, `STYLE` and
/// `REGION` blocks are skipped; a cue's identifier is dropped (nothing here refers to
/// it).
pub(super) fn parse(text: &str) -> Result<Vec<Cue>, TextError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).peekable();
    match lines.next() {
        Some((_, first))
            if first == "WEBVTT"
                || first.starts_with("WEBVTT ")
                || first.starts_with("WEBVTT\t") => {}
        _ => return Err(TextError::at(1, "a WebVTT file starts with \"WEBVTT\"")),
    }
    // The header runs to the first blank line, or to a timing line that follows it
    // without one (the W3C parser takes that line as the first cue's).
    while lines
        .next_if(|(_, l)| !l.trim().is_empty() && !l.contains("-->"))
        .is_some()
    {}
    let mut cues = Vec::new();
    loop {
        while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.next();
        }
        let Some((n, first)) = lines.next() else {
            break;
        };
        let block_kind = first.split([' ', '\t']).next().unwrap_or("");
        if !first.contains("-->") && ["NOTE", "STYLE", "REGION"].contains(&block_kind) {
            while lines.next_if(|(_, l)| !l.trim().is_empty()).is_some() {}
            continue;
        }
        // An identifier line, then the timing line.
        let (n, timing_line) = if first.contains("-->") {
            (n, first)
        } else {
            lines
                .next()
                .filter(|(_, l)| l.contains("-->"))
                .ok_or_else(|| {
                    TextError::at(
                        n + 1,
                        "expected a timing line (START --> END) after the cue identifier",
                    )
                })?
        };
        let (start_ms, end_ms, settings) = timing(timing_line, n)?;
        let mut payload: Vec<&str> = Vec::new();
        while let Some((m, l)) = lines.next_if(|(_, l)| !l.trim().is_empty()) {
            if l.contains("-->") {
                return Err(TextError::at(m, "a cue's text holds \"-->\"; a blank line must end the cue before the next timing line"));
            }
            payload.push(l);
        }
        if cues.len() == MAX_CUES {
            return Err(TextError::at(n, format!("more than {MAX_CUES} cues")));
        }
        cues.push(Cue {
            start_ms,
            end_ms,
            settings,
            text: payload.join("\n"),
        });
    }
    Ok(cues)
}

/// A WebVTT file of the cues that show between `from_ms` and `to_ms` (a cue that spans
/// the boundary of two segments is in both, as RFC 8216bis 3.1.4 expects), its times
/// on the presentation timeline. `mpegts` is the `X-TIMESTAMP-MAP` that ties the text
/// to the media (RFC 8216bis 3.1.4): the 90 kHz media time of the instant WebVTT calls
/// zero; `None` writes none (a whole file for DASH, which places text by its own
/// times).
pub fn write_segment(cues: &[Cue], from_ms: u64, to_ms: u64, mpegts: Option<u64>) -> String {
    let mut out = String::from("WEBVTT\n");
    if let Some(ts) = mpegts {
        out.push_str(&format!("X-TIMESTAMP-MAP=MPEGTS:{ts},LOCAL:00:00:00.000\n"));
    }
    out.push('\n');
    // A cue of no length shows at its start: it belongs where its start falls.
    for c in cues
        .iter()
        .filter(|c| c.start_ms < to_ms && (c.end_ms > from_ms || c.start_ms >= from_ms))
    {
        write_time(&mut out, c.start_ms);
        out.push_str(" --> ");
        write_time(&mut out, c.end_ms);
        if !c.settings.is_empty() {
            out.push(' ');
            out.push_str(&c.settings);
        }
        out.push('\n');
        out.push_str(&c.text);
        out.push_str("\n\n");
    }
    out
}
