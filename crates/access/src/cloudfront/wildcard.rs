//! `Resource` wildcards of CloudFront custom policies.
//!
//! CloudFront documents two wildcard characters in a custom policy's `Resource`, usable
//! anywhere in the string: `*` matches zero or more characters (including `/` and `?`, so
//! `https://cdn.example.com/play/abc/*` covers every file below that folder with any query
//! string), and `?` matches exactly one character. There is no escape: a literal `?` of a
//! query string in `Resource` is itself a one-character wildcard that matches `?`.

/// Whether `text` matches the wildcard `pattern` as a whole.
///
/// Greedy matching with a single back-tracking point (the last `*` seen): when a later
/// character fails, the last `*` absorbs one more character and matching resumes. Earlier
/// stars never need to be revisited because the last one can absorb anything they could.
/// The worst case is proportional to `pattern.len() * text.len()`; both are bounded by the
/// callers (a pattern only comes from a policy whose signature verified, at most 4 KiB).
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let mut p = 0;
    let mut t = 0;
    // (index in pattern just after the last `*`, index in text that star's run ends at)
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                p += 1;
                last_star = Some((p, t));
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((after_star, run_end)) => {
                    p = after_star;
                    t = run_end + 1;
                    last_star = Some((after_star, run_end + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Whether the pattern contains a wildcard character, i.e. whether it can cover more
/// than one URL.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(matches("https://h/play/a/*", "https://h/play/a/"));
        assert!(matches(
            "https://h/play/a/*",
            "https://h/play/a/v1/seg-1.m4s?x=1"
        ));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(matches("https://h/*.m3u8", "https://h/a/b/c.m3u8"));
        assert!(!matches("https://h/*.m3u8", "https://h/a/b/c.m3u8x"));
        assert!(!matches("https://h/play/a/*", "https://h/play/ab/seg.m4s"));
        assert!(!matches("https://h/play/a/*", "https://h/play/a"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(matches("https://h/seg-?.m4s", "https://h/seg-1.m4s"));
        assert!(!matches("https://h/seg-?.m4s", "https://h/seg-.m4s"));
        assert!(!matches("https://h/seg-?.m4s", "https://h/seg-12.m4s"));
        assert!(matches("https://h/seg-??.m4s", "https://h/seg-12.m4s"));
        assert!(matches("https://h/a.m3u8?v=?", "https://h/a.m3u8?v=2"));
        assert!(matches("é?", "éü"));
    }

    #[test]
    fn literal_pattern_needs_equality() {
        assert!(matches("https://h/a", "https://h/a"));
        assert!(!matches("https://h/a", "https://h/a/"));
        assert!(!matches("https://h/a", "https://h/A"));
        assert!(!matches("", "x"));
    }

    #[test]
    fn backtracks_past_partial_matches() {
        assert!(matches("*aab", "aaab"));
        assert!(matches("a*ab*b", "aXabYab"));
        assert!(!matches("a*ab*bc", "aXabYab"));
    }

    #[test]
    fn detects_wildcards() {
        assert!(has_wildcard("https://h/*"));
        assert!(has_wildcard("https://h/a?"));
        assert!(!has_wildcard("https://h/a"));
    }
}
