//! The template's protection settings, for the packaging copies of `openvod_drm`.

use openvod_drm::packaging::{self, CopyPlan, KeyedRendition, ProtectError};
use openvod_drm::{KeyProvider, KeyScope};
use openvod_transcode::package::Output;
use openvod_transcode::template::ProtectionSettings;

/// The copy plan a template's `[protection]` table describes.
pub fn copy_plan(settings: &ProtectionSettings) -> CopyPlan {
    CopyPlan {
        outputs: settings.outputs.clone(),
        drm_systems: settings.drm_systems.clone(),
        scope: if settings.keys == "single" {
            KeyScope::Single
        } else {
            KeyScope::PerTrackType
        },
        builtin_provider: settings.key_provider == "builtin",
        clear_lead_seconds: settings.clear_lead_seconds,
    }
}

/// The outputs a template asks for, with their keys.
pub async fn protected_outputs(
    provider: &KeyProvider,
    content_id: &str,
    settings: &ProtectionSettings,
    renditions: &[KeyedRendition],
    key_uri: &(dyn Fn(&str) -> String + Sync),
) -> Result<Vec<Output>, ProtectError> {
    let copies = packaging::protected_copies(
        provider,
        content_id,
        &copy_plan(settings),
        renditions,
        key_uri,
    )
    .await?;
    Ok(copies
        .into_iter()
        .map(|c| Output {
            folder: c.folder,
            protection: c.protection,
        })
        .collect())
}
