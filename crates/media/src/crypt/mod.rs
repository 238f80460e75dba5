//! Common Encryption of CMAF tracks (ISO/IEC 23001-7, 3rd edition) and the whole-segment
//! AES-128 of HLS (RFC 8216bis, 5.2).
//!
//! Two CENC schemes are written: `cenc` (AES-128 CTR, 8-byte per-sample IVs) and `cbcs`
//! (AES-128 CBC with the 1:9 pattern on video, a constant IV). Video samples are split
//! into subsamples so that what a player reads to find the coded data stays clear: NAL
//! lengths and headers for H.264 and H.265 (ISO/IEC 23001-7, 9.5 and ISO/IEC 14496-15),
//! everything but tile data for AV1 (AV1-ISOBMFF, 7); audio samples are encrypted whole.
//!
//! The IV of a `cenc` sample is the track's base IV plus the sample's index in the track,
//! so the same track packaged twice (ahead of time or on request) gives the same bytes,
//! and no two samples of one track share a counter block.

mod av1;
mod cipher;
#[cfg(target_arch = "x86_64")]
mod ctr_vaes;
mod sample_entry;
mod subsample;
mod video;

pub use cipher::{
    aes128_seal, aes128_sealed_len, cbcs_encrypt_ranges, decrypt_sample, encrypt_sample,
    CbcsRanges, LANES,
};
pub use sample_entry::{decoder_config, protected_sample_description, video_syntax, VideoSyntax};
pub use subsample::{video_subsamples, video_subsamples_into, NalSyntax, Subsample};
pub use video::{subsample_counts, SubsampleCounts, VideoSubsampler};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::key::{ContentKey, ParseIdError};

/// A CENC protection scheme (the `schm` `scheme_type`, ISO/IEC 23001-7, 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// AES-CTR, full protected ranges (10.1).
    Cenc,
    /// AES-CBC with a 1:9 pattern on video and a constant IV (10.4).
    Cbcs,
}

impl Scheme {
    /// The `schm` `scheme_type`.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }

    /// `(crypt_byte_block, skip_byte_block)` for a track: `cbcs` video uses 1:9
    /// (10.4.2); `cbcs` audio is encrypted in whole blocks with no pattern (0:0), as is
    /// everything in `cenc`.
    pub fn pattern(self, video: bool) -> (u8, u8) {
        match (self, video) {
            (Scheme::Cbcs, true) => (1, 9),
            _ => (0, 0),
        }
    }

    /// Bytes of IV stored per sample in `senc`: 8 for `cenc`, none for `cbcs`, whose IV
    /// is constant and lives in `tenc`.
    pub fn per_sample_iv_size(self) -> u8 {
        match self {
            Scheme::Cenc => 8,
            Scheme::Cbcs => 0,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Scheme, ParseIdError> {
        match s {
            "cenc" => Ok(Scheme::Cenc),
            "cbcs" => Ok(Scheme::Cbcs),
            _ => Err(ParseIdError::new(
                "protection scheme",
                s,
                "cenc or cbcs (cens and cbc1 are not supported)",
            )),
        }
    }
}

/// How one track is encrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackProtection {
    pub scheme: Scheme,
    pub key: ContentKey,
    /// `cenc`: the first 8 bytes are the IV of the track's first sample, and later
    /// samples count up from it. `cbcs`: the constant IV.
    pub iv: [u8; 16],
}

impl TrackProtection {
    /// The `senc` IV of the sample at `index` in its track.
    pub(crate) fn sample_iv(&self, index: usize) -> [u8; 16] {
        match self.scheme {
            Scheme::Cbcs => self.iv,
            Scheme::Cenc => {
                let mut base = [0u8; 8];
                base.copy_from_slice(&self.iv[..8]);
                let n = u64::from_be_bytes(base).wrapping_add(index as u64);
                let mut iv = [0u8; 16];
                iv[..8].copy_from_slice(&n.to_be_bytes());
                iv
            }
        }
    }
}

/// The IV of a rendition's protected copy, derived from the key, the scheme and the
/// rendition's name rather than drawn at random: the same rendition packaged again (ahead
/// of time or on request) gives the same bytes, and two renditions sharing a key still
/// get unrelated IV ranges, so no two samples under one key share a counter block.
pub fn derived_iv(scheme: Scheme, key: &ContentKey, rendition: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"openvod iv\0");
    h.update(scheme.as_str());
    h.update(key.key);
    h.update(rendition.as_bytes());
    let digest = h.finalize();
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&digest[..16]);
    iv
}
