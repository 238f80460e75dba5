//! Storage tiers over HTTP. A request for the objects of a cold asset (playback, pictures,
//! downloads) is answered `202 Accepted` with `Retry-After` and asks for the asset back;
//! the mover copies it to the hot class and the same request then succeeds. The API
//! moves an asset either way at once (`POST /v1/assets/{id}/archive`, `/restore`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openvod_store::{Asset, AssetStatus, StorageState, TierSettings};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{load, AssetId};
use crate::{openapi, ApiError, AppState};

/// Storage tiers as the HTTP side uses them (`[tiers]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TiersConfig {
    /// The movers' settings (the API's archives and restores run with them).
    pub settings: TierSettings,
    /// The `Retry-After` a request for a cold asset is answered with.
    pub retry_after: Duration,
}

impl Default for TiersConfig {
    fn default() -> Self {
        TiersConfig {
            settings: TierSettings::default(),
            retry_after: Duration::from_secs(5),
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/assets/{id}/archive", post(archive))
        .route("/v1/assets/{id}/restore", post(restore))
}

/// Where an asset's objects are, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StorageView {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// `hot`, `archiving` (still served), `cold` or `restoring` (answered 202).
    #[schema(schema_with = openapi::storage_state)]
    storage: StorageState,
    /// When the asset is not served yet: the seconds to wait before asking again.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u64>,
}

fn storage_answer(state: &AppState, id: &str, storage: StorageState) -> Response {
    let waiting = !storage.is_served();
    let retry = state.config.tiers.retry_after.as_secs().max(1);
    let view = StorageView {
        id: id.to_string(),
        storage,
        retry_after_seconds: waiting.then_some(retry),
    };
    let status = match storage {
        StorageState::Hot | StorageState::Cold => StatusCode::OK,
        StorageState::Archiving | StorageState::Restoring => StatusCode::ACCEPTED,
    };
    let mut response = (status, Json(view)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if waiting {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(retry));
    }
    response
}

/// `None` when the asset's objects are hot and can be served; otherwise the answer to
/// give: `202 Accepted` with `Retry-After` (never cached), after asking for the asset
/// back. Called once the viewer's access is checked, so that no one without access can
/// make a restore happen.
pub(crate) async fn unless_cold(
    state: &AppState,
    asset: &Asset,
) -> Result<Option<Response>, ApiError> {
    if asset.storage.is_served() {
        return Ok(None);
    }
    // Only a cold asset is written to: requests for one already restoring (a player
    // retrying, many viewers) only read.
    let storage = if asset.storage == StorageState::Cold {
        state
            .db
            .request_restore(&asset.id)
            .await?
            .unwrap_or(asset.storage)
    } else {
        asset.storage
    };
    if storage.is_served() {
        return Ok(None);
    }
    metrics::counter!("openvod_cold_requests_total").increment(1);
    let mut answer = storage_answer(state, &asset.id, storage);
    *answer.status_mut() = StatusCode::ACCEPTED;
    Ok(Some(answer))
}

/// Refuses a change to the objects of an asset that is not hot (its tracks, its
/// poster): a move would copy the old ones, or they are not in the hot class to change.
pub(crate) fn refuse_cold(asset: &Asset) -> Result<(), ApiError> {
    if asset.storage == StorageState::Hot {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "asset_cold",
        format!(
            "asset {} is {} (storage tiers): change it once it is hot (POST /v1/assets/{}/restore)",
            asset.id,
            asset.storage.as_str(),
            asset.id
        ),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/assets/{id}/archive",
    operation_id = "archiveAsset",
    tag = "assets",
    summary = "Move a ready asset's source and outputs to the cold class now",
    description = "The objects are copied to the cold class (a cold folder, or an S3 storage \
        class) while the asset is still served; then requests for it are answered 202 until it \
        is restored. Answers 202 while the move runs, and 200 with the state when there is \
        nothing to do.",
    params(AssetId),
    responses(
        (status = 200, description = "Already cold or restoring", body = StorageView),
        (status = 202, description = "Being archived", body = StorageView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn archive(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
) -> Result<Response, ApiError> {
    let asset = load(&state, &id).await?;
    if asset.status != AssetStatus::Ready {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "asset {id} is {}: only a ready asset is archived",
                asset.status.as_str()
            ),
        ));
    }
    if let Some(owner) = state.mover.take_for_archive(&id).await? {
        let mover = state.mover.clone();
        let id = id.clone();
        tokio::spawn(async move {
            if let Err(e) = mover.archive_held(&id, &owner, true).await {
                tracing::warn!(asset = %id, error = %e, "archive");
            }
        });
        return Ok(storage_answer(&state, &asset.id, StorageState::Archiving));
    }
    let now = load(&state, &id).await?;
    Ok(storage_answer(&state, &id, now.storage))
}

#[utoipa::path(
    post,
    path = "/v1/assets/{id}/restore",
    operation_id = "restoreAsset",
    tag = "assets",
    summary = "Bring a cold asset back to the hot class",
    description = "The same as a viewer's request for a cold asset, without one: the next \
        mover copies it back. Answers 202 with Retry-After while it is restored, and 200 \
        when it is already served.",
    params(AssetId),
    responses(
        (status = 200, description = "Already served", body = StorageView),
        (status = 202, description = "Being restored", body = StorageView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn restore(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
) -> Result<Response, ApiError> {
    let asset = load(&state, &id).await?;
    let storage = state
        .db
        .request_restore(&id)
        .await?
        .unwrap_or(asset.storage);
    Ok(storage_answer(&state, &id, storage))
}
