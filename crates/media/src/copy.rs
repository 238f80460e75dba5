//! The copies of a presentation: the same segments and timeline written clear, in CENC
//! `cenc` or `cbcs` (ISO/IEC 23001-7), or as HLS whole-segment AES-128 (RFC 8216bis,
//! 5.2). Each copy lives in its own folder of the presentation and has its own rules
//! (which manifests it has, which DRM systems it can signal); they are written here once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::crypt::Scheme;
use crate::key::{DrmSystem, ParseIdError};

/// One copy of a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Copy {
    /// No encryption, at the presentation's root.
    #[serde(rename = "clear")]
    Clear,
    /// CENC AES-CTR in the fMP4: DASH `ContentProtection`, HLS `SAMPLE-AES-CTR`.
    #[serde(rename = "cenc")]
    Cenc,
    /// CENC AES-CBC 1:9 pattern in the fMP4: DASH, HLS `SAMPLE-AES` (FairPlay).
    #[serde(rename = "cbcs")]
    Cbcs,
    /// HLS `METHOD=AES-128`: whole segments encrypted over clear CMAF.
    #[serde(rename = "aes-128")]
    Aes128,
}

impl Copy {
    pub const ALL: [Copy; 4] = [Copy::Clear, Copy::Cenc, Copy::Cbcs, Copy::Aes128];

    /// The name in templates and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Copy::Clear => "clear",
            Copy::Cenc => "cenc",
            Copy::Cbcs => "cbcs",
            Copy::Aes128 => "aes-128",
        }
    }

    /// The copy's folder under the presentation's root (`""`: the root itself).
    pub fn folder(self) -> &'static str {
        match self {
            Copy::Clear => "",
            Copy::Cenc => "cenc",
            Copy::Cbcs => "cbcs",
            Copy::Aes128 => "aes128",
        }
    }

    /// The copy whose folder is `folder` (not the root).
    pub fn from_folder(folder: &str) -> Option<Copy> {
        Copy::ALL
            .into_iter()
            .find(|c| !c.folder().is_empty() && c.folder() == folder)
    }

    /// Whether the copy is encrypted at all.
    pub fn is_protected(self) -> bool {
        self != Copy::Clear
    }

    /// The CENC scheme of the samples; `None` when samples are clear (the clear copy, and
    /// AES-128, which encrypts whole segments).
    pub fn sample_scheme(self) -> Option<Scheme> {
        match self {
            Copy::Cenc => Some(Scheme::Cenc),
            Copy::Cbcs => Some(Scheme::Cbcs),
            Copy::Clear | Copy::Aes128 => None,
        }
    }

    /// The scheme a key provider is asked for: AES-128 is CBC, so its keys are requested
    /// as `cbcs` (the SPEKE v2 `commonEncryptionScheme` has no whole-segment value).
    pub fn key_scheme(self) -> Option<Scheme> {
        match self {
            Copy::Aes128 => Some(Scheme::Cbcs),
            other => other.sample_scheme(),
        }
    }

    /// Whether the copy has a DASH MPD: DASH has no whole-segment encryption.
    pub fn has_dash(self) -> bool {
        self != Copy::Aes128
    }

    /// Whether video renditions have I-frame playlists: byte ranges into a whole-segment
    /// AES-128 ciphertext would cut its CBC chain (RFC 8216bis, 4.4.3.6 and 5.2).
    pub fn has_iframe_playlists(self) -> bool {
        self != Copy::Aes128
    }

    /// Whether this copy is signalled for `system`: DRM systems need CENC samples, and
    /// FairPlay is HLS `SAMPLE-AES`, which is `cbcs` only.
    pub fn signals(self, system: DrmSystem) -> bool {
        match self {
            Copy::Clear | Copy::Aes128 => false,
            Copy::Cenc => system != DrmSystem::FairPlay,
            Copy::Cbcs => true,
        }
    }
}

impl fmt::Display for Copy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Copy {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Copy, ParseIdError> {
        Copy::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| ParseIdError::new("copy", s, "clear, cenc, cbcs or aes-128"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_folders_are_one_spelling_each() {
        for c in Copy::ALL {
            assert_eq!(c.name().parse::<Copy>(), Ok(c));
            if c != Copy::Clear {
                assert_eq!(Copy::from_folder(c.folder()), Some(c));
            }
        }
        assert_eq!(Copy::from_folder(""), None);
        assert!("aes128".parse::<Copy>().is_err());
        assert_eq!(Copy::Aes128.folder(), "aes128");
    }

    #[test]
    fn rules_of_each_copy() {
        assert!(!Copy::Aes128.has_dash() && !Copy::Aes128.has_iframe_playlists());
        assert!(Copy::Cbcs.signals(DrmSystem::FairPlay));
        assert!(!Copy::Cenc.signals(DrmSystem::FairPlay));
        assert!(Copy::Cenc.signals(DrmSystem::Widevine));
        assert!(!Copy::Aes128.signals(DrmSystem::ClearKey));
        assert_eq!(Copy::Aes128.key_scheme(), Some(Scheme::Cbcs));
        assert_eq!(Copy::Aes128.sample_scheme(), None);
    }
}
