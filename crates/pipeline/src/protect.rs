//! The keys of a template's copies, from the key provider its `[protection]` names.

use openvod_drm::packaging::{self, KeyedRendition};
use openvod_drm::{KeyProvider, SpekeClient};
use openvod_media::{CopyKeys, KeyProviderSettings};
use openvod_transcode::ladder::EncodePlan;
use openvod_transcode::JobTemplate;

use crate::{PipelineConfig, StageError};

/// The copies a template packages, each with its keys: the clear copy alone, or the
/// template's copies with keys from its key provider (under the asset id, so every
/// worker finds the same keys).
pub(crate) async fn copy_keys(
    config: &PipelineConfig,
    template: &JobTemplate,
    content_id: &str,
    plan: &EncodePlan,
) -> Result<Vec<CopyKeys>, StageError> {
    let Some(settings) = &template.protection else {
        return Ok(vec![CopyKeys::clear()]);
    };
    let store = config.key_store.clone().ok_or_else(|| {
        StageError::permanent(
            "no_key_store",
            format!(
                "template {:?} encrypts its output, but no master key is configured ([drm] master_key)",
                template.name
            ),
        )
    })?;
    let provider = match &settings.key_provider {
        KeyProviderSettings::Builtin => KeyProvider::Builtin(store),
        KeyProviderSettings::Speke { url } => {
            let mut client = SpekeClient::new(url, &config.outbound)
                .map_err(|e| StageError::permanent("key_provider", e))?;
            if let Some(auth) = &config.speke_authorization {
                client = client
                    .with_header("Authorization", auth)
                    .map_err(|e| StageError::permanent("key_provider", e))?;
            }
            KeyProvider::Speke { client, store }
        }
    };
    let mut renditions: Vec<KeyedRendition> = plan
        .rungs
        .iter()
        .map(|r| KeyedRendition::video(&r.name, r.width, r.height))
        .collect();
    renditions.extend(plan.audio.iter().map(|a| KeyedRendition::audio(&a.name)));
    Ok(packaging::copy_keys(&provider, content_id, settings, &renditions).await?)
}
