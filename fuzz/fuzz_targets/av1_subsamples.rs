//! The AV1 reader that places Common Encryption subsamples: an `av1C` configOBUs and a
//! run of samples of OBUs, walked in order as a track is, under `cenc` and `cbcs`.
//!
//! Input: one byte of configOBUs length, the configOBUs, then samples, each a
//! little-endian u16 length and its bytes; the first sample is a sync sample.
//!
//! Beyond not panicking: the subsamples of a sample cover it exactly, and `cenc` protects
//! whole 16-byte blocks only.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openvod_media::crypt::{Scheme, Subsample, VideoSubsampler};

fuzz_target!(|data: &[u8]| {
    let Some((&config_len, rest)) = data.split_first() else {
        return;
    };
    let (config, mut rest) = rest.split_at(usize::from(config_len).min(rest.len()));
    let Ok(mut cenc) = VideoSubsampler::av1(config) else {
        return;
    };
    let mut cbcs = cenc.clone();
    let mut map = Vec::new();
    let mut sync = true;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (sample, tail) = rest[2..].split_at(len);
        rest = tail;
        for (subsampler, scheme) in [(&mut cenc, Scheme::Cenc), (&mut cbcs, Scheme::Cbcs)] {
            if subsampler
                .subsamples_into(sample, sync, scheme, &mut map)
                .is_ok()
            {
                check(&map, sample.len(), scheme);
            }
        }
        sync = false;
    }
});

fn check(map: &[Subsample], len: usize, scheme: Scheme) {
    let covered: usize = map
        .iter()
        .map(|s| usize::from(s.clear) + s.protected as usize)
        .sum();
    assert_eq!(covered, len, "subsamples cover the sample");
    if scheme == Scheme::Cenc {
        assert!(
            map.iter().all(|s| s.protected % 16 == 0),
            "cenc whole blocks"
        );
    }
}
