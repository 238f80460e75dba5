//! The origin's answers for an asset's preview (see `openvod_media::preview`): its
//! objects under `preview/` while the asset is `playable` and after it is `ready` (players
//! that started on the preview finish on it), and the asset's `master.m3u8` while it is
//! `playable`, which is the preview's, so that the one playback URL plays at once.
//!
//! The preview is not part of the versioned presentation: its playlists change while it
//! encodes, so they bypass the shield and are never cached by a CDN (`no-cache`); its
//! header and segments never change under a name once listed.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use openvod_access::Grant;
use openvod_media::preview::{multivariant_at_root, PreviewObject};
use openvod_store::{Asset, AssetStatus};

use crate::origin::{answer, sign_playlist, stream_stored};
use crate::{ApiError, AppState};

/// Largest preview playlist the origin reads (a 10-hour title lists about 18 000
/// segments in under 1 MiB).
const MAX_PLAYLIST_BYTES: u64 = 4 << 20;

/// What a request path names of the preview, given the asset's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreviewRequest {
    /// An object under `preview/`.
    Object(PreviewObject),
    /// `master.m3u8` of a playable asset: the preview's multivariant playlist, from the
    /// root.
    RootMultivariant,
}

impl PreviewRequest {
    /// `None`: the path is not the preview's (for a ready asset, the presentation's).
    pub(crate) fn of(asset: &Asset, path: &str) -> Option<PreviewRequest> {
        if let Some(object) = PreviewObject::parse(path) {
            return Some(PreviewRequest::Object(object));
        }
        (asset.status == AssetStatus::Playable && path == "master.m3u8")
            .then_some(PreviewRequest::RootMultivariant)
    }

    pub(crate) fn is_manifest(self) -> bool {
        match self {
            PreviewRequest::Object(o) => o.is_manifest(),
            PreviewRequest::RootMultivariant => true,
        }
    }
}

/// Answers `request` for `asset`; `signer` (a viewer's wildcard signature in the query)
/// goes onto every URI of a playlist, as for the presentation's.
pub(crate) async fn serve(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    asset: &Asset,
    request: PreviewRequest,
    signer: Option<Grant>,
) -> Result<Response, ApiError> {
    let not_found =
        || ApiError::not_found(format!("asset {} has no such preview object", asset.id));
    let prefix = asset.preview_prefix();
    let object = match request {
        PreviewRequest::Object(o) => o,
        PreviewRequest::RootMultivariant => PreviewObject::Multivariant,
    };
    let key = format!("{prefix}/{}", object.file_name());
    if !object.is_manifest() {
        return stream_stored(
            state,
            method,
            headers,
            &key,
            object.content_type(),
            "public, max-age=31536000, immutable",
            &[],
        )
        .await?
        .ok_or_else(not_found);
    }
    let Some(meta) = state.objects.outputs.head(&key).await? else {
        return Err(not_found());
    };
    if meta.size > MAX_PLAYLIST_BYTES {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "manifest_too_large",
            format!(
                "the preview's {} is over {MAX_PLAYLIST_BYTES} bytes",
                object.file_name()
            ),
        ));
    }
    let bytes = state.objects.outputs.get_range(&key, 0..meta.size).await?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if request == PreviewRequest::RootMultivariant {
        text = multivariant_at_root(&text);
    }
    if let Some(g) = signer {
        text = sign_playlist(&text, &g.query_suffix());
    }
    let etag = format!("\"p{:x}\"", crate::origin::fnv1a(text.as_bytes()));
    Ok(answer(
        method,
        headers,
        bytes::Bytes::from(text),
        object.content_type(),
        // It grows until its encode ends: every player and cache asks again.
        "no-cache",
        Some(&etag),
        &[],
    ))
}
