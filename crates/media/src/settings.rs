//! Packaging settings as templates write them (TOML) and stored presentations keep them
//! (JSON): which manifests, and which protected copies with which keys. Parsed once into
//! these types; every default is written here and nowhere else.

use serde::{Deserialize, Serialize};

use crate::copy::Copy;
use crate::key::{DrmSystem, KeyScope};

/// Which manifests a presentation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifests {
    /// HLS: `master.m3u8` and a media playlist per rendition.
    pub hls: bool,
    /// DASH: `manifest.mpd` (not for the AES-128 copy).
    pub dash: bool,
}

impl Default for Manifests {
    fn default() -> Self {
        Manifests {
            hls: true,
            dash: true,
        }
    }
}

/// Where the keys of protected copies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProviderSettings {
    /// openvod's own key store.
    Builtin,
    /// A SPEKE v2.0 key provider at this http(s) URL.
    Speke { url: String },
}

/// Most seconds a clear lead may last.
pub const MAX_CLEAR_LEAD_SECONDS: f64 = 600.0;

/// Which protected copies to write, with which keys and DRM signalling: a template's
/// `[protection]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProtectionTable", into = "ProtectionTable")]
pub struct ProtectionSettings {
    /// The copies, each in its own folder (the clear one at the root), in the order
    /// given, each once.
    pub copies: Vec<Copy>,
    /// DRM systems signalled in the manifests and init segments of the CENC copies.
    pub drm_systems: Vec<DrmSystem>,
    pub keys: KeyScope,
    pub key_provider: KeyProviderSettings,
    /// Seconds at the start left clear, so that playback starts while the licence loads.
    pub clear_lead_seconds: f64,
}

impl Default for ProtectionSettings {
    fn default() -> Self {
        ProtectionSettings {
            copies: vec![Copy::Cenc, Copy::Cbcs],
            drm_systems: DrmSystem::ALL.to_vec(),
            keys: KeyScope::PerTrackType,
            key_provider: KeyProviderSettings::Builtin,
            clear_lead_seconds: 0.0,
        }
    }
}

impl ProtectionSettings {
    /// Whether the built-in key store makes the keys (it signals each DRM system once
    /// for all KIDs; a SPEKE provider's signalling is written as it came).
    pub fn builtin_provider(&self) -> bool {
        self.key_provider == KeyProviderSettings::Builtin
    }
}

/// The `[protection]` table as written: `key_provider` and `speke_url` are two keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectionTable {
    /// "clear", "cenc", "cbcs", "aes-128".
    #[serde(default = "default_copies")]
    outputs: Vec<Copy>,
    #[serde(default = "default_drm_systems")]
    drm_systems: Vec<DrmSystem>,
    #[serde(default)]
    keys: KeyScope,
    #[serde(default)]
    key_provider: KeyProviderName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    speke_url: Option<String>,
    #[serde(default)]
    clear_lead_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyProviderName {
    #[default]
    Builtin,
    Speke,
}

fn default_copies() -> Vec<Copy> {
    ProtectionSettings::default().copies
}

fn default_drm_systems() -> Vec<DrmSystem> {
    ProtectionSettings::default().drm_systems
}

impl TryFrom<ProtectionTable> for ProtectionSettings {
    type Error = String;

    fn try_from(t: ProtectionTable) -> Result<Self, String> {
        if t.outputs.is_empty() {
            return Err("protection.outputs: name at least one copy".into());
        }
        let mut copies = Vec::with_capacity(t.outputs.len());
        for c in t.outputs {
            if !copies.contains(&c) {
                copies.push(c);
            }
        }
        let mut drm_systems = Vec::with_capacity(t.drm_systems.len());
        for d in t.drm_systems {
            if !drm_systems.contains(&d) {
                drm_systems.push(d);
            }
        }
        let key_provider = match (t.key_provider, t.speke_url) {
            (KeyProviderName::Builtin, None) => KeyProviderSettings::Builtin,
            (KeyProviderName::Builtin, Some(_)) => {
                return Err(
                    "protection.speke_url is set but key_provider is \"builtin\" (set key_provider = \"speke\")"
                        .into(),
                )
            }
            (KeyProviderName::Speke, Some(url))
                if url.starts_with("http://") || url.starts_with("https://") =>
            {
                KeyProviderSettings::Speke { url }
            }
            (KeyProviderName::Speke, _) => {
                return Err(
                    "protection.speke_url: give the http(s) URL of the SPEKE v2.0 key provider"
                        .into(),
                )
            }
        };
        if !(0.0..=MAX_CLEAR_LEAD_SECONDS).contains(&t.clear_lead_seconds) {
            return Err(format!(
                "protection.clear_lead_seconds {} is outside 0..{MAX_CLEAR_LEAD_SECONDS}",
                t.clear_lead_seconds
            ));
        }
        Ok(ProtectionSettings {
            copies,
            drm_systems,
            keys: t.keys,
            key_provider,
            clear_lead_seconds: t.clear_lead_seconds,
        })
    }
}

impl From<ProtectionSettings> for ProtectionTable {
    fn from(s: ProtectionSettings) -> ProtectionTable {
        let (key_provider, speke_url) = match s.key_provider {
            KeyProviderSettings::Builtin => (KeyProviderName::Builtin, None),
            KeyProviderSettings::Speke { url } => (KeyProviderName::Speke, Some(url)),
        };
        ProtectionTable {
            outputs: s.copies,
            drm_systems: s.drm_systems,
            keys: s.keys,
            key_provider,
            speke_url,
            clear_lead_seconds: s.clear_lead_seconds,
        }
    }
}
