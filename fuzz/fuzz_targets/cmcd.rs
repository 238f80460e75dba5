//! `Cmcd::from_query` and `Cmcd::from_headers`, the origin's reading of what a player says
//! about each request (CTA-5004).
//!
//! Input: the query string of a request; the same bytes are also read as header values,
//! split on newlines. Neither may panic; a session id read is within its bounds; a
//! query's CMCD parameter removed leaves no CMCD to read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_qoe::cmcd::{query_without_cmcd, MAX_SESSION_ID};
use openvod_qoe::Cmcd;

fuzz_target!(|data: &[u8]| {
    let check = |c: &Cmcd| {
        if let Some(sid) = &c.session {
            assert!(!sid.as_str().is_empty() && sid.as_str().len() <= MAX_SESSION_ID);
        }
    };
    if let Ok(Some(c)) = Cmcd::from_headers(data.split(|b| *b == b'\n')) {
        check(&c);
    }
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(c)) = Cmcd::from_query(query) {
        check(&c);
    }
    assert_eq!(Cmcd::from_query(&query_without_cmcd(query)), Ok(None));
});
