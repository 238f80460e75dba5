//! CPIX documents (SPEKE v2 requests and responses).
//!
//! The input is read both as a request (the key provider's side) and as a response to a
//! fixed request (the encryptor's side). Either, when it reads, writes back to a document
//! that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_drm::cpix::{CpixRequest, CpixResponse, RequestedKey};
use openvod_drm::{DrmSystem, Kid, Scheme, TrackType};

/// The request the response seeds answer: one audio and one HD key, Widevine and FairPlay.
fn request() -> CpixRequest {
    CpixRequest {
        content_id: "fuzz-asset".into(),
        keys: vec![
            RequestedKey::for_track(Kid([0xa0; 16]), TrackType::Audio, Scheme::Cbcs),
            RequestedKey::for_track(Kid([0x11; 16]), TrackType::Hd, Scheme::Cbcs),
        ],
        systems: vec![DrmSystem::Widevine, DrmSystem::FairPlay],
        periods: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = CpixRequest::parse(data) {
        let back = CpixRequest::parse(request.to_xml().as_bytes()).expect("written request reads");
        assert_eq!(back, request);
    }
    let request = request();
    if let Ok(response) = CpixResponse::parse(data, &request) {
        let back = CpixResponse::parse(response.to_xml().as_bytes(), &request)
            .expect("written response reads");
        assert_eq!(back, response);
    }
});
