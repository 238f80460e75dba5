//! `ObjectPath::parse`, the origin's reading of a request path.
//!
//! Input: one or two paths on lines. A path that parses displays back to itself (one
//! spelling per object, so one cache entry per object); for two valid paths, the
//! relative reference from the first to the second resolves (RFC 3986, 5.2) to the
//! second.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::ObjectPath;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(2, '\n');
    let Some(first) = lines.next() else {
        return;
    };
    let Ok(base) = ObjectPath::parse(first) else {
        return;
    };
    assert_eq!(base.to_string(), first, "display of a parsed path");
    assert_eq!(
        ObjectPath::parse(&base.to_string()).ok(),
        Some(base.clone())
    );
    let Some(Ok(target)) = lines.next().map(ObjectPath::parse) else {
        return;
    };
    let relative = target.relative_to(&base);
    assert_eq!(resolve(first, &relative), target.to_string(), "{relative}");
});

/// Resolves a relative path reference against a base path (RFC 3986, 5.2.2 and 5.2.4),
/// for references made of `../` segments and then names.
fn resolve(base: &str, relative: &str) -> String {
    let mut dirs: Vec<&str> = base.split('/').collect();
    dirs.pop();
    let mut rest = relative;
    while let Some(r) = rest.strip_prefix("../") {
        assert!(dirs.pop().is_some(), "{relative} climbs above the root");
        rest = r;
    }
    dirs.push(rest);
    dirs.join("/")
}
