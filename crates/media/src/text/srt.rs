//! SubRip (`.srt`): numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text lines, a blank
//! line. Its text is HTML-like: `<i>`, `<b>` and `<u>` carry over to WebVTT, other tags
//! (`<font>`) and ASS overrides (`{\an8}`) are dropped, and anything else is escaped.

use super::{timing, Cue, TextError, MAX_CUES};

pub(super) fn parse(text: &str) -> Result<Vec<Cue>, TextError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).peekable();
    let mut cues = Vec::new();
    loop {
        while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.next();
        }
        let Some((n, first)) = lines.next() else {
            break;
        };
        // The counter is optional in practice (some writers leave it out).
        let (n, timing_line) = if first.contains("-->") {
            (n, first)
        } else if first.trim().bytes().all(|b| b.is_ascii_digit()) {
            lines
                .next()
                .filter(|(_, l)| l.contains("-->"))
                .ok_or_else(|| TextError::at(n + 1, "expected a timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm) after the cue number"))?
        } else {
            return Err(TextError::at(
                n,
                "expected a cue number or a timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm)",
            ));
        };
        // SubRip's position hints (X1:.. Y1:..) after the end time have no WebVTT form.
        let (start_ms, end_ms, _) = timing(timing_line, n)?;
        let mut payload: Vec<String> = Vec::new();
        while let Some((_, l)) = lines.next_if(|(_, l)| !l.trim().is_empty()) {
            // A line that was all tags (`<font>`) is left out, not kept blank: a blank
            // line would end the cue in WebVTT.
            let text = webvtt_text(l);
            if !text.trim().is_empty() {
                payload.push(text);
            }
        }
        if cues.len() == MAX_CUES {
            return Err(TextError::at(n, format!("more than {MAX_CUES} cues")));
        }
        cues.push(Cue {
            start_ms,
            end_ms,
            settings: String::new(),
            text: payload.join("\n"),
        });
    }
    Ok(cues)
}

/// The longest tag or override read as one (`<font color="...">`); a bracket with no
/// close within it is text. The bound keeps each step of [`webvtt_text`] short, so a
/// hostile line costs time in proportion to its length.
const MAX_TAG: usize = 256;

/// One line of SubRip text as WebVTT cue text.
fn webvtt_text(line: &str) -> String {
    const KEPT: [&str; 6] = ["<i>", "</i>", "<b>", "</b>", "<u>", "</u>"];
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let bytes = rest.as_bytes();
        if let Some(tag) = KEPT
            .iter()
            .find(|t| bytes.len() >= t.len() && bytes[..t.len()].eq_ignore_ascii_case(t.as_bytes()))
        {
            out.push_str(tag);
            rest = &rest[tag.len()..];
            continue;
        }
        // A tag (`<font ...>`, `</font>`) or an override (`{\an8}`) is dropped whole.
        let opens = match c {
            '<' => bytes
                .get(1)
                .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'/'),
            '{' => bytes.get(1) == Some(&b'\\'),
            _ => false,
        };
        let close = if c == '<' { b'>' } else { b'}' };
        let end = opens
            .then(|| bytes.iter().take(MAX_TAG).position(|&b| b == close))
            .flatten();
        if let Some(end) = end {
            rest = &rest[end + 1..];
            continue;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}
