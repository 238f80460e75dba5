//! Protected copies of a presentation: content keys from the key provider, the IV of
//! each rendition, and the DRM signalling the packager writes. Used by the pipeline
//! (packaging ahead of time) and by the origin (packaging on request) alike.
//!
//! IVs are derived from the key and the rendition name (SHA-256), not drawn at random,
//! so that packaging the same rendition again gives the same bytes; two renditions
//! sharing a key (several SD rungs) still get unrelated IV ranges.

use openvod_media::crypt::{self, TrackProtection};
use openvod_media::package::{Method, Protection, RenditionKeys, SystemSignal};
use sha2::{Digest, Sha256};

use crate::{
    ContentKey, DrmSignaling, DrmSystem, KeyProvider, KeyScope, ProviderError, Scheme, TrackType,
};

/// What a template asks for: the copies, the DRM systems, and how keys are shared.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyPlan {
    /// "clear", "cenc", "cbcs", "aes-128".
    pub outputs: Vec<String>,
    /// "widevine", "playready", "fairplay", "clearkey".
    pub drm_systems: Vec<String>,
    pub scope: KeyScope,
    /// The built-in key store signals each system once for all KIDs; a SPEKE
    /// provider's signalling is written as it came.
    pub builtin_provider: bool,
    pub clear_lead_seconds: f64,
}

/// One copy: its folder under the output (`""` for the root) and its protection.
#[derive(Debug, Clone)]
pub struct ProtectedCopy {
    pub folder: String,
    pub protection: Option<Protection>,
}

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

/// The folder of each protected copy under the asset's output.
pub fn output_folder(output: &str) -> &'static str {
    match output {
        "cenc" => "cenc",
        "cbcs" => "cbcs",
        "aes-128" => "aes128",
        _ => "",
    }
}

/// Why protected copies could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error("key provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("the key provider returned no key for {0} tracks")]
    MissingKey(TrackType),
    #[error("{0}")]
    Settings(String),
}

/// The outputs a template asks for, with their keys. `key_uri` gives the `EXT-X-KEY`
/// URI of an AES-128 key from its KID, relative to a media playlist.
pub async fn protected_copies(
    provider: &KeyProvider,
    content_id: &str,
    settings: &CopyPlan,
    renditions: &[KeyedRendition],
    key_uri: &(dyn Fn(&str) -> String + Sync),
) -> Result<Vec<ProtectedCopy>, ProtectError> {
    let scope = settings.scope;
    let systems: Vec<DrmSystem> = settings
        .drm_systems
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e| ProtectError::Settings(format!("{e}")))
        })
        .collect::<Result<_, _>>()?;
    let types: Vec<TrackType> = renditions.iter().map(|r| r.track_type).collect();
    let mut outputs = Vec::with_capacity(settings.outputs.len());
    for kind in &settings.outputs {
        let (method, scheme) = match kind.as_str() {
            "clear" => {
                outputs.push(ProtectedCopy {
                    folder: String::new(),
                    protection: None,
                });
                continue;
            }
            "cenc" => (Method::Sample(crypt::Scheme::Cenc), Scheme::Cenc),
            "cbcs" => (Method::Sample(crypt::Scheme::Cbcs), Scheme::Cbcs),
            "aes-128" => (Method::Aes128, Scheme::Cbcs),
            other => {
                return Err(ProtectError::Settings(format!(
                    "unknown protected output {other:?}"
                )))
            }
        };
        // FairPlay is HLS SAMPLE-AES: cbcs only. AES-128 needs no DRM system at all.
        let wanted: Vec<DrmSystem> = match method {
            Method::Aes128 => Vec::new(),
            _ => systems
                .iter()
                .copied()
                .filter(|s| scheme == Scheme::Cbcs || *s != DrmSystem::FairPlay)
                .collect(),
        };
        let keys = provider
            .content_keys(content_id, &types, scope, scheme, &wanted)
            .await?;
        // The built-in provider signals each system once for all the content's KIDs, so
        // that one licence request covers every rendition and DASH can list the systems
        // on the AdaptationSet. A SPEKE provider's signalling is written as it came.
        let combined: Vec<SystemSignal> = if settings.builtin_provider {
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
            per_rendition.push(rendition_keys(
                method,
                &r.name,
                key,
                systems,
                settings.clear_lead_seconds,
                key_uri(&key.kid.to_hex()),
            ));
        }
        outputs.push(ProtectedCopy {
            folder: output_folder(kind).to_string(),
            protection: Some(Protection {
                method,
                renditions: per_rendition,
            }),
        });
    }
    Ok(outputs)
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
    let bad = |e: &dyn std::fmt::Display| ProtectError::Settings(e.to_string());
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

/// Keys, IV and signalling of one rendition.
pub fn rendition_keys(
    method: Method,
    name: &str,
    key: &ContentKey,
    systems: Vec<SystemSignal>,
    clear_lead_seconds: f64,
    key_uri: String,
) -> RenditionKeys {
    let scheme = match method {
        Method::Sample(s) => s,
        Method::Aes128 => crypt::Scheme::Cbcs,
    };
    let mut h = Sha256::new();
    h.update(b"openvod iv\0");
    h.update(scheme.as_str());
    h.update(key.key);
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&digest[..16]);
    RenditionKeys {
        track: TrackProtection {
            scheme,
            key: crypt::ContentKey {
                kid: key.kid.0,
                key: key.key,
            },
            iv,
            clear_lead_seconds,
            pssh: systems.iter().filter_map(|s| s.pssh.clone()).collect(),
        },
        systems,
        key_uri,
    }
}
