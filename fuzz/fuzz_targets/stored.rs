//! `presentation.json`, the stored form of a presentation packaged on request, read by the
//! origin from the object store.
//!
//! A description that reads writes back to one that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::stored::StoredPresentation;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = StoredPresentation::from_json(data) {
        let back = StoredPresentation::from_json(&p.to_json()).expect("written form reads");
        assert_eq!(back, p);
        let _ = p.copies();
    }
});
