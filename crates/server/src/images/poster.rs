//! `PUT /v1/assets/{id}/poster`: the time of a ready asset's poster frame.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use openvod_store::AssetStatus;

use super::{bad, image_index, seconds_ms};
use crate::api::check_id;
use crate::{ApiError, AppState};

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PosterRequest {
    /// Seconds into the title; null for the frame chosen with the encode.
    time: Option<f64>,
}

/// `PUT /v1/assets/{id}/poster`: the time of the asset's poster frame.
#[utoipa::path(
    put,
    path = "/v1/assets/{id}/poster",
    operation_id = "setPoster",
    tag = "assets",
    summary = "Set the time of a ready asset's poster frame, or null for the frame chosen with the encode",
    params(crate::api::AssetId),
    request_body = PosterRequest,
    responses(
        (status = 200, description = "The asset", body = crate::api::AssetView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 502, response = crate::openapi::BadGateway),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn set_poster(
    State(state): State<AppState>,
    Path(crate::api::AssetId { id }): Path<crate::api::AssetId>,
    body: Result<crate::json::JsonBody<PosterRequest>, ApiError>,
) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    check_id(&id)?;
    let crate::json::JsonBody(req) = body?;
    let asset = state
        .db
        .asset(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {id}")))?;
    let time_ms = match req.time {
        None => None,
        Some(t) => {
            let prefix = match (&asset.status, &asset.output_prefix) {
                (AssetStatus::Ready, Some(p)) => p.clone(),
                _ => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "not_ready",
                        format!("asset {id} is not ready: its poster is set once it is"),
                    ))
                }
            };
            crate::tiers::refuse_cold(&asset)?;
            let index = image_index(&state, &asset, &prefix).await?;
            let Some(source) = index.thumbnails else {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "no_clear_copy",
                    format!("asset {id} has no clear copy to take a poster from"),
                ));
            };
            let ms = seconds_ms("time", &t.to_string())?;
            if ms >= source.duration_ms() {
                return Err(bad(format!(
                    "time {t} s is past the end of the title ({:.3} s)",
                    source.duration_ms() as f64 / 1000.0
                )));
            }
            Some(ms as i64)
        }
    };
    let asset = state.db.set_poster_time(&id, time_ms).await?;
    Ok(axum::Json(crate::api::view(&state, &asset).await?).into_response())
}

pub(crate) fn control_routes() -> Router<AppState> {
    Router::new().route("/v1/assets/{id}/poster", axum::routing::put(set_poster))
}
