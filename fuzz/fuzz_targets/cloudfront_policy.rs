//! CloudFront custom policy documents and `AWS:SourceIp` ranges.
//!
//! A policy that reads writes back (as every signer writes it) to a policy that reads
//! equal; a range that reads displays back to a range that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_access::{IpCidr, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::from_json(text) {
        let json = policy.to_json();
        let back = Policy::from_json(&json).expect("written policy reads");
        assert_eq!(back, policy, "{json}");
        if !policy.has_wildcard() {
            assert!(!back.has_wildcard());
        }
    }
    if let Ok(range) = text.parse::<IpCidr>() {
        let shown = range.to_string();
        assert_eq!(shown.parse::<IpCidr>().ok(), Some(range), "{shown}");
        assert!(range.contains(range.network()));
    }
});
