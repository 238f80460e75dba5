//! Protected copies of a presentation: content keys from the key provider, the IV of
//! each rendition, and the DRM signalling the packager writes. Used by the pipeline
//! (packaging ahead of time) and by the origin (packaging on request) alike.

use openvod_media::crypt::derived_iv;
use openvod_media::presentation::SystemSignal;
use openvod_media::{Copy, CopyKeys, ProtectionSettings, RenditionKeys};

use crate::{DrmSignaling, DrmSystem, KeyProvider, ProviderError, Scheme, TrackType};

/// A rendition as the key provider sees it: its name and which key it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRendition {
    pub name: String,
    pub track_type: TrackType,
}

impl KeyedRendition {
    pub fn video(name: &str, width: u32, height: u32) -> KeyedRendition {
        KeyedRendition {
            name: name.to_string(),
            track_type: TrackType::for_video(width, height),
        }
    }

    pub fn audio(name: &str) -> KeyedRendition {
        KeyedRendition {
            name: name.to_string(),
            track_type: TrackType::Audio,
        }
    }
}

/// Why protected copies could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error("key provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("the key provider returned no key for {0} tracks")]
    MissingKey(TrackType),
    #[error("DRM signalling: {0}")]
    Signaling(String),
}

impl ProtectError {
    /// Whether trying again later may succeed: the provider timed out, failed on its
    /// side or raced another process. A refused request or missing keys will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            ProtectError::Provider(p) => p.is_transient(),
            ProtectError::MissingKey(_) | ProtectError::Signaling(_) => false,
        }
    }
}

/// The copies `settings` asks for, each with its keys (in the order of `renditions`).
pub async fn copy_keys(
    provider: &KeyProvider,
    content_id: &str,
    settings: &ProtectionSettings,
    renditions: &[KeyedRendition],
) -> Result<Vec<CopyKeys>, ProtectError> {
    let scope = settings.keys;
    let types: Vec<TrackType> = renditions.iter().map(|r| r.track_type).collect();
    let mut out = Vec::with_capacity(settings.copies.len());
    for &copy in &settings.copies {
        let Some(scheme) = copy.key_scheme() else {
            out.push(CopyKeys::clear());
            continue;
        };
        let wanted: Vec<DrmSystem> = settings
            .drm_systems
            .iter()
            .copied()
            .filter(|&s| copy.signals(s))
            .collect();
        let keys = provider
            .content_keys(content_id, &types, scope, scheme, &wanted)
            .await?;
        // The built-in provider signals each system once for all the content's KIDs, so
        // that one licence request covers every rendition and DASH can list the systems
        // on the AdaptationSet. A SPEKE provider's signalling is written as it came.
        let combined: Vec<SystemSignal> = if settings.builtin_provider() {
            combined_signals(content_id, &keys.kids(), scheme, &wanted)?
        } else {
            Vec::new()
        };
        let mut per_rendition = Vec::with_capacity(renditions.len());
        for r in renditions {
            let key = keys
                .key_for(scope.slot(r.track_type))
                .or_else(|| keys.key_for(r.track_type))
                .ok_or(ProtectError::MissingKey(r.track_type))?;
            let mut systems: Vec<SystemSignal> = wanted
                .iter()
                .filter_map(|&s| keys.signaling_for(key.kid, s))
                .map(system_signal)
                .collect();
            for signal in &mut systems {
                if let Some(c) = combined.iter().find(|c| c.system_id == signal.system_id) {
                    signal.pssh = c.pssh.clone();
                    signal.dash_descriptor = c.dash_descriptor.clone();
                }
            }
            per_rendition.push(RenditionKeys {
                key: key.clone(),
                iv: derived_iv(scheme, key, &r.name),
                systems,
            });
        }
        out.push(CopyKeys {
            copy,
            renditions: per_rendition,
            aes128_key_uri: None,
        });
    }
    Ok(out)
}

/// The copy `copy` of `all`, as [`copy_keys`] made them.
pub fn find_copy(all: &[CopyKeys], copy: Copy) -> Option<&CopyKeys> {
    all.iter().find(|c| c.copy == copy)
}

/// One `pssh` (and DASH `ContentProtection` content) per system listing every KID.
fn combined_signals(
    content_id: &str,
    kids: &[crate::Kid],
    scheme: Scheme,
    systems: &[DrmSystem],
) -> Result<Vec<SystemSignal>, ProtectError> {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let bad = |e: &dyn std::fmt::Display| ProtectError::Signaling(e.to_string());
    let mut out = Vec::new();
    for &system in systems {
        let Some(pssh) =
            crate::pssh::pssh_for(system, kids, scheme, content_id, None).map_err(|e| bad(&e))?
        else {
            continue;
        };
        let mut dash = format!("<cenc:pssh>{}</cenc:pssh>", b64(&pssh));
        if system == DrmSystem::PlayReady {
            let pro = crate::pssh::playready_object(kids, scheme, None).map_err(|e| bad(&e))?;
            dash.push_str(&format!("<mspr:pro>{}</mspr:pro>", b64(&pro)));
        }
        out.push(SystemSignal {
            system_id: system.system_id(),
            dash_descriptor: Some(dash_descriptor(system, &dash)),
            pssh: Some(pssh),
            hls_key: None,
            hls_session_key: None,
        });
    }
    Ok(out)
}

/// The DASH-IF scheme of ClearKey in MPDs (DASH-IF IOP 4.3, 7.6.2.4): the W3C common
/// system ID belongs in `pssh` boxes, this one in `ContentProtection`, without a `pssh`
/// so that players build `keyids` init data from the default KID.
const DASH_IF_CLEARKEY: &str = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e";

/// The `ContentProtection` element of a system with `children` (`cenc:pssh`...).
fn dash_descriptor(system: DrmSystem, children: &str) -> String {
    if system == DrmSystem::ClearKey {
        return format!(
            "<ContentProtection schemeIdUri=\"{DASH_IF_CLEARKEY}\" value=\"ClearKey1.0\"/>"
        );
    }
    format!(
        "<ContentProtection schemeIdUri=\"urn:uuid:{}\">{children}</ContentProtection>",
        system.system_id_uuid()
    )
}

/// The packager's view of one system's signalling.
pub fn system_signal(s: &DrmSignaling) -> SystemSignal {
    SystemSignal {
        system_id: s.system.system_id(),
        pssh: s.pssh.clone(),
        dash_descriptor: s
            .content_protection_data
            .as_deref()
            .map(|children| dash_descriptor(s.system, children)),
        hls_key: s.hls_media.clone(),
        hls_session_key: s.hls_master.clone(),
    }
}
