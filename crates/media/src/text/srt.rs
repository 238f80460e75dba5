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
            payload.push(webvtt_text(l));
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

/// One line of SubRip text as WebVTT cue text.
fn webvtt_text(line: &str) -> String {
    const KEPT: [&str; 6] = ["<i>", "</i>", "<b>", "</b>", "<u>", "</u>"];
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let lower = rest.get(..4).unwrap_or(rest).to_ascii_lowercase();
        if let Some(tag) = KEPT.iter().find(|t| lower.starts_with(*t)) {
            out.push_str(tag);
            rest = &rest[tag.len()..];
            continue;
        }
        match c {
            '<' | '{' => {
                let close = if c == '<' { '>' } else { '}' };
                // A tag or an override is dropped whole; a lone bracket is text.
                match rest.find(close) {
                    Some(end)
                        if c == '<'
                            && rest[1..]
                                .starts_with(|x: char| x.is_ascii_alphabetic() || x == '/') =>
                    {
                        rest = &rest[end + 1..];
                    }
                    Some(end) if c == '{' && rest[1..].starts_with('\\') => rest = &rest[end + 1..],
                    _ => {
                        out.push_str(if c == '<' { "&lt;" } else { "{" });
                        rest = &rest[1..];
                    }
                }
            }
            '>' => {
                out.push_str("&gt;");
                rest = &rest[1..];
            }
            '&' => {
                out.push_str("&amp;");
                rest = &rest[1..];
            }
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}
