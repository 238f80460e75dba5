//! CloudFront custom policy documents and `AWS:SourceIp` ranges.
//!
//! A policy that reads writes back (as every signer writes it) to a policy that reads
//! equal, unless the written form is over the size limit (escapes can lengthen it; the
//! signer then refuses to sign it, with a clear error); a range that reads displays back
//! to a range that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_access::{IpCidr, Policy, MAX_POLICY_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::from_json(text) {
        let json = policy.to_json();
        if json.len() <= MAX_POLICY_BYTES {
            let back = Policy::from_json(&json).expect("written policy reads");
            assert_eq!(back, policy, "{json}");
            if !policy.has_wildcard() {
                assert!(!back.has_wildcard());
            }
        }
    }
    if let Ok(range) = text.parse::<IpCidr>() {
        let shown = range.to_string();
        assert_eq!(shown.parse::<IpCidr>().ok(), Some(range), "{shown}");
        assert!(range.contains(range.network()));
    }
});
