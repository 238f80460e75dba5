//! Job templates (TOML), `[protection]` included.
//!
//! A template that reads (and so validates) writes back to TOML that reads equal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_transcode::JobTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = JobTemplate::parse(text, "fuzz") else {
        return;
    };
    let _ = template.packaging();
    let _ = template.manifests();
    let written = toml::to_string(&template).expect("a template serializes");
    let back = JobTemplate::parse(&written, "fuzz").expect("written template reads");
    assert_eq!(back, template, "{written}");
});
