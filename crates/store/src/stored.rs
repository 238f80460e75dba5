//! The stored form of a presentation packaged on request (`packaging.mode = "jit"`):
//! `ASSET/out/presentation.json` names, per rendition, the encoded MP4 and its index
//! (`openvod_media::index`), with the packaging and protection settings the origin
//! applies. Written by the pipeline, read by the origin.

use serde::{Deserialize, Serialize};

/// The object key of the description, under an asset's output prefix.
pub const STORED_PRESENTATION: &str = "presentation.json";

/// One rendition: its name and where its media and index objects are (relative to the
/// output prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredRendition {
    pub name: String,
    pub media: String,
    pub index: String,
}

/// Protected copies the origin serves (the template's `[protection]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredProtection {
    pub outputs: Vec<String>,
    pub drm_systems: Vec<String>,
    /// "per-track-type" or "single".
    pub keys: String,
    pub key_provider: String,
    pub clear_lead_seconds: f64,
}

/// Everything the origin needs to package an asset on request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPresentation {
    pub version: u32,
    pub renditions: Vec<StoredRendition>,
    pub segment_seconds: f64,
    pub fragment_seconds: f64,
    pub hls: bool,
    pub dash: bool,
    pub protection: Option<StoredProtection>,
}
