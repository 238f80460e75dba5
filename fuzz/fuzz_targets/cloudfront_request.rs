//! Signed-URL query parameters and signed cookies, up to the signature check.
//!
//! Input: a URL, then optionally a newline and a `Cookie` header. Beyond not panicking:
//! the query with its signing parameters stripped has none left, and a request that
//! verifies is covered by its own grant.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvod_access::{strip_signing_params, SignedRequest, SigningParams, TrustedKeys};

/// Epoch seconds of the check: before the seeds' expiry.
const NOW: u64 = 1_700_000_000;

fn keys() -> &'static TrustedKeys {
    static KEYS: OnceLock<TrustedKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = TrustedKeys::new();
        keys.insert_pem(
            "KA",
            include_str!("../../crates/access/tests/data/test_only_signer_a_spki.pub.pem"),
        )
        .expect("the committed test key reads");
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (url, cookie) = match text.split_once('\n') {
        Some((url, cookie)) => (url, Some(cookie)),
        None => (text, None),
    };
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let stripped = strip_signing_params(query);
    if let Ok(left) = SigningParams::from_query(&stripped) {
        assert!(left.is_empty(), "{stripped}");
    }
    if let Some(cookie) = cookie {
        let _ = SigningParams::from_cookie_header(cookie);
    }
    let Ok(request) = SignedRequest::from_signed_url(url, cookie, None, NOW) else {
        return;
    };
    if let Ok(grant) = keys().verify(&request) {
        assert!(grant.covers(&request.url), "{}", request.url);
        assert!(grant.expires() > NOW);
    }
});
