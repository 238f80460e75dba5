//! The stored form of a presentation packaged on request: under an asset's output,
//! `presentation.json` ([`StoredPresentation`]) names the renditions, each kept as the
//! encoded MP4 (`media/NAME.mp4`) and its index (`media/NAME.idx`, see [`crate::index`]),
//! with the packaging settings the origin applies. The pipeline writes it; the origin
//! reads it and makes every object of [`crate::path`] from it.

use serde::{Deserialize, Serialize};

use crate::copy::Copy;
use crate::path::RenditionName;
use crate::segment::SegmentTarget;
use crate::settings::{Manifests, ProtectionSettings};

/// The object key of the description, relative to an asset's output prefix.
pub const STORED_PRESENTATION: &str = "presentation.json";
/// The layout this module reads and writes. Version 2 indexes carry the subsample counts
/// protected copies need (version 1 descriptions are refused with a clear error).
pub const STORED_VERSION: u32 = 2;
/// The layout of a description with text tracks (`texts`): an origin that reads only
/// version 2 refuses it with the version error rather than an unknown field.
pub const STORED_VERSION_TEXT: u32 = 3;
/// The version of a description with a storyboard (`storyboard`, and its sprite at
/// [`STORYBOARD_SPRITE_KEY`]).
pub const STORED_VERSION_IMAGES: u32 = 4;
/// The version of a description that names renditions carrying CEA-608 captions
/// (`captioned`).
pub const STORED_VERSION_CAPTIONS: u32 = 5;
/// Where the storyboard's sprite is stored, beside the renditions.
pub const STORYBOARD_SPRITE_KEY: &str = "media/storyboard.jpg";

/// One rendition of a stored presentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredRendition {
    pub name: RenditionName,
}

impl StoredRendition {
    /// The encoded MP4, relative to the output prefix.
    pub fn media_key(&self) -> String {
        format!("media/{}.mp4", self.name)
    }

    /// Its index, relative to the output prefix.
    pub fn index_key(&self) -> String {
        format!("media/{}.idx", self.name)
    }
}

/// One subtitle or caption track of a stored presentation, kept as WebVTT
/// (`media/NAME.vtt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredText {
    pub name: RenditionName,
    pub info: crate::text::TextTrackInfo,
}

impl StoredText {
    /// The WebVTT file, relative to the output prefix.
    pub fn media_key(&self) -> String {
        format!("media/{}.vtt", self.name)
    }
}

/// Everything the origin needs to package an asset on request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPresentation {
    pub version: u32,
    pub renditions: Vec<StoredRendition>,
    /// Subtitles and captions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<StoredText>,
    /// The storyboard, whose sprite is at [`STORYBOARD_SPRITE_KEY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storyboard: Option<crate::images::Storyboard>,
    /// The video renditions whose pictures carry CEA-608 captions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captioned: Vec<RenditionName>,
    pub target: SegmentTarget,
    pub manifests: Manifests,
    /// `None`: the clear copy only.
    pub protection: Option<ProtectionSettings>,
}

/// Why a description cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("not a stored presentation: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("stored presentation version {0} (this openvod reads version {STORED_VERSION}); package the asset again")]
    Version(u32),
    #[error("stored presentation: {0}")]
    Invalid(String),
}

impl StoredPresentation {
    /// Reads and checks a description.
    pub fn from_json(bytes: &[u8]) -> Result<StoredPresentation, StoredError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(bytes)?;
        if !(STORED_VERSION..=STORED_VERSION_CAPTIONS).contains(&v.version) {
            return Err(StoredError::Version(v.version));
        }
        let p: StoredPresentation = serde_json::from_slice(bytes)?;
        p.target
            .validate()
            .map_err(|e| StoredError::Invalid(e.to_string()))?;
        if let Some(s) = &p.storyboard {
            s.validate()
                .map_err(|e| StoredError::Invalid(e.to_string()))?;
        }
        if p.renditions.is_empty() {
            return Err(StoredError::Invalid("no renditions".into()));
        }
        Ok(p)
    }

    /// The lowest version that describes what this description holds, so that an older
    /// origin reads what it can and refuses the rest by its version.
    pub fn needed_version(&self) -> u32 {
        if !self.captioned.is_empty() {
            STORED_VERSION_CAPTIONS
        } else if self.storyboard.is_some() {
            STORED_VERSION_IMAGES
        } else if !self.texts.is_empty() {
            STORED_VERSION_TEXT
        } else {
            STORED_VERSION
        }
    }

    /// Every name taken: the renditions' and the text tracks'.
    pub fn names(&self) -> Vec<String> {
        self.renditions
            .iter()
            .map(|r| r.name.to_string())
            .chain(self.texts.iter().map(|t| t.name.to_string()))
            .collect()
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and enums always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The copies the origin serves: the protection's, or the clear one.
    pub fn copies(&self) -> Vec<Copy> {
        self.protection
            .as_ref()
            .map_or_else(|| vec![Copy::Clear], |p| p.copies.clone())
    }
}
