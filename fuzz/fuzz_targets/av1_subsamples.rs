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
    let stsd = av01_stsd(config);
    let Ok(mut cenc) = VideoSubsampler::new(&stsd) else {
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
        assert!(map.iter().all(|s| s.protected % 16 == 0), "cenc whole blocks");
    }
}

/// An `stsd` of one `av01` sample entry whose `av1C` carries `config_obus`.
fn av01_stsd(config_obus: &[u8]) -> Vec<u8> {
    let mut av1c = Vec::new();
    av1c.extend_from_slice(&(8 + 4 + config_obus.len() as u32).to_be_bytes());
    av1c.extend_from_slice(b"av1C");
    av1c.extend_from_slice(&[0x81, 0, 0, 0]);
    av1c.extend_from_slice(config_obus);
    // SampleEntry (8 + 8) and VisualSampleEntry (70) fields, all zero but the data
    // reference index.
    let mut entry = vec![0u8; 86];
    entry[..4].copy_from_slice(&((86 + av1c.len()) as u32).to_be_bytes());
    entry[4..8].copy_from_slice(b"av01");
    entry[15] = 1;
    entry.extend_from_slice(&av1c);
    let mut stsd = Vec::new();
    stsd.extend_from_slice(&((16 + entry.len()) as u32).to_be_bytes());
    stsd.extend_from_slice(b"stsd");
    stsd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    stsd.extend_from_slice(&entry);
    stsd
}
