//! The stored segment index (version 2), read by the origin from the object store.
//!
//! An index that reads writes back to exactly the same bytes: the reader refuses anything
//! the writer would not have written.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::index::{decode_track, encode_track};
use openvod_media::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_samples: 1 << 16,
        ..Limits::default()
    };
    if let Ok(track) = decode_track(data, &limits) {
        assert_eq!(encode_track(&track), data, "index round trip");
    }
});
