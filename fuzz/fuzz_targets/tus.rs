//! tus request headers: `Upload-Metadata`, and `Upload-Length` / `Upload-Offset`.
//!
//! Metadata that reads, written again as base64 pairs, reads equal (unless the text of a
//! value that was not UTF-8 makes it longer than the limit); a number that reads is the
//! decimal digits of the value.

#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use openvod_server::tus::{parse_upload_metadata, parse_upload_number, MAX_METADATA_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = parse_upload_metadata(data) {
        let written = pairs
            .iter()
            .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
            .collect::<Vec<_>>()
            .join(",");
        if written.len() <= MAX_METADATA_BYTES {
            assert_eq!(
                parse_upload_metadata(written.as_bytes()).as_ref(),
                Ok(&pairs),
                "{written}"
            );
        }
    }
    if let Some(n) = parse_upload_number(data) {
        let digits = std::str::from_utf8(data.trim_ascii()).expect("digits are ASCII");
        let digits = digits.trim_start_matches('0');
        let expected = if digits.is_empty() { "0" } else { digits };
        assert_eq!(n.to_string(), expected);
    }
});
