//! Common Encryption of CMAF tracks (ISO/IEC 23001-7, 3rd edition) and the whole-segment
//! AES-128 of HLS (RFC 8216bis, 5.2).
//!
//! Two CENC schemes are written: `cenc` (AES-128 CTR, 8-byte per-sample IVs) and `cbcs`
//! (AES-128 CBC with the 1:9 pattern on video, a constant IV). Video samples are split
//! into subsamples at NAL unit boundaries so that NAL lengths and headers stay clear
//! (ISO/IEC 23001-7, 9.5 and ISO/IEC 14496-15); audio samples are encrypted whole.
//!
//! The IV of a `cenc` sample is the track's base IV plus the sample's index in the track,
//! so the same track packaged twice (ahead of time or on request) gives the same bytes,
//! and no two samples of one track share a counter block.

mod cipher;
mod sample_entry;
mod subsample;

pub use cipher::{aes128_segment, decrypt_sample, encrypt_sample};
pub use sample_entry::{nal_length_size, protected_sample_description};
pub use subsample::{video_subsamples, NalSyntax, Subsample};

use std::fmt;

/// A CENC protection scheme (the `schm` `scheme_type`, ISO/IEC 23001-7, 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// AES-CTR, full protected ranges (10.1).
    Cenc,
    /// AES-CBC with a 1:9 pattern on video and a constant IV (10.4).
    Cbcs,
}

impl Scheme {
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

impl std::str::FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cenc" => Ok(Scheme::Cenc),
            "cbcs" => Ok(Scheme::Cbcs),
            other => Err(format!(
                "unknown protection scheme {other:?} (cenc or cbcs)"
            )),
        }
    }
}

/// A content key: its ID, which players and licence servers see, and the AES-128 key.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: [u8; 16],
    pub key: [u8; 16],
}

impl fmt::Debug for ContentKey {
    // The key itself is never printed, so that no log line can leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey")
            .field("kid", &kid_uuid(&self.kid))
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A KID in the UUID form DASH's `cenc:default_KID` uses (8-4-4-4-12 hex digits).
pub fn kid_uuid(kid: &[u8; 16]) -> String {
    let h = kid_hex(kid);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A KID as 32 lowercase hex digits.
pub fn kid_hex(kid: &[u8; 16]) -> String {
    kid.iter().map(|b| format!("{b:02x}")).collect()
}

/// How one track is encrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackProtection {
    pub scheme: Scheme,
    pub key: ContentKey,
    /// `cenc`: the first 8 bytes are the IV of the track's first sample, and later
    /// samples count up from it. `cbcs`: the constant IV.
    pub iv: [u8; 16],
    /// Segments that start before this many seconds are left clear: the clear lead, so
    /// that playback can begin while the licence is fetched.
    pub clear_lead_seconds: f64,
    /// Whole `pssh` boxes (ISO/IEC 23001-7, 8.1) for the init segment.
    pub pssh: Vec<Vec<u8>>,
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
