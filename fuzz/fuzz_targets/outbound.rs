//! The `[outbound] allow` list and the URLs it judges.
//!
//! Input: allow-list entries on lines, the last line a URL. An entry that reads displays
//! back to an entry that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_access::{AllowEntry, OutboundPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let url = lines.pop().unwrap_or("");
    for line in &lines {
        if let Ok(entry) = line.parse::<AllowEntry>() {
            let shown = entry.to_string();
            assert_eq!(shown.parse::<AllowEntry>().ok(), Some(entry), "{shown}");
        }
    }
    let policy = OutboundPolicy::new(&lines).unwrap_or_default();
    if let Ok(parsed) = policy.check_url(url) {
        assert!(matches!(parsed.scheme(), "http" | "https"));
    }
});
