//! Where a packaging job gets its content keys: openvod's own key store, or a SPEKE v2.0
//! key provider (whose keys are then kept, sealed, in the key store too, so licences and
//! the origin find them by KID).

use crate::cpix::{CpixError, CpixRequest, CpixResponse, RequestedKey};
use crate::keys::{ContentKey, KeyError, KeyScope, KeyStore, Kid, Scheme, StoreOutcome, TrackType};
use crate::pssh::DrmSystem;
use crate::signaling::{signaling_for, DrmSignaling, SignalingError};
use crate::speke::{SpekeClient, SpekeError};

/// How often a SPEKE fetch is repeated when other processes keep storing other KIDs for
/// the same content first.
const KID_RACE_ROUNDS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("content keys: no track types were given")]
    NoTracks,
    #[error(
        "content keys for {content_id}: other processes kept storing other KIDs first; try again"
    )]
    KidRace { content_id: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Speke(#[from] SpekeError),
    #[error(transparent)]
    Signaling(#[from] SignalingError),
}

impl ProviderError {
    /// Whether trying again may succeed: the provider or the key store was unreachable
    /// or busy, or other processes raced this one.
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::KidRace { .. } => true,
            ProviderError::Key(e) => e.is_transient(),
            ProviderError::Speke(e) => e.is_transient(),
            ProviderError::NoTracks | ProviderError::Signaling(_) => false,
        }
    }
}

/// The keys of one content and what to write for them, exactly as the key provider gave
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKeys {
    pub content_id: String,
    pub scheme: Scheme,
    /// The key of each track type asked for (under `KeyScope::Single`, the same key for
    /// all).
    pub keys: Vec<(TrackType, ContentKey)>,
    /// Per KID and DRM system: the `pssh` box, DASH and HLS signalling.
    pub signaling: Vec<DrmSignaling>,
}

impl ProviderKeys {
    pub fn key_for(&self, track: TrackType) -> Option<&ContentKey> {
        self.keys.iter().find(|(t, _)| *t == track).map(|(_, k)| k)
    }

    pub fn signaling_for(&self, kid: Kid, system: DrmSystem) -> Option<&DrmSignaling> {
        self.signaling
            .iter()
            .find(|s| s.kid == kid && s.system == system)
    }

    /// The distinct KIDs, in the order of `keys`.
    pub fn kids(&self) -> Vec<Kid> {
        let mut kids: Vec<Kid> = Vec::with_capacity(self.keys.len());
        for (_, key) in &self.keys {
            if !kids.contains(&key.kid) {
                kids.push(key.kid);
            }
        }
        kids
    }

    /// The keys of `tracks` (track type and the KID asked for it) from a checked response.
    pub fn from_response(
        response: &CpixResponse,
        tracks: &[(TrackType, Kid)],
        scheme: Scheme,
    ) -> Result<ProviderKeys, CpixError> {
        let keys = tracks
            .iter()
            .map(|&(track, kid)| {
                response
                    .key(kid)
                    .map(|k| (track, k.clone()))
                    .ok_or(CpixError::MissingKid(kid))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProviderKeys {
            content_id: response.request.content_id.clone(),
            scheme,
            keys,
            signaling: response.signaling.clone(),
        })
    }
}

/// The source of content keys, chosen by configuration.
#[derive(Debug, Clone)]
pub enum KeyProvider {
    /// Keys made and kept by openvod; signalling written by openvod.
    Builtin(KeyStore),
    /// Keys from a SPEKE v2.0 key provider, kept in the key store as well.
    Speke {
        client: SpekeClient,
        store: KeyStore,
    },
}

/// Distinct values, in first-seen order.
fn distinct<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

impl KeyProvider {
    /// The keys for the tracks of a content (one per track type, or one for all under
    /// `KeyScope::Single`) and, per key and DRM system, the signalling to write. The same
    /// content id gets the same keys every time.
    pub async fn content_keys(
        &self,
        content_id: &str,
        tracks: &[TrackType],
        scope: KeyScope,
        scheme: Scheme,
        systems: &[DrmSystem],
    ) -> Result<ProviderKeys, ProviderError> {
        let tracks = distinct(tracks.iter().copied());
        if tracks.is_empty() {
            return Err(ProviderError::NoTracks);
        }
        if scheme != Scheme::Cbcs && systems.contains(&DrmSystem::FairPlay) {
            return Err(SignalingError::FairPlayNeedsCbcs(scheme).into());
        }
        let systems = distinct(systems.iter().copied());
        let slots = distinct(tracks.iter().map(|&t| scope.slot(t)));
        match self {
            KeyProvider::Builtin(store) => {
                let slot_keys = store.keys_for(content_id, &slots).await?;
                let mut signaling = Vec::with_capacity(slot_keys.len() * systems.len());
                for (_, key) in &slot_keys {
                    for &system in &systems {
                        signaling.push(signaling_for(system, key.kid, scheme, content_id, None)?);
                    }
                }
                Ok(ProviderKeys {
                    content_id: content_id.to_string(),
                    scheme,
                    keys: keys_per_track(&tracks, scope, &slot_keys),
                    signaling,
                })
            }
            KeyProvider::Speke { client, store } => {
                let mut chosen: Vec<(TrackType, Kid)> = Vec::with_capacity(slots.len());
                for &slot in &slots {
                    let kid = match store.kid_for(content_id, slot).await? {
                        Some(kid) => kid,
                        None => crate::keys::random_kid()?,
                    };
                    chosen.push((slot, kid));
                }
                for _ in 0..KID_RACE_ROUNDS {
                    let request = CpixRequest {
                        content_id: content_id.to_string(),
                        keys: chosen
                            .iter()
                            .map(|&(slot, kid)| match scope {
                                KeyScope::PerTrackType => {
                                    RequestedKey::for_track(kid, slot, scheme)
                                }
                                KeyScope::Single => RequestedKey::for_all_tracks(kid, scheme),
                            })
                            .collect(),
                        systems: systems.clone(),
                        periods: Vec::new(),
                    };
                    let response = client.fetch_cpix(&request).await?;
                    let mut slot_keys = Vec::with_capacity(chosen.len());
                    let mut lost_race = false;
                    for (slot, kid) in chosen.iter_mut() {
                        let key = response.key(*kid).cloned().ok_or_else(|| {
                            SpekeError::InvalidResponse {
                                url: client.url().to_string(),
                                source: CpixError::MissingKid(*kid),
                            }
                        })?;
                        let outcome = match store.store_chosen_key(content_id, *slot, &key).await {
                            Err(KeyError::KeyMismatch { kid }) => {
                                return Err(SpekeError::KeyChanged {
                                    url: client.url().to_string(),
                                    kid,
                                }
                                .into())
                            }
                            other => other?,
                        };
                        match outcome {
                            StoreOutcome::Stored => slot_keys.push((*slot, key)),
                            StoreOutcome::TrackHasKid(other) => {
                                *kid = other;
                                lost_race = true;
                            }
                        }
                    }
                    if lost_race {
                        tracing::info!(
                            content_id,
                            "another process stored content keys first; asking for its KIDs"
                        );
                        continue;
                    }
                    tracing::info!(
                        content_id,
                        keys = slot_keys.len(),
                        provider = client.url(),
                        "content keys from the SPEKE key provider"
                    );
                    return Ok(ProviderKeys {
                        content_id: content_id.to_string(),
                        scheme,
                        keys: keys_per_track(&tracks, scope, &slot_keys),
                        signaling: response.signaling,
                    });
                }
                Err(ProviderError::KidRace {
                    content_id: content_id.to_string(),
                })
            }
        }
    }
}

/// Each track's key: the key of its slot.
fn keys_per_track(
    tracks: &[TrackType],
    scope: KeyScope,
    slot_keys: &[(TrackType, ContentKey)],
) -> Vec<(TrackType, ContentKey)> {
    tracks
        .iter()
        .filter_map(|&track| {
            let slot = scope.slot(track);
            slot_keys
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, key)| (track, key.clone()))
        })
        .collect()
}
