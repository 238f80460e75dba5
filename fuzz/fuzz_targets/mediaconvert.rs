//! MediaConvert `CreateJob` JSON, imported as a job template.
//!
//! A job that imports gives a template that passes validation and reads back from its
//! TOML form equal.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvod_transcode::mediaconvert::{import, LocationMap};
use openvod_transcode::JobTemplate;

fn maps() -> &'static [LocationMap] {
    static MAPS: OnceLock<Vec<LocationMap>> = OnceLock::new();
    MAPS.get_or_init(|| {
        [
            "s3://vod-source=/srv/source",
            "s3://vod-destination=/srv/vod",
        ]
        .iter()
        .map(|m| LocationMap::parse(m).expect("valid map"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(job) = import(json, maps()) else {
        return;
    };
    if let Err(e) = job.template.validate() {
        panic!("an imported template does not validate: {e}");
    }
    let text = toml::to_string(&job.template).expect("a template serializes");
    let back = JobTemplate::parse(&text, "fuzz").expect("written template reads");
    assert_eq!(back, job.template, "{text}");
});
